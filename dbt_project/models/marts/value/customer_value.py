"""One row per dim_customers customer: probabilistic customer value as of the as-of date.

Buyers (at least one non-return order) are scored with this run's clv_fit parameters from their purchase
summary at daily grain (see clv_fit). Prospects (no purchase, or returns only) have null predictions: the
models describe customers from their first purchase on, and a prospect's value depends on whether they
convert, which they do not model. predicted_clv discounts monthly (segments.value.clv.predicted_clv)
over var('clv_horizon_days') at var('clv_annual_discount_rate') and multiplies by var('gross_margin').
"""

from datetime import date

import numpy as np
import pandas as pd

from segments.value import bgnbd, clv, gamma_gamma, rfm

HORIZONS = (90, 365)


def as_of_date(run_context) -> date:
    """The run's as-of date (as macros/as_of_date.sql reads it): the one row of the run context."""
    (value,) = run_context.project("as_of_date").fetchone()
    return value


def fitted(fits: pd.DataFrame, name: str, cls, parameters: tuple[str, ...]):
    """This run's fit of one model, or None when it could not be fitted."""
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


def scores(
    bg, gg, summary: pd.DataFrame, horizon: float, discount_rate: float, margin: float
) -> pd.DataFrame:
    x, tx, t, m = summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"]
    out = pd.DataFrame(index=summary.index)
    nothing = np.full(len(summary), np.nan)
    out["p_alive"] = bgnbd.p_alive(bg, x, tx, t) if bg else nothing
    for h in HORIZONS:
        out[f"expected_purchases_{h}d"] = bgnbd.expected_purchases(bg, h, x, tx, t) if bg else nothing
    out["expected_average_order_value"] = gamma_gamma.expected_average_value(gg, x, m) if gg else nothing
    terms = {"horizon": horizon, "discount_rate": discount_rate, "margin": margin, "time_unit": "day"}
    out["predicted_clv"] = clv.predicted_clv(bg, gg, x, tx, t, m, **terms) if bg and gg else nothing
    return out


def model(dbt, session):
    # dbt finds dbt.ref and dbt.config calls only in model() itself
    as_of = as_of_date(dbt.ref("stg_pipeline__run_context"))
    horizon = float(dbt.config.meta_get("clv_horizon_days"))
    discount_rate = float(dbt.config.meta_get("clv_annual_discount_rate"))
    margin = float(dbt.config.meta_get("gross_margin"))
    dbt.ref("dim_customers").create_view("customer_value__customers", replace=True)
    dbt.ref("fct_orders").create_view("customer_value__orders", replace=True)
    session.sql("select * from customer_value__orders where not is_return").create_view(
        "customer_value__purchases", replace=True
    )
    summary = (
        session.sql(
            rfm.summary_sql(
                "customer_value__purchases",
                customer_col="customer_id",
                date_col="order_date",
                amount_col="net_amount_eur",
                calibration_end=as_of,
                time_unit="day",
            )
        )
        .df()
        .set_index("customer_id")
    )
    fits = dbt.ref("clv_fit").filter(f"as_of_date = date '{as_of.isoformat()}'").df()
    bg = fitted(fits, "bgnbd", bgnbd.BgNbdFit, ("r", "alpha", "a", "b"))
    gg = fitted(fits, "gamma_gamma", gamma_gamma.GammaGammaFit, ("p", "q", "gamma"))
    scored = summary.join(scores(bg, gg, summary, horizon, discount_rate, margin))
    session.register("customer_value__scores", scored.reset_index())
    return session.sql(
        f"""
        with

        customers as (
            select * from customer_value__customers
        ),

        revenue as (
            select customer_id, sum(net_amount_eur) as net_revenue
            from customer_value__orders
            group by customer_id
        ),

        valued as (
            select
                customers.customer_id,
                customers.acquisition_cost,
                scores.* exclude (customer_id),
                round(coalesce(revenue.net_revenue, 0) * {margin!r}, 2) as historical_clv
            from customers
            left join customer_value__scores as scores
                on customers.customer_id = scores.customer_id
            left join revenue
                on customers.customer_id = revenue.customer_id
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
