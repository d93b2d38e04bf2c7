"""The durable floor for the inbound benchmarks: a turn's three INSERTs, one transaction, one commit.

A bare Flask handler that stores what one answer must leave behind before it is acknowledged — the
raw message, the answer, the reply to send — in the service's own tables, through the same engine
settings (store.db.Database), and commits. No signature, no ORM, no logic. It is the cost of one
durable commit per answer on this machine before any of the service's work; batching several
answers per commit can pass it.

Served by the benchmarks under the same gunicorn as the service (`bench.durable_floor:create_app()`),
with OUTREACH_DATABASE_URL and OUTREACH_BENCH_FLOOR_RUN_ID (a run the answers belong to, seeded by
`seed`).
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from flask import Flask, Response, jsonify, request
from sqlalchemy import text

from store.db import Database

INSERT_INBOUND = text(
    "INSERT INTO inbound_messages (channel, provider_id, address, text, payload, received_at, status, attempts)"
    " VALUES (:channel, :provider_id, :address, :text, :payload, :now, 'pending', 0)")
INSERT_ANSWER = text(
    "INSERT INTO answers (run_id, flow_id, step_id, value, raw_text, skipped, channel, answered_at)"
    " VALUES (:run_id, 'floor', :provider_id, :value, :text, false, :channel, :now)")
INSERT_OUTBOX = text(
    "INSERT INTO outbox (channel, kind, priority, payload, status, attempts, created_at, updated_at, run_id)"
    " VALUES (:channel, 'reply', 0, :reply, 'queued', 0, :now, :now, :run_id)")
TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


def seed(db: Database) -> int:
    """Create the flow version and run the floor's answers belong to; return the run's id."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with db.engine.begin() as conn:
        version = conn.execute(text(
            "INSERT INTO flow_versions (flow_id, version, source, created_at) VALUES ('floor', 'floor', '', :now)"
            " RETURNING id"), {"now": now}).scalar_one()
        return conn.execute(text(
            "INSERT INTO runs (flow_id, flow_version_id, channel, status, state, started_at, updated_at)"
            " VALUES ('floor', :version, 'sms', 'active', '{}', :now, :now) RETURNING id"),
            {"version": version, "now": now}).scalar_one()


def create_app() -> Flask:
    app = Flask(__name__)
    db = Database(os.environ["OUTREACH_DATABASE_URL"], pool_size=2)
    run_id = int(os.environ["OUTREACH_BENCH_FLOOR_RUN_ID"])

    def store(channel: str, provider_id: str, address: str, body: str, payload: dict) -> None:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        params = {"channel": channel, "provider_id": provider_id, "address": address, "text": body,
                  "payload": json.dumps(payload), "now": now, "run_id": run_id, "value": json.dumps(body),
                  "reply": json.dumps({"type": "text", "text": "Next question"})}
        with db.engine.begin() as conn:
            conn.execute(INSERT_INBOUND, params)
            conn.execute(INSERT_ANSWER, params)
            conn.execute(INSERT_OUTBOX, params)

    @app.post("/webhooks/twilio/sms")
    def sms():
        form = request.form.to_dict()
        store("sms", form["MessageSid"], form["From"], form.get("Body", ""), form)
        return Response(TWIML, mimetype="text/xml")

    @app.post("/webhooks/telegram")
    def telegram():
        update = request.get_json()
        message = update.get("message") or update.get("callback_query") or {}
        chat = (message.get("chat") or message.get("message", {}).get("chat") or {}).get("id")
        store("telegram", str(update["update_id"]), str(chat), message.get("text") or message.get("data") or "",
              update)
        return jsonify({})

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
