"""The lookup page: find a shipment by its order number, and count lookup attempts.

Revision ID: chat_0003
Revises: chat_0002
"""

from alembic import op

revision = "chat_0003"
down_revision = "chat_0002"
branch_labels = None
depends_on = None


STATEMENTS = (
    # The order number as the lookup compares it (repository.list_shipments_by_order).
    """
    CREATE INDEX shipments_by_order_number
        ON shipments (merchant_id, (upper(ltrim(replace(state->>'order_number', ' ', ''), '#'))))
    """,
    # Attempts per fixed window and bucket (a keyed hash of the client address, or of the
    # merchant and the order number: never the values themselves).
    """
    CREATE TABLE lookup_attempts (
        bucket text NOT NULL,
        window_start timestamptz NOT NULL,
        attempts integer NOT NULL,
        PRIMARY KEY (bucket, window_start)
    )
    """,
    "CREATE INDEX lookup_attempts_by_window ON lookup_attempts (window_start)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE lookup_attempts")
    op.execute("DROP INDEX shipments_by_order_number")
