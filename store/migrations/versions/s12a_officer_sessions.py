"""officer_sessions: sessions kept on the server, so signing out ends a copied cookie too

Revision ID: s12a
Revises: 0002
Create Date: 2026-12-03 14:20:00

Each signed-in browser has one row; its cookie carries a random id whose sha256 is kept here.
Signing out, a password change or reset, and switching an account off close the rows, and the
eight-hour and thirty-minute limits are checked against them rather than against the cookie.
"""
from alembic import op
import sqlalchemy as sa
import store.types


revision = 's12a'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('officer_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('officer_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(), nullable=False),
    sa.Column('last_seen_at', store.types.UTCDateTime(), nullable=False),
    sa.Column('ended_at', store.types.UTCDateTime(), nullable=True),
    sa.Column('ended_reason', sa.String(length=32), nullable=True),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['officer_id'], ['officers.id'], name=op.f('fk_officer_sessions_officer_id_officers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_officer_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_officer_sessions_token_hash'))
    )
    with op.batch_alter_table('officer_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_officer_sessions_officer_id'), ['officer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('officer_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_officer_sessions_officer_id'))
    op.drop_table('officer_sessions')
