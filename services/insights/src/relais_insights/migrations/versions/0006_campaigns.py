"""The back office's campaigns: one row per campaign, one row per message it led to.

Rules:
- office_campaigns holds what was asked (the selection: a filter or shipment ids; the
  content: an anomaly's scenario or the merchant's broadcast) and by whom (a user id,
  never a name or an address), with the number of shipments it was sent to;
- office_campaign_messages is the progress read model: one row per notifier message
  (idempotency key) carrying the campaign id, holding its latest outcome (sent,
  deferred, suppressed, failed) and reason; a deferred message moves on to its final
  outcome in place, so counting rows by outcome never counts one message twice;
- no personal data: shipment ids, channels and reasons only.

Revision ID: insights_0006
Revises: insights_0005
"""

from alembic import op

revision = "insights_0006"
down_revision = "insights_0005"
branch_labels = None
depends_on = None


STATEMENTS = (
    """
    CREATE TABLE office_campaigns (
        merchant_id text NOT NULL,
        campaign_id uuid NOT NULL,
        name text NOT NULL,
        content_kind text NOT NULL CHECK (content_kind IN ('anomaly_scenario', 'broadcast')),
        content jsonb NOT NULL,
        selection jsonb NOT NULL,
        requested integer NOT NULL CHECK (requested >= 0),
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (merchant_id, campaign_id)
    )
    """,
    "CREATE INDEX office_campaigns_newest ON office_campaigns (merchant_id, created_at DESC)",
    """
    CREATE TABLE office_campaign_messages (
        merchant_id text NOT NULL,
        idempotency_key text NOT NULL,
        campaign_id uuid NOT NULL,
        shipment_id text NOT NULL,
        channel text NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('sent', 'deferred', 'suppressed', 'failed')),
        reason text,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (merchant_id, idempotency_key)
    )
    """,
    "CREATE INDEX office_campaign_messages_campaign"
    " ON office_campaign_messages (merchant_id, campaign_id)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE office_campaign_messages")
    op.execute("DROP TABLE office_campaigns")
