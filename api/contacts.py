"""/contacts: create, change, look up, import a CSV file, export."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from flask import Response, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.http import (
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
    text_arg,
)
from engage.contact_import import import_contacts
from engage.contacts import (
    ContactError,
    contact_as_dict,
    create_contact,
    export_contacts_csv,
    find_contact,
    update_contact,
)
from engage.field_values import registry_vocabulary
from store.models import Contact, ContactGroup

CREATE_KEYS = {"name", "phone", "telegram_id", "language", "fields", "groups", "organisation", "role",
               "consent_source", "consent_at"}
UPDATE_KEYS = {"name", "phone", "telegram_id", "language", "fields", "groups", "organisation", "role",
               "do_not_contact"}


def _contact_error(exc: ContactError) -> ApiError:
    status = 409 if exc.code == "conflict" else 422
    return ApiError(status, exc.code, exc.message, exc.field)


def _check_keys(body: dict[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            raise invalid(key, f"unknown property '{key}'")


def _check_types(body: dict[str, Any]) -> None:
    for key in ("name", "phone", "language", "organisation", "role", "consent_source", "consent_at"):
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise invalid(key, f"{key} must be a string")
    if "telegram_id" in body and body["telegram_id"] is not None and (
            isinstance(body["telegram_id"], bool) or not isinstance(body["telegram_id"], (str, int))):
        raise invalid("telegram_id", "telegram_id must be a string of digits")
    if "groups" in body and (not isinstance(body["groups"], list)
                             or not all(isinstance(g, str) for g in body["groups"])):
        raise invalid("groups", "groups must be a list of strings")
    if "fields" in body and not isinstance(body["fields"], dict):
        raise invalid("fields", "fields must be an object")
    if "do_not_contact" in body and not isinstance(body["do_not_contact"], bool):
        raise invalid("do_not_contact", "do_not_contact must be true or false")


def _consent_at(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("consent_at", "consent_at must be a date-time such as 2025-03-01T10:00:00Z") from None
    if when.tzinfo is None:
        raise invalid("consent_at", "consent_at needs a time zone (Z or +01:00)")
    when = when.astimezone(timezone.utc)
    if when > now():
        raise invalid("consent_at", "consent_at is in the future")
    return when


def _load(s, contact_id: int) -> Contact:
    contact = s.get(Contact, check_id(contact_id, "contact"), options=[selectinload(Contact.addresses),
                                                                         selectinload(Contact.groups)])
    if contact is None:
        raise not_found("contact")
    return contact


@bp.get("/contacts")
def list_contacts():
    limit, after = page_args()
    phone, telegram_id, group = text_arg("phone"), text_arg("telegram_id"), text_arg("group", 100)
    with services().db.session() as s:
        if phone is not None or telegram_id is not None:
            found = find_contact(s, phone=phone) if phone is not None else find_contact(s, telegram_id=telegram_id)
            items = [found] if found is not None and found.id > after and found.erased_at is None else []
            return page(items, limit, contact_as_dict)
        stmt = (select(Contact).where(Contact.id > after, Contact.erased_at.is_(None)).order_by(Contact.id)
                .limit(limit + 1).options(selectinload(Contact.addresses), selectinload(Contact.groups)))
        if group is not None:
            stmt = stmt.where(Contact.id.in_(select(ContactGroup.contact_id).where(ContactGroup.name == group)))
        body = page(list(s.scalars(stmt)), limit, contact_as_dict)
        audit(s, "api.contacts.listed", target_type="contact",
              detail={"rows": len(body["data"]), "after": after, "group": group},
              summary=f"Listed {len(body['data'])} contacts through the API")
        return body


@bp.post("/contacts")
@needs("write")
def create_contact_view():
    body = json_body()
    _check_keys(body, CREATE_KEYS)
    _check_types(body)
    consent_at = _consent_at(body.get("consent_at"))
    if consent_at is not None and not body.get("consent_source"):
        raise invalid("consent_source", "a consent date needs a consent_source saying how consent was given")
    with services().db.session() as s:
        try:
            contact = create_contact(
                s, now(), name=body.get("name"), phone=body.get("phone"), telegram_id=body.get("telegram_id"),
                language=body.get("language"), fields=body.get("fields") or {}, groups=body.get("groups") or [],
                organisation=body.get("organisation"), role=body.get("role"),
                consent_source=body.get("consent_source"), consent_at=consent_at, consent_via="api",
            )
        except ContactError as exc:
            raise _contact_error(exc) from None
        s.flush()
        data = contact_as_dict(_load(s, contact.id))
        audit(s, "contact.created", target_type="contact", target_id=contact.id,
              detail={"keys": sorted(body)}, summary=f"Created contact {contact.id} through the API")
    return data, 201


@bp.get("/contacts/<int:contact_id>")
def get_contact(contact_id: int):
    with services().db.session() as s:
        return contact_as_dict(_load(s, contact_id))


@bp.patch("/contacts/<int:contact_id>")
@needs("write")
def update_contact_view(contact_id: int):
    body = json_body()
    _check_keys(body, UPDATE_KEYS)
    _check_types(body)
    with services().db.session() as s:
        contact = _load(s, contact_id)
        try:
            update_contact(s, contact, now(), **body)
        except ContactError as exc:
            raise _contact_error(exc) from None
        audit(s, "contact.updated", target_type="contact", target_id=contact.id, detail={"keys": sorted(body)},
              summary=f"Changed {', '.join(sorted(body)) or 'nothing'} of contact {contact.id} through the API")
        return contact_as_dict(contact)


@bp.post("/contacts/import")
@needs("write")
def import_contacts_view():
    upload = request.files.get("file")
    if upload is None:
        raise invalid("file", "upload the CSV file as multipart/form-data field 'file'")
    commit = request.args.get("commit", request.form.get("commit", "false")).lower()
    if commit not in ("true", "false"):
        raise invalid("commit", "commit must be true or false")
    svc = services()
    report = import_contacts(svc.db, upload.read(), now(), commit=commit == "true", tz=svc.settings.timezone,
                             vocabulary=registry_vocabulary(svc.registry))
    if report.problems:
        raise ApiError(422, "invalid_rows", f"{len(report.problems)} problem(s); nothing was imported", "file",
                       problems=[p.as_dict() for p in report.problems])
    if commit == "true":
        with svc.db.session() as s:
            audit(s, "contacts.imported", detail={"rows": report.rows, "created": report.created,
                                                  "merged": report.merged},
                  summary=f"Imported {report.rows} contact row(s) through the API")
    return report.as_dict()


@bp.get("/contacts/export")
@needs("write")
def export_contacts_view():
    # A whole-list export is bulk personal data: it needs the write scope, not just read.
    with services().db.session() as s:
        text = export_contacts_csv(s)
        rows = max(text.count("\n") - 1, 0)
        audit(s, "export.downloaded", detail={"what": "contacts", "format": "csv", "rows": rows},
              summary=f"Exported contacts (csv, {rows} rows) through the API")
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=contacts.csv"})
