"""Customer lifetime value: the BG/NBD purchases to come, priced by Gamma-Gamma and discounted.

The models are in :mod:`segments.value.bgnbd` and :mod:`segments.value.gamma_gamma`, the purchase summary
they read in :mod:`segments.value.rfm`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .bgnbd import BgNbdFit, p_alive, purchases_if_alive
from .gamma_gamma import GammaGammaFit, expected_average_value
from .rfm import rfm_arrays
from .units import DAYS_PER_YEAR, unit_days


def predicted_clv(
    bg: BgNbdFit,
    gg: GammaGammaFit,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    horizon: float,
    discount_rate: float,
    margin: float,
    time_unit: str = "day",
    steps_per_year: int = 12,
) -> np.ndarray:
    """Discounted expected gross profit over the next ``horizon`` time units::

        CLV = margin * E[M | x, m] * sum_k (E[Y(t_k)] - E[Y(t_(k-1))]) / (1 + discount_rate)^(t_k / year)

    with t_k = min(k * year / steps_per_year, horizon), k = 1..ceil(horizon * steps_per_year / year),
    t_0 = 0: the purchases expected in each step (a month by default) are discounted from the step's end
    at the annual ``discount_rate``, as lifetimes' ``customer_lifetime_value`` does per month.
    """
    x, tx, big_t = rfm_arrays(frequency, recency, T)
    alive = p_alive(bg, x, tx, big_t)
    year = DAYS_PER_YEAR / unit_days(time_unit)
    terms = {"horizon": horizon, "discount_rate": discount_rate, "margin": margin, "year": year}
    return _predicted_clv(bg, gg, x, big_t, alive, monetary_value, **terms, steps=steps_per_year)


def _predicted_clv(bg, gg, x, big_t, alive, monetary_value, *, horizon, discount_rate, margin, year, steps):
    if horizon < 0 or discount_rate <= -1:
        raise ValueError("horizon must be >= 0 and discount_rate > -1")
    ends = np.minimum(np.arange(1, math.ceil(horizon * steps / year - 1e-9) + 1) * year / steps, horizon)
    cumulative = purchases_if_alive(bg, [0.0, *ends], x, big_t)
    discounted = (1 + discount_rate) ** (-ends / year) @ np.diff(cumulative, axis=0)
    return margin * expected_average_value(gg, x, monetary_value) * alive * discounted


def score(
    bg: BgNbdFit,
    gg: GammaGammaFit,
    summary: pd.DataFrame,
    *,
    horizons: tuple[float, ...] = (90, 365),
    clv_horizon: float = 365,
    discount_rate: float = 0.10,
    margin: float = 0.30,
    time_unit: str = "day",
) -> pd.DataFrame:
    """Every prediction for a summary frame (frequency, recency, T, monetary_value), same index: p_alive,
    ``expected_purchases_<h>`` per horizon h, expected_average_value and predicted_clv."""
    x, tx, big_t = rfm_arrays(summary["frequency"], summary["recency"], summary["T"])
    alive = p_alive(bg, x, tx, big_t)
    out = {"p_alive": alive}
    expected = purchases_if_alive(bg, [float(h) for h in horizons], x, big_t) * alive
    for h, values in zip(horizons, expected, strict=True):
        out[f"expected_purchases_{h:g}"] = values
    out["expected_average_value"] = expected_average_value(gg, x, summary["monetary_value"])
    year = DAYS_PER_YEAR / unit_days(time_unit)
    terms = {"horizon": clv_horizon, "discount_rate": discount_rate, "margin": margin, "year": year}
    out["predicted_clv"] = _predicted_clv(
        bg, gg, x, big_t, alive, summary["monetary_value"], **terms, steps=12
    )
    return pd.DataFrame(out, index=summary.index)
