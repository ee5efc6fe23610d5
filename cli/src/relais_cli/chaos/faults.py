"""Carrying out the plan's faults, each at its time, and recording when it really began
and when the component was back.

- kill_service: kill -9 of the service's process; the supervisor restarts it (restored
  once its new process answers /health);
- kill_kafka: kill -9 of the broker, `down_s` later started again (restored once it
  answers a metadata request);
- kill_postgres: kill -9 of the postmaster and all its backends, `down_s` later started
  again (crash recovery; restored once the role can connect);
- smtp_down: the SMTP catcher stopped, `down_s` later started again.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from relais_cli.chaos.infra import ChaosInfra
from relais_cli.chaos.plan import Fault, FaultKind
from relais_cli.chaos.processes import Supervisor, probe


@dataclass
class FaultRecord:
    fault: Fault
    started_at_s: float | None = None
    """When the component went down (seconds after the run's origin)."""
    restored_at_s: float | None = None
    """When the component answered again."""
    pid: int | None = None
    error: str | None = None


class FaultInjector:
    def __init__(
        self,
        *,
        faults: tuple[Fault, ...],
        infra: ChaosInfra,
        supervisor: Supervisor,
        origin: float,
        traffic_start_s: float,
        on_event: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.records = [FaultRecord(fault=fault) for fault in faults]
        self.infra = infra
        self.supervisor = supervisor
        self.origin = origin
        self.traffic_start_s = traffic_start_s
        self.on_event = on_event
        self.stop = threading.Event()
        self.done = threading.Event()

    def now(self) -> float:
        return time.monotonic() - self.origin

    def run(self) -> None:
        try:
            for record in self.records:
                wait = self.traffic_start_s + record.fault.at_s - self.now()
                if wait > 0 and self.stop.wait(wait):
                    return
                self.on_event(f"fault {record.fault.label}")
                try:
                    self._inject(record)
                except Exception as error:  # a failed injection is reported, never fatal
                    record.error = f"{type(error).__name__}: {error}"
                    self.on_event(f"fault {record.fault.label} failed: {record.error}")
                    traceback.print_exc()
                else:
                    self.on_event(f"fault {record.fault.label} over")
        finally:
            self.done.set()

    def _inject(self, record: FaultRecord) -> None:
        fault = record.fault
        if fault.kind is FaultKind.KILL_SERVICE:
            record.started_at_s = round(self.now(), 2)
            record.pid = self.supervisor.kill(fault.target)
            port = self.supervisor.ports[fault.target]
            self._wait_until(lambda: self._restarted(fault.target, record.pid, port), 120)
        elif fault.kind is FaultKind.KILL_KAFKA:
            record.started_at_s = round(self.now(), 2)
            record.pid = self.infra.kill_kafka()
            self.stop.wait(fault.down_s)
            self.infra.start_kafka()
        elif fault.kind is FaultKind.KILL_POSTGRES:
            record.started_at_s = round(self.now(), 2)
            record.pid = self.infra.kill_postgres()
            self.stop.wait(fault.down_s)
            self.infra.start_postgres()
        elif fault.kind is FaultKind.SMTP_DOWN:
            record.started_at_s = round(self.now(), 2)
            self.infra.stop_smtp()
            self.stop.wait(fault.down_s)
            self.infra.start_smtp()
        record.restored_at_s = round(self.now(), 2)

    def _restarted(self, service: str, old_pid: int | None, port: int) -> bool:
        return self.supervisor.pid(service) != old_pid and probe(port, "/health")[0] == 200

    def _wait_until(self, condition: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stop.is_set():
            if condition():
                return
            time.sleep(0.2)
