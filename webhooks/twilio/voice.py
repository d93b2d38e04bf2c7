"""POST /webhooks/twilio/voice: a phone call, one signed request per turn, answered with TwiML.

Twilio posts here when a call comes in (or an outbound call is answered) and again after each
<Gather>. The call's place (which menu, which turn) travels in the action URL's query, which
Twilio's signature covers. Each answer is stored first (`store_inbound("voice", "<CallSid>:<turn>",
...)`, so Twilio's retry of the same turn stores nothing new), acted on at once by the conversation
service, and the replies it queued for the caller are spoken in this response: a call cannot wait
for the sender. The outbox rows are marked sent with the turn's id, so a repeated request speaks
the same words again. Keypad conventions: `bot/twilio_voice.py` and docs/voice.md.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from twilio.twiml.voice_response import VoiceResponse

from bot import twilio_voice as tv
from engage.consent import BULK_KINDS, STOP_CONFIRMATION, may_send, record_consent
from engage.outbox import enqueue
from engage.unsolicited import stop_line
from locales import i18n
from store.models import CONSENT_OPTED_IN, CONSENT_OPTED_OUT, OUTBOX_ORDER, Address, Contact, OutboxMessage
from webhooks.availability import store_in_time
from webhooks.twilio.views import e164, signature_is_valid

log = logging.getLogger(__name__)

bp = Blueprint("twilio_voice", __name__)
PATH = tv.VOICE_PATH
# A menu is offered this many times before the call ends.
MENU_TRIES = 3
FINISHED_CALL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# A placed call's final status and the outbox state it means.
CALL_STATES = {"completed": "delivered", "busy": "undelivered", "no-answer": "undelivered",
               "failed": "failed", "canceled": "failed"}


def in_call(kind: str) -> bool:
    """Outbox kinds spoken in the call itself; the others (broadcasts, reminders, updates) place a call."""
    return kind not in BULK_KINDS and kind != "keyboard"


def _services():
    return current_app.extensions["outreach"]


def _voices():
    return tv.VoiceSettings.from_settings(_services().settings)


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), mimetype="text/xml")


@bp.post(PATH)
def receive_call():
    """Answer one turn of a call with TwiML."""
    if not signature_is_valid():
        return jsonify(error="forbidden"), 403
    form = request.form.to_dict()
    args = request.args.to_dict()
    call_sid = form.get("CallSid")
    if not call_sid:
        return jsonify(error="CallSid is missing"), 400
    outbound = (form.get("Direction") or "").startswith("outbound") or args.get("m") in ("out", "status")
    raw = form.get("To") if outbound else form.get("From")
    if not raw:
        return jsonify(error="From is missing"), 400
    number = caller_address(raw, call_sid)
    call = Call(_services(), _voices(), form, args, call_sid, number, e164(form.get("From" if outbound else "To")))
    return _twiml(store_in_time(call.answer))


# What Twilio puts in From for a withheld or unknown number (besides words such as "anonymous").
WITHHELD = frozenset({"+266696687", "+86282452253", "+8656696", "+2562533", "+7378742833"})


def caller_address(raw: str, call_sid: str) -> str:
    """The voice address of the caller: their number in E.164, or for a withheld number one address per
    call, so anonymous callers never share a contact (nor hear each other's language or answers)."""
    number = e164(raw)
    if not number or number in WITHHELD or not number.startswith("+") or not number[1:].isdigit():
        return f"withheld:{call_sid}"
    return number


class Call:
    """One request of one call: what was pressed or said, and what to say back."""

    def __init__(self, services, voices, form: dict[str, str], args: dict[str, str], call_sid: str, number: str,
                 service_number: str | None):
        self.services = services
        self.voices = voices
        self.form = form
        self.args = args
        self.call_sid = call_sid
        self.number = number
        self.service_number = service_number
        self.mode = args.get("m") or ""
        try:
            self.turn = max(0, int(args.get("t") or 0))
        except ValueError:
            self.turn = 0
        self.digits = args.get("d") or form.get("Digits") or ""
        self.speech = form.get("SpeechResult") or ""
        self.empty = args.get("e") == "1" and not self.digits and not self.speech
        self.response = VoiceResponse()

    # ----- where the call goes next ---------------------------------------------------------------

    def url(self, mode: str, **params: Any) -> str:
        return tv.action_url(PATH, m=mode, t=self.turn + 1, **params)

    def answer(self) -> VoiceResponse:
        if self.mode == "status":
            self.record_call_status()
            return self.response
        if (self.form.get("CallStatus") or "") in FINISHED_CALL:
            return self.response
        if self.mode == "out":
            return self.outbound()
        if self.mode == "q":
            return self.question_turn()
        if self.mode == "lang":
            return self.language_turn()
        if self.mode == "flows":
            return self.flows_turn()
        if self.mode == "offer":
            return self.offer_turn()
        if self.mode == "optin":
            return self.opt_in_turn()
        return self.call_start()

    def lang(self) -> str | None:
        """The caller's recorded language."""
        return self.contact_state()[0]

    def contact_state(self) -> tuple[str | None, str | None]:
        """(the caller's recorded language, their voice address's consent), linking the voice address to
        the contact who already has this number by SMS or WhatsApp."""
        now = self.services.clock.now()
        with self.services.db.session() as s:
            address = s.scalar(select(Address).where(Address.channel == tv.CHANNEL, Address.address == self.number))
            if address is None:
                other = s.scalar(select(Address).where(
                    Address.channel.in_(("sms", "whatsapp")),
                    Address.address.in_((self.number, "whatsapp:" + self.number))).order_by(Address.id).limit(1))
                if other is None:
                    return None, None
                try:
                    with s.begin_nested():
                        address = Address(contact_id=other.contact_id, channel=tv.CHANNEL, address=self.number,
                                          preferred=False, created_at=now)
                        s.add(address)
                except IntegrityError:
                    address = s.scalar(select(Address).where(Address.channel == tv.CHANNEL,
                                                             Address.address == self.number))
            contact = s.get(Contact, address.contact_id)
            return (contact.language if contact else None), address.consent

    # ----- the start of an inbound call ---------------------------------------------------------------

    def call_start(self) -> VoiceResponse:
        lang, consent = self.contact_state()
        if consent == CONSENT_OPTED_OUT:
            gather = self.response.gather(input="dtmf", num_digits=1, timeout=tv.GATHER_TIMEOUT,
                                          action=self.url("optin"), method="POST")
            tv.say(gather, i18n.gettext(lang, tv.OPTED_OUT_CALLER), lang, self.voices)
            self.response.hangup()
            return self.response
        return self.menu_or_flow(lang)

    def open_flows(self) -> list:
        """The flows a caller may start: the one for the number they rang first, then those with keywords."""
        registry = self.services.registry
        tz = self.services.settings.timezone
        now = self.services.clock.now()

        def is_open(flow) -> bool:
            c = getattr(flow, "consultation", None)
            if c is None:
                return True
            opens, closes = c.opens_at(tz), c.closes_at(tz)
            return (opens is None or now >= opens) and (closes is None or now <= closes)

        flows = [f for f in registry.all() if is_open(f)]
        own = [f for f in flows if f.voice_number and e164(f.voice_number) == self.service_number]
        others = [f for f in flows if f.keywords and f not in own]
        return own + sorted(others, key=lambda f: f.id)

    def menu_or_flow(self, lang: str | None, tries: int = 0) -> VoiceResponse:
        flows = self.open_flows()
        own = [f for f in flows if f.voice_number and e164(f.voice_number) == self.service_number]
        if self.mode == "" and own:
            return self.begin(own[0], lang)
        if not flows:
            tv.say(self.response, i18n.gettext(lang, tv.NOTHING_OPEN), lang, self.voices)
            self.response.hangup()
            return self.response
        if len(flows) == 1 and self.mode == "":
            return self.begin(flows[0], lang)
        if tries >= MENU_TRIES:
            return self.goodbye(lang)
        spoken = lang if self.voices.has_voice(lang) else "en"
        return tv.flow_menu(self.response, [f.title_in(spoken) for f in flows], spoken,
                            self.url("flows", a=tries + 1), self.voices)

    def flows_turn(self) -> VoiceResponse:
        lang = self.lang()
        flows = self.open_flows()
        tries = int(self.args.get("a") or 1)
        if self.digits.isdigit() and 1 <= int(self.digits) <= len(flows):
            return self.begin(flows[int(self.digits) - 1], lang)
        return self.menu_or_flow(lang, tries)

    def languages_of(self, flow) -> list[str]:
        voiced = [code for code in flow.languages if self.voices.has_voice(code)]
        if self.services.settings.welsh_first and "cy" in voiced:
            # Wales mode: Welsh is offered first.
            voiced = ["cy"] + [code for code in voiced if code != "cy"]
        return voiced or [flow.base_language]

    def begin(self, flow, lang: str | None, tries: int = 0) -> VoiceResponse:
        """Start `flow` in the caller's language, or ask which language first."""
        langs = self.languages_of(flow)
        if lang in langs:
            return self.start(flow, lang)
        if len(langs) == 1:
            return self.start(flow, langs[0])
        if tries >= MENU_TRIES:
            return self.goodbye(lang)
        return tv.language_menu(self.response, langs, self.url("lang", f=flow.id, a=tries + 1), self.voices)

    def language_turn(self) -> VoiceResponse:
        flow = self.services.registry.get(self.args.get("f") or "")
        if flow is None:
            return self.menu_or_flow(self.lang())
        langs = self.languages_of(flow)
        if self.digits.isdigit() and 1 <= int(self.digits) <= len(langs):
            return self.start(flow, langs[int(self.digits) - 1])
        return self.begin(flow, None, int(self.args.get("a") or 1))

    def start(self, flow, lang: str) -> VoiceResponse:
        """Start the flow through the conversation service (stored as this turn), then speak its question."""
        return self.act(self.digits or "", {"start_flow": flow.id, "start_lang": lang, "voice": True})

    # ----- a question's answer ------------------------------------------------------------------------

    def question_turn(self) -> VoiceResponse:
        last = self.last_question()
        payload = last[0] if last else {}
        lang = last[1] if last else self.lang()
        mode = tv.answer_mode(payload, self.voices, lang)
        command = tv.command_of(self.digits, mode)
        if command == tv.REPEAT and last:
            return tv.question_twiml(self.response, payload, lang, self.url("q"), self.voices, intro=False,
                                     mobile=tv.is_mobile(self.number), offer_action=self.url("offer"))
        if command == tv.MENU:
            self.mode = "menu"
            return self.menu_or_flow(lang)
        if command == tv.STOP:
            return self.act("STOP", {"voice_key": tv.STOP})
        if self.empty:
            tv.say(self.response, i18n.gettext(lang, tv.NOT_HEARD), lang, self.voices)
            return self.act("", {"voice": True, "no_input": True})
        reply = tv.reply_from_keys(payload, self.digits, self.speech)
        extra: dict[str, Any] = {"voice": True}
        if reply["choice"] is not None:
            extra["choice"] = reply["choice"]
        if self.speech and not self.digits:
            extra["speech"] = True
        return self.act(reply["text"], extra)

    def offer_turn(self) -> VoiceResponse:
        """A question the phone cannot take: 1 sends it by text (to a mobile), 2 (or nothing) goes on without it."""
        last = self.last_question()
        if last is None:
            return self.goodbye(self.lang())
        payload, lang = last
        if self.digits == "1" and tv.is_mobile(self.number):
            self.text_question(payload, lang)
            tv.say(self.response, i18n.gettext(lang, tv.TEXT_SENT), lang, self.voices)
            self.response.hangup()
            return self.response
        if self.empty and self.args.get("a") != "1":
            return tv.question_twiml(self.response, payload, lang, self.url("q"), self.voices, intro=False,
                                     mobile=True, offer_action=self.url("offer", a="1"))
        return self.skip_question(payload)

    def skip_question(self, payload: dict[str, Any]) -> VoiceResponse:
        """Go on without an answer: the skip word for an optional question, else no answer until the
        flow's attempt limit moves the run on (the engine's own rule, as for SMS)."""
        hints = payload.get("hints") or {}
        if hints.get("skip_word"):
            return self.act(str(hints["skip_word"]), {"voice": True, "skipped_by_phone": True})
        step = payload.get("step_id")
        for attempt in range(10):
            rows = self.process(f"{self.call_sid}:{self.turn}:skip{attempt}", "",
                                {"voice": True, "skipped_by_phone": True})
            questions = [p for p, _lang, _kind in rows if p.get("type") == "question"]
            if not questions or questions[-1].get("step_id") != step:
                # Speak only where the run went: the "sorry" of each empty answer is not for the caller.
                return self.speak(rows, skip_intro=True)
        return self.goodbye(self.lang())

    def text_question(self, payload: dict[str, Any], lang: str | None) -> None:
        """Queue the waiting question as a text to the caller's mobile: they asked for it on the call."""
        now = self.services.clock.now()
        with self.services.db.session() as s:
            voice = s.scalar(select(Address).where(Address.channel == tv.CHANNEL, Address.address == self.number))
            if voice is None:
                return
            contact = s.get(Contact, voice.contact_id)
            sms = s.scalar(select(Address).where(Address.channel == "sms", Address.address == self.number))
            if sms is None:
                sms = Address(contact_id=contact.id, channel="sms", address=self.number, preferred=False,
                              created_at=now)
                s.add(sms)
                s.flush()
            if sms.contact_id != contact.id or sms.consent == CONSENT_OPTED_OUT:
                return
            if sms.consent != CONSENT_OPTED_IN:
                record_consent(s, sms, "opt_in", "voice", now, wording="asked for a question by text on a call")
            enqueue(s, contact=contact, address=sms, kind="reply", payload=dict(payload, intro=[]), now=now,
                    language=lang, run_id=payload.get("run_id"),
                    dedupe_key=f"voice-text:{self.call_sid}:{payload.get('run_id')}:{payload.get('step_id')}")

    def opt_in_turn(self) -> VoiceResponse:
        """An opted-out caller pressed 1: START, as if they had texted it, then the menu."""
        if self.digits != "1":
            return self.goodbye(self.lang())
        rows = self.process(f"{self.call_sid}:{self.turn}:start", "START", {"voice": True})
        self.speak([r for r in rows if r[0].get("type") != "question"], hang_up=False)
        self.mode = ""
        return self.menu_or_flow(self.lang())

    def record_call_status(self) -> None:
        """A placed call's status callback: answered is delivered, never answered is undelivered (forward only)."""
        state = CALL_STATES.get((self.form.get("CallStatus") or "").lower())
        outbox_id = self.args.get("o") or ""
        if state is None or not outbox_id.isdigit():
            return
        now = self.services.clock.now()
        with self.services.db.session() as s:
            row = s.get(OutboxMessage, int(outbox_id), with_for_update=True)
            if row is None or row.channel != tv.CHANNEL or row.provider_id != self.call_sid:
                return
            if OUTBOX_ORDER.get(state, 0) > OUTBOX_ORDER.get(row.status, 0):
                row.status, row.updated_at = state, now
                if state == "delivered":
                    row.delivered_at = now
                else:
                    row.error_code = (self.form.get("CallStatus") or "").lower()

    # ----- an answered outbound call ------------------------------------------------------------------

    def outbound(self) -> VoiceResponse:
        """A call we placed was answered: a person hears the message or the flow; a machine a voicemail."""
        answered_by = (self.form.get("AnsweredBy") or "").lower()
        with self.services.db.session() as s:
            row = None
            outbox_id = self.args.get("o") or ""
            if outbox_id.isdigit():
                row = s.get(OutboxMessage, int(outbox_id))
            address = s.get(Address, row.address_id) if row is not None and row.address_id else None
            if row is None or address is None or address.address != self.number or row.channel != tv.CHANNEL:
                return self.goodbye(None)
            payload, lang = dict(row.payload or {}), row.language or (row.payload or {}).get("lang")
        if answered_by.startswith("machine") or answered_by == "fax":
            settings = self.services.settings
            callback = settings.voice_callback_number or settings.twilio_voice_from or settings.twilio_from
            return tv.voicemail_twiml(settings.council_name, callback, lang, self.voices)
        # "Reply STOP to stop messages" is for a text: a call says "to stop these calls, press 8" instead.
        texted_stop = stop_line(lang, self.services.settings.council_name)
        if payload.get("type") == "question":
            payload["intro"] = [t for t in payload.get("intro") or [] if t != texted_stop]
            return self.speak([(payload, lang, "broadcast")])
        # A message (a broadcast, "you said, we did"): said once, then the way to stop these calls.
        gather = self.response.gather(input="dtmf", num_digits=1, timeout=tv.GATHER_TIMEOUT,
                                      action=self.url("q"), method="POST")
        tv.say(gather, str(payload.get("text") or "").replace(texted_stop, "").strip(), lang, self.voices)
        tv.say(gather, i18n.gettext(lang, tv.STOP_HINT), lang, self.voices)
        self.response.hangup()
        return self.response

    # ----- storing, acting and speaking ---------------------------------------------------------------

    def act(self, text: str, payload: dict[str, Any]) -> VoiceResponse:
        return self.speak(self.process(f"{self.call_sid}:{self.turn}", text, payload))

    def process(self, provider_id: str, text: str, payload: dict[str, Any]) -> list[tuple[dict, str | None, str]]:
        """Store this turn, act on it, and return the replies for this call (the same ones on a repeat)."""
        conversations = self.services.conversations
        row_id, created = conversations.store_inbound(tv.CHANNEL, provider_id, self.number, text,
                                                      {**payload, "CallSid": self.call_sid})
        if created:
            conversations.process_inbound(row_id)
        return self.deliver(provider_id)

    def deliver(self, provider_id: str) -> list[tuple[dict, str | None, str]]:
        """Mark the caller's queued replies sent by this turn, after the same consent check as the sender."""
        now = self.services.clock.now()
        prefix = provider_id + "#"
        with self.services.db.session() as s:
            address = s.scalar(select(Address).where(Address.channel == tv.CHANNEL, Address.address == self.number))
            if address is None:
                return []
            contact = s.get(Contact, address.contact_id)
            queued = s.scalars(select(OutboxMessage).where(
                OutboxMessage.address_id == address.id, OutboxMessage.status == "queued")
                .order_by(OutboxMessage.id).with_for_update()).all()
            done = len(s.scalars(select(OutboxMessage.id).where(
                OutboxMessage.provider_id.like(prefix.replace("%", r"\%") + "%", escape="\\"))).all())
            for row in queued:
                if not in_call(row.kind):
                    continue
                allowed, reason = may_send(contact, address, row.kind)
                row.updated_at = now
                row.attempts += 1
                if not allowed:
                    row.status, row.error_code = "skipped", reason
                    continue
                row.status, row.sent_at, row.provider_id = "sent", now, f"{prefix}{done}"
                done += 1
            s.flush()
            rows = s.scalars(select(OutboxMessage).where(
                OutboxMessage.address_id == address.id,
                OutboxMessage.provider_id.like(prefix.replace("%", r"\%") + "%", escape="\\"))
                .order_by(OutboxMessage.id)).all()
            return [(dict(r.payload or {}), r.language or (r.payload or {}).get("lang"), r.kind) for r in rows]

    def last_question(self) -> tuple[dict[str, Any], str | None] | None:
        """The question this call asked last (what 9 repeats and keys answer)."""
        with self.services.db.session() as s:
            address = s.scalar(select(Address).where(Address.channel == tv.CHANNEL, Address.address == self.number))
            if address is None:
                return None
            rows = s.scalars(select(OutboxMessage).where(
                OutboxMessage.address_id == address.id, OutboxMessage.status.in_(("sent", "delivered")))
                .order_by(OutboxMessage.id.desc()).limit(20)).all()
            for row in rows:
                payload = dict(row.payload or {})
                if payload.get("type") == "question":
                    return payload, row.language or payload.get("lang")
                if payload.get("type") == "text" and row.kind not in BULK_KINDS:
                    # The last thing said ends the question before it (a thank-you, a stop confirmation).
                    return None
        return None

    def speak(self, rows: list[tuple[dict, str | None, str]], *, skip_intro: bool = False,
              hang_up: bool = True) -> VoiceResponse:
        """Speak the replies; end with the last question's <Gather>, or hang up when none is waiting."""
        council = self.services.settings.council_name
        question = None
        for payload, lang, kind in rows:
            if payload.get("type") == "question":
                question = (payload, lang)
                continue
            if question is not None:
                # An earlier question followed by more words: say it as words (it was answered meanwhile).
                tv.say(self.response, str(question[0].get("text") or ""), question[1], self.voices)
                question = None
            text = str(payload.get("text") or "")
            if kind == STOP_CONFIRMATION:
                text = i18n.gettext(lang, tv.STOPPED_CALLS, council=council)
            if text:
                tv.say(self.response, text, lang, self.voices)
        if question is not None:
            payload, lang = question
            if skip_intro:
                payload = dict(payload, intro=[t for t in payload.get("intro") or [] if t not in self._sorry(lang)])
            return tv.question_twiml(self.response, payload, lang, self.url("q"), self.voices,
                                     mobile=tv.is_mobile(self.number), offer_action=self.url("offer"))
        if hang_up:
            if not rows:
                tv.say(self.response, i18n.gettext(self.lang(), tv.GOODBYE), self.lang(), self.voices)
            self.response.hangup()
        return self.response

    @staticmethod
    def _sorry(lang: str | None) -> set[str]:
        from engage.conversations import REASONS

        return {i18n.gettext(lang, REASONS["empty"]), i18n.gettext(lang, REASONS["required"])}

    def goodbye(self, lang: str | None) -> VoiceResponse:
        tv.say(self.response, i18n.gettext(lang, tv.GOODBYE), lang, self.voices)
        self.response.hangup()
        return self.response


def init_app(app, services) -> None:
    app.register_blueprint(bp)
