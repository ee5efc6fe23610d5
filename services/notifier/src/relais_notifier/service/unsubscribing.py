"""Unsubscribing: the customer's signed link names a merchant, a channel and the keyed
hash of an address (never the address); a valid link records that address's opt-out
for that merchant and channel, once (idempotent).

A link past its age is `expired` (410); any other bad link, or one naming a merchant
this service does not know or a channel it does not send on, is `invalid` (400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from relais_notifier import repository
from relais_notifier.adapters.links import LinkMaker
from relais_runtime.links import LinkError, LinkPurpose
from relais_runtime.logging import get_logger
from relais_runtime.merchants import MerchantConfig

log = get_logger(__name__)


@dataclass(frozen=True)
class Opt:
    merchant_id: str
    channel: str
    address_hash: str


@dataclass(frozen=True)
class LinkProblem:
    key: str
    status: int


def read_unsubscribe_token(
    token: str, *, links: LinkMaker, merchants: Mapping[str, MerchantConfig], now: datetime
) -> Opt | LinkProblem:
    try:
        claims = links.unsubscribe_signer.verify(token, purpose=LinkPurpose.UNSUBSCRIBE, now=now)
    except LinkError as error:
        return LinkProblem("expired", 410) if error.expired else LinkProblem("invalid", 400)
    channel, _, address_hash = claims.subject.partition(":")
    if claims.merchant_id not in merchants or channel not in ("email", "sms"):
        return LinkProblem("invalid", 400)
    return Opt(merchant_id=claims.merchant_id, channel=channel, address_hash=address_hash)


async def opt_out(pool: asyncpg.Pool, opt: Opt, *, at: datetime) -> None:
    async with pool.acquire() as connection:
        await repository.create_opt_out(
            connection,
            merchant_id=opt.merchant_id,
            channel=opt.channel,
            address_hash=opt.address_hash,
            at=at,
        )
    log.info("unsubscribed", channel=opt.channel)
