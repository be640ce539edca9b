"""an exchange line may send another variant (size, colour) instead of the returned SKU

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 13:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("exchange_sku", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("return_lines", schema=None) as batch_op:
        batch_op.drop_column("exchange_sku")
