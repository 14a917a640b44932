"""Inline SVG line charts for the HTML documents, and the escaping and colours the charts share.

The documents themselves are templates (``templates/``, rendered by ``segments.reports.render``): no JavaScript,
no CDN, no web fonts, so a document works offline and can be archived as a single file. Every value is escaped
unless it is :class:`Html` (markup that is already safe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup as Html  # markup that is already safe: templates and ``esc`` insert it as is

from segments.reports.render import esc

__all__ = ["DASHES", "PALETTE", "Html", "esc", "line_chart", "nice_ticks"]


# Colour-blind-safe first (Okabe-Ito), then more; beyond that, dashes tell lines apart.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#F0E442",
    "#8C564B",
    "#7F7F7F",
)
DASHES = ("", "6 3", "2 3", "8 3 2 3")


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (steps of 1, 2 or 5 times a power of ten)."""
    if maximum <= 0 or not math.isfinite(maximum):
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < maximum:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt_tick(value: float) -> str:
    if value >= 1_000_000 and value % 100_000 == 0:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 760,
    height: int = 320,
    point_titles: Sequence[str] | None = None,
) -> Html:
    """An inline SVG line chart: one ``<polyline>`` per series with one point per x label (evenly spaced).

    ``point_titles``: hover text per x position (e.g. run id and date); points get ``<circle>`` markers with
    ``<title>`` tooltips when there are at most 60 of them. Series with names get a legend on the right."""
    n = len(x_labels)
    left, right, top, bottom = 64, 190, 16, 44
    height = max(height, top + 16 + 18 * len(series))  # room for the legend
    plot_w, plot_h = width - left - right, height - top - bottom
    maximum = max((v for _, values in series for v in values), default=0)
    ticks = nice_ticks(float(maximum))
    y_max = ticks[-1]

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(v: float) -> float:
        return top + plot_h - (v / y_max) * plot_h

    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(title)}">',
        f"<title>{esc(title)}</title>",
    ]
    for tick in ticks:
        ty = f"{y(tick):.1f}"
        parts.append(
            f'<line class="grid" stroke="#eaeef2" x1="{left}" x2="{left + plot_w}" y1="{ty}" y2="{ty}"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{ty}" text-anchor="end" dominant-baseline="middle">'
            f"{esc(_fmt_tick(tick))}</text>"
        )
    parts.append(
        f'<line class="axis" stroke="#8c959f" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>'
    )
    parts.append(
        f'<line class="axis" stroke="#8c959f" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}"/>'
    )
    if n:
        shown = sorted({round(i * (n - 1) / 5) for i in range(6)}) if n > 6 else range(n)
        for i in shown:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{esc(x_labels[i])}</text>'
            )
    markers = n <= 60
    for k, (name, values) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        dash = DASHES[(k // len(PALETTE)) % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        points = " ".join(f"{x(i):.1f},{y(float(v)):.1f}" for i, v in enumerate(values))
        parts.append(
            f'<polyline class="series" data-series="{esc(name)}" fill="none" stroke="{color}" '
            f'stroke-width="2"{dash_attr} points="{points}"><title>{esc(name)}</title></polyline>'
        )
        if markers:
            for i, v in enumerate(values):
                label = f"{name}: {v:,}" + (f" ({point_titles[i]})" if point_titles else "")
                parts.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(float(v)):.1f}" r="3" fill="{color}">'
                    f"<title>{esc(label)}</title></circle>"
                )
        ly = top + 6 + k * 18
        parts.append(
            f'<line x1="{left + plot_w + 14}" x2="{left + plot_w + 34}" y1="{ly}" y2="{ly}" stroke="{color}" '
            f'stroke-width="3"{dash_attr}/>'
        )
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(
            f'<text x="{left + plot_w + 40}" y="{ly}" dominant-baseline="middle">{esc(short)}</text>'
        )
    parts.append("</svg>")
    return Html("\n".join(parts))
