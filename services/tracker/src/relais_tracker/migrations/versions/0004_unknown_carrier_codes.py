"""Carrier codes no adapter table knows, counted by the adapter that read them, with an
example description (`relais carriers unknown-codes`). Held events expire by their
`received_at`, which 0003 indexes already.

Revision ID: tracker_0004
Revises: tracker_0003
"""

from alembic import op

revision = "tracker_0004"
down_revision = "tracker_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE unknown_carrier_codes (
            carrier        text        NOT NULL,
            carrier_code   text        NOT NULL,
            seen           bigint      NOT NULL CHECK (seen >= 1),
            example        text        NOT NULL DEFAULT '',
            first_seen_at  timestamptz NOT NULL,
            last_seen_at   timestamptz NOT NULL,
            PRIMARY KEY (carrier, carrier_code)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE unknown_carrier_codes")
