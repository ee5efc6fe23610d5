"""`relais test`: the project's test command (README, CI)."""

from __future__ import annotations

import subprocess
import sys

import typer

from relais_cli.run_cmd import relais_command


def test(context: typer.Context) -> None:
    """Run the test suite against real infrastructure.

    Brings up Kafka, PostgreSQL and the SMTP server if they are not running
    (`relais infra up`), creates the topics, then runs pytest over every tier
    (unit and integration). Extra arguments go to pytest, e.g.
    `relais test -k outbox -x`.
    """
    for step in (("infra", "up"), ("topics", "apply")):
        subprocess.run(relais_command(*step), check=True)
    result = subprocess.run([sys.executable, "-m", "pytest", *context.args], check=False)
    raise typer.Exit(result.returncode)
