"""`segments rules validate|schema` and `segments demo-data`: exit codes and one clear message."""

import json

from orchestration.cli import main
from orchestration.settings import DEFAULT_RULES_DIR


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
