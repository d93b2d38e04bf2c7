"""audit_log.actor: who acted when it was not a signed-in officer (an API token, the command line);
runs.erased_respondent: an erased resident's run still counts as one person in published figures

Revision ID: s12b
Revises: s12a
Create Date: 2026-12-03 15:30:00

The audit log records every change and every bulk access to personal data through any
interface; an API token or the command line has no officer row, so its name is kept here.
"""
from alembic import op
import sqlalchemy as sa


revision = 's12b'
down_revision = 's12a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('actor', sa.String(length=200), nullable=True))
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('erased_respondent', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('erased_respondent')
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('actor')
