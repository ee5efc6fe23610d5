"""Server-rendered SVG charts: no JavaScript, no external library, readable in print.

Rules: every chart has a <title> and an aria-label naming what it shows, every bar
carries its value as text (colour is never the only carrier of meaning); the
caller's labels are escaped (markupsafe); sizes are in viewBox units so charts scale.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH = 640
BAR = 26
GAP = 8
LABEL = 190


def _svg(title: str, height: int, body: str, width: int = WIDTH) -> Markup:
    # Every caller-given text is escaped above or here: the markup is ours.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bars(title: str, items: Sequence[tuple[str, float]], *, unit: str = "") -> Markup:
    """Horizontal bars, one per (label, value), longest value filling the width."""
    if not items:
        return _svg(title, 40, '<text x="0" y="24" class="empty">—</text>')
    top = max(value for _, value in items) or 1
    span = WIDTH - LABEL - 70
    parts = []
    for row, (label, value) in enumerate(items):
        y = row * (BAR + GAP)
        width = max(2.0, span * value / top)
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + BAR * 0.7:.0f}" text-anchor="end" class="label">'
            f"{escape(label)}</text>"
            f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR}" rx="3" class="bar"/>'
            f'<text x="{LABEL + width + 6:.1f}" y="{y + BAR * 0.7:.0f}" class="value">'
            f"{escape(_number(value))}{escape(unit)}</text>"
        )
    return _svg(title, len(items) * (BAR + GAP), "".join(parts))


COLUMNS_WIDTH = 1200


def columns(title: str, items: Sequence[tuple[str, int]]) -> Markup:
    """Vertical columns over time (one per day), with the first and last day labelled;
    drawn wide, for a full-width card."""
    height, base, width = 200, 170, COLUMNS_WIDTH
    if not items:
        return _svg(title, 40, '<text x="0" y="24" class="empty">—</text>', width)
    top = max(value for _, value in items) or 1
    step = width / len(items)
    parts = [f'<line x1="0" y1="{base}" x2="{width}" y2="{base}" class="axis"/>']
    for i, (label, value) in enumerate(items):
        column = (base - 20) * value / top
        x = i * step
        parts.append(
            f'<rect x="{x + step * 0.15:.1f}" y="{base - column:.1f}" width="{step * 0.7:.1f}" '
            f'height="{column:.1f}" class="bar"><title>{escape(label)}: {value}</title></rect>'
        )
        if value and len(items) <= 31:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{base - column - 4:.1f}" text-anchor="middle" '
                f'class="value">{value}</text>'
            )
    parts.append(f'<text x="0" y="{height - 8}" class="label">{escape(items[0][0])}</text>')
    parts.append(
        f'<text x="{width}" y="{height - 8}" text-anchor="end" class="label">'
        f"{escape(items[-1][0])}</text>"
    )
    return _svg(title, height, "".join(parts), width)


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
