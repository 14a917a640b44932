"""One row per dim_customers customer: probabilistic customer value as of the as-of date.

Buyers (at least one non-return order) are scored with this run's clv_fit parameters from their purchase
summary at daily grain (see clv_fit). Prospects (no purchase, or returns only) have null predictions: the
models describe customers from their first purchase on, and a prospect's value depends on whether they
convert, which they do not model. predicted_clv discounts monthly (segments.value.clv.predicted_clv)
over var('clv_horizon_days') at var('clv_annual_discount_rate') and multiplies by var('gross_margin').

The computation is the library's (segments.value.marts), shared with the Postgres step that builds this
table where dbt runs no Python models (segments.value.step).
"""

from datetime import date

from segments.value import marts


def as_of_date(run_context) -> date:
    """The run's as-of date (as macros/as_of_date.sql reads it): the one row of the run context."""
    (value,) = run_context.project("as_of_date").fetchone()
    return value


def model(dbt, session):
    # dbt finds dbt.ref and dbt.config calls only in model() itself
    as_of = as_of_date(dbt.ref("stg_pipeline__run_context"))
    terms = marts.ValueTerms.from_meta(
        {
            "clv_horizon_days": dbt.config.meta_get("clv_horizon_days"),
            "clv_annual_discount_rate": dbt.config.meta_get("clv_annual_discount_rate"),
            "gross_margin": dbt.config.meta_get("gross_margin"),
        }
    )
    dbt.ref("dim_customers").create_view("customer_value__dim_customers", replace=True)
    dbt.ref("fct_orders").create_view("customer_value__orders", replace=True)
    summary = marts.purchase_summary(
        session.sql(marts.purchase_summary_sql("customer_value__orders", as_of)).df()
    )
    customers = session.sql(
        marts.customers_sql("customer_value__dim_customers", "customer_value__orders", terms.gross_margin)
    ).df()
    fits = dbt.ref("clv_fit").filter(f"as_of_date = date '{as_of.isoformat()}'").df()
    return marts.customer_value_relation(session, customers, summary, fits, as_of=as_of, terms=terms)
