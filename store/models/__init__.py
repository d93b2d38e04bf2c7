"""All models; importing this package registers every table on Base.metadata."""
from store.models import contacts, officers, outreach, themes  # noqa: F401  (register tables)
from store.models.base import Base
from store.models.core import (
    CHANNELS,
    CONSENT_OPTED_IN,
    CONSENT_OPTED_OUT,
    CONSENT_UNKNOWN,
    OUTBOX_ORDER,
    Address,
    Answer,
    ConsentRecord,
    Contact,
    ContactGroup,
    FlowVersion,
    InboundMessage,
    OutboxMessage,
    Run,
)

__all__ = [
    "Base", "CHANNELS", "CONSENT_OPTED_IN", "CONSENT_OPTED_OUT", "CONSENT_UNKNOWN", "OUTBOX_ORDER",
    "Address", "Answer", "ConsentRecord", "Contact", "ContactGroup", "FlowVersion",
    "InboundMessage", "OutboxMessage", "Run",
]
