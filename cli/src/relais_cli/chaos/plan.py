"""The seeded shape of a chaos run, as pure data: traffic size, pace and fault schedule.

Rules:
- deterministic: the same seed and options give the same plan;
- faults never overlap: each one has its own slot (the fault, then a quiet gap long
  enough to see the pipeline flow again), so each recovery is measured on its own;
- the kinds are shuffled by the seed, the killed services drawn by the seed;
- the full run kills services at least 5 times and has each infrastructure fault once;
  the small run (`small=True`) has one fault of each kind and a few hundred events.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

SERVICES = ("tracker", "detector", "notifier", "chat", "actions", "insights")
SCANS_PER_PARCEL = 4.6
"""About how many carrier calls one demo parcel makes (demo.story): sizes the first guess."""


class FaultKind(StrEnum):
    KILL_SERVICE = "kill_service"
    """kill -9 of one service; the supervisor restarts it."""
    KILL_KAFKA = "kill_kafka"
    """kill -9 of the broker, restarted after `down_s`."""
    KILL_POSTGRES = "kill_postgres"
    """kill -9 of the postmaster and every backend (an immediate stop), restarted after
    `down_s` (crash recovery)."""
    SMTP_DOWN = "smtp_down"
    """The SMTP catcher stopped for `down_s`, then started again."""


RESTART_ALLOWANCE_S = {
    "kill_service": 6.0,
    "kill_kafka": 18.0,
    "kill_postgres": 3.0,
    "smtp_down": 0.0,
}
"""About how long a component takes to answer again once started (a slot lasts that
long too, so that the next fault finds it up)."""
SMALL_ORDER = ("kill_postgres", "kill_kafka", "kill_service", "smtp_down")
"""The small run's order: the infrastructure faults first, while most of its traffic
flows (a story's scans are densest in its first virtual day)."""


@dataclass(frozen=True)
class Fault:
    index: int
    kind: FaultKind
    at_s: float
    """Seconds after the traffic starts."""
    down_s: float
    """How long the component stays down before it is started again (0: at once)."""
    target: str
    """The service killed, or the component."""

    @property
    def label(self) -> str:
        return f"#{self.index} {self.kind.value} {self.target}"


@dataclass(frozen=True)
class Pace:
    """Seconds of the fault schedule: lead-in, the gap after each fault, downtimes."""

    lead_in_s: float
    gap_s: float
    kafka_down_s: float
    postgres_down_s: float
    smtp_down_s: float
    tail_s: float
    min_traffic_s: float


SMALL_PACE = Pace(
    lead_in_s=4,
    gap_s=6,
    kafka_down_s=2,
    postgres_down_s=2,
    smtp_down_s=20,
    tail_s=4,
    min_traffic_s=60,
)
FULL_PACE = Pace(
    lead_in_s=20,
    gap_s=35,
    kafka_down_s=5,
    postgres_down_s=5,
    smtp_down_s=60,
    tail_s=20,
    min_traffic_s=300,
)


@dataclass(frozen=True)
class ChaosPlan:
    seed: int
    small: bool
    events_target: int
    orders: int
    traffic_s: float
    """Real seconds over which the traffic's virtual days are played."""
    settle_max_s: float
    """Longest wait, after the traffic, for the pipeline to go quiet."""
    quiet_s: float
    """The pipeline counts as settled after this long without any new output."""
    faults: tuple[Fault, ...]
    stub_error_rate: float
    """Share of merchant calls the stub answers 503 without acting."""
    stub_timeout_rate: float
    """Share of merchant calls the stub acts on, then answers too late (the caller times out)."""
    stub_timeout_s: float
    """The merchant webhook timeout of the chaos merchants; the stub's slow answers exceed it."""
    chat_answer_rate: float
    """Share of chat links (in received emails) a customer opens and answers."""
    waves: int
    """Days over which the orders ship (the demo's day of traffic, once a day), so that
    carrier calls flow through the whole fault schedule."""

    def count(self, kind: FaultKind) -> int:
        return sum(1 for fault in self.faults if fault.kind is kind)


def orders_for(events: int) -> int:
    """A first guess of the orders whose parcels make about `events` carrier calls."""
    return max(4, math.ceil(events / SCANS_PER_PARCEL))


def fault_kinds(*, small: bool, service_kills: int) -> list[FaultKind]:
    kills = 1 if small else max(5, service_kills)
    return [
        *([FaultKind.KILL_SERVICE] * kills),
        FaultKind.KILL_KAFKA,
        FaultKind.KILL_POSTGRES,
        FaultKind.SMTP_DOWN,
    ]


def schedule_faults(
    rng: random.Random, *, kinds: list[FaultKind], pace: Pace, shuffle: bool = True
) -> tuple[list[Fault], float]:
    """Faults in shuffled order (or as given), each in its own slot; returns them and
    where the last slot ends (seconds after the traffic starts). A slot counts the
    restart of Kafka (about 20 s) in its gap: the next fault starts once the previous
    one is over."""
    order = list(kinds)
    if shuffle:
        rng.shuffle(order)
    # Never two service kills in a row when something else can go between them.
    for index in range(1, len(order)):
        if order[index] is order[index - 1] is FaultKind.KILL_SERVICE:
            for later in range(index + 1, len(order)):
                if order[later] is not FaultKind.KILL_SERVICE:
                    order[index], order[later] = order[later], order[index]
                    break
    downtime = {
        FaultKind.KILL_SERVICE: 0.0,
        FaultKind.KILL_KAFKA: pace.kafka_down_s,
        FaultKind.KILL_POSTGRES: pace.postgres_down_s,
        FaultKind.SMTP_DOWN: pace.smtp_down_s,
    }
    targets = {
        FaultKind.KILL_KAFKA: "kafka",
        FaultKind.KILL_POSTGRES: "postgres",
        FaultKind.SMTP_DOWN: "smtp",
    }
    faults, cursor = [], pace.lead_in_s
    for index, kind in enumerate(order, start=1):
        at = cursor + rng.uniform(0, pace.gap_s * 0.3)
        target = rng.choice(SERVICES) if kind is FaultKind.KILL_SERVICE else targets[kind]
        faults.append(
            Fault(index=index, kind=kind, at_s=round(at, 1), down_s=downtime[kind], target=target)
        )
        cursor = at + downtime[kind] + RESTART_ALLOWANCE_S[kind] + pace.gap_s
    return faults, cursor


def plan_run(
    *,
    seed: int,
    events: int,
    small: bool,
    smtp_down_s: float | None = None,
    service_kills: int = 6,
    faults: bool = True,
) -> ChaosPlan:
    """The plan of one run. `faults=False` gives the fault-free reference run."""
    rng = random.Random(seed)
    pace = SMALL_PACE if small else FULL_PACE
    if smtp_down_s is not None:
        pace = Pace(**{**pace.__dict__, "smtp_down_s": smtp_down_s})
    scheduled: list[Fault] = []
    end = pace.lead_in_s
    if faults:
        kinds = fault_kinds(small=small, service_kills=service_kills)
        if small:
            kinds = [FaultKind(name) for name in SMALL_ORDER]
        scheduled, end = schedule_faults(rng, kinds=kinds, pace=pace, shuffle=not small)
    # About 30 carrier calls a second is what the tracker takes comfortably next to
    # the other five services on two cores.
    traffic_s = max(pace.min_traffic_s, end + pace.tail_s, events / 30)
    return ChaosPlan(
        seed=seed,
        small=small,
        events_target=events,
        orders=orders_for(events),
        traffic_s=round(traffic_s, 1),
        settle_max_s=25.0 if small else 180.0,
        quiet_s=5.0 if small else 15.0,
        faults=tuple(scheduled),
        stub_error_rate=0.1,
        stub_timeout_rate=0.05,
        stub_timeout_s=2.0,
        chat_answer_rate=0.6,
        waves=2 if small else 6,
    )
