"""The customer value marts' library functions (segments/value/marts.py), which the dbt Python models on DuckDB
and the Postgres value step both call: their edge cases, on frames."""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import numpy as np
import pandas as pd

from segments.value import marts

AS_OF = date(2026, 11, 1)


def _summary(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "frequency", "recency", "T", "monetary_value"])


def test_the_summary_is_in_code_point_order_with_fixed_types():
    # as a Postgres database with a linguistic collation might return it: "b" < "B" < "a"
    summary = marts.purchase_summary(
        _summary([("b", 1, 3, 9, 5.0), ("B", 0, 0, 4, 0.0), ("a", 2, 5, 7, 1.5)])
    )
    assert summary["customer_id"].tolist() == ["B", "a", "b"]
    assert summary.dtypes.drop("customer_id").astype(str).to_dict() == marts.SUMMARY_COLUMNS


def test_without_buyers_every_model_is_recorded_unfitted_and_customers_keep_their_history():
    summary = marts.purchase_summary(_summary([]))
    rows = marts.fit_rows(summary, AS_OF, fitted_at=datetime(2026, 11, 2))
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "acquisition_cost": [10.0, np.nan], "historical_clv": [3.3, 0.0]}
    )
    with duckdb.connect() as con:
        fits = marts.clv_fit_relation(con, rows).df()
        value = marts.customer_value_relation(
            con, customers, summary, fits, as_of=AS_OF, terms=marts.ValueTerms()
        ).fetchall()
    assert fits[["model", "converged", "customers"]].values.tolist() == [
        ["bgnbd", False, 0],
        ["gamma_gamma", False, 0],
    ]
    assert fits["note"].notna().all() and fits["r"].isna().all()
    by_customer = {row[0]: row for row in value}
    assert sorted(by_customer) == ["C1", "C2"]
    assert by_customer["C1"][2:11] == (None,) * 9  # no summary, no predictions
    assert (
        float(by_customer["C1"][11]) == 3.3 and by_customer["C1"][13] == 3.3 / 10.0
    )  # historical, clv_to_cac
    assert by_customer["C2"][12] is None and by_customer["C2"][13] is None  # unknown acquisition cost


def test_customers_sql_writes_the_margin_as_a_decimal():
    assert "* 0.00001," in marts.customers_sql("c", "o", 1e-05)
    assert "* 0.3," in marts.customers_sql("c", "o", 0.3)
