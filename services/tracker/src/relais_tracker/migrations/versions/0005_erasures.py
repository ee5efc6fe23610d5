"""Erasure of a customer (relais_tracker.service.erasure): an erased order keeps its row
without its snapshot and refuses later events (`erased_at`); the outbox carries
tombstones (a key with a null value); an audit record per erasure, without the address.

Revision ID: tracker_0005
Revises: tracker_0004
"""

from alembic import op

revision = "tracker_0005"
down_revision = "tracker_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN erased_at timestamptz")
    op.execute("ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL")
    op.execute(
        """
        CREATE TABLE erasures (
            erasure_id      uuid        PRIMARY KEY,
            merchant_id     text        NOT NULL,
            email_salt      bytea       NOT NULL,
            email_digest    text        NOT NULL,
            source          text        NOT NULL CHECK (source IN ('api', 'cli')),
            orders          int         NOT NULL CHECK (orders >= 0),
            shipments       int         NOT NULL CHECK (shipments >= 0),
            tracking_events int         NOT NULL CHECK (tracking_events >= 0),
            held_events     int         NOT NULL CHECK (held_events >= 0),
            outbox_rows     int         NOT NULL CHECK (outbox_rows >= 0),
            requested_at    timestamptz NOT NULL,
            completed_at    timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX erasures_by_merchant ON erasures (merchant_id, requested_at)")


def downgrade() -> None:
    op.execute("DROP TABLE erasures")
    op.execute("DELETE FROM outbox WHERE value IS NULL")
    op.execute("ALTER TABLE outbox ALTER COLUMN value SET NOT NULL")
    op.execute("ALTER TABLE orders DROP COLUMN erased_at")
