"""matplotlib is an optional extra: imported on use, with an install hint when missing."""

from __future__ import annotations

import sys

import pytest

from relais_cli.plots import INSTALL_HINT, PlotsUnavailable, pyplot


def test_pyplot_draws_to_files_only() -> None:
    plt = pyplot()
    assert plt.get_backend().lower() == "agg"


def test_a_missing_matplotlib_says_how_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(PlotsUnavailable) as raised:
        pyplot()
    assert "relais[plots]" in str(raised.value)
    assert "--extra plots" in str(raised.value)
    assert str(raised.value) == INSTALL_HINT
