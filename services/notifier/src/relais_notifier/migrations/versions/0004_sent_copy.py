"""What a sent message looked like, for the back office (issue 15, point 2).

Rules:
- `sent_copy` is written once, when the message is sent: {subject, html, text} for an
  email, {body} for an SMS, with every link neutralised (domain.sent_copy): no signed
  customer link or unsubscribe token is ever stored;
- it holds the customer's first name as written in the message, so erasing the shipment
  sets it to NULL with the rest (repository.update_notifications_erased).

Revision ID: notifier_0004
Revises: notifier_0003
"""

from alembic import op

revision = "notifier_0004"
down_revision = "notifier_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE notifications ADD COLUMN sent_copy jsonb")


def downgrade() -> None:
    op.execute("ALTER TABLE notifications DROP COLUMN sent_copy")
