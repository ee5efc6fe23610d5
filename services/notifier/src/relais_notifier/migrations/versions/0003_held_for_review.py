"""Messages held for a merchant's review before the customer is told.

Rules:
- one row per review (`ids.review_id(trigger id, purpose)`), whatever the channels: it
  keeps the planned message (template, channels, link, the trigger's non-personal facts)
  until an agent's decision; no personal data (the contact stays in `contacts`);
- status moves held -> sent | dismissed | withdrawn once (a later decision changes
  nothing); `withdrawn`: the anomaly was resolved while it waited;
- `decided_by` is an office user's id, never an email.

Revision ID: notifier_0003
Revises: notifier_0002
"""

from alembic import op

revision = "notifier_0003"
down_revision = "notifier_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE reviews (
            review_id       uuid        PRIMARY KEY,
            merchant_id     text        NOT NULL,
            shipment_id     text        NOT NULL,
            correlation_id  text        NOT NULL,
            trigger_kind    text        NOT NULL,
            trigger_ref     uuid        NOT NULL,
            trigger_name    text        NOT NULL,
            source_event_id uuid        NOT NULL,
            purpose         text        NOT NULL,
            template        text        NOT NULL,
            channels        text[]      NOT NULL,
            urgent          boolean     NOT NULL DEFAULT false,
            link_kind       text        NOT NULL,
            link_subject    text        NOT NULL,
            facts           jsonb       NOT NULL,
            status          text        NOT NULL DEFAULT 'held'
                CHECK (status IN ('held', 'sent', 'dismissed', 'withdrawn')),
            held_at         timestamptz NOT NULL,
            decided_at      timestamptz,
            decided_by      uuid
        )"""
    )
    op.execute(
        "CREATE INDEX reviews_held_by_trigger ON reviews (merchant_id, trigger_ref)"
        " WHERE status = 'held'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE reviews")
