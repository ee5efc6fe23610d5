"""The detector's projection of shipments, its anomalies, and its durable timers.

Revision ID: detector_0002
Revises: detector_0001
"""

from alembic import op

revision = "detector_0002"
down_revision = "detector_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE shipments (
            merchant_id text        NOT NULL,
            shipment_id text        NOT NULL,
            version     integer     NOT NULL,
            facts       jsonb       NOT NULL,
            milestones  text[]      NOT NULL DEFAULT '{}',
            updated_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (merchant_id, shipment_id)
        )"""
    )
    op.execute(
        """CREATE TABLE anomalies (
            merchant_id  text        NOT NULL,
            shipment_id  text        NOT NULL,
            anomaly_type text        NOT NULL,
            occurrence   integer     NOT NULL,
            anomaly_id   uuid        NOT NULL UNIQUE,
            episode      text        NOT NULL,
            severity     text        NOT NULL,
            level        integer     NOT NULL DEFAULT 0,
            opened_at    timestamptz NOT NULL,
            escalated_at timestamptz,
            resolution   text,
            resolved_at  timestamptz,
            PRIMARY KEY (merchant_id, shipment_id, anomaly_type, occurrence),
            FOREIGN KEY (merchant_id, shipment_id) REFERENCES shipments ON DELETE CASCADE
        )"""
    )
    op.execute(
        "CREATE UNIQUE INDEX anomalies_one_open ON anomalies (merchant_id, shipment_id, anomaly_type)"
        " WHERE resolution IS NULL"
    )
    op.execute(
        """CREATE TABLE timers (
            merchant_id text        NOT NULL,
            shipment_id text        NOT NULL,
            timer_key   text        NOT NULL,
            kind        text        NOT NULL,
            due_at      timestamptz NOT NULL,
            PRIMARY KEY (merchant_id, shipment_id, timer_key),
            FOREIGN KEY (merchant_id, shipment_id) REFERENCES shipments ON DELETE CASCADE
        )"""
    )
    op.execute("CREATE INDEX timers_due ON timers (due_at)")


def downgrade() -> None:
    op.execute("DROP TABLE timers")
    op.execute("DROP TABLE anomalies")
    op.execute("DROP TABLE shipments")
