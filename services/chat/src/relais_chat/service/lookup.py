"""The lookup page's step: count the attempt, find the order, sign fresh tracking links.

Rules (domain.lookup gives the form's):
- an attempt is counted before anything is looked up, in the client's bucket and in
  the merchant and order number's bucket; the buckets are keyed hashes (HMAC-SHA256
  with a key derived from the customer link secret), so neither the client address
  nor the order number is stored;
- past a limit the answer is `Throttled` with the seconds left in the window;
- a wrong order number and a right one with a wrong email or postal code are the same
  `NoMatch`, reached through the same single query;
- a match gives one freshly signed tracking link per parcel of the order; the
  personal values compared are never logged or returned.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from relais_chat import repository
from relais_chat.domain.lookup import LookupQuery, Window, parse_lookup, window_of
from relais_runtime.clock import Clock
from relais_runtime.db import DbConnection
from relais_runtime.links import LinkPurpose, LinkSigner
from relais_runtime.merchants import MerchantConfig


@dataclass(frozen=True)
class LookupLimits:
    per_client: int = 30
    per_order: int = 5
    window: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class Refused:
    errors: dict[str, str]
    """Word keys by field name."""


@dataclass(frozen=True)
class Throttled:
    retry_after_s: int


@dataclass(frozen=True)
class NoMatch:
    """No order with this number and this email or postal code (which one is wrong is
    never told)."""


@dataclass(frozen=True)
class Matched:
    tracking_paths: list[str]
    """One freshly signed `/t/{token}` per parcel, in parcel order."""


def bucket_key(link_secret: str) -> bytes:
    return hmac.new(link_secret.encode(), b"relais-chat-lookup-buckets", hashlib.sha256).digest()


@dataclass(frozen=True)
class Lookup:
    pool: asyncpg.Pool
    signer: LinkSigner
    clock: Clock
    limits: LookupLimits
    key: bytes

    async def find(
        self, merchant: MerchantConfig, form: dict[str, str], *, client: str
    ) -> Refused | Throttled | NoMatch | Matched:
        query = parse_lookup(form)
        if not isinstance(query, LookupQuery):
            return Refused(query)
        now = self.clock.now()
        window = window_of(now, self.limits.window)
        async with self.pool.acquire() as connection:
            if await self._over_limit(connection, merchant, query, client, window):
                return Throttled(max(1, math.ceil((window.end - now).total_seconds())))
            shipment_ids = await repository.list_shipments_by_order(
                connection,
                merchant_id=merchant.merchant_id,
                order_key=query.order_key,
                email=query.email,
                postal_code=query.postal_code,
            )
        if not shipment_ids:
            return NoMatch()
        return Matched([f"/t/{self._token(merchant, shipment)}" for shipment in shipment_ids])

    async def _over_limit(
        self,
        connection: DbConnection,
        merchant: MerchantConfig,
        query: LookupQuery,
        client: str,
        window: Window,
    ) -> bool:
        async with connection.transaction():
            by_client = await repository.create_lookup_attempt(
                connection, bucket=self._bucket("client", client), window_start=window.start
            )
            by_order = await repository.create_lookup_attempt(
                connection,
                bucket=self._bucket("order", merchant.merchant_id, query.order_key),
                window_start=window.start,
            )
            await repository.delete_lookup_attempts(
                connection, before=window.start - self.limits.window
            )
        return by_client > self.limits.per_client or by_order > self.limits.per_order

    def _bucket(self, kind: str, *parts: str) -> str:
        message = "\x1f".join(parts).encode()
        return f"{kind}:{hmac.new(self.key, message, hashlib.sha256).hexdigest()}"

    def _token(self, merchant: MerchantConfig, shipment_id: str) -> str:
        return self.signer.sign(
            merchant_id=merchant.merchant_id,
            purpose=LinkPurpose.TRACKING,
            subject=shipment_id,
            issued_at=self.clock.now(),
        )
