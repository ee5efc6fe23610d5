"""The runtime's own tables do not grow forever: a pass deletes what can no longer matter.

- a published outbox row is kept `outbox_retention_s` after its publication (for an
  operator's look-back), then deleted; an unpublished row is never touched;
- a claim (`processed_events`) guards against a message being handled twice, which can
  only happen while its topic still holds the message: a group's claims are kept for
  the retention of the topic it consumes plus `CLAIM_MARGIN_S`, then deleted. A
  compacted topic, or one kept forever, keeps its claims forever (a replay from its
  beginning must still find them);
- deletes run in batches of `batch_size` rows, one transaction each, so a pass never
  holds locks long; counted in relais_retention_deleted_total{table}.
An outage pauses the pass (transient errors are waited out); anything else goes to the
supervisor, which logs and restarts the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from relais_contracts.registry import Cleanup, Topic
from relais_runtime.failures import is_transient
from relais_runtime.logging import get_logger
from relais_runtime.metrics import RETENTION_DELETED
from relais_runtime.supervisor import beat

log = get_logger(__name__)

CLAIM_MARGIN_S = 24 * 3600.0
"""Beyond the topic's retention: a broker deletes a segment only once it is all older."""


@dataclass(frozen=True)
class ClaimRetention:
    group: str
    keep_s: float


def claim_retention(group: str, topic: Topic) -> ClaimRetention | None:
    """How long a group's claims matter; None: as long as the topic keeps its messages."""
    if topic.cleanup is not Cleanup.DELETE or topic.retention_ms is None:
        return None
    return ClaimRetention(group=group, keep_s=topic.retention_ms / 1000 + CLAIM_MARGIN_S)


class RetentionPass:
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        claims: Sequence[ClaimRetention],
        outbox_retention_s: float,
        batch_size: int,
        interval_s: float,
    ) -> None:
        self._pool = pool
        self._claims = claims
        self._outbox_retention_s = outbox_retention_s
        self._batch_size = batch_size
        self._interval_s = interval_s

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            beat()
            try:
                await self.purge_once()
            except Exception as error:
                if not is_transient(error):
                    raise
                log.warning("retention pass postponed", error=type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval_s)

    async def purge_once(self) -> dict[str, int]:
        """Delete everything past its time now; returns the rows deleted per table."""
        deleted = {
            "outbox": await self._in_batches(
                "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE published_at"
                " < now() - make_interval(secs => $1) ORDER BY id LIMIT $2)",
                self._outbox_retention_s,
            ),
            "processed_events": 0,
        }
        for claim in self._claims:
            deleted["processed_events"] += await self._in_batches(
                "DELETE FROM processed_events WHERE ctid IN (SELECT ctid FROM processed_events"
                " WHERE consumer_group = $3 AND processed_at < now() - make_interval(secs => $1)"
                " LIMIT $2)",
                claim.keep_s,
                claim.group,
            )
        for table, count in deleted.items():
            RETENTION_DELETED.labels(table=table).inc(count)
        if any(deleted.values()):
            log.info("retention pass", **deleted)
        return deleted

    async def _in_batches(self, statement: str, keep_s: float, *more: object) -> int:
        total = 0
        while True:
            async with self._pool.acquire() as connection:
                result: str = await connection.execute(statement, keep_s, self._batch_size, *more)
            count = int(result.split()[-1])
            total += count
            if count < self._batch_size:
                return total
            await asyncio.sleep(0)
