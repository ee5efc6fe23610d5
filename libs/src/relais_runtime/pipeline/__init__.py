"""The one consumer pipeline of Relais: fetch -> hold not-due -> decode -> claim+handle -> commit.

Every subscription of every service runs here, per message or per batch, so the
rules exist once:
1. fetch up to `max_records` messages; with a due time (retry tiers), a partition whose
   next message is not due yet is rewound to it and paused until it is (the others
   keep flowing);
2. decode each message against its topic's contract; a message that is not JSON, does
   not validate, has an unknown event type, or whose preparation raises is
   dead-lettered with the reason (the others go on). A replayed message addressed to
   another consumer group (header `relais-replay-for`) is skipped;
3. in ONE PostgreSQL transaction: claim the event ids for the group (already processed
   ones are skipped: exactly-once effects) and run the handler with the connection, so
   its writes and outbox rows commit with the claims;
4. commit the offsets, only then.
Failures (relais_runtime.failures):
- infrastructure (PostgreSQL or Kafka unreachable, restarting, overloaded...): never
  the message's fault. The consumer stops taking messages, retries the same step with
  capped exponential backoff and jitter for as long as it takes, reports itself
  waiting (`/ready` answers 503), and resumes exactly where it stopped. On shutdown
  during an outage nothing is committed: the messages come again after the restart;
- the message's fault: the batch is replayed one message per transaction, so only
  the failing message is dead-lettered (with its reason) and the others are handled;
  a message waiting for another (`NotYetError`) is tried `max_attempts` times first.
While one batch is handled, the next one is fetched and decoded (CPU overlaps the
database), never handled: batches are handled and committed one after another.
"""

from relais_runtime.pipeline.consumer import Consumer
from relais_runtime.pipeline.lag import LAG_TIMEOUT_S, watch_lag
from relais_runtime.pipeline.outage import Outage, Stopping

__all__ = ["LAG_TIMEOUT_S", "Consumer", "Outage", "Stopping", "watch_lag"]
