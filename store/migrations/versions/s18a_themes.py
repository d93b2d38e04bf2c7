"""Themes of written answers, and officers' decisions on them

Revision ID: s18a
Revises: s12c
Create Date: 2026-12-03 17:30:00

- themes: one theme of a flow's free-text step (label, distinctive words, origin, merged into).
- theme_answers: the theme each answer is in, who put it there, its copy group, and the officer's
  marks "needs a reply" and "out of scope".
"""
from alembic import op
import sqlalchemy as sa
import store.types


revision = 's18a'
down_revision = 's17a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'themes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('flow_id', sa.String(length=100), nullable=False),
        sa.Column('step_id', sa.String(length=100), nullable=False),
        sa.Column('label', sa.String(length=200), nullable=False),
        sa.Column('words', sa.JSON(), nullable=False),
        sa.Column('origin', sa.String(length=16), nullable=False),
        sa.Column('renamed_by', sa.String(length=254), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('merged_into_id', sa.Integer(), nullable=True),
        sa.Column('created_at', store.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['merged_into_id'], ['themes.id'], name='fk_themes_merged_into_id_themes',
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_themes'),
    )
    op.create_index('ix_themes_flow_step', 'themes', ['flow_id', 'step_id'])
    op.create_table(
        'theme_answers',
        sa.Column('answer_id', sa.Integer(), nullable=False),
        sa.Column('theme_id', sa.Integer(), nullable=False),
        sa.Column('flow_id', sa.String(length=100), nullable=False),
        sa.Column('step_id', sa.String(length=100), nullable=False),
        sa.Column('placed_by', sa.String(length=16), nullable=False),
        sa.Column('similarity', sa.Float(), nullable=True),
        sa.Column('copy_of', sa.Integer(), nullable=True),
        sa.Column('needs_reply', sa.Boolean(), nullable=False),
        sa.Column('out_of_scope', sa.Boolean(), nullable=False),
        sa.Column('updated_at', store.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['answer_id'], ['answers.id'], name='fk_theme_answers_answer_id_answers',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], name='fk_theme_answers_theme_id_themes',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('answer_id', name='pk_theme_answers'),
    )
    op.create_index('ix_theme_answers_theme_id', 'theme_answers', ['theme_id'])
    op.create_index('ix_theme_answers_flow_step', 'theme_answers', ['flow_id', 'step_id'])


def downgrade() -> None:
    op.drop_index('ix_theme_answers_flow_step', table_name='theme_answers')
    op.drop_index('ix_theme_answers_theme_id', table_name='theme_answers')
    op.drop_table('theme_answers')
    op.drop_index('ix_themes_flow_step', table_name='themes')
    op.drop_table('themes')
