"""The chat's read model (shipments, timeline, anomalies) and its conversations.

Revision ID: chat_0002
Revises: chat_0001
"""

from alembic import op

revision = "chat_0002"
down_revision = "chat_0001"
branch_labels = None
depends_on = None


STATEMENTS = (
    """
    CREATE TABLE shipments (
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        version integer NOT NULL,
        state jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (merchant_id, shipment_id)
    )
    """,
    """
    CREATE TABLE tracking_events (
        merchant_id text NOT NULL,
        event_id uuid NOT NULL,
        shipment_id text NOT NULL,
        occurred_at timestamptz NOT NULL,
        event jsonb NOT NULL,
        PRIMARY KEY (merchant_id, event_id)
    )
    """,
    """
    CREATE INDEX tracking_events_by_shipment
        ON tracking_events (merchant_id, shipment_id, occurred_at)
    """,
    """
    CREATE TABLE anomalies (
        merchant_id text NOT NULL,
        anomaly_id uuid NOT NULL,
        shipment_id text NOT NULL,
        anomaly_type text NOT NULL,
        detected jsonb NOT NULL,
        resolved_at timestamptz,
        PRIMARY KEY (merchant_id, anomaly_id)
    )
    """,
    """
    CREATE TABLE conversations (
        conversation_id uuid PRIMARY KEY,
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        purpose text NOT NULL,
        subject_id uuid NOT NULL,
        anomaly_type text,
        scenario_id text NOT NULL,
        scenario_version text NOT NULL,
        locale text NOT NULL,
        progress jsonb NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'finished', 'abandoned')),
        started_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        UNIQUE (merchant_id, subject_id)
    )
    """,
    """
    CREATE TABLE answers (
        answer_id uuid PRIMARY KEY,
        conversation_id uuid NOT NULL REFERENCES conversations (conversation_id),
        node_id text NOT NULL,
        step integer NOT NULL,
        created_at timestamptz NOT NULL,
        UNIQUE (conversation_id, step)
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE answers, conversations, anomalies, tracking_events, shipments")
