"""The six services as separate OS processes (`relais run <service>`), kept alive.

Rules:
- each service runs in its own process with its own log file (appended across restarts)
  and the environment of the run (the isolated infrastructure, the run's clock);
- a watcher thread polls the processes; one that died, killed by the chaos or on its
  own, is recorded (`Restart`) and started again after `restart_delay_s`;
- `kill` is SIGKILL (kill -9): no shutdown hook runs, nothing is flushed;
- `stop` is SIGTERM to all, SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from relais_cli.run_cmd import stop_children


@dataclass(frozen=True)
class Restart:
    service: str
    died_at_s: float
    restarted_at_s: float
    exit_code: int | None
    killed_by_chaos: bool


@dataclass
class ServiceProcess:
    service: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]
    chaos_killed: bool = False
    starts: int = 1


@dataclass
class Supervisor:
    environment: dict[str, str]
    ports: dict[str, int]
    logs_dir: Path
    origin: float = field(default_factory=time.monotonic)
    restart_delay_s: float = 0.5
    restarts: list[Restart] = field(default_factory=list)
    unexpected_exits: int = 0

    def __post_init__(self) -> None:
        self._children: dict[str, ServiceProcess] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="chaos-supervisor", daemon=True)

    def now(self) -> float:
        return time.monotonic() - self.origin

    def _spawn(self, service: str) -> ServiceProcess:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.logs_dir / f"{service}.log"
        log_file = log_path.open("ab")
        port = self.ports[service]
        child = subprocess.Popen(
            [sys.executable, "-m", "relais_cli.main", "run", service],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**self.environment, "RELAIS_HTTP_PORT": str(port)},
            start_new_session=True,
        )
        return ServiceProcess(
            service=service, port=port, log_path=log_path, process=child, log_file=log_file
        )

    def start(self) -> None:
        with self._lock:
            for service in self.ports:
                self._children[service] = self._spawn(service)
        self._thread.start()

    def pid(self, service: str) -> int:
        return self._children[service].process.pid

    def kill(self, service: str) -> int:
        """kill -9 of one service; the watcher restarts it."""
        with self._lock:
            child = self._children[service]
            child.chaos_killed = True
            pid = child.process.pid
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGKILL)
        return pid

    def _watch(self) -> None:
        while not self._stop.wait(0.2):
            for service in list(self._children):
                child = self._children[service]
                code = child.process.poll()
                if code is None or self._stop.is_set():
                    continue
                died = self.now()
                time.sleep(self.restart_delay_s)
                with self._lock:
                    if self._stop.is_set():
                        return
                    child.log_file.close()
                    fresh = self._spawn(service)
                    fresh.starts = child.starts + 1
                    self._children[service] = fresh
                if not child.chaos_killed:
                    self.unexpected_exits += 1
                self.restarts.append(
                    Restart(
                        service=service,
                        died_at_s=round(died, 2),
                        restarted_at_s=round(self.now(), 2),
                        exit_code=code,
                        killed_by_chaos=child.chaos_killed,
                    )
                )

    def alive(self) -> dict[str, bool]:
        return {name: child.process.poll() is None for name, child in self._children.items()}

    def stop(self, *, grace_s: float = 20.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            children = list(self._children.values())
        stop_children(children, grace_s=grace_s)


def probe(port: int, path: str, *, timeout_s: float = 2.0) -> tuple[int, str]:
    """GET http://127.0.0.1:<port><path>: (status, body); (0, reason) when unreachable."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}{path}", timeout=timeout_s
        ) as response:
            return int(response.status), response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(errors="replace")
    except OSError as error:
        return 0, type(error).__name__


def wait_all(ports: dict[str, int], *, path: str, timeout_s: float) -> dict[str, int]:
    """Poll `path` on every service until all answer 200 or `timeout_s` passes; the last
    status of each."""
    deadline = time.monotonic() + timeout_s
    last = dict.fromkeys(ports, 0)
    while True:
        for service, port in ports.items():
            if last[service] != 200:
                last[service] = probe(port, path, timeout_s=1.0)[0]
        if all(status == 200 for status in last.values()) or time.monotonic() > deadline:
            return last
        time.sleep(0.5)
