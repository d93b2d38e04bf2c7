"""A caller for tests: posts signed voice webhooks exactly as Twilio does and follows the TwiML it gets back."""
from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from tests.support.twilio_fake import post_signed

VOICE = "/webhooks/twilio/voice"
COUNCIL_NUMBER = "+441279446000"
_sids = itertools.count(1)


@dataclass
class Heard:
    """One TwiML answer: what was said (with each <Say>'s language), where keys go next, and if it hung up."""

    says: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    gather: dict[str, str] | None = None
    redirect: str | None = None
    hangup: bool = False

    @property
    def text(self) -> str:
        return " ".join(text for text, _lang, _voice in self.says)


def parse(xml: str) -> Heard:
    root = ET.fromstring(xml)
    heard = Heard()
    for element in root:
        if element.tag == "Say":
            heard.says.append((element.text or "", element.get("language"), element.get("voice")))
        elif element.tag == "Gather":
            heard.gather = dict(element.attrib)
            for say in element.iter("Say"):
                heard.says.append((say.text or "", say.get("language"), say.get("voice")))
        elif element.tag == "Redirect":
            heard.redirect = element.text
        elif element.tag == "Hangup":
            heard.hangup = True
    return heard


class Phone:
    """One call from `caller` to `to`, turn by turn."""

    def __init__(self, client, caller: str, to: str = COUNCIL_NUMBER, *, direction: str = "inbound",
                 answered_by: str | None = None, first_url: str = VOICE):
        self.client = client
        self.caller = caller
        self.to = to
        self.direction = direction
        self.sid = f"CA{next(_sids):032x}"
        self.answered_by = answered_by
        self.next_url: str | None = first_url
        self.last: Heard | None = None
        self.responses = []

    def form(self, **extra: str) -> dict[str, str]:
        outbound = self.direction.startswith("outbound")
        form = {"CallSid": self.sid, "AccountSid": "AC" + "5a" * 16, "From": self.to if outbound else self.caller,
                "To": self.caller if outbound else self.to, "CallStatus": "in-progress", "ApiVersion": "2010-04-01",
                "Direction": self.direction, "Caller": self.to if outbound else self.caller}
        if self.answered_by:
            form["AnsweredBy"] = self.answered_by
        form.update(extra)
        return form

    def post(self, url: str, form: dict[str, str]) -> Heard:
        response = post_signed(self.client, url, form)
        assert response.status_code == 200, response.data
        assert response.mimetype == "text/xml"
        self.responses.append(response)
        self.last = parse(response.get_data(as_text=True))
        if self.last.gather is not None:
            self.next_url = self.last.gather["action"]
        elif self.last.redirect is not None:
            self.next_url = self.last.redirect
        else:
            self.next_url = None
        return self.last

    def dial(self) -> Heard:
        return self.post(self.next_url, self.form())

    def press(self, digits: str) -> Heard:
        assert self.last is not None and self.last.gather is not None, "nothing is waiting for keys"
        return self.post(self.last.gather["action"], self.form(Digits=digits))

    def say(self, words: str) -> Heard:
        assert self.last is not None and self.last.gather is not None
        return self.post(self.last.gather["action"], self.form(SpeechResult=words, Confidence="0.9"))

    def silence(self) -> Heard:
        """Press nothing: Twilio goes on to the <Redirect> after the <Gather>."""
        assert self.last is not None and self.last.redirect is not None
        return self.post(self.last.redirect, self.form())

    def repeat_last_request(self):
        """Twilio sends the same request again (a retry): same URL, same form."""
        response = self.responses[-1]
        return response
