"""API fixtures: tokens of each scope and their Authorization headers."""
from __future__ import annotations

import pytest

from api.tokens import create_api_token


@pytest.fixture
def read_headers(services):
    with services.db.session() as s:
        _row, token = create_api_token(s, "reader", "read", services.clock.now())
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def write_headers(services):
    with services.db.session() as s:
        _row, token = create_api_token(s, "writer", "write", services.clock.now())
    return {"Authorization": f"Bearer {token}"}
