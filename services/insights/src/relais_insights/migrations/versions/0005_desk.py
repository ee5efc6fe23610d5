"""The level-2 desk: cases projected from callbacks and escalations, notes and answers.

Rules:
- one case per callback request (case id = callback id) and one per escalated anomaly
  (case id derived from the anomaly id: a further escalation updates it);
- desk_cases holds the customer's phone, note and transcript, desk_notes and
  desk_answers what agents wrote: personal data, deleted with the case on the
  shipment's tombstone (the notes and answers by ON DELETE CASCADE);
- a note or an answer written by a user names them by author_id; one written through the
  API (no user) keeps the name it was signed with in signed_as;
- the queue reads (merchant, status, opened_at) oldest first.

Revision ID: insights_0005
Revises: insights_0004
"""

from alembic import op

revision = "insights_0005"
down_revision = "insights_0004"
branch_labels = None
depends_on = None


STATEMENTS: tuple[str, ...] = (
    """
    CREATE TABLE desk_cases (
        merchant_id text NOT NULL,
        case_id uuid NOT NULL,
        shipment_id text NOT NULL,
        order_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('callback', 'escalation')),
        anomaly_id uuid,
        anomaly_type text,
        conversation_id uuid,
        phone text,
        note text,
        slot_start timestamptz,
        slot_end timestamptz,
        time_zone text,
        locale text,
        level integer NOT NULL DEFAULT 0,
        due_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'done')),
        assignee uuid,
        transcript jsonb NOT NULL DEFAULT '[]'::jsonb,
        opened_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        PRIMARY KEY (merchant_id, case_id)
    )
    """,
    "CREATE INDEX desk_cases_queue ON desk_cases (merchant_id, status, opened_at, case_id)",
    "CREATE INDEX desk_cases_by_shipment ON desk_cases (merchant_id, shipment_id)",
    """
    CREATE TABLE desk_notes (
        merchant_id text NOT NULL,
        case_id uuid NOT NULL,
        note_id uuid NOT NULL,
        author_id uuid,
        signed_as text,
        at timestamptz NOT NULL,
        text text NOT NULL,
        PRIMARY KEY (merchant_id, case_id, note_id),
        FOREIGN KEY (merchant_id, case_id) REFERENCES desk_cases ON DELETE CASCADE
    )
    """,
    """
    CREATE TABLE desk_answers (
        merchant_id text NOT NULL,
        case_id uuid NOT NULL,
        answer_id uuid NOT NULL,
        author_id uuid,
        signed_as text,
        at timestamptz NOT NULL,
        text text NOT NULL,
        PRIMARY KEY (merchant_id, case_id, answer_id),
        FOREIGN KEY (merchant_id, case_id) REFERENCES desk_cases ON DELETE CASCADE
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE desk_answers, desk_notes, desk_cases")
