"""`segments rules validate|schema`, `demo-data`, `runs` and `clv fit`: exit codes, one clear message, output."""

import json
from datetime import date, datetime

from orchestration.cli import main
from segments.settings import DEFAULT_RULES_DIR


def test_rules_validate_shipped_rules(capsys):
    assert main(["rules", "validate", str(DEFAULT_RULES_DIR)]) == 0
    assert "ok  2026-11-01.yaml: version 2026-11-01" in capsys.readouterr().out


def test_rules_validate_reports_file_line_col(tmp_path, capsys):
    text = (DEFAULT_RULES_DIR / "2026-11-01.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "2026-12-01.yaml"
    bad.write_text(text.replace("when: r_score = 2\n", "when: r_scor = 2\n"), encoding="utf-8")
    line = text.splitlines().index("        when: r_score = 2") + 1
    assert main(["rules", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}:{line}:15: ")
    assert "unknown column 'r_scor'" in err


def test_rules_schema_is_json(capsys):
    assert main(["rules", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "object"


def test_demo_data_writes_every_landing_file(tmp_path, capsys):
    assert (
        main(
            ["demo-data", "--customers", "50", "--out", str(tmp_path), "--seed", "1", "--as-of", "2026-11-01"]
        )
        == 0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".demo-as-of",  # `make run` makes new demo data when this day has passed
        "crm_accounts.csv",
        "crm_contacts.csv",
        "crm_interactions.parquet",
        "sales_order_lines.parquet",
        "sales_orders.parquet",
        "sales_products.csv",
    ]
    assert (tmp_path / ".demo-as-of").read_text(encoding="utf-8") == "2026-11-01\n"
    assert main(["demo-data", "--customers", "0", "--out", str(tmp_path)]) == 1
    assert "error: --customers must be at least 1" in capsys.readouterr().err


def test_demo_data_refuses_a_folder_of_other_files_unless_forced(tmp_path, capsys):
    export = tmp_path / "landing"
    export.mkdir()
    (export / "crm_accounts.csv").write_text("a real export\n", encoding="utf-8")
    argv = ["demo-data", "--customers", "20", "--out", str(export), "--seed", "1", "--as-of", "2026-11-01"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {export} holds files that are not demo data of `segments demo-data` ")
    assert "(crm_accounts.csv)" in err and "--force" in err and len(err.splitlines()) == 1
    assert (export / "crm_accounts.csv").read_text(encoding="utf-8") == "a real export\n"  # untouched
    assert main([*argv, "--force"]) == 0
    assert (export / ".demo-as-of").is_file()


def test_demo_data_rewrites_its_own_demo_data_but_not_files_added_to_it(tmp_path, capsys):
    """`make run` makes new demo data in a folder of older demo data (marker of an earlier day)."""
    argv = ["demo-data", "--customers", "20", "--out", str(tmp_path), "--seed", "1"]
    assert main([*argv, "--as-of", "2026-11-01"]) == 0
    assert main([*argv, "--as-of", "2026-11-02"]) == 0
    assert (tmp_path / ".demo-as-of").read_text(encoding="utf-8") == "2026-11-02\n"
    (tmp_path / "sales_orders.csv").write_text("order_id\n", encoding="utf-8")  # someone's own file
    capsys.readouterr()
    assert main([*argv, "--as-of", "2026-11-03"]) == 1
    assert "(sales_orders.csv)" in capsys.readouterr().err


def test_demo_data_defaults_to_the_landing_setting(pipeline_env, capsys):
    assert main(["demo-data", "--customers", "20", "--seed", "1", "--as-of", "2026-11-01"]) == 0
    assert (pipeline_env / "landing" / ".demo-as-of").is_file()


def test_runs_table_lines_up_for_any_values(tmp_path, capsys):
    import duckdb

    from segments.contract import migrate
    from segments.publish.write_audit_publish import record_failed_run

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        migrate(con)
        con.execute(
            """insert into segments.runs (run_id, as_of, rule_version, challenger_version, status,
                   output_fingerprint, input_fingerprint, published_at)
               values ('r-1', '2026-11-01', '2026-12-01-a-long-version-name', '2026-12-01-winback', 'published',
                       'abcdef0123456789', '0123456789abcdef', '2026-11-01 03:00')"""
        )
        record_failed_run(
            con, run_id="a-much-longer-run-id-than-the-others-0123456789", as_of=date(2026, 11, 2),
            failure="step raw_tables failed: bad file", started_at=None, finished_at=datetime(2026, 11, 2, 3),
        )  # fmt: skip
    assert main(["runs", "--warehouse", str(path)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 2
    starts = [header.index(name) for name in ("as of", "status", "rules", "output fp", "input fp", "failure")]
    for row in rows:
        for start in starts[: None if row is rows[0] else -1]:  # the published run has no failure
            assert row[start - 2 : start] == "  " and row[start] != " "  # each column starts at its heading
    assert rows[0].startswith("a-much-longer-run-id") and rows[0].endswith("step raw_tables failed: bad file")
    assert "2026-12-01-a-long-version-name+2026-12-01-winback" in rows[1]


def test_clv_fit_json_is_alone_on_stdout(tmp_path, capsys):
    transactions = tmp_path / "transactions.csv"
    rows = [f"c{i},2026-0{1 + i % 3}-{10 + i % 7},{10 + i}" for i in range(40)]
    rows += [f"c{i},2026-05-{10 + i % 9},{5 + i}" for i in range(0, 40, 2)]
    transactions.write_text("customer_id,date,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    predictions = tmp_path / "predictions.csv"
    argv = ["clv", "fit", str(transactions), "--calibration-end", "2026-06-30", "--json"]
    assert main([*argv, "--predictions", str(predictions)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["customers"] == 40  # the whole of stdout is the JSON
    assert captured.err.startswith(f"wrote {predictions} (40 customers, horizon 365 days)")
    assert predictions.is_file()
