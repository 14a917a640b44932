"""The run report in a real browser: headless Chromium (Debian's package, installed by .ci/run) lays the page
out and a small script measures every chart, so the test sees charts DRAWN, not only present in the markup.

The report itself has no script; the test adds one to a copy (``render-check.html``) that, on load, writes for
every ``svg.chart`` its size and how many of its marks (class ``mark``) are visible into
``<pre id="render-check">`` as JSON. Chromium prints the DOM after load (``--dump-dom``), and the test reads the
JSON back. Name resolution is switched off, so a report that needed the network would not draw.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from segments.reports.run_report import LATEST_NAME, write_run_report
from tests.fixtures.report_warehouse import RUN_ID, build_report_warehouse

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")

# A mark is visible when it has an area (bars, boxes, dots, the Pareto area) or a length (lines, the curve), is
# painted (fill or stroke not none, not transparent, not hidden) and lies inside its chart's box.
RENDER_CHECK = """
<script>
window.addEventListener("load", () => {
  const painted = (style, prop) =>
    style[prop] !== "none" && !/rgba\\(.*,\\s*0\\)$/.test(style[prop]) && !/^transparent$/.test(style[prop]);
  const charts = [...document.querySelectorAll("svg.chart")].map((svg) => {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll(".mark")];
    const visible = marks.filter((mark) => {
      const b = mark.getBBox();
      const r = mark.getBoundingClientRect();
      const style = getComputedStyle(mark);
      if (style.visibility === "hidden" || style.display === "none" || Number(style.opacity) === 0) return false;
      const stroked = painted(style, "stroke") && parseFloat(style.strokeWidth) > 0;
      const sized = ["line", "polyline"].includes(mark.tagName)
        ? (b.width > 0 || b.height > 0) && stroked
        : b.width > 0 && b.height > 0 && (painted(style, "fill") || stroked);
      const inside = r.right > box.left && r.left < box.right && r.bottom > box.top && r.top < box.bottom;
      return sized && inside;
    });
    return {chart: svg.dataset.chart, scheme: svg.dataset.scheme || null, width: box.width,
            height: box.height, marks: marks.length, visible: visible.length,
            tags: visible.map((m) => m.tagName)};
  });
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify(charts);
  document.body.appendChild(out);
});
</script>
"""


def chromium() -> str:
    """Chromium's path; without it skip, or fail where CI requires the browser (SEGMENTS_REQUIRE_BROWSER=1)."""
    path = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    if path:
        return path
    reason = (
        f"headless Chromium not found ({CHROMIUM}); install Debian's package: "
        "apt-get install -y --no-install-recommends chromium"
    )
    if os.environ.get("SEGMENTS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (SEGMENTS_REQUIRE_BROWSER=1: the browser test may not be skipped)")
    pytest.skip(reason)


def dump_dom(browser: str, page: Path, profile: Path) -> str:
    """The DOM of ``page`` after load, as headless Chromium serializes it. Nothing is fetched from the net."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # tests may run as root in a container
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}",
        "--window-size=1280,2000",
        "--virtual-time-budget=2000",
        "--dump-dom",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"chromium exited {result.returncode}: {result.stderr[-2000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reports = tmp_path_factory.mktemp("reports")
    con = duckdb.connect()
    try:
        build_report_warehouse(con)
        return write_run_report(con, RUN_ID, reports)
    finally:
        con.close()


def test_every_chart_is_drawn(report: Path, tmp_path: Path):
    browser = chromium()
    text = report.read_text(encoding="utf-8")
    assert "<script" not in text  # the report itself is script-free; only the test's copy measures
    check = report.with_name("render-check.html")  # same folder: same relative links as the report
    check.write_text(text.replace("</body>", RENDER_CHECK + "</body>"), encoding="utf-8")

    dom = dump_dom(browser, check, tmp_path / "profile")
    found = re.search(r'<pre id="render-check">(.*?)</pre>', dom, re.S)
    assert found, f"the render check did not run; DOM starts: {dom[:500]}"
    charts = json.loads(html.unescape(found.group(1)))

    names = sorted(c["chart"] for c in charts)
    assert names == sorted(
        ["pareto", "segment-sizes", "segment-sizes", "clv", "clv", "movements", "potential-segments"]
    )
    for chart in charts:
        label = f"{chart['chart']} {chart['scheme'] or ''}".strip()
        assert chart["width"] > 100 and chart["height"] > 50, f"{label} has no size: {chart}"
        assert chart["visible"] >= 1, f"{label} draws no visible mark: {chart}"
    by_name = {(c["chart"], c["scheme"]): c for c in charts}
    assert by_name[("segment-sizes", "value")]["visible"] == 6  # 3 segments x (size, revenue) bars
    assert by_name[("movements", "value")]["visible"] == 5
    assert by_name[("potential-segments", None)]["visible"] == 2
    assert {"polyline", "polygon", "circle"} <= set(by_name[("pareto", None)]["tags"])
    # box, whisker, median and mean for each of the three value segments with CLV
    assert by_name[("clv", "value")]["visible"] == 12


def test_latest_page_opens_the_report(report: Path, tmp_path: Path):
    browser = chromium()
    dom = dump_dom(browser, report.parent.parent / LATEST_NAME, tmp_path / "profile")
    assert f"<h1>Segmentation run {RUN_ID}</h1>" in dom  # the redirect followed the relative link
