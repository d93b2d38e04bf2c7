"""The OpenAPI document tells the truth: schemathesis generates calls from it and checks every answer.

Calls go to the app in-process (WSGI). schemathesis's own pytest plugin
(`from_fixture`) does not run under pytest 9, so each operation's strategy is
driven with Hypothesis directly. Every check runs except "schema-valid data
is accepted": a phone number or a cursor can match the schema and still be
refused with 422, because validity is decided by phonenumbers and the server.
The flow linter takes any text and reports what is wrong with it, so "invalid"
YAML bodies are, rightly, answered 200 with problems.
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from engage.contacts import create_contact
from tests.support.contacts import mobile

# Raise with OUTREACH_API_EXAMPLES=200 for a deeper run by hand.
EXAMPLES = int(os.environ.get("OUTREACH_API_EXAMPLES", "10"))


@pytest.fixture
def api_schema(app, services):
    with services.db.session() as s:
        for n in range(3):
            create_contact(s, services.clock.now(), phone=mobile(n), name=f"Resident {n}", groups=["tenants"])
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def check_operation(operation, mode, headers, excluded) -> None:
    """Send EXAMPLES generated calls to one operation and validate each answer."""

    # The token is fixed in the strategy, so a "missing Authorization" mutation is never generated and then undone.
    @given(case=operation.as_strategy(generation_mode=mode, headers=headers))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate])
    def answers_as_documented(case):
        case.call_and_validate(excluded_checks=excluded)

    try:
        answers_as_documented()
    except Unsatisfiable:
        # With the token fixed, an operation without parameters or body has no invalid form.
        if mode is not GenerationMode.NEGATIVE:
            raise


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_answers_as_documented(api_schema, write_headers, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 11
    for operation in operations:
        excluded = [positive_data_acceptance]
        if operation.definition.raw.get("operationId") == "lintFlow":
            excluded.append(negative_data_rejection)
        check_operation(operation, mode, write_headers, excluded)
