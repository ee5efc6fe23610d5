"""Cheaper writes on the carrier path, where every event rewrites its shipment and adds
two outbox rows:
- `shipments` keeps room on each page for the new version of a row: with free space on
  the page PostgreSQL writes it there (a HOT update) without touching any of the
  table's five indexes (an event changes no indexed column, except `final` once);
- rows of `shipments` and `outbox` stay uncompressed up to 8 kB: a shipment's state is
  about 2 kB, just over the 2 kB past which PostgreSQL compresses a row (pglz), which
  cost CPU on every state written and read, for rows that are deleted within days.
New pages get the room at once; existing ones as they are rewritten.

Revision ID: tracker_0006
Revises: tracker_0005
"""

from alembic import op

revision = "tracker_0006"
down_revision = "tracker_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE shipments SET (fillfactor = 75, toast_tuple_target = 8160)")
    op.execute("ALTER TABLE outbox SET (toast_tuple_target = 8160)")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox RESET (toast_tuple_target)")
    op.execute("ALTER TABLE shipments RESET (fillfactor, toast_tuple_target)")
