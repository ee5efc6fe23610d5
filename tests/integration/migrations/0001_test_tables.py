"""Tables for the runtime's integration tests.

Revision ID: 0001
Revises:
"""

from alembic import op

from relais_runtime.migrations import create_runtime_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables()
    op.execute(
        "CREATE TABLE handled (event_id uuid NOT NULL, note text NOT NULL, attempt int NOT NULL)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE handled")
