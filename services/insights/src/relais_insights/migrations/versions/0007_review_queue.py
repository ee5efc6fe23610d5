"""The back office's review queue: anomaly messages the notifier holds for an agent.

Rules:
- one row per review (`ids.review_id(trigger id, purpose)`), projected from
  NotificationHeldForReview; no personal data (the order number is the merchant's);
- status: held, then decided (an agent's ReviewDecided is in the outbox: sent or
  dismissed), or closed by what the notifier published about its messages (sent,
  dismissed, withdrawn when the anomaly was resolved while it waited);
- the queue is read oldest first by (merchant_id, held_at) over held rows only (a
  partial index); a shipment's tombstone deletes its rows.

Revision ID: insights_0007
Revises: insights_0006
"""

from alembic import op

revision = "insights_0007"
down_revision = "insights_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE office_reviews (
            merchant_id text NOT NULL,
            review_id uuid NOT NULL,
            shipment_id text NOT NULL,
            anomaly_id uuid NOT NULL,
            anomaly_type text NOT NULL,
            purpose text NOT NULL,
            template text,
            channels text[] NOT NULL,
            held_at timestamptz NOT NULL,
            status text NOT NULL DEFAULT 'held'
                CHECK (status IN ('held', 'sent', 'dismissed', 'withdrawn')),
            decided_at timestamptz,
            decided_by uuid,
            PRIMARY KEY (merchant_id, review_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX office_reviews_held ON office_reviews (merchant_id, held_at, review_id)"
        " WHERE status = 'held'"
    )
    op.execute(
        "CREATE INDEX office_reviews_by_anomaly ON office_reviews (merchant_id, anomaly_id)"
        " WHERE status = 'held'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE office_reviews")
