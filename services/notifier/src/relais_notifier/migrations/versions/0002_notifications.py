"""The notifier's tables: contacts (read model), notifications (the send log), opt-outs.

Revision ID: notifier_0002
Revises: notifier_0001
"""

from alembic import op

revision = "notifier_0002"
down_revision = "notifier_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE contacts (
            merchant_id  text        NOT NULL,
            shipment_id  text        NOT NULL,
            version      integer     NOT NULL,
            email        text,
            phone        text,
            first_name   text,
            customer_id  text,
            locale       text        NOT NULL,
            time_zone    text        NOT NULL,
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (merchant_id, shipment_id)
        )"""
    )
    op.execute(
        """CREATE TABLE notifications (
            idempotency_key     text        PRIMARY KEY,
            notification_id     uuid        NOT NULL UNIQUE,
            merchant_id         text        NOT NULL,
            shipment_id         text        NOT NULL,
            correlation_id      text        NOT NULL,
            channel             text        NOT NULL CHECK (channel IN ('email', 'sms')),
            fallback_from       text,
            trigger_kind        text        NOT NULL,
            trigger_ref         uuid        NOT NULL,
            trigger_name        text        NOT NULL,
            source_event_id     uuid        NOT NULL,
            purpose             text        NOT NULL,
            template            text,
            urgent              boolean     NOT NULL DEFAULT false,
            link_kind           text,
            link_subject        text,
            facts               jsonb       NOT NULL DEFAULT '{}',
            status              text        NOT NULL
                CHECK (status IN ('pending', 'sending', 'sent', 'suppressed', 'failed')),
            planned_at          timestamptz NOT NULL,
            due_at              timestamptz NOT NULL,
            lease_until         timestamptz,
            claimed_at          timestamptz,
            sent_at             timestamptz,
            attempts            integer     NOT NULL DEFAULT 0,
            rounds              integer     NOT NULL DEFAULT 0,
            customer_key        text,
            locale              text,
            provider            text,
            provider_message_id text,
            outcome_reason      text,
            updated_at          timestamptz NOT NULL DEFAULT now()
        )"""
    )
    op.execute("CREATE INDEX notifications_due ON notifications (due_at) WHERE status = 'pending'")
    op.execute(
        "CREATE INDEX notifications_lease ON notifications (lease_until) WHERE status = 'sending'"
    )
    op.execute(
        "CREATE INDEX notifications_customer ON notifications (merchant_id, customer_key, claimed_at)"
        " WHERE status IN ('sending', 'sent')"
    )
    op.execute(
        "CREATE INDEX notifications_trigger ON notifications (merchant_id, trigger_ref)"
        " WHERE status = 'pending'"
    )
    op.execute(
        "CREATE INDEX notifications_shipment ON notifications (merchant_id, shipment_id)"
        " WHERE status = 'pending'"
    )
    op.execute(
        """CREATE TABLE opt_outs (
            merchant_id  text        NOT NULL,
            channel      text        NOT NULL,
            address_hash text        NOT NULL,
            created_at   timestamptz NOT NULL,
            PRIMARY KEY (merchant_id, channel, address_hash)
        )"""
    )


def downgrade() -> None:
    op.execute("DROP TABLE opt_outs")
    op.execute("DROP TABLE notifications")
    op.execute("DROP TABLE contacts")
