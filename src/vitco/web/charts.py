"""Spend as inline SVG bar charts, drawn on the server (no chart library in the browser, no
script needed to read them). Each chart comes with its figures as a table on the page, which
is also what a screen reader reads.

A horizontal bar per row; ``limit`` draws a budget line across the chart. Labels are escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
LABEL_W = 190
BAR_H, GAP = 22, 8
VALUE_W = 90


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    limit: float | None = None  # a cap to draw on this bar (a project's budget)


def usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def bars(title: str, rows: Sequence[Bar], *, prefix: str, limit: float | None = None) -> Markup:
    """A bar chart of ``rows`` (USD); ``limit``: one line across all bars (a budget)."""
    scale_max = max([r.value for r in rows] + [r.limit or 0 for r in rows] + [limit or 0, 1e-9])
    plot_w = WIDTH - LABEL_W - VALUE_W
    height = max(1, len(rows)) * (BAR_H + GAP) + GAP + (18 if limit is not None else 0)

    def x(value: float) -> float:
        return LABEL_W + plot_w * (value / scale_max)

    parts: list[str] = []
    for i, row in enumerate(rows):
        y = GAP + i * (BAR_H + GAP)
        length = max(1.0, x(row.value) - LABEL_W)
        parts.append(
            f'<text class="bar-label" x="{LABEL_W - 8}" y="{y + 15}">'
            f"{escape(row.label[:28])}</text>"
            f'<rect class="bar" x="{LABEL_W}" y="{y}" width="{length:.1f}" height="{BAR_H}">'
            f"<title>{escape(row.label)}: {usd(row.value)}</title></rect>"
            f'<text class="bar-value" x="{WIDTH - VALUE_W + 6}" y="{y + 15}">'
            f"{usd(row.value)}</text>"
        )
        if row.limit is not None:
            parts.append(
                f'<line class="budget" x1="{x(row.limit):.1f}" x2="{x(row.limit):.1f}" '
                f'y1="{y - 3}" y2="{y + BAR_H + 3}"><title>budget {usd(row.limit)}</title></line>'
            )
    if not rows:
        parts.append(f'<text class="bar-label" x="{LABEL_W}" y="24">no spend yet</text>')
    if limit is not None:
        parts.append(
            f'<line class="budget" x1="{x(limit):.1f}" x2="{x(limit):.1f}" y1="0" '
            f'y2="{height - 18}"/><text class="budget-label" x="{x(limit):.1f}" '
            f'y="{height - 4}">budget {usd(limit)}</text>'
        )
    return Markup(
        f'<svg class="chart" role="img" aria-labelledby="{prefix}-t" viewBox="0 0 {WIDTH} '
        f'{height}" xmlns="http://www.w3.org/2000/svg"><title id="{prefix}-t">{escape(title)}'
        f"</title>{''.join(parts)}</svg>"
    )
