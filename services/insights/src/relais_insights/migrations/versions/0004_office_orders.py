"""The back office's orders read model: one row per shipment and its timeline.

Rules:
- office_shipments holds the customer's email (lower-cased) and name: personal data,
  deleted with the row on the shipment's tombstone, with its timeline;
- the indexes follow the list's queries (docs/insights.md, "Orders"): newest order
  first by (ordered_at, shipment_id) for keyset pages, the same order restricted to
  shipments with an open anomaly (a partial index), the email, and the order and
  tracking numbers in byte order for exact and prefix searches.

Revision ID: insights_0004
Revises: insights_0003
"""

from alembic import op

revision = "insights_0004"
down_revision = "insights_0003"
branch_labels = None
depends_on = None


STATEMENTS = (
    """
    CREATE TABLE office_shipments (
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        version integer NOT NULL,
        order_id text NOT NULL,
        order_number text NOT NULL,
        customer_email text CHECK (customer_email = lower(customer_email)),
        customer_name text,
        tracking_number text,
        carrier text,
        status text NOT NULL,
        substatus text NOT NULL,
        country text,
        region text,
        ordered_at timestamptz NOT NULL,
        shipped_at timestamptz,
        promised_delivery_by date,
        delivered_at timestamptz,
        cancelled boolean NOT NULL DEFAULT false,
        parcel_index integer NOT NULL DEFAULT 1,
        parcel_count integer NOT NULL DEFAULT 1,
        open_anomalies text[] NOT NULL DEFAULT '{}',
        anomalies_raised integer NOT NULL DEFAULT 0,
        told boolean NOT NULL DEFAULT false,
        resolved boolean GENERATED ALWAYS AS
            (anomalies_raised > 0 AND cardinality(open_anomalies) = 0) STORED,
        last_event_at timestamptz NOT NULL,
        PRIMARY KEY (merchant_id, shipment_id)
    )
    """,
    "CREATE INDEX office_shipments_by_ordered"
    " ON office_shipments (merchant_id, ordered_at DESC, shipment_id DESC)",
    "CREATE INDEX office_shipments_open"
    " ON office_shipments (merchant_id, ordered_at DESC, shipment_id DESC)"
    " WHERE cardinality(open_anomalies) > 0",
    "CREATE INDEX office_shipments_open_by_carrier"
    " ON office_shipments (merchant_id, carrier, ordered_at DESC, shipment_id DESC)"
    " WHERE cardinality(open_anomalies) > 0",
    "CREATE INDEX office_shipments_by_email ON office_shipments (merchant_id, customer_email)"
    " WHERE customer_email IS NOT NULL",
    "CREATE INDEX office_shipments_by_order"
    ' ON office_shipments (merchant_id, order_number COLLATE "C")',
    "CREATE INDEX office_shipments_by_tracking"
    ' ON office_shipments (merchant_id, tracking_number COLLATE "C")'
    " WHERE tracking_number IS NOT NULL",
    """
    CREATE TABLE office_timeline (
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        event_id uuid NOT NULL,
        at timestamptz NOT NULL,
        kind text NOT NULL,
        ref_id uuid,
        summary text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (merchant_id, shipment_id, event_id)
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE office_timeline")
    op.execute("DROP TABLE office_shipments")
