"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): purchase frequency and dropout.

While alive a customer buys at rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop out with
probability p ~ Beta(a, b). Per customer, with x, t_x and T as in :mod:`segments.value.rfm` and B the beta
function::

    L = Gamma(r + x) alpha^r / Gamma(r) * [ B(a, b + x) / B(a, b) / (alpha + T)^(r + x)
                                            + [x > 0] B(a + 1, b + x - 1) / B(a, b) / (alpha + t_x)^(r + x) ]

Fitted as :mod:`segments.value.fitting` says; vectorised, no loop over customers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special

from .fitting import distinct_rows, minimize
from .rfm import rfm_arrays


@dataclass(frozen=True)
class BgNbdFit:
    """Fitted BG/NBD parameters; ``alpha`` is in the time unit of the data it was fitted on."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    converged: bool
    iterations: int

    def as_dict(self) -> dict:
        return asdict(self)


def _cumulative(values: np.ndarray) -> np.ndarray:
    """[0, v0, v0 + v1, ...]: element x is the sum of the first x values."""
    return np.concatenate([[0.0], np.cumsum(values)])


def _bgnbd_objective(theta: np.ndarray, data: dict) -> tuple[float, np.ndarray]:
    """Mean negative log-likelihood and its gradient in log-parameters.

    Ratios of gamma and beta functions at x apart are sums over j < x (ln Gamma(r + x) - ln Gamma(r) =
    sum ln(r + j)), which stay exact where differences of gammaln would cancel (a and b in the millions
    when the data shows no heterogeneity in dropout).
    """
    r, alpha, a, b = np.exp(theta)
    ux, xi, w_x, j = data["ux"], data["xi"], data["w_x"], data["j"]  # distinct x (int), row -> x, ...
    w, t_rows, tx_rows = data["w"], data["T"], data["tx"]
    repeat = ux > 0
    x1 = np.maximum(ux - 1, 0)  # x - 1 where the dropout term exists
    log_rate = _cumulative(np.log(r + j))  # ln Gamma(r + x) - ln Gamma(r)
    log_stay = _cumulative(np.log1p(-a / (a + b + j)))  # ln B(a, b + x) - ln B(a, b)
    abx1 = a + b + x1
    a1 = log_rate[ux] + r * math.log(alpha)
    b2 = log_stay[ux]
    b3 = np.where(repeat, math.log(a) - np.log(abx1) + log_stay[x1], -np.inf)  # ln B(a+1, b+x-1) - ln B(a, b)
    rx = (r + ux)[xi]
    log_t, log_tx = np.log(alpha + t_rows), np.log(alpha + tx_rows)
    a2 = b2[xi] - rx * log_t
    a3 = b3[xi] - rx * log_tx
    ll = a1 @ w_x + np.logaddexp(a2, a3) @ w
    w3 = special.expit(a3 - a2)  # share of the "dropped out after t_x" term (0 when x = 0)
    w2 = 1.0 - w3
    ww3_x = np.bincount(xi, weights=w * w3, minlength=len(ux))  # weight of the dropout term per x
    ww2_x = w_x - ww3_x
    h_r = _cumulative(1 / (r + j))  # derivatives of the sums above
    h_b = _cumulative(1 / (b + j))
    h_ab = _cumulative(1 / (a + b + j))
    d_r = (h_r[ux] + math.log(alpha)) @ w_x - (w * (w2 * log_t + w3 * log_tx)).sum()
    d_alpha = r / alpha * w_x.sum() - (w * rx * (w2 / (alpha + t_rows) + w3 / (alpha + tx_rows))).sum()
    d_a = -ww2_x @ h_ab[ux] + ww3_x @ np.where(repeat, 1 / a - 1 / abx1 - h_ab[x1], 0.0)
    d_b = ww2_x @ (h_b[ux] - h_ab[ux]) + ww3_x @ np.where(repeat, h_b[x1] - h_ab[x1] - 1 / abx1, 0.0)
    n = data["n"]
    gradient = -np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b]) / n
    return -ll / n, gradient


def _bgnbd_data(x: np.ndarray, tx: np.ndarray, t: np.ndarray) -> dict:
    """Distinct (x, t_x, T) rows with their customer counts ``w``, and the distinct x values."""
    (gx, gtx, gt), _, counts = distinct_rows(x, tx, t)
    xi, ux = pd.factorize(gx.astype(np.int64))
    w = counts.astype(float)
    w_x = np.bincount(xi, weights=w, minlength=len(ux))
    j = np.arange(max(int(ux.max()), 1), dtype=float)
    return {"ux": np.asarray(ux), "xi": xi, "w_x": w_x, "w": w, "T": gt, "tx": gtx, "j": j, "n": w.sum()}


def fit_bgnbd(frequency, recency, T) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit. ``recency`` and ``T`` in one time unit; ``alpha`` comes out in it."""
    x, tx, t = rfm_arrays(frequency, recency, T)
    if len(x) == 0 or not (t > 0).any():
        raise ValueError("BG/NBD needs at least one customer observed for longer than 0 (T > 0)")
    data = _bgnbd_data(x, tx, t)
    # start at r = 1, a = b = 1 and alpha such that the mean purchase rate r / alpha matches the data
    theta0 = np.log([1.0, max(t.sum() / max(x.sum(), 1.0), 1e-6), 1.0, 1.0])
    result = minimize(_bgnbd_objective, theta0, data)
    r, alpha, a, b = np.exp(result.x)
    return BgNbdFit(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=float(-result.fun * data["n"]),
        customers=len(x),
        converged=bool(result.success),
        iterations=int(result.nit),
    )


def p_alive(fit: BgNbdFit, frequency, recency, T) -> np.ndarray:
    """P(still active | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
    x, tx, t = rfm_arrays(frequency, recency, T)
    x1 = np.maximum(x, 1.0)
    log_odds_dropped = (
        math.log(fit.a)
        - np.log(fit.b + x1 - 1)
        + (fit.r + x) * (np.log(fit.alpha + t) - np.log(fit.alpha + tx))
    )
    return np.where(x > 0, special.expit(-log_odds_dropped), 1.0)


def purchases_if_alive(fit: BgNbdFit, times, x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
    """E[purchases in (T, T + t] | alive at T, x] for each t of ``times``: the BG/NBD conditional
    expectation without its P(alive) factor, shape (len(times), customers)::

        (a + b + x - 1) / (a - 1) [1 - ((alpha + T) / (alpha + T + t))^(r + x)
                                       2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))]

    evaluated through Euler's transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B) 2F1(C - A, C - B; C; z)
    as (1 - z)^(a - 1) 2F1(a - 1, a + b - 1 - r; a + b + x - 1; z), whose first two arguments do not grow
    with x. It depends on x and T only, so it is computed once per distinct (x, T). Where scipy's 2F1
    overflows (a and b in the thousands and more), or leaves the bounds the expectation must be in, it is
    integrated numerically instead (:func:`_purchases_by_quadrature`).
    """
    (ux, ut), inverse, _ = distinct_rows(x, big_t)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    c = a + b + ux - 1
    out = np.zeros((len(times), len(ux)))
    nodes: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for i, t in enumerate(times):  # a few horizons, each over all distinct (x, T)
        if t <= 0:
            continue
        z = t / (alpha + ut + t)
        with np.errstate(all="ignore"):
            out[i] = c / (a - 1) * (1 - (1 - z) ** (a - 1) * special.hyp2f1(a - 1, a + b - 1 - r, c, z))
        # E lies between h(1) and h(0) of the integrand h in _purchases_by_quadrature
        k, s = r + ux, t / (alpha + ut)
        low, high = -np.expm1(-k * np.log1p(s)) * (1 - 1e-9), k * s * (1 + 1e-9)
        bad = ~(np.isfinite(out[i]) & (out[i] >= low) & (out[i] <= high))
        if bad.any():
            out[i, bad] = _purchases_by_quadrature(fit, t, ux[bad], ut[bad], nodes)
    return out[:, inverse]


def _purchases_by_quadrature(fit: BgNbdFit, t: float, x: np.ndarray, big_t: np.ndarray, nodes: dict):
    """The same expectation as E_p[h(p)], h(p) = (1 - (1 + p t / (alpha + T))^-(r + x)) / p, with the dropout
    probability p ~ Beta(a, b + x) after x purchases and no dropout (alive customer, rate integrated out:
    a customer alive with rate lambda and dropout p makes (1 - exp(-lambda p t)) / p purchases on average),
    by 32-point Gauss quadrature per distinct x."""
    out = np.empty(len(x))
    for value in np.unique(x):
        if value not in nodes:
            nodes[value] = _beta_quadrature(fit.a, fit.b + value)
        p, weights = nodes[value]
        rows = x == value
        s = t / (fit.alpha + big_t[rows])
        out[rows] = (-np.expm1(-(fit.r + value) * np.log1p(np.outer(s, p))) / p) @ weights
    return out


def _beta_quadrature(a: float, b: float, n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Gauss nodes and weights (summing to 1) for the Beta(a, b) distribution: Golub-Welsch on the Jacobi
    matrix of the weight (1 - u)^(b - 1) (1 + u)^(a - 1), p = (1 + u) / 2. Unlike scipy's roots_jacobi it
    never forms the normalising constant, which overflows for large a and b."""
    from scipy.linalg import eigh_tridiagonal

    al, be = b - 1.0, a - 1.0
    k = np.arange(n, dtype=float)
    s = 2 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):
        diag = (be - al) * (be + al) / (s * (s + 2))
        k = k[1:]
        s = s[1:]
        off = np.sqrt(4 * k * (k + al) * (k + be) * (k + al + be) / (s**2 * (s + 1) * (s - 1)))
    diag[0] = (be - al) / (al + be + 2)
    off[0] = np.sqrt(4 * (1 + al) * (1 + be) / ((2 + al + be) ** 2 * (3 + al + be)))  # k = 1 without 0 / 0
    values, vectors = eigh_tridiagonal(diag, off)
    return (1 + values) / 2, vectors[0] ** 2


def expected_purchases(fit: BgNbdFit, t: float, frequency, recency, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (FHL 2005, eq. 10)."""
    x, tx, big_t = rfm_arrays(frequency, recency, T)
    if t < 0:
        raise ValueError("t must be >= 0")
    return purchases_if_alive(fit, [float(t)], x, big_t)[0] * p_alive(fit, x, tx, big_t)


def expected_purchases_new_customer(fit: BgNbdFit, t: float) -> float:
    """E[X(t)] for a customer who has just made a first purchase (FHL 2005, eq. 9)."""
    return float(purchases_if_alive(fit, [float(t)], np.zeros(1), np.zeros(1))[0, 0])
