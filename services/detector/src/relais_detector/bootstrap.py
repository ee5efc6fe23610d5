"""The detector's set-up, the only place that reads its settings: merchants' policies,
the clock, the topics, the sweeper. A bad merchant file raises ConfigurationError in
`configure`, before anything starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from relais_detector.domain import PolicyBook
from relais_detector.handlers import Detector
from relais_detector.service import DetectorTopics, Sweeper
from relais_detector.settings import DetectorSettings
from relais_runtime.clock import Clock
from relais_runtime.merchants import merchants_of
from relais_runtime.service import Dependencies, ServiceSpec, Wiring
from relais_runtime.supervisor import Loop

MIGRATIONS_DIR = Path(__file__).parent / "migrations" / "versions"


@dataclass(frozen=True)
class SweepSettings:
    interval_s: float
    """Real seconds between two sweeps."""
    batch_size: int
    retry_s: float
    """Virtual seconds a timer waits after a failed evaluation."""


@dataclass(frozen=True)
class DetectorConfiguration:
    """Everything the detector reads from its settings and merchant files, checked
    before anything starts."""

    clock: Clock
    policies: PolicyBook
    sweep: SweepSettings
    topics: DetectorTopics = field(default_factory=DetectorTopics)


def policy_book(merchants_dir: Path | None) -> PolicyBook:
    """Every merchant file read once; none configured means the default policy for all."""
    return PolicyBook.of(merchants_of(merchants_dir))


def configure(
    settings: DetectorSettings,
    *,
    clock: Clock | None = None,
    topics: DetectorTopics | None = None,
) -> DetectorConfiguration:
    """Tests hand in a ManualClock and their throw-away topics."""
    return DetectorConfiguration(
        clock=clock or settings.build_clock(),
        policies=policy_book(settings.merchants_dir),
        sweep=SweepSettings(
            interval_s=settings.sweep_interval_s,
            batch_size=settings.sweep_batch_size,
            retry_s=settings.sweep_retry_s,
        ),
        topics=topics or DetectorTopics(),
    )


def build_spec(
    configuration: DetectorConfiguration | None = None,
) -> ServiceSpec[DetectorSettings]:
    return ServiceSpec(
        name="detector",
        schema="detector",
        migrations_dir=MIGRATIONS_DIR,
        wire=partial(wire, configuration=configuration),
    )


def wire(
    dependencies: Dependencies[DetectorSettings],
    *,
    configuration: DetectorConfiguration | None = None,
    clock: Clock | None = None,
    topics: DetectorTopics | None = None,
) -> Wiring:
    """Without a configuration, configures from the settings (`clock` and `topics` are
    configure's test overrides)."""
    configured = configuration or configure(dependencies.settings, clock=clock, topics=topics)
    detector = Detector(
        clock=configured.clock, policies=configured.policies, topics=configured.topics
    )
    sweep = configured.sweep
    sweeper = Sweeper(
        pool=dependencies.pool,
        detector=detector,
        batch_size=sweep.batch_size,
        retry_s=sweep.retry_s,
    )
    return Wiring(
        subscriptions=detector.subscriptions(),
        background=[
            Loop(
                "detector-sweeper",
                sweeper.runner(interval_s=sweep.interval_s),
                heartbeat_s=max(120.0, 4 * sweep.interval_s),
            )
        ],
    )
