"""The back office's SQL: users, sessions, login throttling and the audit log.

Rules: every user, session and audit query is scoped by the merchant; emails are
compared lower-cased; a session is found by the SHA-256 of its id, never by the id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from relais_insights.domain.office import Role, ThrottleState
from relais_runtime.db import DbConnection

USER_COLUMNS = (
    "merchant_id, user_id, email, display_name, role, language, created_at, disabled_at, erased_at"
)


@dataclass(frozen=True)
class UserRow:
    merchant_id: str
    user_id: UUID
    email: str | None
    display_name: str
    role: Role
    language: str
    created_at: datetime
    disabled_at: datetime | None
    erased_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None and self.erased_at is None


@dataclass(frozen=True)
class SessionRow:
    session_hash: str
    merchant_id: str
    user_id: UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class AuditRow:
    audit_id: int
    at: datetime
    user_id: UUID | None
    display_name: str | None
    action: str
    target: str
    details: Mapping[str, Any]


def _user(row: Any) -> UserRow:
    return UserRow(**{**dict(row), "role": Role(row["role"])})


async def insert_user(
    connection: DbConnection,
    *,
    merchant_id: str,
    user_id: UUID,
    email: str,
    display_name: str,
    role: Role,
    language: str,
    password_hash: str,
    at: datetime,
) -> bool:
    """False when the merchant already has a user with that email."""
    inserted = await connection.fetchval(
        "INSERT INTO office_users (merchant_id, user_id, email, display_name, role, language,"
        " password_hash, created_at) VALUES ($1, $2, lower($3), $4, $5, $6, $7, $8)"
        " ON CONFLICT (merchant_id, email) WHERE email IS NOT NULL DO NOTHING RETURNING true",
        merchant_id,
        user_id,
        email,
        display_name,
        role.value,
        language,
        password_hash,
        at,
    )
    return bool(inserted)


async def user_by_id(connection: DbConnection, merchant_id: str, user_id: UUID) -> UserRow | None:
    row = await connection.fetchrow(
        f"SELECT {USER_COLUMNS} FROM office_users"  # noqa: S608 (constant columns)
        " WHERE merchant_id = $1 AND user_id = $2",
        merchant_id,
        user_id,
    )
    return None if row is None else _user(row)


async def user_by_email(
    connection: DbConnection, merchant_id: str, email: str
) -> tuple[UserRow, str | None] | None:
    """The user and their password hash."""
    row = await connection.fetchrow(
        f"SELECT {USER_COLUMNS}, password_hash FROM office_users"  # noqa: S608 (constant columns)
        " WHERE merchant_id = $1 AND email = lower($2)",
        merchant_id,
        email,
    )
    if row is None:
        return None
    values = dict(row)
    password_hash = values.pop("password_hash")
    return UserRow(**{**values, "role": Role(values["role"])}), password_hash


async def users_of(connection: DbConnection, merchant_id: str) -> Sequence[UserRow]:
    rows = await connection.fetch(
        f"SELECT {USER_COLUMNS} FROM office_users"  # noqa: S608 (constant columns)
        " WHERE merchant_id = $1 AND erased_at IS NULL ORDER BY created_at, user_id",
        merchant_id,
    )
    return [_user(row) for row in rows]


async def set_role(connection: DbConnection, merchant_id: str, user_id: UUID, role: Role) -> bool:
    return (
        await connection.execute(
            "UPDATE office_users SET role = $3 WHERE merchant_id = $1 AND user_id = $2"
            " AND erased_at IS NULL",
            merchant_id,
            user_id,
            role.value,
        )
    ) == "UPDATE 1"


async def set_password(
    connection: DbConnection, merchant_id: str, user_id: UUID, password_hash: str
) -> bool:
    return (
        await connection.execute(
            "UPDATE office_users SET password_hash = $3 WHERE merchant_id = $1 AND user_id = $2"
            " AND erased_at IS NULL",
            merchant_id,
            user_id,
            password_hash,
        )
    ) == "UPDATE 1"


async def disable_user(
    connection: DbConnection, merchant_id: str, user_id: UUID, at: datetime
) -> bool:
    return (
        await connection.execute(
            "UPDATE office_users SET disabled_at = coalesce(disabled_at, $3)"
            " WHERE merchant_id = $1 AND user_id = $2 AND erased_at IS NULL",
            merchant_id,
            user_id,
            at,
        )
    ) == "UPDATE 1"


async def erase_user(
    connection: DbConnection, merchant_id: str, user_id: UUID, at: datetime
) -> bool:
    """Forget the person (email, name, password); the row stays for the audit log."""
    return (
        await connection.execute(
            "UPDATE office_users SET email = NULL, display_name = '', password_hash = NULL,"
            " disabled_at = coalesce(disabled_at, $3), erased_at = $3"
            " WHERE merchant_id = $1 AND user_id = $2 AND erased_at IS NULL",
            merchant_id,
            user_id,
            at,
        )
    ) == "UPDATE 1"


async def insert_session(
    connection: DbConnection,
    *,
    session_hash: str,
    merchant_id: str,
    user_id: UUID,
    at: datetime,
    expires_at: datetime,
) -> None:
    await connection.execute(
        "INSERT INTO office_sessions (session_hash, merchant_id, user_id, created_at,"
        " last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
        session_hash,
        merchant_id,
        user_id,
        at,
        expires_at,
    )


async def session_by_hash(connection: DbConnection, session_hash: str) -> SessionRow | None:
    row = await connection.fetchrow(
        "SELECT session_hash, merchant_id, user_id, created_at, last_seen_at, expires_at,"
        " revoked_at FROM office_sessions WHERE session_hash = $1",
        session_hash,
    )
    return None if row is None else SessionRow(**dict(row))


async def touch_session(connection: DbConnection, session_hash: str, at: datetime) -> None:
    await connection.execute(
        "UPDATE office_sessions SET last_seen_at = $2 WHERE session_hash = $1"
        " AND last_seen_at < $2",
        session_hash,
        at,
    )


async def revoke_session(connection: DbConnection, session_hash: str, at: datetime) -> None:
    await connection.execute(
        "UPDATE office_sessions SET revoked_at = coalesce(revoked_at, $2) WHERE session_hash = $1",
        session_hash,
        at,
    )


async def revoke_sessions_of(
    connection: DbConnection, merchant_id: str, user_id: UUID, at: datetime
) -> int:
    status = await connection.execute(
        "UPDATE office_sessions SET revoked_at = $3"
        " WHERE merchant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
        merchant_id,
        user_id,
        at,
    )
    return int(status.split()[-1])


async def open_sessions_of(
    connection: DbConnection, merchant_id: str, user_id: UUID, now: datetime
) -> Sequence[SessionRow]:
    rows = await connection.fetch(
        "SELECT session_hash, merchant_id, user_id, created_at, last_seen_at, expires_at,"
        " revoked_at FROM office_sessions WHERE merchant_id = $1 AND user_id = $2"
        " AND revoked_at IS NULL AND expires_at > $3 ORDER BY created_at DESC",
        merchant_id,
        user_id,
        now,
    )
    return [SessionRow(**dict(row)) for row in rows]


async def throttle_state(
    connection: DbConnection, kind: str, subject_hash: str
) -> ThrottleState | None:
    row = await connection.fetchrow(
        "SELECT failures, window_started_at, last_failed_at, blocked_until"
        " FROM office_login_throttle WHERE kind = $1 AND subject_hash = $2",
        kind,
        subject_hash,
    )
    return None if row is None else ThrottleState(**dict(row))


async def save_throttle(
    connection: DbConnection, kind: str, subject_hash: str, state: ThrottleState
) -> None:
    await connection.execute(
        "INSERT INTO office_login_throttle (kind, subject_hash, failures, window_started_at,"
        " last_failed_at, blocked_until) VALUES ($1, $2, $3, $4, $5, $6)"
        " ON CONFLICT (kind, subject_hash) DO UPDATE SET failures = EXCLUDED.failures,"
        " window_started_at = EXCLUDED.window_started_at,"
        " last_failed_at = EXCLUDED.last_failed_at, blocked_until = EXCLUDED.blocked_until",
        kind,
        subject_hash,
        state.failures,
        state.window_started_at,
        state.last_failed_at,
        state.blocked_until,
    )


async def clear_throttle(connection: DbConnection, kind: str, subject_hash: str) -> None:
    await connection.execute(
        "DELETE FROM office_login_throttle WHERE kind = $1 AND subject_hash = $2",
        kind,
        subject_hash,
    )


async def insert_audit(
    connection: DbConnection,
    *,
    merchant_id: str,
    user_id: UUID | None,
    action: str,
    target: str,
    details: Mapping[str, Any],
    at: datetime,
) -> int:
    audit_id = await connection.fetchval(
        "INSERT INTO office_audit (merchant_id, at, user_id, action, target, details)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING audit_id",
        merchant_id,
        at,
        user_id,
        action,
        target,
        json.dumps(dict(details), default=str),
    )
    return int(audit_id)


async def audit_page(
    connection: DbConnection, merchant_id: str, *, before: int | None, limit: int
) -> Sequence[AuditRow]:
    """Newest first; `before` is the last audit id of the previous page (keyset)."""
    rows = await connection.fetch(
        "SELECT a.audit_id, a.at, a.user_id, u.display_name, a.action, a.target, a.details"
        " FROM office_audit a LEFT JOIN office_users u"
        " ON u.merchant_id = a.merchant_id AND u.user_id = a.user_id"
        " WHERE a.merchant_id = $1 AND ($2::bigint IS NULL OR a.audit_id < $2)"
        " ORDER BY a.audit_id DESC LIMIT $3",
        merchant_id,
        before,
        limit,
    )
    return [AuditRow(**{**dict(row), "details": json.loads(row["details"])}) for row in rows]
