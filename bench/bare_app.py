"""The ceiling for the inbound benchmarks: Flask endpoints that only answer, under the same gunicorn."""
from __future__ import annotations

from flask import Flask, Response, jsonify


def create_app() -> Flask:
    """Build an app whose webhooks return empty TwiML (SMS) or an empty JSON object (Telegram)."""
    app = Flask(__name__)
    twiml = '<?xml version="1.0" encoding="UTF-8"?><Response />'

    @app.post("/webhooks/twilio/sms")
    def sms():
        return Response(twiml, mimetype="text/xml")

    @app.post("/webhooks/telegram")
    def telegram():
        return jsonify({})

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
