"""Probabilistic customer value: BG/NBD and Gamma-Gamma models fitted on the sales history.

A plain library (no Dagster, no dbt), read in this order: ``rfm`` (the purchase summary per customer),
``fitting`` (what both fits share), ``bgnbd`` and ``gamma_gamma`` (the models), ``clv`` (the value they
predict). ``segments.cli.clv`` is the ``segments clv`` command. The nightly job fits and scores them in the dbt
Python models ``marts.clv_fit`` and ``marts.customer_value``.

    summary = summary_from_transactions(orders, customer_col="customer_id", date_col="order_date",
                                        amount_col="net_amount_eur", calibration_end=as_of)
    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gg = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    scores = score(bg, gg, summary, horizons=(90, 365), clv_horizon=365, discount_rate=0.10, margin=0.30)
"""

from .bgnbd import BgNbdFit, expected_purchases, expected_purchases_new_customer, fit_bgnbd, p_alive
from .clv import predicted_clv, score
from .gamma_gamma import GammaGammaFit, expected_average_value, fit_gamma_gamma
from .rfm import summary_from_transactions, summary_sql

__all__ = [
    "BgNbdFit",
    "GammaGammaFit",
    "expected_average_value",
    "expected_purchases",
    "expected_purchases_new_customer",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "p_alive",
    "predicted_clv",
    "score",
    "summary_from_transactions",
    "summary_sql",
]
