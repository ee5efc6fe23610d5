"""Fixtures of the contracts tests."""

from __future__ import annotations

from contracts_examples import example

__all__ = ["example"]
