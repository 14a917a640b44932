"""The customer value models fitted on the purchase history as of the as-of date: one row per model and
as-of date, kept across runs (incremental) so parameter drift can be followed.

Purchases are fct_orders' non-return orders at daily grain: frequency = distinct purchase days - 1,
recency = last - first purchase day, T = as-of date - first purchase day (days), monetary value = mean
net EUR of the repeat purchase days (segments.value.rfm.summary_sql). BG/NBD is fitted on every
buyer, Gamma-Gamma on the buyers with a repeat purchase of positive value. A model that cannot be fitted
(too few buyers) gets a row with null parameters, converged false and the reason in ``note``, and
customer_value then has null predictions.
"""

from datetime import UTC, date, datetime

import pandas as pd

from segments.value import bgnbd, gamma_gamma, rfm

BGNBD_PARAMETERS = ("r", "alpha", "a", "b")
GAMMA_GAMMA_PARAMETERS = ("p", "q", "gamma")
COLUMNS = [
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


def as_of_date(run_context) -> date:
    """The run's as-of date (as macros/as_of_date.sql reads it): the one row of the run context."""
    (value,) = run_context.project("as_of_date").fetchone()
    return value


def model(dbt, session):
    # dbt finds dbt.ref and dbt.config calls only in model() itself
    as_of = as_of_date(dbt.ref("stg_pipeline__run_context"))
    dbt.ref("fct_orders").filter("not is_return").create_view("clv_fit__purchases", replace=True)
    summary = session.sql(
        rfm.summary_sql(
            "clv_fit__purchases",
            customer_col="customer_id",
            date_col="order_date",
            amount_col="net_amount_eur",
            calibration_end=as_of,
            time_unit="day",
        )
    ).df()
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
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["fitted_at"] = datetime.now(UTC).replace(tzinfo=None)
    session.register("clv_fit__rows", frame)
    doubles = ", ".join(f"cast({p} as double) as {p}" for p in (*BGNBD_PARAMETERS, *GAMMA_GAMMA_PARAMETERS))
    return session.sql(
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
