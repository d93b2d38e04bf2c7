"""WhatsApp: a broadcast names its approved template per language

Revision ID: s17a
Revises: s12c
Create Date: 2026-12-03 17:00:00

- broadcasts.whatsapp_templates: {lang: ContentSid}, the approved WhatsApp template that reaches a
  WhatsApp resident outside the 24-hour window; empty for every broadcast made before.
"""
from alembic import op
import sqlalchemy as sa


revision = 's17a'
down_revision = 's12c'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('broadcasts') as batch:
        batch.add_column(sa.Column('whatsapp_templates', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('broadcasts') as batch:
        batch.drop_column('whatsapp_templates')
