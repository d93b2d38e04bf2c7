"""Consent that means what it says, two-step questions, and retries until a message's validity ends

Revision ID: s12c
Revises: s12b
Create Date: 2026-12-03 14:10:00

- addresses.awaiting / awaiting_until: a question only a reply to it answers (FORGET's confirmation).
- broadcasts.message_class: "service" or "promotional"; each needs its own recorded basis.
- outbox.expires_at: the sender retries a message until then, then fails it as "expired".

Residents whose channel consent came from an import, an officer, the API or a web form (a stated
source), and residents who said yes to joining the citizens' panel, get a "service" basis record,
so service broadcasts reach the same people as before. Nobody gets a "promotional" basis.
"""
from alembic import op
import sqlalchemy as sa
import store.types


revision = 's12c'
down_revision = 's12b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('addresses') as batch:
        batch.add_column(sa.Column('awaiting', sa.String(length=32), nullable=True))
        batch.add_column(sa.Column('awaiting_until', store.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table('broadcasts') as batch:
        batch.add_column(sa.Column('message_class', sa.String(length=16), nullable=False,
                                   server_default='service'))
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('expires_at', store.types.UTCDateTime(), nullable=True))
    op.execute(
        "INSERT INTO consent_records (contact_id, address_id, channel, scope, action, source, wording, at) "
        "SELECT DISTINCT c.contact_id, CAST(NULL AS INTEGER), CAST(NULL AS VARCHAR(16)), 'service', 'opt_in', "
        "'carried_over', CAST(NULL AS TEXT), c.at "
        "FROM consent_records c WHERE c.scope = 'channel' AND c.action = 'opt_in' AND c.contact_id IS NOT NULL "
        "AND c.source IN ('import', 'officer', 'api', 'web_form') "
        "AND c.at = (SELECT min(d.at) FROM consent_records d WHERE d.contact_id = c.contact_id "
        "AND d.scope = 'channel' AND d.action = 'opt_in' AND d.source IN ('import', 'officer', 'api', 'web_form'))"
    )
    op.execute(
        "INSERT INTO consent_records (contact_id, address_id, channel, scope, action, source, wording, at) "
        "SELECT r.contact_id, CAST(NULL AS INTEGER), CAST(NULL AS VARCHAR(16)), 'service', 'opt_in', 'flow', "
        "CAST(NULL AS TEXT), min(a.answered_at) "
        "FROM answers a JOIN runs r ON r.id = a.run_id "
        "WHERE a.flow_id = 'citizens-panel' AND a.step_id = 'consent' AND r.contact_id IS NOT NULL "
        "AND CAST(a.value AS TEXT) IN ('true', '\"yes\"') "
        "AND NOT EXISTS (SELECT 1 FROM consent_records e WHERE e.contact_id = r.contact_id "
        "AND e.scope = 'service') GROUP BY r.contact_id"
    )


def downgrade() -> None:
    op.execute("DELETE FROM consent_records WHERE scope = 'service' AND source IN ('carried_over', 'flow')")
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('expires_at')
    with op.batch_alter_table('broadcasts') as batch:
        batch.drop_column('message_class')
    with op.batch_alter_table('addresses') as batch:
        batch.drop_column('awaiting_until')
        batch.drop_column('awaiting')
