"""The level-2 desk's answers to customers (relais.desk-replies.v1 AnswerCustomer).

Rules:
- one row per answer (answer_id: the command's idempotency key, a replay adds nothing);
- shown on the chat page of the anomaly it names, or of any chat of the shipment when
  it names none;
- the agent's name and the text are personal data: deleted with the shipment's other
  rows on its tombstone (repository.delete_shipment).

Revision ID: chat_0004
Revises: chat_0003
"""

from alembic import op

revision = "chat_0004"
down_revision = "chat_0003"
branch_labels = None
depends_on = None


STATEMENTS = (
    """
    CREATE TABLE agent_answers (
        answer_id uuid PRIMARY KEY,
        merchant_id text NOT NULL,
        shipment_id text NOT NULL,
        anomaly_id uuid,
        case_id uuid NOT NULL,
        agent_name text NOT NULL,
        text text NOT NULL,
        answered_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX agent_answers_by_shipment ON agent_answers (merchant_id, shipment_id)",
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE agent_answers")
