"""Bad input to every `segments` command and option: exit code 2 (a bad argument) or 1 (a value the command
cannot use), one line `error: ...` on stderr, never a traceback. Fast: no command gets as far as a run."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.cli import main
from segments.contract import migrate


@pytest.fixture
def places(pipeline_env: Path, tmp_path: Path) -> dict[str, str]:
    """A missing file, a missing folder, a warehouse the job has not built yet, a file that is no DuckDB file,
    a folder of someone's exports, a landing folder with a file (so `run` gets past its own check)."""
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    not_duckdb = tmp_path / "notes.txt"
    not_duckdb.write_text("not a database\n", encoding="utf-8")
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "crm_accounts.csv").write_text("account_id\n", encoding="utf-8")
    features = tmp_path / "features.duckdb"  # feature tables, so `rules diff` gets as far as the versions
    with duckdb.connect(str(features)) as con:
        con.execute("create schema marts")
        for table in ("customer_features", "customer_behaviour", "dim_customers"):
            con.execute(f"create table marts.{table} (customer_id varchar)")
        con.execute("create table marts.contact_features (contact_id varchar, customer_id varchar)")
    runs = tmp_path / "runs.duckdb"  # the published contract (segments.runs), no runs yet
    with duckdb.connect(str(runs)) as con:
        migrate(con)
    transactions = tmp_path / "transactions.csv"
    transactions.write_text("customer_id,date,amount\nc1,2026-01-01,10\n", encoding="utf-8")
    return {
        "MISSING": str(tmp_path / "missing.duckdb"),
        "NO_DIR": str(tmp_path / "no-such-folder"),
        "EMPTY": str(empty),
        "FEATURES": str(features),
        "RUNS": str(runs),
        "NOT_DUCKDB": str(not_duckdb),
        "EXPORTS": str(exports),
        "CSV": str(transactions),
        "OUT_IN_NO_DIR": str(tmp_path / "no-such-folder" / "predictions.csv"),
    }


BAD = [
    # the command itself
    ["rnu"],
    [],
    ["rules"],
    ["report"],
    ["quarantine"],
    ["clv"],
    # run
    ["run", "--as-of", "2026/12/01"],
    ["run", "--as-of", "2026-02-30"],
    ["run", "--rules", "NO_DIR"],
    ["run", "--landing", "NO_DIR"],
    ["run", "--unknown-flag"],
    # rules validate | diff | schema
    ["rules", "validate", "NO_DIR"],
    ["rules", "validate", "MISSING"],
    ["rules", "validate", "--warehouse", "MISSING"],
    ["rules", "validate", "--warehouse", "EMPTY"],
    ["rules", "diff", "2026-11-01"],
    ["rules", "diff", "no-such-version", "2026-12-01", "--warehouse", "MISSING"],
    ["rules", "diff", "no-such-version", "2026-12-01", "--warehouse", "EMPTY"],
    ["rules", "diff", "2026-11-01", "2026-12-01", "--warehouse", "NOT_DUCKDB"],
    ["rules", "diff", "no-such-version", "2026-12-01", "--warehouse", "FEATURES", "--rules", "NO_DIR"],
    ["rules", "diff", "2026-11-01", "2026-12-01", "--format", "xml"],
    ["rules", "schema", "extra"],
    # explain
    ["explain"],
    ["explain", "C1", "--as-of", "yesterday"],
    ["explain", "C1", "--snapshot", "MISSING"],
    ["explain", "C1", "--snapshot", "EMPTY"],
    ["explain", "C1", "--snapshot", "NOT_DUCKDB"],
    ["explain", "C1", "--format", "yaml"],
    # report rules | experiment
    ["report", "rules", "--warehouse", "MISSING"],
    ["report", "experiment"],
    ["report", "experiment", "no-such-experiment", "--warehouse", "EMPTY"],
    ["report", "experiment", "x", "--warehouse", "MISSING"],
    ["report", "experiment", "x", "--format", "csv"],
    # runs
    ["runs", "--limit", "-1", "--warehouse", "RUNS"],  # was a traceback from DuckDB
    ["runs", "--limit", "0"],
    ["runs", "--limit", "ten"],
    ["runs", "--warehouse", "MISSING"],
    ["runs", "--warehouse", "NOT_DUCKDB"],
    # clv fit
    ["clv", "fit", "CSV"],
    ["clv", "fit", "MISSING", "--calibration-end", "2026-12-31"],
    ["clv", "fit", "CSV", "--calibration-end", "31.12.2026"],
    ["clv", "fit", "CSV", "--calibration-end", "2026-12-31", "--time-unit", "month"],
    ["clv", "fit", "CSV", "--calibration-end", "2026-12-31", "--horizon", "-1"],
    ["clv", "fit", "CSV", "--calibration-end", "2026-12-31", "--horizon", "nan"],
    ["clv", "fit", "CSV", "--calibration-end", "2026-12-31", "--horizon", "a year"],
    ["clv", "fit", "CSV", "--calibration-end", "2025-12-31"],
    ["clv", "fit", "CSV", "--calibration-end", "2026-12-31", "--predictions", "OUT_IN_NO_DIR"],
    # quality, quarantine list | show
    ["quality", "--warehouse", "MISSING"],
    ["quality", "--warehouse", "EMPTY"],
    ["quality", "--run", "no-such-run", "--warehouse", "EMPTY"],
    ["quality", "--format", "xml"],
    ["quarantine", "list", "--warehouse", "MISSING"],
    ["quarantine", "list", "--all-runs", "--warehouse", "EMPTY"],
    ["quarantine", "list", "--run", "no-such-run", "--warehouse", "EMPTY", "--format", "json"],
    ["quarantine", "show"],
    ["quarantine", "show", "no_such_entity"],
    ["quarantine", "show", "crm_accounts", "--limit", "0"],
    ["quarantine", "show", "crm_accounts", "--limit", "-5"],
    ["quarantine", "show", "crm_accounts", "--warehouse", "MISSING"],
    # demo-data
    ["demo-data", "--customers", "0"],
    ["demo-data", "--customers", "-3"],
    ["demo-data", "--customers", "many"],
    ["demo-data", "--seed", "-1"],
    ["demo-data", "--seed", "x"],
    ["demo-data", "--as-of", "2026-13-01"],
    ["demo-data", "--out", "EXPORTS"],
    ["demo-data", "--out", "CSV"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) or "(nothing)" for a in BAD])
def test_bad_input_is_one_error_line_and_no_traceback(argv, places, capsys):
    code = main([places.get(arg, arg) for arg in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert code in (1, 2)
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--as-of", "2026/12/01"], "error: segments run: argument --as-of: '2026/12/01' is not a date (YYYY-MM-DD)"),
        (["runs", "--limit", "-1"], "error: segments runs: argument --limit: '-1' is not a whole number of at least 1"),
        (["demo-data", "--customers", "many"], "error: segments demo-data: argument --customers: 'many' is not a whole number"),
        (["clv", "fit", "x.csv", "--calibration-end", "2026-12-31", "--horizon", "-1"],
         "error: segments clv fit: argument --horizon: '-1' is not a number of at least 0"),
        (["quarantine", "show", "crm_accounts", "--limit", "0"],
         "error: segments quarantine show: argument --limit: '0' is not a whole number of at least 1"),
        (["rules"], "error: segments rules: the following arguments are required: COMMAND"),
    ],
)  # fmt: skip
def test_an_argument_error_says_what_is_expected(argv, expected, pipeline_env, capsys):
    assert main(argv) == 2
    assert capsys.readouterr().err == expected + "\n"


def test_an_unknown_rule_version_is_named(places, capsys):
    argv = ["rules", "diff", "no-such-version", "2026-12-01", "--warehouse", "FEATURES", "--rules", "NO_DIR"]
    assert main([places.get(arg, arg) for arg in argv]) == 1
    assert capsys.readouterr().err.startswith(
        f"error: 'no-such-version' is neither a rule file nor a version in {places['NO_DIR']}"
    )


def test_help_still_exits_0(capsys):
    assert main(["runs", "--help"]) == 0
    assert "--limit N" in capsys.readouterr().out
