"""The actions schema: shipment snapshots, anomalies, actions and their attempts.

Revision ID: actions_0002
Revises: actions_0001

No personal data is stored: action parameters (addresses, phone numbers) travel only
in the commands on Kafka; these tables hold types, states, times and HTTP statuses.
"""

from alembic import op

revision = "actions_0002"
down_revision = "actions_0001"
branch_labels = None
depends_on = None


TABLES = (
    """
    CREATE TABLE shipments (
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        context jsonb NOT NULL,
        seen_at timestamptz NOT NULL,
        PRIMARY KEY (merchant_id, shipment_id)
    )
    """,
    """
    CREATE TABLE anomalies (
        merchant_id text NOT NULL,
        anomaly_id uuid NOT NULL,
        shipment_id text NOT NULL,
        anomaly_type text NOT NULL,
        context jsonb NOT NULL,
        detected_at timestamptz NOT NULL,
        resolved_at timestamptz,
        resolution_reason text,
        PRIMARY KEY (merchant_id, anomaly_id)
    )
    """,
    """
    CREATE TABLE actions (
        merchant_id text NOT NULL,
        action_id uuid NOT NULL,
        shipment_id text NOT NULL,
        order_id text NOT NULL,
        action_type text NOT NULL,
        automatic boolean NOT NULL,
        source_event_id uuid NOT NULL,
        anomaly_id uuid,
        conversation_id uuid,
        state text NOT NULL
            CHECK (state IN ('pending', 'completed', 'failed')),
        decided_at timestamptz NOT NULL,
        finished_at timestamptz,
        failure_reason text,
        http_status integer,
        escalated boolean NOT NULL DEFAULT false,
        merchant_reference text,
        detail text,
        PRIMARY KEY (merchant_id, action_id)
    )
    """,
    """
    CREATE INDEX actions_pending ON actions (merchant_id, decided_at)
        WHERE state = 'pending'
    """,
    """
    CREATE TABLE attempts (
        merchant_id text NOT NULL,
        action_id uuid NOT NULL,
        attempt integer NOT NULL CHECK (attempt >= 1),
        started_at timestamptz NOT NULL,
        finished_at timestamptz,
        called boolean NOT NULL,
        outcome text,
        http_status integer,
        duration_ms integer,
        PRIMARY KEY (merchant_id, action_id, attempt),
        FOREIGN KEY (merchant_id, action_id) REFERENCES actions (merchant_id, action_id)
    )
    """,
)


def upgrade() -> None:
    for statement in TABLES:
        op.execute(statement)


def downgrade() -> None:
    for table in ("attempts", "actions", "anomalies", "shipments"):
        op.execute(f"DROP TABLE {table}")
