"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json and checked by schemathesis."""
from __future__ import annotations

from typing import Any

from api.http import MAX_ID, MAX_LIMIT, bp

NULLABLE_STRING = {"type": ["string", "null"]}
DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
FIELD_VALUE = {"type": ["string", "number", "boolean", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "Malformed request", 401: "Missing or invalid token", 403: "The token's scope does not allow this",
             404: "Not found", 409: "Conflicts with an existing contact", 413: "Too large",
             415: "Unsupported media type", 422: "Invalid input; `field` names the culprit"}
    return {str(code): {"$ref": f"#/components/responses/E{code}"} for code in codes if code in words}


def _paged(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "next_cursor"],
            "properties": {"data": {"type": "array", "items": _ref(item)}, "next_cursor": NULLABLE_STRING}}


PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
     "description": "Items per page (default 50)."},
    {"name": "cursor", "in": "query", "schema": {"type": "string"},
     "description": "`next_cursor` from the previous page."},
]
READ = [{"bearer": []}]

CONTACT = {
    "type": "object",
    "required": ["id", "name", "phone", "telegram_id", "language", "organisation", "role", "groups", "fields",
                 "consent", "do_not_contact", "erased", "created_at", "updated_at"],
    "properties": {
        "id": ID, "name": NULLABLE_STRING, "phone": {"type": ["string", "null"], "description": "E.164"},
        "telegram_id": NULLABLE_STRING, "language": NULLABLE_STRING, "organisation": NULLABLE_STRING,
        "role": NULLABLE_STRING, "groups": {"type": "array", "items": {"type": "string"}},
        "fields": {"type": "object", "additionalProperties": FIELD_VALUE,
                   "description": "Ward, estate, age band...; special-category fields (ethnicity, disability...) "
                                  "are never given out: they leave the service only as protected counts."},
        "consent": {"type": "object", "description": "Consent per channel: unknown, opted_in or opted_out.",
                    "additionalProperties": {"type": "string", "enum": ["unknown", "opted_in", "opted_out"]}},
        "do_not_contact": {"type": "boolean"}, "erased": {"type": "boolean"},
        "created_at": NULLABLE_DATE_TIME, "updated_at": NULLABLE_DATE_TIME,
    },
}
CONTACT_INPUT_PROPERTIES = {
    "name": {"type": ["string", "null"], "maxLength": 200},
    "phone": {"type": ["string", "null"], "description": "Any UK spelling or E.164; landlines are refused."},
    "telegram_id": {"type": ["string", "integer", "null"], "description": "Telegram chat id."},
    "language": {"type": ["string", "null"],
                 "enum": ["en", "cy", "pl", "ro", "pa", "ur", "bn", "pt", "ar", "so", None]},
    "fields": {"type": "object", "additionalProperties": FIELD_VALUE,
               "description": "Ward, estate, age band...; special-category fields need recorded consent."},
    "groups": {"type": "array", "items": {"type": "string", "maxLength": 100}},
    "organisation": {"type": ["string", "null"], "maxLength": 200},
    "role": {"type": ["string", "null"], "maxLength": 200},
}
CONTACT_CREATE = {
    "type": "object", "additionalProperties": False,
    "properties": {**CONTACT_INPUT_PROPERTIES,
                   "consent_source": {"type": ["string", "null"], "maxLength": 500,
                                      "description": "How consent was given; without it the contact is not messaged."},
                   "consent_at": NULLABLE_DATE_TIME},
}
CONTACT_UPDATE = {
    "type": "object", "additionalProperties": False,
    "properties": {**CONTACT_INPUT_PROPERTIES, "do_not_contact": {"type": "boolean"}},
}
IMPORT_PROBLEM = {"type": "object", "required": ["line", "column", "reason"],
                  "properties": {"line": {"type": "integer"}, "column": NULLABLE_STRING, "reason": {"type": "string"}}}
IMPORT_REPORT = {
    "type": "object",
    "required": ["rows", "problems", "created", "merged", "consent_recorded", "opt_outs_kept", "committed"],
    "properties": {"rows": {"type": "integer"}, "problems": {"type": "array", "items": IMPORT_PROBLEM},
                   "created": {"type": "integer"}, "merged": {"type": "integer"},
                   "consent_recorded": {"type": "integer"}, "opt_outs_kept": {"type": "integer"},
                   "committed": {"type": "boolean"}},
}
ERROR = {
    "type": "object", "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
                       "problems": {"type": "array", "items": IMPORT_PROBLEM}},
    }},
}
FLOW = {
    "type": "object", "required": ["id", "title", "languages", "keywords", "version", "consultation", "questions"],
    "properties": {
        "id": {"type": "string"}, "title": {"type": "string"},
        "languages": {"type": "array", "items": {"type": "string"}},
        "keywords": {"type": "array", "items": {"type": "string"}}, "version": {"type": "string"},
        "questions": {"type": "integer"},
        "consultation": {"oneOf": [{"type": "null"}, {
            "type": "object", "required": ["purpose", "opens_at", "closes_at"],
            "properties": {"purpose": {"type": "string"}, "opens_at": NULLABLE_DATE_TIME,
                           "closes_at": NULLABLE_DATE_TIME}}]},
    },
}
LINT_RESULT = {
    "type": "object", "required": ["valid", "flow_id", "title", "problems", "sms_segments"],
    "properties": {
        "valid": {"type": "boolean"}, "flow_id": NULLABLE_STRING, "title": NULLABLE_STRING,
        "problems": {"type": "array", "items": {
            "type": "object", "required": ["line", "col", "severity", "message"],
            "properties": {"line": {"type": "integer"}, "col": {"type": "integer"},
                           "severity": {"type": "string", "enum": ["error", "warning"]},
                           "message": {"type": "string"}}}},
        "sms_segments": {"type": "array", "items": {"type": "object"}},
    },
}
RESULTS = {
    "type": "object", "required": ["flow_id", "summary", "questions"],
    "properties": {
        "flow_id": {"type": "string"},
        "summary": {"type": "object", "properties": {
            "started": {"type": "integer"}, "completed": {"type": "integer"}, "active": {"type": "integer"},
            "people": {"type": "integer"}, "respondents": {"type": "integer"}, "assisted": {"type": "integer"},
            "completion_rate": {"type": ["number", "null"]}}},
        "questions": {"type": "array", "items": {
            "type": "object", "required": ["step_id", "question", "kind", "answered", "skipped", "counts"],
            "properties": {
                "step_id": {"type": "string"}, "question": {"type": "string"}, "kind": {"type": "string"},
                "answered": {"type": "integer"}, "skipped": {"type": "integer"},
                "counts": {"type": "array", "items": {
                    "type": "object", "required": ["value", "label", "count"],
                    "properties": {"value": {"type": "string"}, "label": {"type": "string"},
                                   "count": {"type": ["integer", "null"],
                                             "description": "null where a small special-category group is hidden"}},
                }},
            }}},
    },
}
RUN = {
    "type": "object",
    "required": ["id", "flow_id", "contact_id", "status", "channel", "language", "started_at", "finished_at",
                 "answers"],
    "properties": {
        "id": ID, "flow_id": {"type": "string"}, "contact_id": {"type": ["integer", "null"]},
        "status": {"type": "string", "enum": ["active", "completed", "expired", "ended"]},
        "channel": {"type": "string"}, "language": NULLABLE_STRING, "started_by": NULLABLE_STRING,
        "started_at": DATE_TIME, "finished_at": NULLABLE_DATE_TIME,
        "answers": {"type": "array", "items": {
            "type": "object", "required": ["step_id", "value", "skipped", "answered_at"],
            "properties": {"step_id": {"type": "string"}, "value": {}, "skipped": {"type": "boolean"},
                           "answered_at": DATE_TIME}}},
    },
}
MESSAGE = {
    "type": "object",
    "required": ["id", "channel", "kind", "status", "provider_id", "error_code", "attempts", "created_at", "sent_at",
                 "delivered_at"],
    "properties": {
        "id": ID, "channel": {"type": "string"}, "kind": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "sending", "unknown", "sent", "delivered", "undelivered",
                                              "failed", "skipped"]},
        "provider_id": NULLABLE_STRING, "error_code": NULLABLE_STRING, "attempts": {"type": "integer"},
        "segments": {"type": ["integer", "null"]}, "contact_id": {"type": ["integer", "null"]},
        "run_id": {"type": ["integer", "null"]}, "broadcast_id": {"type": ["integer", "null"]},
        "created_at": NULLABLE_DATE_TIME, "not_before": NULLABLE_DATE_TIME, "sent_at": NULLABLE_DATE_TIME,
        "delivered_at": NULLABLE_DATE_TIME,
    },
}
FLOW_ID_PARAM = {"name": "flow_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,99}$"}}


def _contact_id_param() -> dict[str, Any]:
    return {"name": "contact_id", "in": "path", "required": True, "schema": ID}


def build_spec(extra_paths: dict[str, Any] | None = None, extra_schemas: dict[str, Any] | None = None) -> dict:
    """Return the OpenAPI 3.1 document for the API."""
    paths: dict[str, Any] = {
        "/contacts": {
            "get": {"operationId": "listContacts", "summary": "List contacts, or look one up by phone or Telegram id",
                    "parameters": PAGING + [
                        {"name": "phone", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                        {"name": "telegram_id", "in": "query", "schema": {"type": "string", "maxLength": 200}},
                        {"name": "group", "in": "query", "schema": {"type": "string", "maxLength": 100}}],
                    "responses": {"200": _json(_paged("Contact"), "A page of contacts"), **_errors(401, 422)}},
            "post": {"operationId": "createContact", "summary": "Create a contact (write scope)",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": _ref("ContactCreate")}}},
                     "responses": {"201": _json(_ref("Contact"), "Created"), **_errors(400, 401, 403, 409, 422)}},
        },
        "/contacts/{contact_id}": {
            "parameters": [_contact_id_param()],
            "get": {"operationId": "getContact", "summary": "One contact",
                    "responses": {"200": _json(_ref("Contact"), "The contact"), **_errors(401, 404)}},
            "patch": {"operationId": "updateContact",
                      "summary": "Change a contact: fields merged, groups and addresses added (write scope)",
                      "requestBody": {"required": True,
                                      "content": {"application/json": {"schema": _ref("ContactUpdate")}}},
                      "responses": {"200": _json(_ref("Contact"), "The changed contact"),
                                    **_errors(400, 401, 403, 404, 409, 422)}},
        },
        "/contacts/import": {
            "post": {"operationId": "importContacts",
                     "summary": "Check (commit=false) or import (commit=true) a CSV file; all rows or none",
                     "parameters": [{"name": "commit", "in": "query",
                                     "schema": {"type": "string", "enum": ["true", "false"]}}],
                     "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                         "type": "object", "required": ["file"],
                         "properties": {"file": {"type": "string", "contentMediaType": "text/csv"}}}}}},
                     "responses": {"200": _json(_ref("ImportReport"), "Every row is fine (and imported if commit)"),
                                   **_errors(400, 401, 403, 413, 422)}},
        },
        "/contacts/export": {
            "get": {"operationId": "exportContacts", "summary": "Every contact as CSV (write scope)",
                    "responses": {"200": {"description": "CSV",
                                          "content": {"text/csv": {"schema": {"type": "string"}}}},
                                  **_errors(401, 403)}},
        },
        "/flows": {
            "get": {"operationId": "listFlows", "summary": "The published flows",
                    "responses": {"200": _json(_paged("Flow"), "Every published flow"), **_errors(401)}},
        },
        "/flows/lint": {
            "post": {"operationId": "lintFlow", "summary": "Check a flow's YAML; problems carry line and column",
                     "requestBody": {"required": True, "content": {
                         "application/yaml": {"schema": {"type": "string"}},
                         "text/plain": {"schema": {"type": "string"}}}},
                     "responses": {"200": _json(_ref("LintResult"), "What is wrong, if anything"),
                                   **_errors(400, 401, 413, 422)}},
        },
        "/flows/{flow_id}/results": {
            "parameters": [FLOW_ID_PARAM],
            "get": {"operationId": "flowResults", "summary": "Counts per answer value for each question",
                    "description": "Counts of special-category questions pass the small-number rule: a count is "
                                   "null where it is under the threshold (10) or would let one be worked out.",
                    "responses": {"200": _json(_ref("Results"), "Results"), **_errors(401, 404)}},
        },
        "/flows/{flow_id}/runs": {
            "parameters": [FLOW_ID_PARAM],
            "get": {"operationId": "flowRuns", "summary": "Runs of a flow with their answers, page by page",
                    "description": "Answers to special-category questions are left out; they are given only as "
                                   "counts in /flows/{flow_id}/results. Every call is written to the audit log.",
                    "parameters": PAGING,
                    "responses": {"200": _json(_paged("Run"), "A page of runs"), **_errors(401, 404, 422)}},
        },
        "/messages": {
            "get": {"operationId": "listMessages", "summary": "Outbound messages' states, by provider id or state",
                    "parameters": PAGING + [
                        {"name": "provider_id", "in": "query", "schema": {"type": "string", "maxLength": 128}},
                        {"name": "status", "in": "query", "schema": MESSAGE["properties"]["status"]}],
                    "responses": {"200": _json(_paged("Message"), "A page of messages"), **_errors(401, 422)}},
        },
        "/messages/{message_id}": {
            "parameters": [{"name": "message_id", "in": "path", "required": True, "schema": ID}],
            "get": {"operationId": "getMessage", "summary": "One outbound message's state",
                    "responses": {"200": _json(_ref("Message"), "The message"), **_errors(401, 404)}},
        },
    }
    paths.update(extra_paths or {})
    responses = {f"E{code}": _json(_ref("Error"), text) for code, text in {
        400: "Malformed request", 401: "Missing or invalid token", 403: "The token's scope does not allow this",
        404: "Not found", 409: "Conflicts with an existing contact", 413: "Too large",
        415: "Unsupported media type", 422: "Invalid input; `field` names the culprit"}.items()}
    for item in paths.values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            operation.setdefault("security", READ)
            operation["responses"].setdefault("401", {"$ref": "#/components/responses/E401"})
            # Any call answers 422 to a query parameter it does not know.
            operation["responses"].setdefault("422", {"$ref": "#/components/responses/E422"})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Outreach API", "version": "1",
                 "description": "Contacts, flows, results and message states. Authenticate with "
                                "`Authorization: Bearer <token>`; tokens are read or write scoped. Errors are "
                                '`{"error": {"code", "message", "field"}}`; lists page with `next_cursor`.'},
        "servers": [{"url": bp.url_prefix}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": responses,
            "schemas": {"Contact": CONTACT, "ContactCreate": CONTACT_CREATE, "ContactUpdate": CONTACT_UPDATE,
                        "ImportReport": IMPORT_REPORT, "Error": ERROR, "Flow": FLOW, "LintResult": LINT_RESULT,
                        "Results": RESULTS, "Run": RUN, "Message": MESSAGE, **(extra_schemas or {})},
        },
        "security": READ,
    }


@bp.get("/openapi.json")
def openapi():
    from flask import current_app

    return current_app.extensions["outreach_api_spec"]
