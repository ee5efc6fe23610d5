"""matplotlib for the plots of `relais bench` and `relais chaos`, from the `plots` extra.

matplotlib (with numpy and pillow) is not a dependency of the services: it is the
`plots` extra of the `relais` package, which the development environment installs (the
root dev group: `./relais`, `uv sync`) and the service images do not. It is imported
here, on use, so the command and the services start without it.
"""

from __future__ import annotations

from typing import Any

INSTALL_HINT = (
    "plots need matplotlib, the `plots` extra of the relais package: in this repository run "
    "`uv sync --all-packages` (the dev group includes it) or `uv sync --all-packages "
    "--extra plots`; elsewhere `pip install 'relais[plots]'`"
)


class PlotsUnavailable(RuntimeError):
    """matplotlib is not installed: the message says how to install the extra."""


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only backend (Agg), imported on first use."""
    try:
        import matplotlib
    except ImportError as missing:
        raise PlotsUnavailable(INSTALL_HINT) from missing
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
