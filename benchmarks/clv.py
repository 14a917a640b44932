"""Time the customer value models at scale: ``python -m benchmarks.clv [CUSTOMERS]`` (default 1,000,000).

Simulates customers from known BG/NBD and Gamma-Gamma parameters at daily grain (about three years of
history, as the nightly job has), then times fitting both models and scoring everybody as the
``customer_value`` dbt model does. Not a test: it prints figures, including how close the fitted
parameters come to the true ones.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from segments.value import bgnbd, clv, fitting, gamma_gamma, rfm

TRUE_BGNBD = {"r": 0.6, "alpha": 80.0, "a": 0.8, "b": 2.5}  # alpha in days: ~2.7 purchases a year
TRUE_GAMMA_GAMMA = {"p": 6.0, "q": 4.0, "gamma": 150.0}  # mean spend per purchase p gamma / (q - 1) = 300
HISTORY_DAYS = 3 * 365


def simulate(customers: int, seed: int = 7) -> pd.DataFrame:
    """frequency, recency, T (days) and monetary_value drawn from the two models.

    While alive a customer buys at rate lambda; after each repeat purchase they drop out with probability
    p. So x = min(N, J) with N ~ Poisson(lambda T) purchases and J ~ Geometric(p) the purchase after which
    they drop out, and given N = n the purchase times are n sorted uniform times on (0, T): the x-th of them
    is T * Beta(x, n - x + 1). Times are rounded to whole days, as the warehouse has them.
    """
    rng = np.random.default_rng(seed)
    g = TRUE_BGNBD
    big_t = rng.integers(1, HISTORY_DAYS + 1, customers).astype(float)
    rate = rng.gamma(g["r"], 1 / g["alpha"], customers)
    dropout = rng.beta(g["a"], g["b"], customers)
    n = rng.poisson(rate * big_t)
    x = np.minimum(n, rng.geometric(dropout))
    buyers = x > 0
    recency = np.zeros(customers)
    recency[buyers] = big_t[buyers] * rng.beta(x[buyers], n[buyers] - x[buyers] + 1)
    recency = np.where(buyers, np.clip(np.round(recency), 1, big_t), 0.0)
    m = TRUE_GAMMA_GAMMA
    nu = rng.gamma(m["q"], 1 / m["gamma"], customers)
    # the mean of x Gamma(p, nu) purchases is Gamma(p x, x nu)
    monetary = np.zeros(customers)
    monetary[buyers] = rng.gamma(m["p"] * x[buyers], 1 / (x[buyers] * nu[buyers]))
    return pd.DataFrame({"frequency": x, "recency": recency, "T": big_t, "monetary_value": monetary})


def bench(customers: int) -> dict:
    summary = simulate(customers)
    started = time.perf_counter()
    bg = bgnbd.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    fitted_bgnbd = time.perf_counter()
    gg = gamma_gamma.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    fitted_gamma_gamma = time.perf_counter()
    scores = clv.score(bg, gg, summary, horizons=(90, 365), clv_horizon=365, discount_rate=0.10, margin=0.30)
    scored = time.perf_counter()
    return {
        "customers": customers,
        "distinct_rows": len(
            fitting.distinct_rows(*rfm.rfm_arrays(summary["frequency"], summary["recency"], summary["T"]))[2]
        ),
        "fit_bgnbd_s": fitted_bgnbd - started,
        "fit_gamma_gamma_s": fitted_gamma_gamma - fitted_bgnbd,
        "score_s": scored - fitted_gamma_gamma,
        "total_s": scored - started,
        "bgnbd": {k: round(getattr(bg, k), 4) for k in TRUE_BGNBD} | {"converged": bg.converged},
        "gamma_gamma": {k: round(getattr(gg, k), 4) for k in TRUE_GAMMA_GAMMA} | {"converged": gg.converged},
        "mean_predicted_clv": float(np.nanmean(scores["predicted_clv"])),
    }


def main(argv: list[str]) -> int:
    customers = int(argv[0]) if argv else 1_000_000
    result = bench(customers)
    print(f"{result['customers']:,} customers ({result['distinct_rows']:,} distinct x, t_x, T rows)")
    for step in ("fit_bgnbd_s", "fit_gamma_gamma_s", "score_s", "total_s"):
        print(f"  {step[:-2]:<18} {result[step]:7.2f} s")
    print(f"  BG/NBD       fitted {result['bgnbd']}\n               true   {TRUE_BGNBD}")
    print(f"  Gamma-Gamma  fitted {result['gamma_gamma']}\n               true   {TRUE_GAMMA_GAMMA}")
    print(f"  mean predicted CLV (365 days, 10 %/year, 30 % margin): {result['mean_predicted_clv']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
