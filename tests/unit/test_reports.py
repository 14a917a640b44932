"""Reports: the rules audit (HTML + Markdown) and the experiment report, on a small hand-made history."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal

import duckdb
import pytest

from segments.cli import main
from segments.contract import migrate
from segments.reports import md_code, md_table, md_text, write_text_atomic
from segments.reports.experiment import experiment_report, render
from segments.reports.html import esc, line_chart, nice_ticks
from segments.reports.rules_audit import (
    CHALLENGER,
    IN_USE,
    NOT_USED_YET,
    USED_BEFORE,
    ImpactMatrix,
    RulesAudit,
    RunRef,
    SizeSeries,
    VersionAudit,
    fetch_rules_audit,
    render_html,
    render_markdown,
    write_rules_report,
)

TODAY = date(2026, 2, 10)
SCRIPT = "Lower the <script>alert(1)</script> gold bar & more"


def rule_text(version: str, effective_from: str, threshold: int) -> str:
    return f"""\
version: "{version}"
effective_from: {effective_from}
author: Tests
schemes:
  tier:
    rules:
      - id: gold
        segment: Gold
        when: revenue > {threshold}
    default:
      id: silver
      segment: Silver
"""


V1 = rule_text("v1", "2026-01-01", 1000)
V2 = rule_text("v2", "2026-02-01", 500)
C1 = rule_text("c1", "2026-02-01", 200)
V3 = rule_text("v3", "2027-01-01", 500)


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))


def version_row(
    version, text, effective_from, role="champion", description=None, first_run=None, first_as_of=None
):
    return {
        "rule_version": version,
        "rules_sha256": f"{version}-sha".ljust(64, "0"),
        "file_name": f"{version}.yaml",
        "file_text": text,
        "effective_from": effective_from,
        "author": "Tests",
        "description": description or f"version {version}",
        "first_used_run_id": first_run,
        "recorded_at": datetime(2026, 1, 1),
        "role": role,
        "first_used_as_of": first_as_of,
    }


def run_row(run_id, as_of, version, status="published", experiment=None, challenger=None, hour=3):
    return {
        "run_id": run_id,
        "as_of": as_of,
        "rule_version": version,
        "status": status,
        "published_at": datetime(as_of.year, as_of.month, as_of.day, hour) if status == "published" else None,
        "started_at": datetime(as_of.year, as_of.month, as_of.day, hour - 1),
        "experiment": experiment,
        "challenger_version": challenger,
    }


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    migrate(con)
    d1, d2, d3 = date(2026, 1, 15), date(2026, 2, 1), date(2026, 2, 2)
    insert(
        con,
        "segments.rule_versions",
        [
            version_row("v1", V1, date(2026, 1, 1), first_run="r1", first_as_of=d1),
            version_row("v2", V2, date(2026, 2, 1), description=SCRIPT, first_run="r2", first_as_of=d2),
            version_row("c1", C1, date(2026, 2, 1), role="challenger", first_run="r2", first_as_of=d2),
            version_row("v3", V3, date(2027, 1, 1)),
        ],
    )
    insert(
        con,
        "segments.runs",
        [
            run_row("r1", d1, "v1"),
            run_row("r2", d2, "v2", experiment="exp1", challenger="c1"),
            run_row("r3", d3, "v2", experiment="exp1", challenger="c1"),
            run_row("rf", date(2026, 2, 3), "v2", status="failed", experiment="exp1", challenger="c1"),
        ],
    )
    sizes = [
        ("r1", d1, "tier", "Gold", "champion", 2),
        ("r1", d1, "tier", "Silver", "champion", 8),
        ("r2", d2, "tier", "Gold", "champion", 3),
        ("r2", d2, "tier", "Gold", "challenger", 1),
        ("r2", d2, "tier", "Silver", "champion", 6),
        ("r3", d3, "tier", "Gold", "champion", 5),
        ("r3", d3, "tier", "Silver", "champion", 5),
        ("rf", date(2026, 2, 3), "tier", "Gold", "champion", 99),  # failed run: never shown
        ("r2", d2, "lifecycle", "Active", "champion", 10),
        ("r3", d3, "lifecycle", "Active", "champion", 9),
        ("r3", d3, "lifecycle", "Lapsed", "champion", 1),
    ]
    insert(
        con,
        "segments.segment_sizes",
        [
            dict(zip(("run_id", "as_of", "scheme", "segment", "arm", "entities"), s, strict=True))
            | {"entity": "customer"}
            for s in sizes
        ],
    )
    impact = [
        ("tier", "Gold", "Gold", 2),
        ("tier", "Silver", "Gold", 2),
        ("tier", "Silver", "Silver", 6),
        ("lifecycle", None, "Active", 10),  # scheme new in v2
    ]
    insert(
        con,
        "segments.rule_version_impact",
        [
            {"rule_version": "v2", "previous_version": "v1", "run_id": "r2", "as_of": d2}
            | dict(zip(("scheme", "from_segment", "to_segment", "entities"), i, strict=True))
            for i in impact
        ],
    )
    arms = {"champion": ["c01", "c02", "c03", "c04", "c05"], "challenger": ["c06", "c07", "c08"]}
    arms["holdout"] = ["c09", "c10"]
    assignments = [
        {
            "experiment": "exp1",
            "customer_id": c,
            "arm": arm,
            "first_run_id": "r3" if c == "c05" else "r2",
            "first_as_of": d3 if c == "c05" else d2,
        }
        for arm, customers in arms.items()
        for c in customers
    ]
    insert(con, "segments.experiment_assignments", assignments)
    actions = {
        "champion": ("upsell", "email", "marketing_automation"),
        "challenger": ("vip_call", "phone", "sales"),
        "holdout": ("none", "none", "marketing_automation"),
    }
    segments = []
    for a in assignments:
        action, channel, owner = actions[a["arm"]]
        if a["customer_id"] == "c05":
            action, channel, owner = "winback", "sms", "sales"
        segments.append(
            {
                "customer_id": a["customer_id"],
                "scheme": "tier",
                "segment": "Gold",
                "rule_id": "gold",
                "next_action": action,
                "action_channel": channel,
                "action_owner": owner,
                "action_priority": 1,
                "rule_version": "c1" if a["arm"] == "challenger" else "v2",
                "rules_sha256": "x",
                "run_id": "r3",
                "as_of": d3,
                "assigned_at": datetime(2026, 2, 2, 3),
                "entity": "customer",
                "entity_id": a["customer_id"],
                "experiment": "exp1",
                "arm": a["arm"],
                "segment_key": f"tier/{a['customer_id']}",
            }
        )
    insert(con, "segments.customer_segments", segments)
    con.execute("create schema marts")
    con.execute(
        """create table marts.fct_orders (order_id varchar, customer_id varchar, order_date date,
           net_amount_eur decimal(18, 2), is_return boolean)"""
    )
    orders = [
        ("o1", "c01", "2026-01-20", 100, False),  # before assignment
        ("o2", "c01", "2026-02-05", 50, False),
        ("o3", "c01", "2026-02-10", 30, False),
        ("o4", "c02", "2026-02-01", 200, False),  # on the assignment day: not after it
        ("o5", "c03", "2026-02-03", -40, True),  # a return
        ("o6", "c05", "2026-02-02", 80, False),  # c05 was assigned on 2026-02-02
        ("o7", "c05", "2026-02-20", 20, False),
        ("o8", "c06", "2026-02-04", 120, False),
        ("o9", "c07", "2026-02-06", 60, False),
        ("o10", "c07", "2026-02-07", 60, False),
        ("o11", "c09", "2026-02-15", 10, False),
        ("o12", "x99", "2026-02-25", 999, False),  # not in the experiment; the latest order
    ]
    con.executemany("insert into marts.fct_orders values (?, ?, ?::date, ?, ?)", orders)
    return con


# --- rules audit: data ----------------------------------------------------------------------------------


def test_versions_in_order_with_status_and_runs(con):
    audit = fetch_rules_audit(con, today=TODAY)
    by = {v.version: v for v in audit.versions}
    assert [v.version for v in audit.versions] == ["v1", "v2", "c1", "v3"]
    assert (audit.published_runs, audit.failed_runs, audit.latest_run) == (
        3,
        1,
        RunRef("r3", date(2026, 2, 2)),
    )

    assert by["v1"].status == USED_BEFORE
    assert (by["v1"].first_run, by["v1"].last_run, by["v1"].runs) == (
        RunRef("r1", date(2026, 1, 15)),
        RunRef("r1", date(2026, 1, 15)),
        1,
    )
    assert by["v2"].status == IN_USE
    assert (by["v2"].first_run, by["v2"].last_run, by["v2"].runs) == (
        RunRef("r2", date(2026, 2, 1)),
        RunRef("r3", date(2026, 2, 2)),
        2,
    )  # the failed run rf does not count
    assert by["c1"].status == CHALLENGER and by["c1"].experiment == "exp1"
    assert (by["c1"].first_run.run_id, by["c1"].last_run.run_id) == ("r2", "r3")
    assert "experiment exp1 by the latest run" in by["c1"].status_note
    assert by["v3"].status == NOT_USED_YET and by["v3"].first_run is None and by["v3"].runs == 0
    assert "future" in by["v3"].status_note


def test_diff_against_previous_champion(con):
    by = {v.version: v for v in fetch_rules_audit(con, today=TODAY).versions}
    assert by["v1"].diff_base is None and by["v1"].diff == ""
    assert by["v2"].diff_base == "v1"
    assert "-        when: revenue > 1000" in by["v2"].diff.splitlines()
    assert "+        when: revenue > 500" in by["v2"].diff.splitlines()
    assert "-effective_from: 2026-01-01" in by["v2"].diff.splitlines()
    assert "author: Tests" not in [line for line in by["v2"].diff.splitlines() if line[:1] in "+-"]
    assert by["c1"].diff_base == "v2"  # the champion it was tested against
    assert "+        when: revenue > 200" in by["c1"].diff.splitlines()
    assert by["v3"].diff_base == "v2"


def test_impact_matrix(con):
    by = {v.version: v for v in fetch_rules_audit(con, today=TODAY).versions}
    assert by["v1"].impact == [] and by["v3"].impact == []
    matrices = {m.scheme: m for m in by["v2"].impact}
    tier = matrices["tier"]
    assert (tier.previous_version, tier.run) == ("v1", RunRef("r2", date(2026, 2, 1)))
    assert tier.from_segments == ["Gold", "Silver"] and tier.to_segments == ["Gold", "Silver"]
    assert [[tier.cell(f, t) for t in tier.to_segments] for f in tier.from_segments] == [[2, 0], [2, 6]]
    assert (tier.total, tier.changed) == (10, 2)
    lifecycle = matrices["lifecycle"]
    assert lifecycle.from_segments == [None] and lifecycle.cell(None, "Active") == 10
    assert lifecycle.changed == 10


def test_sizes_over_time(con):
    sizes = {s.scheme: s for s in fetch_rules_audit(con, today=TODAY).sizes}
    tier = sizes["tier"]
    assert [r.run_id for r in tier.runs] == ["r1", "r2", "r3"]
    assert tier.rule_versions == ["v1", "v2", "v2"]
    assert tier.entity == "customer"
    assert tier.segments == ["Silver", "Gold"]  # largest in the latest run first (tie: largest overall)
    assert tier.entities == {"Gold": [2, 4, 5], "Silver": [8, 6, 5]}  # arms summed; failed run left out
    lifecycle = sizes["lifecycle"]
    assert [r.as_of for r in lifecycle.runs] == [date(2026, 2, 1), date(2026, 2, 2)]
    assert lifecycle.segments == ["Active", "Lapsed"]
    assert lifecycle.entities == {"Active": [10, 9], "Lapsed": [0, 1]}


# --- rules audit: documents -----------------------------------------------------------------------------


def test_html_is_escaped_offline_and_charts_have_one_point_per_run(con):
    html = render_html(fetch_rules_audit(con, today=TODAY))
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; gold bar &amp; more" in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # nothing loaded from elsewhere
    assert "@import" not in html and "url(" not in html
    polylines = dict(
        re.findall(r'<polyline class="series" data-series="([^"]+)"[^>]* points="([^"]*)"', html)
    )
    # tier: Gold and Silver over r1..r3; lifecycle: Active and Lapsed over r2..r3
    assert html.count("<svg") == 2
    assert [len(polylines[s].split()) for s in ("Gold", "Silver", "Active", "Lapsed")] == [3, 3, 2, 2]
    assert '<td class="num moved">2</td>' in html  # Silver -> Gold in the matrix
    assert "+        when: revenue &gt; 500" in html
    assert "First version: nothing to compare with." in html


def test_markdown_document(con):
    md = render_markdown(fetch_rules_audit(con, today=TODAY))
    assert "<script>" not in md
    assert "\\<script\\>" in md  # shown as text, not markup
    assert "```diff\n--- v1.yaml (v1)\n+++ v2.yaml (v2)\n" in md
    assert "+        when: revenue > 500" in md  # code blocks are verbatim
    assert "| **Silver** | 2 | 6 | 8 |" in md  # from Silver: 2 to Gold, 6 stay
    assert "| **total** | 4 | 6 | 10 |" in md
    assert "| 2026-02-01 | `r2` | `v2` | 6 | 4 | 10 |" in md  # as of, run, version, Silver, Gold, total
    assert "2 of 10 entities (20.0%) change segment" in md
    assert "| `v3` | champion | not used yet | 2027-01-01 |" in md
    assert "4 rule versions, 3 published runs, 1 failed run; latest published run r3 (2026-02-02)." in md
    assert "A challenger is measured by its experiment" in md


def test_write_rules_report_atomically(con, tmp_path):
    out = tmp_path / "reports"
    html_path, md_path = write_rules_report(con, out, today=TODAY)
    assert (html_path.name, md_path.name) == ("rules_report.html", "rules_report.md")
    assert html_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert md_path.read_text(encoding="utf-8").startswith("# Segment rules audit")
    assert sorted(p.name for p in out.iterdir()) == ["rules_report.html", "rules_report.md"]  # no temp files


@pytest.mark.parametrize("contract", [True, False])
def test_rules_report_of_a_fresh_warehouse(tmp_path, contract):
    con = duckdb.connect()
    if contract:
        migrate(con)
    audit = fetch_rules_audit(con, today=TODAY)
    assert (audit.versions, audit.sizes, audit.published_runs, audit.latest_run) == ([], [], 0, None)
    html_path, md_path = write_rules_report(con, tmp_path)
    assert "No rule versions recorded yet" in html_path.read_text()
    assert "No published runs yet." in md_path.read_text()


def test_renderers_need_no_database():
    run = RunRef("r<1>", date(2026, 3, 1))
    audit = RulesAudit(
        generated_at=datetime(2026, 3, 2, 8),
        today=date(2026, 3, 2),
        versions=[
            VersionAudit(
                version="a|b",
                file_name="a.yaml",
                author="<b>me</b>",
                effective_from=date(2026, 3, 1),
                description=None,
                sha256="f" * 64,
                role="champion",
                status=IN_USE,
                status_note="used",
                recorded_at=None,
                first_run=run,
                last_run=run,
                runs=1,
                experiment=None,
                diff_base="old",
                diff="--- old\n+++ new\n@@ -1 +1 @@\n-x: <1>\n+x: ```2```",
                impact=[ImpactMatrix("tier", "old", run, {("A", "B"): 3, ("A", "A"): 1})],
            )
        ],
        sizes=[SizeSeries("tier", "customer", [run], ["a|b"], ["B"], {"B": [3]})],
        published_runs=1,
        failed_runs=0,
        latest_run=run,
    )
    html = render_html(audit)
    assert "&lt;b&gt;me&lt;/b&gt;" in html and "r&lt;1&gt;" in html and "<b>me" not in html
    assert '<span class="del">-x: &lt;1&gt;</span>' in html
    assert re.search(r'data-series="B"[^>]* points="[\d.]+,[\d.]+"', html)  # one run, one point
    md = render_markdown(audit)
    assert "`a\\|b`" in md  # a pipe in a table cell does not split the cell
    assert "````diff\n" in md  # the fence is longer than the backticks in the diff
    assert "| **A** | 1 | 3 | 4 |" in md


def test_helpers():
    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"
    assert md_text("a|b <c>\nd") == "a\\|b \\<c\\> d"
    assert md_code("a`b") == "``a`b``"
    assert md_table(["x", "n"], [["a", 1]], align="lr") == "| x | n |\n|---|---:|\n| a | 1 |"
    assert nice_ticks(9) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0) == [0, 1]
    svg = line_chart(["d1", "d2", "d3", "d4"], [("<s>", [1, 2, 3, 4])], title="t")
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 4 and "&lt;s&gt;" in svg


def test_write_text_atomic_replaces(tmp_path):
    path = tmp_path / "a" / "doc.md"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two" and [p.name for p in path.parent.iterdir()] == ["doc.md"]


# --- experiment report ----------------------------------------------------------------------------------


def test_experiment_arms_outcomes_and_lift(con):
    report = experiment_report(con, "exp1")
    assert [a.arm for a in report.arms] == ["champion", "challenger", "holdout"]
    assert report.customers == 10
    champion, challenger, holdout = (report.arm(a) for a in ("champion", "challenger", "holdout"))
    # customers, share
    assert [(a.customers, a.share) for a in report.arms] == [(5, 0.5), (3, 0.3), (2, 0.2)]
    # champion: c01 (o2 50 + o3 30) and c05 (o7 20; o6 is on its assignment day); o1, o4 too early, o5 a return
    assert (champion.buyers, champion.orders, champion.revenue) == (2, 3, Decimal("100.00"))
    assert champion.buyer_rate == pytest.approx(0.4) and champion.revenue_per_customer == pytest.approx(20.0)
    assert (challenger.buyers, challenger.orders, challenger.revenue) == (2, 3, Decimal("240.00"))
    assert challenger.buyer_rate == pytest.approx(2 / 3) and challenger.revenue_per_customer == pytest.approx(
        80.0
    )
    assert (holdout.buyers, holdout.orders, holdout.revenue) == (1, 1, Decimal("10.00"))
    assert holdout.buyer_rate == pytest.approx(0.5) and holdout.revenue_per_customer == pytest.approx(5.0)

    lift = report.lift("challenger")
    assert lift.revenue_per_customer_diff == pytest.approx(60.0)
    assert lift.revenue_per_customer_rel == pytest.approx(3.0)
    assert lift.buyer_rate_diff == pytest.approx(2 / 3 - 0.4)
    assert lift.buyer_rate_rel == pytest.approx((2 / 3 - 0.4) / 0.4)
    lift = report.lift("holdout")
    assert (lift.revenue_per_customer_diff, lift.revenue_per_customer_rel) == (
        pytest.approx(-15.0),
        pytest.approx(-0.75),
    )
    assert (lift.buyer_rate_diff, lift.buyer_rate_rel) == (pytest.approx(0.1), pytest.approx(0.25))

    # 2026-02-25 (latest order) - 2026-02-01 (first assignment)
    assert (report.first_assigned, report.last_order_date, report.outcome_days) == (
        date(2026, 2, 1),
        date(2026, 2, 25),
        24,
    )
    assert (report.runs, report.first_run, report.last_run) == (2, "r2", "r3")
    assert (report.champion_versions, report.challenger_versions) == (["v2"], ["c1"])


def test_experiment_current_actions(con):
    # a scheme the challenger does not change (every row under the champion's version) is left out
    con.execute(
        "insert into segments.customer_segments select * replace ('other' as scheme, 'v2' as rule_version, "
        "'other_action' as next_action) from segments.customer_segments"
    )
    report = experiment_report(con, "exp1")
    actions = {a.arm: [(c.action, c.channel, c.owner, c.assignments) for c in a.actions] for a in report.arms}
    assert actions == {
        "champion": [("upsell", "email", "marketing_automation", 4), ("winback", "sms", "sales", 1)],
        "challenger": [("vip_call", "phone", "sales", 3)],
        "holdout": [("none", "none", "marketing_automation", 2)],
    }


def test_experiment_renderings(con):
    report = experiment_report(con, "exp1")
    data = json.loads(render(report, "json"))
    assert data["arms"][1]["revenue"] == 240.0 and data["first_assigned"] == "2026-02-01"
    assert data["lifts"][0]["arm"] == "challenger"
    table = render(report, "table")
    assert "24 days of orders" in table
    assert re.search(r"challenger\s+3\s+30\.0%\s+2\s+66\.7%\s+3\s+240\.00\s+80\.00", table)
    assert re.search(r"challenger\s+\+60\.00\s+\+300\.0%\s+\+26\.7 pp\s+\+66\.7%", table)
    md = render(report, "markdown")
    assert "| holdout | -15.00 | -75.0% | +10.0 pp | +25.0% |" in md
    assert "| champion | tier | `upsell` | email | marketing\\_automation | 4 |" in md or (
        "| champion | tier | `upsell` | email | marketing_automation | 4 |" in md
    )
    with pytest.raises(ValueError, match="table, markdown, json"):
        render(report, "csv")


def test_unknown_experiment_names_the_known_ones(con):
    with pytest.raises(LookupError, match=r"unknown experiment 'nope'; known experiments: exp1"):
        experiment_report(con, "nope")
    empty = duckdb.connect()
    with pytest.raises(LookupError, match="none yet"):
        experiment_report(empty, "exp1")


def test_experiment_without_sales_data(con):
    con.execute("drop table marts.fct_orders")
    report = experiment_report(con, "exp1")
    assert not report.sales_available and report.outcome_days == 0
    assert [a.buyers for a in report.arms] == [0, 0, 0]
    assert "no sales data" in render(report, "table")


def test_experiment_known_from_runs_only_gives_empty_arms(con):
    con.execute("update segments.runs set experiment = 'exp2' where run_id = 'r3'")
    report = experiment_report(con, "exp2")
    assert report.customers == 0 and [a.customers for a in report.arms] == [0, 0, 0]
    assert report.lifts[0].revenue_per_customer_diff is None
    assert "—" in render(report, "table")


def test_warehouse_of_an_older_release_is_named_and_reads_the_same_once_migrated(tmp_path, capsys):
    """Reports open the warehouse read-only and cannot migrate it: they name the command instead of guessing
    around the older schema; once migrated, the older release's rows read with today's columns (role:
    champion)."""
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema segments")
    con.execute(
        """create table segments.rule_versions (rule_version varchar, rules_sha256 varchar, file_name varchar,
           file_text varchar, effective_from date, author varchar, description varchar,
           first_used_run_id varchar, recorded_at timestamp)"""
    )
    con.execute(
        """create table segments.runs (run_id varchar, as_of date, rule_version varchar, rules_sha256 varchar,
           customers bigint, assignments bigint, status varchar, published_at timestamp)"""
    )
    con.execute(
        "insert into segments.rule_versions values ('v1', 's', 'v1.yaml', 'a', '2026-01-01', null, null, 'r1', now())"
    )
    con.execute("insert into segments.runs values ('r1', '2026-01-02', 'v1', 's', 1, 1, 'published', now())")
    con.close()
    assert main(["report", "rules", "--warehouse", str(path), "--out", str(tmp_path / "out")]) == 1
    assert f"run `segments migrate --warehouse {path}`" in capsys.readouterr().err
    con = duckdb.connect(str(path))
    migrate(con)
    audit = fetch_rules_audit(con, today=TODAY)
    (v1,) = audit.versions
    assert (v1.role, v1.status, v1.first_run, v1.runs) == (
        "champion",
        IN_USE,
        RunRef("r1", date(2026, 1, 2)),
        1,
    )
    assert "No segment sizes recorded" in render_markdown(audit)
    with pytest.raises(LookupError, match="none yet"):
        experiment_report(con, "exp1")
