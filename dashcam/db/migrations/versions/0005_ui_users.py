"""web UI accounts (argon2id hashes) and login attempts (rate limit)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 02:46:37
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ui_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username", name="uq_ui_user_username"),
    )
    op.create_table(
        "ui_login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("remote", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ui_login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_ui_login_attempt_remote_at", ["remote", "at"], unique=False)
        batch_op.create_index("ix_ui_login_attempt_username_at", ["username", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ui_login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_ui_login_attempt_username_at")
        batch_op.drop_index("ix_ui_login_attempt_remote_at")
    op.drop_table("ui_login_attempt")
    op.drop_table("ui_user")
