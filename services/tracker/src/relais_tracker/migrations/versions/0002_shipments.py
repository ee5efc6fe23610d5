"""Shipments, their carrier events, and carrier events waiting for their order.

Revision ID: tracker_0002
Revises: tracker_0001
"""

from alembic import op

revision = "tracker_0002"
down_revision = "tracker_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE shipments (
            merchant_id     text        NOT NULL,
            shipment_id     text        NOT NULL,
            order_id        text        NOT NULL,
            carrier         text,
            tracking_key    text,
            version         int         NOT NULL CHECK (version >= 1),
            status          text        NOT NULL,
            substatus       text        NOT NULL,
            final           boolean     NOT NULL,
            base            jsonb       NOT NULL,
            progress        jsonb       NOT NULL,
            polled_at       timestamptz,
            updated_at      timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (merchant_id, shipment_id),
            CHECK ((carrier IS NULL) = (tracking_key IS NULL))
        )
        """
    )
    # Carrier events rewrite a shipment's row often, its order facts (`base`, with the
    # customer's address) rarely: kept out of line, an update copies only their pointer.
    op.execute("ALTER TABLE shipments ALTER COLUMN base SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE shipments SET (toast_tuple_target = 256)")
    op.execute("CREATE INDEX shipments_by_order ON shipments (merchant_id, order_id)")
    op.execute(
        "CREATE INDEX shipments_by_tracking ON shipments (carrier, tracking_key)"
        " WHERE tracking_key IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX shipments_to_poll ON shipments (polled_at NULLS FIRST)"
        " WHERE NOT final AND tracking_key IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE tracking_events (
            merchant_id  text        NOT NULL,
            shipment_id  text        NOT NULL,
            event_id     uuid        NOT NULL,
            carrier      text        NOT NULL,
            tracking_key text        NOT NULL,
            seq          bigint      GENERATED ALWAYS AS IDENTITY,
            occurred_at  timestamptz NOT NULL,
            status       text        NOT NULL,
            record       json        NOT NULL,
            recorded_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (merchant_id, shipment_id, event_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE pending_tracking_events (
            carrier       text        NOT NULL,
            tracking_key  text        NOT NULL,
            event_id      uuid        NOT NULL,
            merchant_id   text        NOT NULL,
            occurred_at   timestamptz NOT NULL,
            event         jsonb       NOT NULL,
            received_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (carrier, tracking_key, event_id, merchant_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE pending_tracking_events")
    op.execute("DROP TABLE tracking_events")
    op.execute("DROP TABLE shipments")
