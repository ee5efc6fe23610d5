"""The tracker schema: runtime tables and the orders it follows.

Revision ID: tracker_0001
Revises:
"""

from alembic import op

from relais_runtime.migrations import create_runtime_tables

revision = "tracker_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables()
    op.execute(
        """
        CREATE TABLE orders (
            merchant_id  text        NOT NULL,
            order_id     text        NOT NULL,
            state        text        NOT NULL CHECK (state IN ('open', 'cancelled')),
            as_of        timestamptz NOT NULL,
            order_number text,
            parcel_count int,
            snapshot     jsonb,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (merchant_id, order_id)
        )
        """
    )


def downgrade() -> None:
    raise NotImplementedError("the first revision is not reversible")
