"""The purchase summary the customer value models read, one row per customer, and its checks.

A customer is summarised by ``frequency`` x (repeat purchase days: distinct purchase days - 1),
``recency`` t_x (first to last purchase day) and ``T`` (first purchase day to the end of the calibration
period), both in the chosen time unit, and ``monetary_value`` m (mean spend of the repeat purchase days).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from segments.sql import quote_identifier as _quote
from segments.value.units import unit_days


def summary_sql(
    source: str,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    calibration_end: date,
    time_unit: str = "day",
) -> str:
    """SQL for :func:`summary_from_transactions` over the table or view ``source``, the same for DuckDB and
    Postgres (the value step runs it on either warehouse; segments/value/marts.py).

    One row per customer with a transaction on or before ``calibration_end`` (the end of the period, so
    T = calibration_end - first purchase date). Transactions of one day are one purchase (amounts summed):
    frequency counts distinct days whatever the unit, and recency and T are days / 7 for weeks, as in
    Fader and Hardie's CDNOW data. monetary_value is the mean of the repeat days' amounts (0 when x = 0).
    Amounts are summed in the type of ``amount_col`` (exactly, for a decimal column) and converted to a
    double once per customer, so both engines give the same doubles whatever order they add rows in.
    """
    days = unit_days(time_unit)
    end = f"date '{calibration_end.isoformat()}'"
    purchase_date = f"cast({_quote(date_col)} as date)"
    amount = f"sum({_quote(amount_col)})" if amount_col else "0"
    return f"""
        with purchase_days as (
            select {_quote(customer_col)} as customer_id, {purchase_date} as purchase_date, {amount} as amount
            from {source}
            where {purchase_date} <= {end}
            group by {_quote(customer_col)}, {purchase_date}
        ),
        dated as (
            select customer_id, purchase_date, amount,
                   min(purchase_date) over (partition by customer_id) as first_purchase_date
            from purchase_days
        )
        select
            customer_id,
            count(*) - 1 as frequency,
            cast(max(purchase_date) - min(purchase_date) as double precision) / {days} as recency,
            cast({end} - min(purchase_date) as double precision) / {days} as "T",
            coalesce(
                cast(sum(case when purchase_date > first_purchase_date then amount end) as double precision)
                / nullif(count(*) - 1, 0),
                0.0
            ) as monetary_value
        from dated
        group by customer_id
        order by customer_id
    """


def summary_from_transactions(
    df: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    calibration_end: date,
    time_unit: str = "day",
) -> pd.DataFrame:
    """frequency, recency, T and monetary_value per customer, indexed by customer (like lifetimes'
    ``summary_data_from_transaction_data`` with exact durations); see :func:`summary_sql`."""
    import duckdb

    sql = summary_sql(
        "transactions",
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        calibration_end=calibration_end,
        time_unit=time_unit,
    )
    with duckdb.connect() as con:
        con.register("transactions", df)
        summary = con.execute(sql).df()
    summary["frequency"] = summary["frequency"].astype("int64")
    return summary.set_index("customer_id").rename_axis(customer_col)


def rfm_arrays(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """frequency, recency and T as float arrays, refused unless they are a summary the models can read."""
    x, tx, t = (np.asarray(v, dtype=float).ravel() for v in (frequency, recency, T))
    if not x.shape == tx.shape == t.shape:
        raise ValueError("frequency, recency and T must have the same length")
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(t).all()):
        raise ValueError("frequency, recency and T must be finite numbers")
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError("frequency must be a non-negative whole number")
    if (tx < 0).any() or (tx > t).any():
        raise ValueError("recency must be between 0 and T")
    return x, tx, t
