"""Probabilistic customer value: BG/NBD and Gamma-Gamma models fitted on the sales history.

A plain library (no Dagster, no dbt), read in this order: ``rfm`` (the purchase summary per customer),
``units``, ``fitting`` (what both fits share), ``bgnbd`` and ``gamma_gamma`` (the models), ``clv`` (the value they
predict). ``segments.cli.clv`` is the ``segments clv`` command. The nightly job fits and scores them in the dbt
Python models ``marts.clv_fit`` and ``marts.customer_value``, which call ``marts``; on Postgres, where dbt runs no
Python models, ``step`` builds the same tables with the same functions.

    summary = summary_from_transactions(orders, customer_col="customer_id", date_col="order_date",
                                        amount_col="net_amount_eur", calibration_end=as_of)
    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gg = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    scores = score(bg, gg, summary, horizons=(90, 365), clv_horizon=365, discount_rate=0.10, margin=0.30)
"""
