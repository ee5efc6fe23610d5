"""The back office's people and access: users, server-side sessions, login throttling and
the audit log.

Rules:
- a user belongs to one merchant; the email is stored lower-cased and is personal data:
  removing a user erases the email and the display name (the row stays, so the audit
  log still names a user id) and revokes every session;
- a session row holds only the SHA-256 of the random id the cookie carries;
- throttling rows hold only SHA-256 digests of the account or client address;
- audit details never hold personal data.

Revision ID: insights_0003
Revises: insights_0002
"""

from alembic import op

revision = "insights_0003"
down_revision = "insights_0002"
branch_labels = None
depends_on = None


STATEMENTS = (
    """
    CREATE TABLE office_users (
        merchant_id text NOT NULL,
        user_id uuid NOT NULL,
        email text,
        display_name text NOT NULL,
        role text NOT NULL CHECK (role IN ('viewer', 'agent', 'admin')),
        language text NOT NULL DEFAULT 'fr',
        password_hash text,
        created_at timestamptz NOT NULL,
        disabled_at timestamptz,
        erased_at timestamptz,
        PRIMARY KEY (merchant_id, user_id),
        CHECK (email IS NULL OR email = lower(email))
    )
    """,
    "CREATE UNIQUE INDEX office_users_by_email ON office_users (merchant_id, email)"
    " WHERE email IS NOT NULL",
    """
    CREATE TABLE office_sessions (
        session_hash text PRIMARY KEY,
        merchant_id text NOT NULL,
        user_id uuid NOT NULL,
        created_at timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        revoked_at timestamptz,
        FOREIGN KEY (merchant_id, user_id) REFERENCES office_users (merchant_id, user_id)
    )
    """,
    "CREATE INDEX office_sessions_by_user ON office_sessions (merchant_id, user_id, created_at)",
    """
    CREATE TABLE office_login_throttle (
        kind text NOT NULL CHECK (kind IN ('account', 'address')),
        subject_hash text NOT NULL,
        failures integer NOT NULL,
        window_started_at timestamptz NOT NULL,
        last_failed_at timestamptz NOT NULL,
        blocked_until timestamptz,
        PRIMARY KEY (kind, subject_hash)
    )
    """,
    """
    CREATE TABLE office_audit (
        merchant_id text NOT NULL,
        audit_id bigint GENERATED ALWAYS AS IDENTITY,
        at timestamptz NOT NULL,
        user_id uuid,
        action text NOT NULL,
        target text NOT NULL DEFAULT '',
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        PRIMARY KEY (merchant_id, audit_id)
    )
    """,
)


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("office_audit", "office_login_throttle", "office_sessions", "office_users"):
        op.execute(f"DROP TABLE {table}")
