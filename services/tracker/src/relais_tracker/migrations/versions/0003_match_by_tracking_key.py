"""Carrier events match shipments by tracking key and a compatible carrier (a `generic`
event matches any carrier's parcel); held events expire by their `received_at`.

Revision ID: tracker_0003
Revises: tracker_0002
"""

from alembic import op

revision = "tracker_0003"
down_revision = "tracker_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX shipments_by_tracking_key ON shipments (tracking_key)"
        " WHERE tracking_key IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX pending_tracking_events_by_key ON pending_tracking_events (tracking_key)"
    )
    op.execute(
        "CREATE INDEX pending_tracking_events_by_age ON pending_tracking_events (received_at)"
    )


def downgrade() -> None:
    op.execute("DROP INDEX pending_tracking_events_by_age")
    op.execute("DROP INDEX pending_tracking_events_by_key")
    op.execute("DROP INDEX shipments_by_tracking_key")
