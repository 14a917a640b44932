"""Charts of the run report as inline SVG (no script, no web font): each is an ``<svg class="chart"
data-chart="NAME">`` whose data marks have class ``mark`` (tests measure them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from segments.formatting import money, percent
from segments.reports.html import PALETTE, Html, esc, nice_ticks
from segments.reports.profiles import Pareto, SegmentProfile


def _svg_open(name: str, title: str, width: int, height: int, **data: str) -> str:
    attrs = "".join(f' data-{k}="{esc(v)}"' for k, v in data.items())
    return (
        f'<svg class="chart" data-chart="{esc(name)}"{attrs} xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{esc(title)}">'
        f"<title>{esc(title)}</title>"
    )


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label_room(labels: Sequence[str]) -> int:
    """Pixels left of the plot for labels of 12px text (about 6.8px a character)."""
    return min(max(int(6.8 * max((len(_short(t)) for t in labels), default=0)) + 16, 90), 330)


def _x_axis(parts: list[str], ticks: list[float], x: Callable[[float], float], top: float, bottom: float,
            fmt: Callable[[float], str]) -> None:  # fmt: skip
    for tick in ticks:
        tx = f"{x(tick):.1f}"
        parts.append(f'<line class="grid" stroke="#eaeef2" x1="{tx}" x2="{tx}" y1="{top}" y2="{bottom}"/>')
        parts.append(f'<text x="{tx}" y="{bottom + 16}" text-anchor="middle">{esc(fmt(tick))}</text>')


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

    parts = [_svg_open(name, title, width, height, **data)]
    shown = [t for t in ticks if float(t).is_integer()] if integer else ticks
    _x_axis(parts, shown, x, top, bottom, tick_fmt or fmt)
    for k, (series_name, _) in enumerate(series if len(series) > 1 else ()):
        lx = left + k * 170
        parts.append(f'<rect x="{lx}" y="4" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>')
        parts.append(f'<text x="{lx + 18}" y="14">{esc(series_name)}</text>')
    for i, label in enumerate(labels):
        gy = top + i * group + gap / 2
        parts.append(
            f'<text x="{left - 8}" y="{gy + bar * len(series) / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{esc(_short(label))}<title>{esc(label)}</title></text>'
        )
        for k, (series_name, values) in enumerate(series):
            value, y = values[i], gy + k * bar
            if value is None:
                continue
            w = x(value) - left
            parts.append(
                f'<rect class="mark" x="{left}" y="{y:.1f}" width="{w:.1f}" height="{bar - 2}" '
                f'fill="{PALETTE[k % len(PALETTE)]}"><title>{esc(f"{label}, {series_name}: {fmt(value)}")}'
                f"</title></rect>"
            )
            parts.append(
                f'<text x="{left + w + 4:.1f}" y="{y + bar / 2:.1f}" dominant-baseline="middle">'
                f"{esc(fmt(value))}</text>"
            )
    parts.append(f'<line class="axis" stroke="#8c959f" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    parts.append("</svg>")
    return Html("\n".join(parts))


def pareto_chart(p: Pareto, width: int = 560, height: int = 380) -> Html:
    """Cumulative revenue share (y) over the share of buyers ranked by revenue (x); the diagonal is equal
    revenue per buyer, the marked point is the top 20% of buyers."""
    left, right, top, bottom = 56, 20, 14, 44
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(v: float) -> float:
        return left + v * plot_w

    def y(v: float) -> float:
        return top + plot_h - v * plot_h

    title = "Cumulative share of revenue by share of buyers (ranked by revenue)"
    parts = [_svg_open("pareto", title, width, height)]
    ticks = [i / 5 for i in range(6)]
    _x_axis(parts, ticks, x, top, top + plot_h, lambda v: f"{100 * v:.0f}%")
    for tick in ticks:
        ty = f"{y(tick):.1f}"
        parts.append(
            f'<line class="grid" stroke="#eaeef2" x1="{left}" x2="{left + plot_w}" y1="{ty}" y2="{ty}"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{ty}" text-anchor="end" dominant-baseline="middle">{100 * tick:.0f}%</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">share of buyers</text>'
        f'<line class="reference" stroke="#8c959f" stroke-dasharray="4 4" x1="{x(0)}" y1="{y(0)}" '
        f'x2="{x(1)}" y2="{y(1)}"/>'
    )
    points = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in p.points)
    area = f"{x(0):.1f},{y(0):.1f} {points} {x(1):.1f},{y(0):.1f}"
    parts.append(f'<polygon class="mark area" fill="{PALETTE[0]}" fill-opacity="0.12" points="{area}"/>')
    parts.append(
        f'<polyline class="mark" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5" points="{points}">'
        f"<title>{esc(title)}</title></polyline>"
    )
    if p.top20_share is not None:
        cx, cy = x(p.top20_buyers / p.buyers), y(p.top20_share)
        label = f"top 20% of buyers ({p.top20_buyers:,}): {percent(p.top20_share)} of revenue"
        parts.append(
            f'<line stroke="{PALETTE[3]}" stroke-dasharray="3 3" x1="{cx:.1f}" x2="{cx:.1f}" '
            f'y1="{top + plot_h}" y2="{cy:.1f}"/>'
            f'<circle class="mark" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{PALETTE[3]}"><title>{esc(label)}'
            f'</title></circle><text x="{cx + 9:.1f}" y="{cy + 16:.1f}">{esc(label)}</text>'
        )
    parts.append(
        f'<line class="axis" stroke="#8c959f" x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}"/>'
        f'<line class="axis" stroke="#8c959f" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return Html("\n".join(parts))


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

    title = f"Predicted CLV per segment: {scheme}"
    parts = [_svg_open("clv", title, width, bottom + 30, scheme=scheme)]
    _x_axis(parts, ticks, x, top, bottom, money)
    for i, p in enumerate(profiles):
        cy, color = top + i * row + row / 2, PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{left - 8}" y="{cy}" text-anchor="end" dominant-baseline="middle">'
            f"{esc(_short(p.segment))}<title>{esc(p.segment)}</title></text>"
        )
        v = p.clv_quantiles
        if not v:
            parts.append(f'<text x="{left + 6}" y="{cy}" dominant-baseline="middle">no CLV</text>')
            continue
        tip = esc(
            f"{p.segment}: min {money(v[0])}, 10% {money(v[1])}, 25% {money(v[2])}, median {money(v[3])}, "
            f"75% {money(v[4])}, 90% {money(v[5])}, max {money(v[6])}, mean {money(p.avg_clv)}"
        )
        box_w = max(x(v[4]) - x(v[2]), 2.0)  # a box of equal quartiles still shows
        parts.append(
            f'<line class="mark whisker" stroke="{color}" stroke-width="1.5" x1="{x(v[1]):.1f}" '
            f'x2="{x(v[5]):.1f}" y1="{cy}" y2="{cy}"/>'
            f'<rect class="mark box" x="{x(v[2]):.1f}" y="{cy - 9}" width="{box_w:.1f}" height="18" '
            f'fill="{color}" fill-opacity="0.35" stroke="{color}"><title>{tip}</title></rect>'
            f'<line class="mark median" stroke="#1f2328" stroke-width="2" x1="{x(v[3]):.1f}" x2="{x(v[3]):.1f}" '
            f'y1="{cy - 9}" y2="{cy + 9}"/>'
            f'<circle class="mark mean" cx="{x(p.avg_clv or 0):.1f}" cy="{cy}" r="3.5" fill="#1f2328">'
            f"<title>{tip}</title></circle>"
            f'<text x="{left + plot_w + 8}" y="{cy}" dominant-baseline="middle">median {esc(money(v[3]))}</text>'
        )
    parts.append(
        f'<line class="axis" stroke="#8c959f" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/></svg>'
    )
    return Html("\n".join(parts))
