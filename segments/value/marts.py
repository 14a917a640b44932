"""The two customer value marts, ``marts.clv_fit`` and ``marts.customer_value``, computed one way for every warehouse.

The warehouse runs the SQL here (the same for DuckDB and Postgres): the purchase summary per customer over
fct_orders' non-return orders (:func:`purchase_summary_sql`) and each dim_customers customer's acquisition cost
and historical value (:func:`customers_sql`). Everything after that is computed from those frames by the
functions below: the fits, the scores, and the typed rows of both tables, built by DuckDB from the frames (its
casts round the doubles to cents). The dbt Python models pass the warehouse's own DuckDB connection
(dbt_project/models/marts/value/); the Postgres step (:mod:`segments.value.step`) passes an in-memory one and
copies the rows into Postgres. So both warehouses hold the same rows by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from segments.value import bgnbd, clv, gamma_gamma, rfm

BGNBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "gamma")
FIT_COLUMNS = [
    "model",
    "as_of_date",
    "time_unit",
    *BGNBD_PARAMETERS,
    *GAMMA_GAMMA_PARAMETERS,
    "log_likelihood",
    "customers",
    "converged",
    "iterations",
    "note",
]
HORIZONS = (90, 365)
SUMMARY_COLUMNS = {"frequency": "int64", "recency": "float64", "T": "float64", "monetary_value": "float64"}


@dataclass(frozen=True)
class ValueTerms:
    """What customer_value prices with: dbt vars clv_horizon_days, clv_annual_discount_rate and gross_margin
    (their defaults here), which the model reads from its meta (dbt_project/models/marts/value/_value__models.yml)."""

    horizon_days: float = 365.0
    annual_discount_rate: float = 0.10
    gross_margin: float = 0.30

    @classmethod
    def from_meta(cls, meta: dict) -> ValueTerms:
        """From customer_value's ``meta`` (the model's ``dbt.config.meta_get``, or its node in the manifest)."""
        return cls(
            horizon_days=float(meta["clv_horizon_days"]),
            annual_discount_rate=float(meta["clv_annual_discount_rate"]),
            gross_margin=float(meta["gross_margin"]),
        )


# --- what the warehouse computes ------------------------------------------------------------------------


def purchase_summary_sql(orders: str, as_of: date) -> str:
    """frequency, recency, T and monetary_value per buyer (daily grain, days) from fct_orders' non-return orders
    (``orders``: the fct_orders relation)."""
    return rfm.summary_sql(
        f"(select * from {orders} where not is_return) as purchases",
        customer_col="customer_id",
        date_col="order_date",
        amount_col="net_amount_eur",
        calibration_end=as_of,
        time_unit="day",
    )


def customers_sql(customers: str, orders: str, gross_margin: float) -> str:
    """Every dim_customers customer with its acquisition cost and historical_clv: net EUR of all its orders
    (returns included) * gross_margin, rounded to cents in decimal arithmetic (exact on both engines)."""
    margin = format(Decimal(repr(gross_margin)), "f")  # a decimal literal, never a double (1e-05)
    return f"""
        with revenue as (
            select customer_id, sum(net_amount_eur) as net_revenue
            from {orders}
            group by customer_id
        )
        select
            customers.customer_id,
            customers.acquisition_cost,
            round(coalesce(revenue.net_revenue, 0) * {margin}, 2) as historical_clv
        from {customers} as customers
        left join revenue
            on customers.customer_id = revenue.customer_id
    """


def purchase_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """The summary as the models read it: one row per customer in customer_id order (code points, which is
    DuckDB's byte order; a Postgres database may collate otherwise), with fixed dtypes."""
    summary = frame.astype(SUMMARY_COLUMNS)
    if not summary["customer_id"].is_monotonic_increasing:
        summary = summary.sort_values("customer_id")
    return summary.reset_index(drop=True)


# --- clv_fit ----------------------------------------------------------------------------------------------


def fit_rows(summary: pd.DataFrame, as_of: date, *, fitted_at: datetime) -> pd.DataFrame:
    """One row per model: BG/NBD fitted on every buyer, Gamma-Gamma on the buyers with a repeat purchase of
    positive value. A model that cannot be fitted (too few buyers) gets null parameters, converged false and
    the reason in ``note``."""
    fits = {
        "bgnbd": lambda: bgnbd.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"]),
        "gamma_gamma": lambda: gamma_gamma.fit_gamma_gamma(summary["frequency"], summary["monetary_value"]),
    }
    rows = []
    for name, fit in fits.items():
        row = {"model": name, "as_of_date": as_of, "time_unit": "day"}
        try:
            row |= fit().as_dict()
        except ValueError as exc:  # too little data: recorded, not fatal for the nightly run
            row |= {"customers": 0, "converged": False, "iterations": 0, "note": str(exc)}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=FIT_COLUMNS)
    frame["fitted_at"] = fitted_at
    return frame


def clv_fit_relation(con, rows: pd.DataFrame):
    """marts.clv_fit's rows with their column types, as a relation on the DuckDB connection ``con``."""
    con.register("clv_fit__rows", rows)
    doubles = ", ".join(f"cast({p} as double) as {p}" for p in (*BGNBD_PARAMETERS, *GAMMA_GAMMA_PARAMETERS))
    return con.sql(
        f"""
        select
            cast(model as varchar) as model,
            cast(as_of_date as date) as as_of_date,
            cast(time_unit as varchar) as time_unit,
            {doubles},
            cast(log_likelihood as double) as log_likelihood,
            cast(customers as integer) as customers,
            cast(converged as boolean) as converged,
            cast(iterations as integer) as iterations,
            cast(note as varchar) as note,
            cast(fitted_at as timestamp) as fitted_at
        from clv_fit__rows
        """
    )


# --- customer_value ---------------------------------------------------------------------------------------


def fitted(fits: pd.DataFrame, name: str, cls, parameters: tuple[str, ...]):
    """This run's fit of one model (a clv_fit row), or None when it could not be fitted."""
    rows = fits[fits["model"] == name]
    if rows.empty or rows[list(parameters)].isna().any(axis=None):
        return None
    row = rows.iloc[0]
    return cls(
        **{p: float(row[p]) for p in parameters},
        log_likelihood=float(row["log_likelihood"]),
        customers=int(row["customers"]),
        converged=bool(row["converged"]),
        iterations=int(row["iterations"]),
    )


def scores(bg, gg, summary: pd.DataFrame, terms: ValueTerms) -> pd.DataFrame:
    """p_alive, expected purchases per horizon, expected order value and predicted CLV (NaN without a fit)."""
    x, tx, t, m = summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"]
    out = pd.DataFrame(index=summary.index)
    nothing = np.full(len(summary), np.nan)
    out["p_alive"] = bgnbd.p_alive(bg, x, tx, t) if bg else nothing
    for h in HORIZONS:
        out[f"expected_purchases_{h}d"] = bgnbd.expected_purchases(bg, h, x, tx, t) if bg else nothing
    out["expected_average_order_value"] = gamma_gamma.expected_average_value(gg, x, m) if gg else nothing
    pricing = {
        "horizon": terms.horizon_days,
        "discount_rate": terms.annual_discount_rate,
        "margin": terms.gross_margin,
        "time_unit": "day",
    }
    out["predicted_clv"] = clv.predicted_clv(bg, gg, x, tx, t, m, **pricing) if bg and gg else nothing
    return out


def customer_value_relation(
    con, customers: pd.DataFrame, summary: pd.DataFrame, fits: pd.DataFrame, *, as_of: date, terms: ValueTerms
):
    """marts.customer_value's rows with their column types, as a relation on the DuckDB connection ``con``:
    every customer of ``customers`` (:func:`customers_sql`), scored from ``summary`` (:func:`purchase_summary`)
    with this run's ``fits`` (clv_fit rows). Prospects (no purchase) have null summary and predictions."""
    summary = summary.set_index("customer_id")
    bg = fitted(fits, "bgnbd", bgnbd.BgNbdFit, BGNBD_PARAMETERS)
    gg = fitted(fits, "gamma_gamma", gamma_gamma.GammaGammaFit, GAMMA_GAMMA_PARAMETERS)
    con.register("customer_value__customers", customers)
    con.register("customer_value__scores", summary.join(scores(bg, gg, summary, terms)).reset_index())
    return con.sql(
        f"""
        with

        valued as (
            select
                customers.customer_id,
                customers.acquisition_cost,
                customers.historical_clv,
                scores.* exclude (customer_id)
            from customer_value__customers as customers
            left join customer_value__scores as scores
                on customers.customer_id = scores.customer_id
        )

        select
            cast(customer_id as varchar) as customer_id,
            date '{as_of.isoformat()}' as as_of_date,
            cast(frequency as integer) as repeat_purchase_days,
            cast(recency as integer) as first_to_last_purchase_days,
            cast("T" as integer) as days_since_first_purchase,
            cast(case when frequency > 0 then monetary_value end as decimal(18, 2))
                as mean_repeat_purchase_value,
            cast(p_alive as double) as p_alive,
            cast(expected_purchases_90d as double) as expected_purchases_90d,
            cast(expected_purchases_365d as double) as expected_purchases_365d,
            cast(expected_average_order_value as decimal(18, 2)) as expected_average_order_value,
            cast(predicted_clv as decimal(18, 2)) as predicted_clv,
            cast(historical_clv as decimal(18, 2)) as historical_clv,
            cast(acquisition_cost as decimal(12, 2)) as acquisition_cost,
            cast(
                case
                    when acquisition_cost > 0
                        then (historical_clv + coalesce(predicted_clv, 0)) / acquisition_cost
                end as double
            ) as clv_to_cac
        from valued
        """
    )
