"""The back office's people: users, their sessions, sign-in with throttling, the audit log.

Rules:
- passwords are hashed with Argon2id (argon2-cffi's defaults); a sign-in with an unknown
  email verifies the password against a dummy hash all the same, and answers exactly as
  a wrong password does (no account enumeration, no timing difference to speak of);
- a sign-in is throttled per account (merchant + email, known or not) and per client
  address (domain.office policies), in the database so that every process agrees; a
  throttled sign-in does not check the password;
- a session is a random id (256 bits) that only the cookie holds; it ends at the first
  of: sign-out or revocation, `idle` without a request, `absolute` after sign-in, or the
  user being disabled or removed; disabling or removing a user revokes their sessions;
- session and throttling times are read on the wall clock (real time, even when the
  service runs on a scaled demo clock): they protect people, not parcels;
- the audit log records who did what to what; its details never hold personal data.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from relais_insights import office_repository as store
from relais_insights.domain.office import (
    ACCOUNT_POLICY,
    ADDRESS_POLICY,
    Role,
    ThrottlePolicy,
    after_failure,
    csrf_token_for,
    digest,
)
from relais_runtime.clock import Clock, SystemClock
from relais_runtime.db import DbConnection

SESSION_TOUCH_EVERY = timedelta(minutes=1)
"""last_seen_at is written at most this often per session (idle expiry is coarser)."""

PASSWORD_MIN_LENGTH = 12


@dataclass(frozen=True)
class SignedInUser:
    merchant_id: str
    user_id: UUID
    display_name: str
    role: Role
    language: str
    session_hash: str
    csrf_token: str

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


@dataclass(frozen=True)
class OfficePolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    secure_cookies: bool = False
    account_throttle: ThrottlePolicy = ACCOUNT_POLICY
    address_throttle: ThrottlePolicy = ADDRESS_POLICY
    wall_clock: Clock = field(default_factory=SystemClock)
    hasher: PasswordHasher = field(default_factory=PasswordHasher)


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    user: SignedInUser


@dataclass(frozen=True)
class Refused:
    """Wrong email or password, or a disabled user: one answer for all."""


@dataclass(frozen=True)
class Throttled:
    retry_after_s: int


SignInOutcome = SignedIn | Refused | Throttled


def new_password() -> str:
    """A one-time password: 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def password_problem(password: str) -> str | None:
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"a password has at least {PASSWORD_MIN_LENGTH} characters"
    return None


def normalized_email(email: str) -> str:
    return email.strip().lower()


async def record_audit(
    connection: DbConnection,
    user: SignedInUser | None,
    action: str,
    target: str,
    details: Mapping[str, Any] | None = None,
    *,
    merchant_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Record who (None: the command line) did `action` to `target`; no personal data in
    `details` or `target` (ids, counts, codes)."""
    merchant = merchant_id or (user.merchant_id if user else None)
    if merchant is None:
        raise ValueError("an audit entry needs a merchant: pass a user or merchant_id")
    return await store.insert_audit(
        connection,
        merchant_id=merchant,
        user_id=user.user_id if user else None,
        action=action,
        target=target,
        details=details or {},
        at=at or SystemClock().now(),
    )


async def add_user(
    connection: DbConnection,
    hasher: PasswordHasher,
    *,
    merchant_id: str,
    email: str,
    display_name: str,
    role: Role,
    language: str,
    password: str,
    at: datetime,
) -> UUID | None:
    """The new user's id, or None when the merchant already has that email."""
    user_id = uuid4()
    password_hash = await asyncio.to_thread(hasher.hash, password)
    added = await store.insert_user(
        connection,
        merchant_id=merchant_id,
        user_id=user_id,
        email=normalized_email(email),
        display_name=display_name.strip(),
        role=role,
        language=language,
        password_hash=password_hash,
        at=at,
    )
    return user_id if added else None


async def reset_password(
    connection: DbConnection,
    hasher: PasswordHasher,
    *,
    merchant_id: str,
    user_id: UUID,
    password: str,
    at: datetime,
) -> bool:
    """Set a new password and end every session of the user."""
    password_hash = await asyncio.to_thread(hasher.hash, password)
    async with connection.transaction():
        if not await store.set_password(connection, merchant_id, user_id, password_hash):
            return False
        await store.revoke_sessions_of(connection, merchant_id, user_id, at)
    return True


async def disable_user(
    connection: DbConnection, *, merchant_id: str, user_id: UUID, at: datetime
) -> bool:
    async with connection.transaction():
        if not await store.disable_user(connection, merchant_id, user_id, at):
            return False
        await store.revoke_sessions_of(connection, merchant_id, user_id, at)
    return True


async def remove_user(
    connection: DbConnection, *, merchant_id: str, user_id: UUID, at: datetime
) -> bool:
    """Erase the person and end their sessions; the audit log keeps the bare user id."""
    async with connection.transaction():
        if not await store.erase_user(connection, merchant_id, user_id, at):
            return False
        await store.revoke_sessions_of(connection, merchant_id, user_id, at)
    return True


@dataclass(frozen=True)
class OfficeService:
    """What the office's routes call; every method takes the merchant it is about."""

    pool: asyncpg.Pool
    policy: OfficePolicy

    def now(self) -> datetime:
        return self.policy.wall_clock.now()

    @cached_property
    def dummy_hash(self) -> str:
        return self.policy.hasher.hash(secrets.token_urlsafe(16))

    async def session_user(self, session_id: str) -> SignedInUser | None:
        """The user of a live session; None for an unknown, ended or expired one."""
        session_hash = digest(session_id)
        now = self.now()
        async with self.pool.acquire() as connection:
            session = await store.session_by_hash(connection, session_hash)
            if session is None or not self._live(session, now):
                return None
            user = await store.user_by_id(connection, session.merchant_id, session.user_id)
            if user is None or not user.active:
                return None
            if now - session.last_seen_at >= SESSION_TOUCH_EVERY:
                await store.touch_session(connection, session_hash, now)
        return SignedInUser(
            merchant_id=user.merchant_id,
            user_id=user.user_id,
            display_name=user.display_name,
            role=user.role,
            language=user.language,
            session_hash=session_hash,
            csrf_token=csrf_token_for(session_id),
        )

    def _live(self, session: store.SessionRow, now: datetime) -> bool:
        return (
            session.revoked_at is None
            and session.expires_at > now
            and session.last_seen_at + self.policy.idle > now
        )

    async def sign_in(
        self, merchant_id: str, email: str, password: str, address: str
    ) -> SignInOutcome:
        subjects = (
            ("account", digest(f"{merchant_id}\n{normalized_email(email)}")),
            ("address", digest(address or "unknown")),
        )
        async with self.pool.acquire() as connection:
            wait = await self._throttled(connection, subjects)
            if wait is not None:
                return Throttled(wait)
            found = await store.user_by_email(connection, merchant_id, normalized_email(email))
            user, password_hash = found if found else (None, None)
            matches = await asyncio.to_thread(
                self._verify, password_hash or self.dummy_hash, password
            )
            if user is None or not user.active or password_hash is None or not matches:
                await self._count_failure(connection, subjects)
                return Refused()
            await store.clear_throttle(connection, *subjects[0])
            return await self._open_session(connection, user)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.policy.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _throttled(
        self, connection: DbConnection, subjects: Sequence[tuple[str, str]]
    ) -> int | None:
        now = self.now()
        waits = [
            state.retry_after(now)
            for kind, subject in subjects
            if (state := await store.throttle_state(connection, kind, subject)) is not None
        ]
        blocked = [wait for wait in waits if wait is not None]
        return max(blocked) if blocked else None

    async def _count_failure(
        self, connection: DbConnection, subjects: Sequence[tuple[str, str]]
    ) -> None:
        """One more failure for each subject, read and written under a row lock (two
        processes counting at once both count)."""
        policies = {
            "account": self.policy.account_throttle,
            "address": self.policy.address_throttle,
        }
        now = self.now()
        async with connection.transaction():
            for kind, subject in subjects:
                await connection.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{kind}:{subject}"
                )
                state = await store.throttle_state(connection, kind, subject)
                await store.save_throttle(
                    connection, kind, subject, after_failure(state, now, policies[kind])
                )

    async def _open_session(self, connection: DbConnection, user: store.UserRow) -> SignedIn:
        session_id = secrets.token_urlsafe(32)
        now = self.now()
        await store.insert_session(
            connection,
            session_hash=digest(session_id),
            merchant_id=user.merchant_id,
            user_id=user.user_id,
            at=now,
            expires_at=now + self.policy.absolute,
        )
        signed_in = SignedInUser(
            merchant_id=user.merchant_id,
            user_id=user.user_id,
            display_name=user.display_name,
            role=user.role,
            language=user.language,
            session_hash=digest(session_id),
            csrf_token=csrf_token_for(session_id),
        )
        return SignedIn(session_id=session_id, user=signed_in)

    async def sign_out(self, user: SignedInUser) -> None:
        async with self.pool.acquire() as connection:
            await store.revoke_session(connection, user.session_hash, self.now())
