"""Insights' facts (one per consumed event) and shipments (latest snapshot).

Revision ID: insights_0002
Revises: insights_0001
"""

from alembic import op

revision = "insights_0002"
down_revision = "insights_0001"
branch_labels = None
depends_on = None


STATEMENTS = (
    """
    CREATE TABLE facts (
        merchant_id text NOT NULL,
        event_id uuid NOT NULL,
        kind text NOT NULL,
        shipment_id text NOT NULL,
        ref_id uuid,
        occurred_at timestamptz NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (merchant_id, event_id)
    )
    """,
    "CREATE INDEX facts_by_time ON facts (merchant_id, occurred_at)",
    "CREATE INDEX facts_by_shipment ON facts (merchant_id, shipment_id)",
    """
    CREATE TABLE shipments (
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        version integer NOT NULL,
        carrier text,
        country text,
        region text,
        placed_at timestamptz NOT NULL,
        shipped_at timestamptz,
        delivered_at timestamptz,
        delivered_day date,
        promised_delivery_by date,
        failed_attempts integer NOT NULL DEFAULT 0,
        cancelled boolean NOT NULL DEFAULT false,
        PRIMARY KEY (merchant_id, shipment_id)
    )
    """,
    "CREATE INDEX shipments_by_placed ON shipments (merchant_id, placed_at)",
    "CREATE INDEX shipments_by_delivered ON shipments (merchant_id, delivered_at)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE shipments")
    op.execute("DROP TABLE facts")
