"""Charts of the run report as inline SVG (no script, no web font): each is an ``<svg class="chart"
data-chart="NAME">`` whose data marks have class ``mark`` (tests measure them).

Here the geometry is worked out (and its numbers formatted); the markup is ``templates/charts/*.svg``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from segments.formatting import money, percent
from segments.reports.html import PALETTE, Html, nice_ticks
from segments.reports.profiles import Pareto, SegmentProfile
from segments.reports.render import render_fragment


@dataclass(frozen=True)
class _Chart:
    """What every chart has: its name and title, its size, the plot's edges and the x axis ticks."""

    name: str
    title: str
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x_ticks: list[tuple[str, str]]  # x, label
    data: dict[str, str] = field(default_factory=dict)  # data-* attributes of the <svg>


@dataclass(frozen=True)
class _Bar:
    y: str
    width: str
    color: str
    tip: str
    text_x: str
    text_y: str
    text: str


@dataclass(frozen=True)
class _BarGroup:
    label: str
    short: str
    y: str
    bars: list[_Bar]


@dataclass(frozen=True)
class _BarChart(_Chart):
    bar: int = 14  # a bar's height
    legend: list[tuple[str, str, int]] = field(default_factory=list)  # name, colour, x
    groups: list[_BarGroup] = field(default_factory=list)


@dataclass(frozen=True)
class _ParetoChart(_Chart):
    y_ticks: list[tuple[str, str]] = field(default_factory=list)  # y, label
    x_title: float = 0.0
    origin: tuple[float, float] = (0.0, 0.0)
    corner: tuple[float, float] = (0.0, 0.0)
    color: str = PALETTE[0]
    points: str = ""
    area: str = ""
    top20: tuple[str, str, str] | None = None  # cx, cy, label
    top20_text: tuple[str, str] = ("", "")
    top20_color: str = PALETTE[3]


@dataclass(frozen=True)
class _Box:
    low: str  # 10%
    q1: str  # 25%
    width: str  # 25% to 75%
    median: str
    high: str  # 90%
    mean: str
    tip: str
    median_text: str


@dataclass(frozen=True)
class _ClvRow:
    segment: str
    short: str
    y: float
    color: str
    box: _Box | None  # None: no CLV


@dataclass(frozen=True)
class _ClvChart(_Chart):
    rows: list[_ClvRow] = field(default_factory=list)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label_room(labels: Sequence[str]) -> int:
    """Pixels left of the plot for labels of 12px text (about 6.8px a character)."""
    return min(max(int(6.8 * max((len(_short(t)) for t in labels), default=0)) + 16, 90), 330)


def _x_ticks(
    ticks: list[float], x: Callable[[float], float], fmt: Callable[[float], str]
) -> list[tuple[str, str]]:
    return [(f"{x(tick):.1f}", fmt(tick)) for tick in ticks]


def bar_chart(
    name: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    fmt: Callable[[float], str],
    tick_fmt: Callable[[float], str] | None = None,
    integer: bool = False,
    width: int = 760,
    **data: str,
) -> Html:
    """Horizontal bars: one group per label, one bar per series (a legend when there are several).

    ``integer``: the values are counts, so the axis shows whole numbers only."""
    bar, gap, left, right, top = 14, 10, _label_room(labels), 80, 12 + (22 if len(series) > 1 else 0)
    group = bar * len(series) + gap
    height = top + group * len(labels) + 30
    plot_w, bottom = width - left - right, top + group * len(labels)
    maximum = max((v for _, values in series for v in values if v is not None), default=0.0)
    ticks = nice_ticks(float(maximum))

    def x(v: float) -> float:
        return left + max(v, 0.0) / ticks[-1] * plot_w

    shown = [t for t in ticks if float(t).is_integer()] if integer else ticks
    groups = []
    for i, label in enumerate(labels):
        gy = top + i * group + gap / 2
        bars = []
        for k, (series_name, values) in enumerate(series):
            value, y = values[i], gy + k * bar
            if value is None:
                continue
            w = x(value) - left
            bars.append(
                _Bar(
                    y=f"{y:.1f}",
                    width=f"{w:.1f}",
                    color=PALETTE[k % len(PALETTE)],
                    tip=f"{label}, {series_name}: {fmt(value)}",
                    text_x=f"{left + w + 4:.1f}",
                    text_y=f"{y + bar / 2:.1f}",
                    text=fmt(value),
                )
            )
        groups.append(_BarGroup(label, _short(label), f"{gy + bar * len(series) / 2:.1f}", bars))
    chart = _BarChart(
        name=name,
        title=title,
        width=width,
        height=height,
        left=left,
        right=left + plot_w,
        top=top,
        bottom=bottom,
        x_ticks=_x_ticks(shown, x, tick_fmt or fmt),
        data=data,
        bar=bar,
        legend=[
            (series_name, PALETTE[k % len(PALETTE)], left + k * 170)
            for k, (series_name, _) in enumerate(series if len(series) > 1 else ())
        ],
        groups=groups,
    )
    return render_fragment("charts/bars.svg", c=chart)


def pareto_chart(p: Pareto, width: int = 560, height: int = 380) -> Html:
    """Cumulative revenue share (y) over the share of buyers ranked by revenue (x); the diagonal is equal
    revenue per buyer, the marked point is the top 20% of buyers."""
    left, right, top, bottom = 56, 20, 14, 44
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + v * plot_w

    def y(v: float) -> float:
        return top + plot_h - v * plot_h

    ticks = [i / 5 for i in range(6)]
    points = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in p.points)
    top20, top20_text = None, ("", "")
    if p.top20_share is not None:
        cx, cy = x(p.top20_buyers / p.buyers), y(p.top20_share)
        label = f"top 20% of buyers ({p.top20_buyers:,}): {percent(p.top20_share)} of revenue"
        top20, top20_text = (f"{cx:.1f}", f"{cy:.1f}", label), (f"{cx + 9:.1f}", f"{cy + 16:.1f}")
    chart = _ParetoChart(
        name="pareto",
        title="Cumulative share of revenue by share of buyers (ranked by revenue)",
        width=width,
        height=height,
        left=left,
        right=left + plot_w,
        top=top,
        bottom=top + plot_h,
        x_ticks=_x_ticks(ticks, x, lambda v: f"{100 * v:.0f}%"),
        y_ticks=[(f"{y(tick):.1f}", f"{100 * tick:.0f}%") for tick in ticks],
        x_title=left + plot_w / 2,
        origin=(x(0), y(0)),
        corner=(x(1), y(1)),
        points=points,
        area=f"{x(0):.1f},{y(0):.1f} {points} {x(1):.1f},{y(0):.1f}",
        top20=top20,
        top20_text=top20_text,
    )
    return render_fragment("charts/pareto.svg", c=chart)


def clv_chart(scheme: str, profiles: Sequence[SegmentProfile], width: int = 760) -> Html:
    """Per segment a box (25-75% of predicted CLV), whiskers (10-90%), the median (line) and mean (dot)."""
    row, left, right, top = 30, _label_room([p.segment for p in profiles]), 110, 10
    bottom = top + row * len(profiles)
    plot_w = width - left - right
    q = {p.segment: p.clv_quantiles for p in profiles}
    maximum = max([v[5] for v in q.values() if v] + [p.avg_clv or 0 for p in profiles], default=0.0)
    ticks = nice_ticks(float(maximum))

    def x(v: float) -> float:
        return left + min(max(v, 0.0), ticks[-1]) / ticks[-1] * plot_w

    rows = []
    for i, p in enumerate(profiles):
        v, box = p.clv_quantiles, None
        if v:
            box = _Box(
                low=f"{x(v[1]):.1f}",
                q1=f"{x(v[2]):.1f}",
                width=f"{max(x(v[4]) - x(v[2]), 2.0):.1f}",  # a box of equal quartiles still shows
                median=f"{x(v[3]):.1f}",
                high=f"{x(v[5]):.1f}",
                mean=f"{x(p.avg_clv or 0):.1f}",
                tip=f"{p.segment}: min {money(v[0])}, 10% {money(v[1])}, 25% {money(v[2])}, "
                f"median {money(v[3])}, 75% {money(v[4])}, 90% {money(v[5])}, max {money(v[6])}, "
                f"mean {money(p.avg_clv)}",
                median_text=money(v[3]),
            )
        rows.append(
            _ClvRow(p.segment, _short(p.segment), top + i * row + row / 2, PALETTE[i % len(PALETTE)], box)
        )
    chart = _ClvChart(
        name="clv",
        title=f"Predicted CLV per segment: {scheme}",
        width=width,
        height=bottom + 30,
        left=left,
        right=left + plot_w,
        top=top,
        bottom=bottom,
        x_ticks=_x_ticks(ticks, x, money),
        data={"scheme": scheme},
        rows=rows,
    )
    return render_fragment("charts/clv.svg", c=chart)
