"""`relais test`: the project's test command (README, CI)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import typer

from relais_cli.run_cmd import relais_command

BROWSER_PACKAGE = "chromium"
"""Debian's Chromium: the real browser the page tests drive (never a downloaded build)."""


def ensure_browser() -> None:
    """Install Debian's Chromium for the browser tests if it is missing and we can."""
    if shutil.which("chromium"):
        return
    if not shutil.which("apt-get") or os.geteuid() != 0:
        typer.echo("chromium is missing and cannot be installed here: browser tests will skip")
        return
    typer.echo(f"installing Debian's {BROWSER_PACKAGE} for the browser tests...")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", BROWSER_PACKAGE],
        check=True,
        env=environment,
    )


def test(context: typer.Context) -> None:
    """Run the test suite against real infrastructure.

    Brings up Kafka, PostgreSQL and the SMTP server if they are not running
    (`relais infra up`), creates the topics, installs Debian's Chromium for the
    page tests if it is missing, then runs pytest over every tier (unit,
    integration, browser). Extra arguments go to pytest, e.g.
    `relais test -k outbox -x`.
    """
    for step in (("infra", "up"), ("topics", "apply")):
        subprocess.run(relais_command(*step), check=True)
    ensure_browser()
    result = subprocess.run([sys.executable, "-m", "pytest", *context.args], check=False)
    raise typer.Exit(result.returncode)
