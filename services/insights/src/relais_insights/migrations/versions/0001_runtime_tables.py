"""The insights schema's runtime tables: outbox and processed events.

Revision ID: insights_0001
Revises:
"""

from relais_runtime.migrations import create_runtime_tables

revision = "insights_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_runtime_tables()


def downgrade() -> None:
    raise NotImplementedError("the first revision is not reversible")
