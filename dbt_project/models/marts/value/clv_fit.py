"""The customer value models fitted on the purchase history as of the as-of date: one row per model and
as-of date, kept across runs (incremental) so parameter drift can be followed.

Purchases are fct_orders' non-return orders at daily grain: frequency = distinct purchase days - 1,
recency = last - first purchase day, T = as-of date - first purchase day (days), monetary value = mean
net EUR of the repeat purchase days (segments.value.rfm.summary_sql). BG/NBD is fitted on every
buyer, Gamma-Gamma on the buyers with a repeat purchase of positive value. A model that cannot be fitted
(too few buyers) gets a row with null parameters, converged false and the reason in ``note``, and
customer_value then has null predictions.

The computation is the library's (segments.value.marts), shared with the Postgres step that builds this
table where dbt runs no Python models (segments.value.step).
"""

from datetime import UTC, date, datetime

from segments.value import marts


def as_of_date(run_context) -> date:
    """The run's as-of date (as macros/as_of_date.sql reads it): the one row of the run context."""
    (value,) = run_context.project("as_of_date").fetchone()
    return value


def model(dbt, session):
    # dbt finds dbt.ref and dbt.config calls only in model() itself
    as_of = as_of_date(dbt.ref("stg_pipeline__run_context"))
    dbt.ref("fct_orders").create_view("clv_fit__orders", replace=True)
    summary = marts.purchase_summary(session.sql(marts.purchase_summary_sql("clv_fit__orders", as_of)).df())
    rows = marts.fit_rows(summary, as_of, fitted_at=datetime.now(UTC).replace(tzinfo=None))
    return marts.clv_fit_relation(session, rows)
