"""`relais lint`: the static checks CI runs (ruff, then mypy on every package)."""

from __future__ import annotations

import subprocess
import sys

import typer

TYPED_PACKAGES = (
    "contracts/src",
    "libs/src",
    "cli/src",
    "services/tracker/src",
    "services/detector/src",
    "services/notifier/src",
    "services/chat/src",
    "services/actions/src",
    "services/insights/src",
)


def lint() -> None:
    """Run ruff (lint and format check) and mypy --strict on every package."""
    steps = (
        [sys.executable, "-m", "ruff", "check", "."],
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        [sys.executable, "-m", "mypy", *TYPED_PACKAGES],
    )
    for step in steps:
        typer.echo(f"$ {' '.join(step[2:])}", err=True)
        if subprocess.run(step, check=False).returncode != 0:
            raise typer.Exit(1)
