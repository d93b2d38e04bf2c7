"""Phone calls through Twilio Programmable Voice: questions as TwiML, and the `voice` channel.

The rendering half is pure, like `bot/render.py`: a channel-neutral outbox payload becomes a
`<Gather>` with `<Say>` in the language's voice. Keypad conventions (docs/voice.md):
choices and yes/no by one key ("press 1 for Safe"); numbers, scales, long lists and "all that
apply" by keys then `#`; free text by speech where Twilio recognises the language. `9` repeats the
question, `0` goes back to the menu, `8` stops these calls; in a question answered with `#` those
three are pressed after a star (`*9`).

The channel half places outbound calls (broadcasts, reminders, "you said, we did") with the Calls
API and answering-machine detection; what the call says is served by the voice webhook.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from twilio.twiml.voice_response import VoiceResponse

from bot.channel import SendResult
from bot.twilio_sms import DEFAULT_TIMEOUT, create_on_twilio, result_from_error, twilio_client
from locales import i18n

log = logging.getLogger(__name__)

CHANNEL = "voice"
VOICE_PATH = "/webhooks/twilio/voice"
# Seconds Twilio waits for the first key or word before the question counts as unanswered.
GATHER_TIMEOUT = 8
# Questions answered with one key: these keys are commands, so a choice list this long or longer
# is keyed with `#` instead.
SINGLE_KEY_CHOICES = 7
REPEAT, MENU, STOP = "9", "0", "8"

# Twilio's text-to-speech voices per language (voice, language tag). Somali has no voice on Twilio:
# a Somali speaker is called in the flow's base language. OUTREACH_VOICE_VOICES overrides these.
DEFAULT_VOICES: dict[str, tuple[str, str]] = {
    "en": ("Polly.Amy-Neural", "en-GB"),
    "cy": ("Polly.Gwyneth", "cy-GB"),
    "pl": ("Polly.Ola-Neural", "pl-PL"),
    "ro": ("Polly.Carmen", "ro-RO"),
    "pt": ("Polly.Ines-Neural", "pt-PT"),
    "ar": ("Polly.Zeina", "arb"),
    "bn": ("Google.bn-IN-Standard-A", "bn-IN"),
    "pa": ("Google.pa-IN-Standard-A", "pa-IN"),
    "ur": ("Google.ur-IN-Standard-A", "ur-IN"),
}
# Speech recognition for free-text answers (<Gather input="speech" language=...>). Welsh and Somali
# are off by default (set OUTREACH_VOICE_SPEECH_LANGUAGES to try Welsh, e.g. "cy=cy-GB"): their
# questions are skipped on a call, with an offer of a text message to a mobile.
DEFAULT_SPEECH: dict[str, str] = {
    "en": "en-GB", "pl": "pl-PL", "ro": "ro-RO", "pt": "pt-PT", "ar": "ar-EG", "bn": "bn-IN",
    "pa": "pa-guru-IN", "ur": "ur-PK",
}

_ = i18n.N_
PRESS_FOR = _("Press %(key)s for %(label)s.")
PRESS_YES_NO = _("Press 1 for %(yes)s, or 2 for %(no)s.")
KEY_NUMBER = _("Key in your answer, then press the hash key.")
KEY_NUMBER_RANGE = _("Key in a number from %(min)s to %(max)s, then press the hash key.")
KEY_SCALE_LABEL = _("%(point)s means %(label)s.")
KEY_MULTIPLE = _("Press the numbers of all that apply, then the hash key.")
KEY_CHOICE_HASH = _("Key in the number of your answer, then press the hash key.")
SAY_ANSWER = _("Please say your answer after the question, then wait.")
COMMANDS = _("Press 9 to hear this again, 0 for the menu. To stop these calls, press 8.")
COMMANDS_STAR = _("Press star 9 to hear this again, star 0 for the menu. To stop these calls, press star 8.")
STOP_HINT = _("To stop these calls, press 8.")
NO_SPEECH = _("This question needs an answer in words, which we cannot take by phone in this language.")
OFFER_TEXT = _("Press 1 to get this question by text message, or 2 to go on without answering it.")
TEXT_SENT = _("We have sent you this question by text message. Please reply to it. Goodbye.")
NOT_HEARD = _("Sorry, we did not hear an answer.")
MENU_FLOW = _("For %(title)s, press %(key)s.")
NOTHING_OPEN = _("Sorry, there is nothing to take part in by phone at the moment. Goodbye.")
GOODBYE = _("Thank you for calling. Goodbye.")
STOPPED_CALLS = _("You will get no more calls or messages from %(council)s. Goodbye.")
OPTED_OUT_CALLER = _("You asked us to stop contacting you. To take part again, press 1. Otherwise, goodbye.")
VOICEMAIL = _("This is %(council)s with a short survey. Please call us back on %(number)s. Thank you.")
VOICEMAIL_NO_NUMBER = _("This is %(council)s with a short survey. We will try again another time. Thank you.")
# The language menu: each option is spoken in its own language.
LANGUAGE_OPTION = _("For English, press %(key)s.")


@dataclass(frozen=True)
class VoiceSettings:
    """Voices and speech-recognition languages per language, with the council's overrides."""

    voices: dict[str, tuple[str, str]]
    speech: dict[str, str]

    @classmethod
    def from_settings(cls, settings) -> "VoiceSettings":
        voices = dict(DEFAULT_VOICES)
        for lang, value in _pairs(getattr(settings, "voice_voices", "")):
            if not value:
                voices.pop(lang, None)
                continue
            voice, _sep, tag = value.partition(":")
            voices[lang] = (voice, tag or voices.get(lang, (voice, lang))[1])
        speech = dict(DEFAULT_SPEECH)
        for lang, value in _pairs(getattr(settings, "voice_speech_languages", "")):
            if value:
                speech[lang] = value
            else:
                speech.pop(lang, None)
        return cls(voices, speech)

    def has_voice(self, lang: str | None) -> bool:
        return bool(lang) and lang in self.voices

    def spoken(self, lang: str | None) -> tuple[str, str]:
        return self.voices.get(lang or "en") or self.voices.get("en") or DEFAULT_VOICES["en"]


DEFAULT_VOICE_SETTINGS = VoiceSettings(dict(DEFAULT_VOICES), dict(DEFAULT_SPEECH))


def _pairs(text: str) -> list[tuple[str, str]]:
    """Read "cy=Polly.Gwyneth:cy-GB,so=" as [("cy", "Polly.Gwyneth:cy-GB"), ("so", "")]."""
    pairs = []
    for part in (text or "").split(","):
        if "=" in part:
            lang, value = part.split("=", 1)
            pairs.append((lang.strip(), value.strip()))
    return pairs


def action_url(base: str, **params: Any) -> str:
    """The webhook URL a <Gather> or <Redirect> posts to, with the call's state in its query (signed by Twilio)."""
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return base + ("?" + query if query else "")


def say(parent, text: str, lang: str | None, voices: VoiceSettings) -> None:
    """Speak `text` in the language's voice."""
    voice, tag = voices.spoken(lang)
    parent.say(text, voice=voice, language=tag)


# ----- reading the payload ------------------------------------------------------------------------


def _choices(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in payload.get("choices") or [] if isinstance(c, dict)]


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def answer_mode(payload: dict[str, Any], voices: VoiceSettings, lang: str | None) -> str:
    """How a question is answered on the phone: "key" (one key), "keys" (keys then #), "speech", "none"."""
    kind = payload.get("kind")
    if kind == "yes_no" or (kind == "choice" and len(_choices(payload)) < SINGLE_KEY_CHOICES + 1):
        return "key"
    if kind in ("choice", "multiple", "number", "scale"):
        return "keys"
    if kind == "text":
        return "speech" if lang in voices.speech else "none"
    return "key"


def command_of(digits: str | None, mode: str) -> str | None:
    """Return REPEAT, MENU or STOP when the keys pressed are a command in this answer mode."""
    keys = (digits or "").strip()
    if mode == "key" and keys in (REPEAT, MENU, STOP):
        return keys
    if keys.startswith("*") and keys[1:] in (REPEAT, MENU, STOP):
        return keys[1:]
    return None


def reply_from_keys(payload: dict[str, Any], digits: str | None, speech: str | None) -> dict[str, Any]:
    """Turn keys pressed (or words said) into what the conversation service takes: {"text", "choice"}.

    A key that names an option is the option's exact value, like a button press; anything else is
    passed on as typed, so a wrong key is re-prompted the way a wrong SMS reply is.
    """
    keys = (digits or "").strip().rstrip("#")
    if speech and not keys:
        return {"text": speech.strip(), "choice": None}
    kind = payload.get("kind")
    if kind == "yes_no" and keys in ("1", "2"):
        return {"text": keys, "choice": "yes" if keys == "1" else "no"}
    if kind == "choice":
        for choice in _choices(payload):
            if keys == str(choice.get("number")):
                return {"text": keys, "choice": choice.get("value")}
    if kind == "multiple" and keys.isdigit():
        numbers = {int(k) for k in keys}
        values = [c.get("value") for c in _choices(payload) if c.get("number") in numbers]
        if values and len(values) == len(numbers):
            return {"text": " ".join(keys), "choice": values}
        return {"text": " ".join(keys), "choice": None}
    return {"text": keys, "choice": None}


# ----- speaking a question -------------------------------------------------------------------------


def option_lines(payload: dict[str, Any], lang: str | None) -> list[str]:
    """What the caller is told to press, in words ("Press 1 for Safe.")."""
    kind = payload.get("kind")
    hints = payload.get("hints") or {}
    if kind == "yes_no":
        labels = hints.get("yes_no_labels") or {}
        yes = labels.get("yes") or i18n.gettext(lang, "Yes")
        no = labels.get("no") or i18n.gettext(lang, "No")
        return [i18n.gettext(lang, PRESS_YES_NO, yes=yes, no=no)]
    if kind == "choice":
        lines = [i18n.gettext(lang, PRESS_FOR, key=c.get("number"), label=c.get("label")) for c in _choices(payload)]
        if len(_choices(payload)) > SINGLE_KEY_CHOICES:
            lines.append(i18n.gettext(lang, KEY_CHOICE_HASH))
        return lines
    if kind == "multiple":
        return [*(i18n.gettext(lang, PRESS_FOR, key=c.get("number"), label=c.get("label"))
                  for c in _choices(payload)), i18n.gettext(lang, KEY_MULTIPLE)]
    if kind in ("number", "scale"):
        low, high = hints.get("min"), hints.get("max")
        lines = []
        labels = hints.get("labels") or {}
        if isinstance(labels, dict):
            lines = [i18n.gettext(lang, KEY_SCALE_LABEL, point=k, label=v) for k, v in labels.items()]
        if low is not None and high is not None:
            lines.append(i18n.gettext(lang, KEY_NUMBER_RANGE, min=_number(low), max=_number(high)))
        else:
            lines.append(i18n.gettext(lang, KEY_NUMBER))
        return lines
    if kind == "text":
        return [i18n.gettext(lang, SAY_ANSWER)]
    return []


def question_twiml(response: VoiceResponse, payload: dict[str, Any], lang: str | None, action: str,
                   voices: VoiceSettings, *, intro: bool = True, mobile: bool = False,
                   offer_action: str | None = None) -> VoiceResponse:
    """Add one question to `response`: a <Gather> posting to `action`, then a redirect there when unanswered."""
    mode = answer_mode(payload, voices, lang)
    texts = [t for t in (payload.get("intro") or []) if t] if intro else []
    if mode == "none":
        for text in texts:
            say(response, text, lang, voices)
        say(response, str(payload.get("question") or ""), lang, voices)
        say(response, i18n.gettext(lang, NO_SPEECH), lang, voices)
        if mobile and offer_action:
            gather = response.gather(input="dtmf", num_digits=1, timeout=GATHER_TIMEOUT, action=offer_action,
                                     method="POST")
            say(gather, i18n.gettext(lang, OFFER_TEXT), lang, voices)
            response.redirect(action_url_with(offer_action, e="1"), method="POST")
        else:
            response.redirect(action_url_with(offer_action or action, d="2"), method="POST")
        return response
    options: dict[str, Any] = dict(timeout=GATHER_TIMEOUT, action=action, method="POST")
    if mode == "key":
        options.update(input="dtmf", num_digits=1)
    elif mode == "keys":
        options.update(input="dtmf", finish_on_key="#")
    else:
        options.update(input="dtmf speech", finish_on_key="#", language=voices.speech[lang],
                       speech_timeout="auto")
    gather = response.gather(**options)
    for text in texts:
        say(gather, text, lang, voices)
    say(gather, str(payload.get("question") or ""), lang, voices)
    for line in option_lines(payload, lang):
        say(gather, line, lang, voices)
    say(gather, i18n.gettext(lang, COMMANDS if mode == "key" else COMMANDS_STAR), lang, voices)
    # Nothing pressed or said: the webhook is told so (e=1) and asks again, as an SMS re-prompt does.
    response.redirect(action_url_with(action, e="1"), method="POST")
    return response


def action_url_with(url: str, **params: Any) -> str:
    """Add parameters to an action URL's query."""
    extra = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return url + ("&" if "?" in url else "?") + extra if extra else url


def say_all(response: VoiceResponse, texts: list[tuple[str, str | None]], voices: VoiceSettings) -> VoiceResponse:
    """Speak plain messages, each in its language."""
    for text, lang in texts:
        if text:
            say(response, text, lang, voices)
    return response


def language_menu(response: VoiceResponse, langs: list[str], action: str, voices: VoiceSettings) -> VoiceResponse:
    """"For English press 1, i gael Cymraeg pwyswch 2": each option spoken in its own language."""
    gather = response.gather(input="dtmf", num_digits=1, timeout=GATHER_TIMEOUT, action=action, method="POST")
    for number, lang in enumerate(langs, start=1):
        say(gather, i18n.gettext(lang, LANGUAGE_OPTION, key=number), lang, voices)
    response.redirect(action_url_with(action, e="1"), method="POST")
    return response


def flow_menu(response: VoiceResponse, titles: list[str], lang: str | None, action: str,
              voices: VoiceSettings) -> VoiceResponse:
    """"For Feeling safe in your neighbourhood, press 1." for each flow open by phone."""
    gather = response.gather(input="dtmf", num_digits=1, timeout=GATHER_TIMEOUT, action=action, method="POST")
    for number, title in enumerate(titles, start=1):
        say(gather, i18n.gettext(lang, MENU_FLOW, title=title, key=number), lang, voices)
    response.redirect(action_url_with(action, e="1"), method="POST")
    return response


def voicemail_twiml(council: str, number: str | None, lang: str | None, voices: VoiceSettings) -> VoiceResponse:
    """What an answering machine gets: who called and the number to call back, never the survey."""
    response = VoiceResponse()
    if number:
        say(response, i18n.gettext(lang, VOICEMAIL, council=council, number=spoken_number(number)), lang, voices)
    else:
        say(response, i18n.gettext(lang, VOICEMAIL_NO_NUMBER, council=council), lang, voices)
    response.hangup()
    return response


def spoken_number(number: str) -> str:
    """A phone number as digits read one by one, in UK national form: "0 1 2 7 9 ..."."""
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, "GB")
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        national = number
    return " ".join(ch for ch in national if ch.isdigit())


def is_mobile(number: str | None) -> bool:
    """True when a phone number is a mobile (it can get a text message)."""
    import phonenumbers

    if not number:
        return False
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(number, "GB"))
    except phonenumbers.NumberParseException:
        return False
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def is_landline(number: str | None) -> bool:
    """True when a phone number is a fixed line (it cannot get a text message)."""
    import phonenumbers

    if not number:
        return False
    try:
        return phonenumbers.number_type(phonenumbers.parse(number, "GB")) == phonenumbers.PhoneNumberType.FIXED_LINE
    except phonenumbers.NumberParseException:
        return False


# ----- the channel: outbound calls -----------------------------------------------------------------


class TwilioVoice:
    """Place calls through Twilio's Calls API (or anything that speaks it at `api_url`).

    The call's words are not in the request: Twilio fetches them from the voice webhook
    (`?o=<outbox id>`), which answers a person with the message or the flow and a machine with a
    short voicemail.
    """

    name = CHANNEL

    def __init__(self, account_sid: str, auth_token: str, *, from_number: str, public_url: str,
                 api_url: str = "", timeout: float = DEFAULT_TIMEOUT):
        if not from_number:
            raise ValueError("calls need a number to call from (OUTREACH_TWILIO_VOICE_FROM or OUTREACH_TWILIO_FROM)")

        self.client, self.http = twilio_client(account_sid, auth_token, api_url, timeout)
        self.from_number = from_number
        self.voice_url = public_url.rstrip("/") + VOICE_PATH

    @classmethod
    def from_settings(cls, settings, **overrides) -> "TwilioVoice":
        values: dict[str, Any] = dict(
            account_sid=settings.twilio_account_sid, auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_voice_from or settings.twilio_from, public_url=settings.public_url,
            api_url=settings.twilio_api_url,
            timeout=float((settings.extra or {}).get("twilio_timeout", DEFAULT_TIMEOUT)),
        )
        values.update(overrides)
        return cls(values.pop("account_sid"), values.pop("auth_token"), **values)

    def send(self, address: str, payload: dict[str, Any], lang: str | None, *,
             outbox_id: int | None = None) -> SendResult:
        """Place one call; when answered, Twilio asks the voice webhook what to say (this outbox row)."""
        url = action_url(self.voice_url, o=outbox_id, m="out")
        call, failure = create_on_twilio(lambda: self.client.calls.create(
            to=address, from_=self.from_number, url=url, method="POST",
            machine_detection="DetectMessageEnd",
            status_callback=action_url(self.voice_url, o=outbox_id, m="status"), status_callback_method="POST",
        ), lambda exc: result_from_error(exc, self.http.retry_after, retry_codes=frozenset()))
        if failure is not None:
            return failure
        return SendResult("sent", provider_id=call.sid)


def init_app(app, services) -> None:
    """Build the voice channel on Twilio's settings, or on the sandbox's fake Twilio."""
    from engage.calling_hours import parse_hours

    settings = services.settings
    try:
        parse_hours(settings.calling_hours)
    except ValueError as exc:
        raise ValueError(f"OUTREACH_CALLING_HOURS: {exc}") from None
    channels = services.extras.setdefault("channels", {})
    if settings.twilio_enabled and (settings.twilio_voice_from or settings.twilio_from):
        channels[CHANNEL] = TwilioVoice.from_settings(settings)
        return
    server = services.extras.get("twilio_sandbox")
    if server is not None:
        from bot.sandbox.twilio_server import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, SANDBOX_FROM

        channels[CHANNEL] = TwilioVoice.from_settings(
            settings, account_sid=SANDBOX_ACCOUNT_SID, auth_token=SANDBOX_AUTH_TOKEN, from_number=SANDBOX_FROM,
            api_url=server.url)
