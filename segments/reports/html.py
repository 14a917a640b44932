"""Inline SVG line charts for the HTML documents, and the escaping and colours the charts share.

The documents themselves are templates (``templates/``, rendered by ``segments.reports.render``): no JavaScript,
no CDN, no web fonts, so a document works offline and can be archived as a single file. Every value is escaped
unless it is :class:`Html` (markup that is already safe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup as Html  # markup that is already safe: templates and ``esc`` insert it as is

from segments.reports.render import esc, render_fragment

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


@dataclass(frozen=True)
class _Line:
    name: str
    label: str  # in the legend (shortened)
    color: str
    dash: str  # stroke-dasharray, "" for a solid line
    points: str  # "x,y x,y ..."
    markers: list[tuple[str, str, str]]  # cx, cy, hover text
    legend_y: int


@dataclass(frozen=True)
class _LineChart:
    title: str
    width: int
    height: int
    left: int  # the plot's edges
    right: int
    top: int
    bottom: int
    ticks: list[tuple[str, str]]  # y, label
    x_labels: list[tuple[str, str]]  # x, label
    series: list[_Line]


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    width: int = 760,
    height: int = 320,
    point_titles: Sequence[str] | None = None,
) -> Html:
    """An inline SVG line chart (templates/charts/line.svg): one ``<polyline>`` per series with one point per
    x label (evenly spaced).

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

    shown = sorted({round(i * (n - 1) / 5) for i in range(6)}) if n > 6 else range(n)
    markers = n <= 60
    lines = []
    for k, (name, values) in enumerate(series):
        tips = [
            f"{name}: {v:,}" + (f" ({point_titles[i]})" if point_titles else "") for i, v in enumerate(values)
        ]
        lines.append(
            _Line(
                name=name,
                label=name if len(name) <= 22 else name[:21] + "…",
                color=PALETTE[k % len(PALETTE)],
                dash=DASHES[(k // len(PALETTE)) % len(DASHES)],
                points=" ".join(f"{x(i):.1f},{y(float(v)):.1f}" for i, v in enumerate(values)),
                markers=[
                    (f"{x(i):.1f}", f"{y(float(v)):.1f}", tips[i]) for i, v in enumerate(values) if markers
                ],
                legend_y=top + 6 + k * 18,
            )
        )
    chart = _LineChart(
        title=title,
        width=width,
        height=height,
        left=left,
        right=left + plot_w,
        top=top,
        bottom=top + plot_h,
        ticks=[(f"{y(tick):.1f}", _fmt_tick(tick)) for tick in ticks],
        x_labels=[(f"{x(i):.1f}", x_labels[i]) for i in shown] if n else [],
        series=lines,
    )
    return render_fragment("charts/line.svg", c=chart)
