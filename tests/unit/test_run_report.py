"""The run report: segment profiles and Pareto figures computed by hand (tests/fixtures/report_warehouse.py),
and the HTML: every chart with drawn marks, every value escaped, nothing loaded from elsewhere."""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from segments.reports.html import esc
from segments.reports.profiles import (
    CLV_QUANTILES,
    pareto,
    pareto_markdown,
    profiles_markdown,
    segment_profiles,
)
from segments.reports.run_report import (
    LATEST_NAME,
    fetch_run_report,
    latest_page,
    render_run_report,
    write_run_report,
)
from tests.fixtures.report_warehouse import (
    INPUT_FINGERPRINT,
    KEY,
    OUTPUT_FINGERPRINT,
    POTENTIAL_LABEL,
    PREVIOUS_RUN_ID,
    RULE_VERSION,
    RUN_ID,
    build_report_warehouse,
)

CHARTS = {"pareto": 1, "segment-sizes": 2, "clv": 2, "movements": 1, "potential-segments": 1}


@pytest.fixture
def con():
    con = duckdb.connect()
    build_report_warehouse(con)
    yield con
    con.close()


def profiles_by_key(con):
    return {(p.scheme, p.segment): p for p in segment_profiles(con)}


def test_segment_profiles_sizes_revenue_and_clv(con):
    profiles = segment_profiles(con)
    assert [(p.scheme, p.segment) for p in profiles] == [
        ("reach", "Reach"),
        ("reach", "Nurture"),
        ("value", "Growth"),  # largest first
        ("value", "Long Tail"),
        ("value", KEY),
    ]
    key = profiles_by_key(con)[("value", KEY)]
    assert (key.entity, key.entities, key.customers) == ("customer", 3, 3)
    assert key.share == pytest.approx(3 / 12)
    assert key.revenue == pytest.approx(7000)
    assert key.revenue_share == pytest.approx(7000 / 9900)  # the scheme's net revenue includes C11's -100
    assert key.avg_clv == pytest.approx((5000 + 2000 + 1100) / 3)
    assert key.median_clv == pytest.approx(2000)
    assert key.mean_p_alive == pytest.approx(0.8)
    assert key.clv_quantiles[0] == 1100 and key.clv_quantiles[-1] == 5000
    assert len(key.clv_quantiles) == len(CLV_QUANTILES)

    growth = profiles_by_key(con)[("value", "Growth")]
    assert growth.revenue == pytest.approx(2600)
    assert growth.median_clv == pytest.approx(450)
    assert growth.avg_clv == pytest.approx(470)
    long_tail = profiles_by_key(con)[("value", "Long Tail")]
    # the prospect P01 has no CLV: the median is over C09, C10 and C11 (100, 100, 0)
    assert long_tail.median_clv == pytest.approx(100)
    assert long_tail.avg_clv == pytest.approx(200 / 3)
    assert sum(p.revenue_share for p in profiles if p.scheme == "value") == pytest.approx(1)


def test_segment_profiles_categories_channels_and_facts(con):
    key = profiles_by_key(con)[("value", KEY)]
    assert [(s.value, s.amount) for s in key.top_categories] == [
        ("product", 3000),
        ("service", 2500),
        ("advice", 1000),
    ]  # data (500) is fourth
    assert key.top_categories[0].share == pytest.approx(3000 / 7000)
    assert [(s.value, s.share) for s in key.preferred_channels] == [
        ("email", pytest.approx(2 / 3)),
        ("phone", pytest.approx(1 / 3)),
    ]
    assert [(s.value, s.share) for s in key.action_channels] == [("phone", 1.0)]
    assert [(s.value, s.share) for s in key.facts["industry"]] == [
        ("Retail", pytest.approx(2 / 3)),
        ("Finance", pytest.approx(1 / 3)),
    ]
    assert "age_band" not in key.facts  # B2B customers have no age band

    long_tail = profiles_by_key(con)[("value", "Long Tail")]
    assert [s.value for s in long_tail.top_categories] == ["data"]  # product is -100 (a return): not listed
    # two of four customers have no preferred channel: they count in the base of the share
    assert [(s.value, s.share) for s in long_tail.preferred_channels] == [("email", 0.25), ("post", 0.25)]


def test_contact_scheme_splits_the_customers_revenue_over_its_contacts(con):
    profiles = profiles_by_key(con)
    reach, nurture = profiles[("reach", "Reach")], profiles[("reach", "Nurture")]
    assert (reach.entity, reach.entities, reach.customers) == ("contact", 2, 2)
    assert reach.revenue == pytest.approx(4000 / 2 + 2000)  # K1 carries half of C01, K3 all of C02
    assert nurture.revenue == pytest.approx(4000 / 2)
    assert reach.revenue_share == pytest.approx(2 / 3)
    assert nurture.avg_clv == pytest.approx(5000)  # C01's CLV, counted once
    assert [(s.value, s.amount) for s in reach.top_categories] == [
        ("service", 500 + 1500),
        ("product", 1500),
        ("data", 500),
    ]


def test_pareto_top_20_percent(con):
    p = pareto(con)
    assert p.buyers == 11  # the prospect P01 has no order; C11 (net -100) is a buyer with revenue 0
    assert p.revenue == pytest.approx(10_000)
    assert p.top20_buyers == 3  # ceil(2.2)
    assert p.top20_share == pytest.approx(0.70)
    assert p.buyers_for_80pct == 5
    assert p.points[0] == (0.0, 0.0)
    assert p.points[1] == (pytest.approx(1 / 11), pytest.approx(0.4))
    assert p.points[-1] == (pytest.approx(1.0), pytest.approx(1.0))
    assert len(p.points) == 12
    assert "70.0%" in pareto_markdown(p)


def test_pareto_is_downsampled_to_200_points():
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.customer_features as select 'C' || i as customer_id, "
        "i::decimal(18, 2) as monetary, 1 as frequency from range(1, 1001) t(i)"
    )
    p = pareto(con)
    assert p.buyers == 1000 and p.top20_buyers == 200
    assert p.top20_share == pytest.approx(sum(range(801, 1001)) / sum(range(1, 1001)))
    assert len(p.points) == 200
    xs = [x for x, _ in p.points]
    assert xs == sorted(xs) and len(set(xs)) == 200
    assert p.points[-1] == (1.0, pytest.approx(1.0))


def test_fresh_warehouse_gives_empty_figures(tmp_path: Path):
    con = duckdb.connect()
    assert segment_profiles(con) == []
    assert pareto(con).points == ()
    path = write_run_report(con, "r1", tmp_path)
    text = path.read_text()
    assert "No published segments yet." in text
    assert "no Pareto curve" in text
    assert "marts.potential_segments is missing" in text
    assert profiles_markdown([]) == "No published segments yet."


def test_missing_clv_and_potential_segments_give_notes():
    con = duckdb.connect()
    build_report_warehouse(con, with_clv=False, with_potential=False)
    key = profiles_by_key(con)[("value", KEY)]
    assert key.avg_clv is None and key.median_clv is None and key.mean_p_alive is None
    assert key.revenue == pytest.approx(7000)
    report = fetch_run_report(con, RUN_ID)
    assert not report.clv_available and report.potential is None
    html = render_run_report(report)
    assert "has no predicted_clv" in html
    assert "marts.potential_segments is missing" in html
    charts = Charts.of(html)
    assert "clv" not in charts.names and "potential-segments" not in charts.names


def test_movements_are_this_runs_changes(con):
    report = fetch_run_report(con, RUN_ID)
    moves = {(m.from_segment, m.to_segment): m.entities for m in report.moves}
    assert moves == {
        ("Long Tail", "Growth"): 2,
        ("Growth", KEY): 1,
        (KEY, "Growth"): 1,
        (None, "Long Tail"): 1,
        ("Growth", None): 1,
    }  # the previous run's Growth -> Long Tail is not counted
    assert report.moves[0].entities == 2
    assert report.run.previous_run_id == PREVIOUS_RUN_ID


class Charts(HTMLParser):
    """Every ``svg.chart`` of a document: its name and its marks (elements with class ``mark``)."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict] = []
        self.depth = 0
        self.tags: set[str] = set()

    @classmethod
    def of(cls, text: str) -> Charts:
        parser = cls()
        parser.feed(text)
        parser.close()
        return parser

    @property
    def names(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for chart in self.charts:
            counts[chart["name"]] += 1
        return dict(counts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if tag == "svg" and "chart" in (attrs.get("class") or "").split():
            self.charts.append(
                {"name": attrs.get("data-chart"), "scheme": attrs.get("data-scheme"), "marks": []}
            )
        elif self.charts and self.depth and "mark" in (attrs.get("class") or "").split():
            self.charts[-1]["marks"].append((tag, attrs))
        if tag == "svg":
            self.depth += 1

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.depth -= 1


def drawn(tag: str, attrs: dict) -> bool:
    """A mark with a size: a bar or box with width and height, a line or curve with points."""
    if tag == "rect":
        return float(attrs["width"]) > 0 and float(attrs["height"]) > 0
    if tag == "circle":
        return float(attrs["r"]) > 0
    if tag in ("polyline", "polygon"):
        return len(attrs["points"].split()) >= 2
    if tag == "line":
        return (attrs["x1"], attrs["y1"]) != (attrs["x2"], attrs["y2"])
    return False


def test_html_has_every_chart_with_marks(con, tmp_path: Path):
    path = write_run_report(con, RUN_ID, tmp_path)
    assert path == tmp_path / RUN_ID / "index.html"
    charts = Charts.of(path.read_text(encoding="utf-8"))
    assert charts.names == CHARTS
    for chart in charts.charts:
        assert any(drawn(tag, attrs) for tag, attrs in chart["marks"]), chart["name"]
    sizes = {c["scheme"]: c for c in charts.charts if c["name"] == "segment-sizes"}
    assert sum(tag == "rect" for tag, _ in sizes["value"]["marks"]) == 6  # 3 segments x (size, revenue)
    moves = next(c for c in charts.charts if c["name"] == "movements")
    widths = [float(a["width"]) for t, a in moves["marks"] if t == "rect"]
    assert len(widths) == 5 and widths[0] == pytest.approx(2 * widths[1])  # 2 entities against 1
    assert "script" not in charts.tags and "link" not in charts.tags


def test_html_escapes_values_and_shows_the_runs_facts(con):
    html = render_run_report(fetch_run_report(con, RUN_ID))
    assert "<b>Accounts</b>" not in html and "<i>B2B</i>" not in html
    assert esc(KEY) in html and esc(POTENTIAL_LABEL) in html
    for fact in (RULE_VERSION, INPUT_FINGERPRINT, OUTPUT_FINGERPRINT, PREVIOUS_RUN_ID, "2026-11-01"):
        assert fact in html
    assert "70.0%" in html  # top 20% share


def test_html_loads_nothing_from_elsewhere(con):
    html = render_run_report(fetch_run_report(con, RUN_ID))
    references = re.findall(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?\s*([^"'\s>]+)""", html, re.I)
    assert references, "expected the in-page navigation links"
    external = [r for r in references if re.match(r"(?:[a-z][a-z0-9+.-]*:|//)", r, re.I)]
    assert external == []
    assert not re.search(r"@import|url\(|<script|<link|<iframe|<img", html, re.I)
    assert "https://" not in html
    # the only http:// text is the SVG namespace name, an identifier that is never fetched
    assert set(re.findall(r"http://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}


def test_latest_page_points_at_the_newest_report(con, tmp_path: Path):
    write_run_report(con, PREVIOUS_RUN_ID, tmp_path)
    write_run_report(con, RUN_ID, tmp_path)
    latest = (tmp_path / LATEST_NAME).read_text()
    assert f'href="{RUN_ID}/index.html"' in latest and f"url={RUN_ID}/index.html" in latest
    assert (tmp_path / PREVIOUS_RUN_ID / "index.html").exists()
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary files
    odd = latest_page('a"<b')  # quoted as a URL and escaped as text
    assert 'href="a%22%3Cb/index.html"' in odd and "run a&quot;&lt;b" in odd


def test_a_report_fetched_once_is_written_as_fetched(con, tmp_path: Path):
    """The asset fetches the report once (its profiles scan every customer) and writes that same report."""
    report = fetch_run_report(con, RUN_ID)
    path = write_run_report(con, RUN_ID, tmp_path, report=report)
    assert path.read_text(encoding="utf-8") == render_run_report(report)
    with pytest.raises(ValueError, match=f"of run {RUN_ID}, not of run {PREVIOUS_RUN_ID}"):
        write_run_report(con, PREVIOUS_RUN_ID, tmp_path, report=report)
    assert not (tmp_path / PREVIOUS_RUN_ID).exists()


@pytest.mark.parametrize("run_id", ["../etc", "a/b", "", ".hidden", "x y"])
def test_run_id_must_be_a_safe_folder_name(con, tmp_path: Path, run_id: str):
    with pytest.raises(ValueError, match="cannot name a report folder"):
        write_run_report(con, run_id, tmp_path)
    assert not (tmp_path / LATEST_NAME).exists()


def test_profiles_markdown_escapes_segment_names(con):
    md = profiles_markdown(segment_profiles(con))
    assert "Key \\<b\\>Accounts\\</b\\>" in md
    assert "| Growth | 5 | 41.7% | 26.3% | 470 | 450 | 50% |" in md
    assert "**value** (customer)" in md and "**reach** (contact)" in md


def test_potential_segments_largest_value_first(con):
    potential = fetch_run_report(con, RUN_ID).potential
    assert [(p.label, p.customer_type, p.prospects, p.potential_value) for p in potential] == [
        (POTENTIAL_LABEL, "b2b", 120, 45000.0),
        ("Dormant buyers", "b2c", 40, 12000.0),
    ]


def test_potential_segments_without_the_models_optional_columns():
    con = duckdb.connect()
    build_report_warehouse(con, with_potential=False)
    con.execute(
        "create table marts.potential_segments as select 'Look' as potential_segment, null as customer_type, "
        "null as buyers, null as average_value, 3 as prospects, 9.5 as potential_value"
    )
    potential = fetch_run_report(con, RUN_ID).potential
    assert [(p.label, p.prospects, p.potential_value, p.buyers) for p in potential] == [
        ("Look", 3, 9.5, None)
    ]
    assert 'data-chart="potential-segments"' in render_run_report(fetch_run_report(con, RUN_ID))
