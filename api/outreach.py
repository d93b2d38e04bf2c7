"""/consultations, /broadcasts and /updates ("you said, we did"): the outreach calendar and its sends."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import request
from sqlalchemy import select

from api.http import (
    MAX_ID,
    ApiError,
    audit,
    bp,
    check_id,
    invalid,
    json_body,
    needs,
    not_found,
    now,
    page,
    page_args,
    services,
)
from engage.broadcasts import SCHEDULES, BroadcastError, broadcast_report, cancel_broadcast, create_broadcast
from engage.consent import MESSAGE_CLASSES, SERVICE
from engage.updates import delivery_counts
from store.models.outreach import Broadcast, Consultation, Segment, Update

CONSULTATION_STATES = ("planned", "open", "closed", "reported")


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def consultation_as_dict(c: Consultation) -> dict[str, Any]:
    return {"id": c.id, "flow_id": c.flow_id, "title": c.title, "purpose": c.purpose,
            "owner_service": c.owner_service, "officer": c.officer, "segment_id": c.segment_id,
            "opens": _iso(c.opens), "closes": _iso(c.closes), "status": c.status, "reported_at": _iso(c.reported_at)}


def broadcast_as_dict(b: Broadcast) -> dict[str, Any]:
    return {"id": b.id, "name": b.name, "segment_id": b.segment_id, "content": b.content, "flow_id": b.flow_id,
            "texts": dict(b.texts or {}), "schedule": b.schedule, "send_at": _iso(b.send_at), "cron": b.cron,
            "status": b.status, "created_at": _iso(b.created_at), "last_fired_at": _iso(b.last_fired_at),
            "cancelled_at": _iso(b.cancelled_at), "message_class": b.message_class,
            "whatsapp_templates": dict(b.whatsapp_templates or {})}


def update_as_dict(u: Update) -> dict[str, Any]:
    return {"id": u.id, "flow_id": u.flow_id, "consultation_id": u.consultation_id, "title": u.title,
            "texts": dict(u.texts or {}), "status": u.status, "include_started": u.include_started,
            "published_at": _iso(u.published_at), "sent_at": _iso(u.sent_at), "recipients": dict(u.recipients or {})}


@bp.get("/consultations")
def list_consultations():
    limit, after = page_args()
    status = request.args.get("status")
    if status is not None and status not in CONSULTATION_STATES:
        raise invalid("status", f"status must be one of {', '.join(CONSULTATION_STATES)}")
    stmt = select(Consultation).where(Consultation.id > after).order_by(Consultation.id).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(Consultation.status == status)
    with services().db.session() as s:
        return page(list(s.scalars(stmt)), limit, consultation_as_dict)


@bp.get("/consultations/<int:consultation_id>")
def get_consultation(consultation_id: int):
    with services().db.session() as s:
        row = s.get(Consultation, check_id(consultation_id, "consultation"))
        if row is None:
            raise not_found("consultation")
        return consultation_as_dict(row)


@bp.get("/broadcasts")
def list_broadcasts():
    limit, after = page_args()
    stmt = select(Broadcast).where(Broadcast.id > after).order_by(Broadcast.id).limit(limit + 1)
    with services().db.session() as s:
        return page(list(s.scalars(stmt)), limit, broadcast_as_dict)


def _report(s, broadcast: Broadcast) -> dict[str, Any]:
    report = broadcast_report(s, broadcast)
    for occurrence in report["occurrences"]:
        occurrence["fired_at"] = _iso(occurrence["fired_at"])
        occurrence["not_before"] = _iso(occurrence["not_before"])
    return {**broadcast_as_dict(broadcast), "report": report}


@bp.get("/broadcasts/<int:broadcast_id>")
def get_broadcast(broadcast_id: int):
    with services().db.session() as s:
        row = s.get(Broadcast, check_id(broadcast_id, "broadcast"))
        if row is None:
            raise not_found("broadcast")
        return _report(s, row)


@bp.post("/broadcasts")
@needs("write")
def create_broadcast_view():
    body = json_body()
    for key in body:
        if key not in ("name", "segment_id", "texts", "flow_id", "schedule", "send_at", "cron", "message_class",
                       "whatsapp_templates"):
            raise invalid(key, f"unknown property '{key}'")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
        raise invalid("name", "name must be text of 1 to 200 characters")
    segment_id = body.get("segment_id")
    if not isinstance(segment_id, int) or isinstance(segment_id, bool):
        raise invalid("segment_id", "segment_id must be a whole number")
    texts = body.get("texts")
    if texts is not None and (not isinstance(texts, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and "\x00" not in v for k, v in texts.items())):
        raise invalid("texts", "texts must map a language code to the message text")
    flow_id = body.get("flow_id")
    if flow_id is not None and not isinstance(flow_id, str):
        raise invalid("flow_id", "flow_id must be a string")
    flow = services().registry.get(flow_id) if flow_id else None
    if flow_id and flow is None:
        raise invalid("flow_id", f"no published flow '{flow_id}'")
    schedule = body.get("schedule", "now")
    if schedule not in SCHEDULES:
        raise invalid("schedule", f"schedule must be one of {', '.join(SCHEDULES)}")
    send_at = None
    if body.get("send_at") is not None:
        try:
            send_at = datetime.fromisoformat(str(body["send_at"]).replace("Z", "+00:00"))
        except ValueError:
            raise invalid("send_at", "send_at must be a date-time such as 2026-12-03T10:00:00Z") from None
        if send_at.tzinfo is None:
            raise invalid("send_at", "send_at needs a time zone (Z or +01:00)")
        send_at = send_at.astimezone(timezone.utc)
    cron = body.get("cron")
    if cron is not None and (not isinstance(cron, str) or "\x00" in cron or len(cron) > 100):
        raise invalid("cron", "cron must be a schedule such as '0 10 1-7 * mon'")
    message_class = body.get("message_class", SERVICE)
    if message_class not in MESSAGE_CLASSES:
        raise invalid("message_class", f"message_class must be {' or '.join(MESSAGE_CLASSES)}")
    whatsapp_templates = body.get("whatsapp_templates")
    if whatsapp_templates is not None and (not isinstance(whatsapp_templates, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in whatsapp_templates.items())):
        raise invalid("whatsapp_templates", "whatsapp_templates must map a language code to a Content SID (HX...)")
    svc = services()
    with svc.db.session() as s:
        segment = s.get(Segment, segment_id) if 1 <= segment_id <= MAX_ID else None
        if segment is None:
            raise invalid("segment_id", "no such segment")
        try:
            broadcast = create_broadcast(s, name=name.strip(), segment=segment, now=now(), tz=svc.settings.timezone,
                                         texts=texts, flow=flow, schedule=schedule, send_at=send_at, cron=cron,
                                         created_by="api", council=svc.settings.council_name,
                                         message_class=message_class, whatsapp_templates=whatsapp_templates)
        except (BroadcastError, ValueError) as exc:
            raise ApiError(422, "invalid", str(exc), _field_of(str(exc))) from None
        audit(s, "broadcast.created", target_type="broadcast", target_id=broadcast.id,
              detail={"segment_id": segment.id, "schedule": schedule, "flow_id": broadcast.flow_id},
              summary=f"Created broadcast {broadcast.id} “{broadcast.name}” ({schedule}) through the API")
        return broadcast_as_dict(broadcast), 201


def _field_of(message: str) -> str:
    """Name the input a broadcast error is about, from the words of engage.broadcasts' message."""
    for words, field in ((("cron", "recurring"), "cron"), (("one-off", "time to send"), "send_at"),
                         (("message", "flow"), "texts")):
        if any(w in message for w in words):
            return field
    return "schedule"


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
@needs("write")
def cancel_broadcast_view(broadcast_id: int):
    with services().db.session() as s:
        row = s.get(Broadcast, check_id(broadcast_id, "broadcast"))
        if row is None:
            raise not_found("broadcast")
        cancel_broadcast(s, row, now())
        audit(s, "broadcast.cancelled", target_type="broadcast", target_id=broadcast_id,
              summary=f"Cancelled broadcast {broadcast_id} through the API")
        return broadcast_as_dict(row)


@bp.get("/updates")
def list_updates():
    limit, after = page_args()
    stmt = select(Update).where(Update.id > after).order_by(Update.id).limit(limit + 1)
    with services().db.session() as s:
        return page(list(s.scalars(stmt)), limit, update_as_dict)


@bp.get("/updates/<int:update_id>")
def get_update(update_id: int):
    with services().db.session() as s:
        row = s.get(Update, check_id(update_id, "update"))
        if row is None:
            raise not_found("update")
        return {**update_as_dict(row), "delivery": delivery_counts(s, row.id)}


# ----- the OpenAPI description of these routes (merged into api/openapi.py's document) -----

_NULLABLE = {"type": ["string", "null"]}
_WHEN = {"type": ["string", "null"], "format": "date-time"}
_WHATSAPP_TEMPLATES = {"type": "object", "additionalProperties": {"type": "string", "pattern": "^HX[0-9a-fA-F]{32}$"},
                       "description": "Approved WhatsApp template (Twilio Content SID) per language: how a WhatsApp "
                                      "resident outside the 24-hour window is reached; without one they are "
                                      "skipped (whatsapp_no_template)."}
_DAY = {"type": "string", "format": "date"}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
]


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _paged(name):
    return {"type": "object", "required": ["data", "next_cursor"],
            "properties": {"data": {"type": "array", "items": _ref(name)}, "next_cursor": _NULLABLE}}


def _err(code):
    return {"$ref": f"#/components/responses/E{code}"}


SPEC_SCHEMAS = {
    "Consultation": {
        "type": "object", "required": ["id", "flow_id", "opens", "closes", "status"],
        "properties": {"id": _ID, "flow_id": {"type": "string"}, "title": _NULLABLE, "purpose": _NULLABLE,
                       "owner_service": _NULLABLE, "officer": _NULLABLE, "segment_id": {"type": ["integer", "null"]},
                       "opens": _DAY, "closes": _DAY, "status": {"type": "string", "enum": list(CONSULTATION_STATES)},
                       "reported_at": _WHEN}},
    "Broadcast": {
        "type": "object", "required": ["id", "name", "segment_id", "content", "schedule", "status"],
        "properties": {"id": _ID, "name": {"type": "string"}, "segment_id": {"type": "integer"},
                       "content": {"type": "string", "enum": ["message", "flow"]}, "flow_id": _NULLABLE,
                       "texts": {"type": "object", "additionalProperties": {"type": "string"}},
                       "schedule": {"type": "string", "enum": list(SCHEDULES)}, "send_at": _WHEN,
                       "cron": _NULLABLE, "status": {"type": "string"}, "created_at": _WHEN,
                       "last_fired_at": _WHEN, "cancelled_at": _WHEN,
                       "message_class": {"type": "string", "enum": list(MESSAGE_CLASSES)},
                       "whatsapp_templates": _WHATSAPP_TEMPLATES,
                       "report": {"type": "object", "properties": {
                           "occurrences": {"type": "array", "items": {"type": "object"}},
                           "delivery": {"type": "object", "additionalProperties": {"type": "integer"}},
                           "not_sent": {"type": "array", "items": {"type": "object", "properties": {
                               "status": {"type": "string"}, "reason": {"type": "string"},
                               "count": {"type": "integer"}}}}}}}},
    "BroadcastCreate": {
        "type": "object", "required": ["name", "segment_id"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}, "segment_id": _ID,
                       "texts": {"type": "object", "additionalProperties": {"type": "string"},
                                 "description": "Message per language; or give flow_id to start a flow"},
                       "flow_id": {"type": "string"}, "schedule": {"type": "string", "enum": list(SCHEDULES)},
                       "send_at": {"type": "string", "format": "date-time"}, "cron": {"type": "string"},
                       "message_class": {"type": "string", "enum": list(MESSAGE_CLASSES), "default": "service",
                                         "description": "service: about a consultation or a service residents "
                                                        "use; promotional: events, paid services. Each reaches "
                                                        "only residents with a recorded basis for it."},
                       "whatsapp_templates": _WHATSAPP_TEMPLATES}},
    "Update": {
        "type": "object", "required": ["id", "flow_id", "status", "texts"],
        "properties": {"id": _ID, "flow_id": {"type": "string"}, "consultation_id": {"type": ["integer", "null"]},
                       "title": _NULLABLE, "texts": {"type": "object"}, "status": {"type": "string"},
                       "include_started": {"type": "boolean"}, "published_at": _WHEN, "sent_at": _WHEN,
                       "recipients": {"type": "object"},
                       "delivery": {"type": "object", "additionalProperties": {"type": "integer"}}}},
}

SPEC_PATHS = {
    "/consultations": {"get": {
        "operationId": "listConsultations", "summary": "The engagement calendar",
        "parameters": _PAGING + [{"name": "status", "in": "query",
                                  "schema": {"type": "string", "enum": list(CONSULTATION_STATES)}}],
        "responses": {"200": _json(_paged("Consultation"), "A page of consultations"), "422": _err(422)}}},
    "/consultations/{consultation_id}": {
        "parameters": [{"name": "consultation_id", "in": "path", "required": True, "schema": _ID}],
        "get": {"operationId": "getConsultation", "summary": "One consultation",
                "responses": {"200": _json(_ref("Consultation"), "The consultation"), "404": _err(404)}}},
    "/broadcasts": {
        "get": {"operationId": "listBroadcasts", "summary": "Broadcasts, newest last", "parameters": _PAGING,
                "responses": {"200": _json(_paged("Broadcast"), "A page of broadcasts"), "422": _err(422)}},
        "post": {"operationId": "createBroadcast", "summary": "Schedule a broadcast to a segment (write scope)",
                 "requestBody": {"required": True,
                                 "content": {"application/json": {"schema": _ref("BroadcastCreate")}}},
                 "responses": {"201": _json(_ref("Broadcast"), "Scheduled"), "400": _err(400), "403": _err(403),
                               "422": _err(422)}}},
    "/broadcasts/{broadcast_id}": {
        "parameters": [{"name": "broadcast_id", "in": "path", "required": True, "schema": _ID}],
        "get": {"operationId": "getBroadcast", "summary": "A broadcast with its firings and delivery states",
                "responses": {"200": _json(_ref("Broadcast"), "The broadcast"), "404": _err(404)}}},
    "/broadcasts/{broadcast_id}/cancel": {
        "parameters": [{"name": "broadcast_id", "in": "path", "required": True, "schema": _ID}],
        "post": {"operationId": "cancelBroadcast", "summary": "Cancel; waiting messages are taken back (write scope)",
                 "responses": {"200": _json(_ref("Broadcast"), "Cancelled"), "403": _err(403), "404": _err(404)}}},
    "/updates": {"get": {
        "operationId": "listUpdates", "summary": "\"You said, we did\" updates", "parameters": _PAGING,
        "responses": {"200": _json(_paged("Update"), "A page of updates"), "422": _err(422)}}},
    "/updates/{update_id}": {
        "parameters": [{"name": "update_id", "in": "path", "required": True, "schema": _ID}],
        "get": {"operationId": "getUpdate", "summary": "One update with its delivery states",
                "responses": {"200": _json(_ref("Update"), "The update"), "404": _err(404)}}},
}
