"""Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): spend per purchase.

Each purchase is Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer; fitted on customers with x > 0, with
m their mean spend per repeat purchase (:mod:`segments.value.rfm`)::

    L = Gamma(p x + q) / (Gamma(p x) Gamma(q)) gamma^q m^(p x - 1) x^(p x) / (gamma + m x)^(p x + q)

Fitted as :mod:`segments.value.fitting` says.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special

from .fitting import minimize


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters (``gamma`` in the currency of the data it was fitted on)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int
    converged: bool
    iterations: int

    @property
    def mean_value(self) -> float:
        """Population mean spend per purchase, p gamma / (q - 1) (infinite when q <= 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf

    def as_dict(self) -> dict:
        return asdict(self)


def _gamma_gamma_objective(theta: np.ndarray, data: dict) -> tuple[float, np.ndarray]:
    p, q, g = np.exp(theta)
    ux, w_x, x, m = data["ux"], data["w_x"], data["x"], data["m"]
    px = p * ux
    log_gm = np.log(g + x * m)
    ll = (
        (special.gammaln(px + q) - special.gammaln(px)) @ w_x
        - len(x) * (special.gammaln(q) - q * math.log(g))
        + p * data["sum_x_log_mx"]
        - data["sum_log_m"]
        - p * (x @ log_gm)
        - q * log_gm.sum()
    )
    psi_pxq = special.digamma(px + q)
    d_p = ux @ ((psi_pxq - special.digamma(px)) * w_x) + data["sum_x_log_mx"] - x @ log_gm
    d_q = psi_pxq @ w_x - len(x) * (special.digamma(q) - math.log(g)) - log_gm.sum()
    d_g = len(x) * q / g - ((p * x + q) / (g + x * m)).sum()
    n = len(x)
    return -ll / n, -np.array([d_p * p, d_q * q, d_g * g]) / n


def fit_gamma_gamma(frequency, monetary_value) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on the customers with x > 0 and a positive monetary_value (the
    mean of their repeat purchases); the others carry no information on spend per purchase."""
    x = np.asarray(frequency, dtype=float).ravel()
    m = np.asarray(monetary_value, dtype=float).ravel()
    if x.shape != m.shape:
        raise ValueError("frequency and monetary_value must have the same length")
    keep = (x > 0) & np.isfinite(m) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) < 2:
        raise ValueError("Gamma-Gamma needs at least two customers with a repeat purchase of positive value")
    ux, xi = np.unique(x, return_inverse=True)
    data = {
        "ux": ux,
        "w_x": np.bincount(xi, minlength=len(ux)).astype(float),
        "x": x,
        "m": m,
        "sum_x_log_mx": x @ np.log(m * x),
        "sum_log_m": np.log(m).sum(),
    }
    # start at p = 1, q = 2 and gamma = mean spend, whose expected spend p gamma / (q - 1) is that mean
    result = minimize(_gamma_gamma_objective, np.log([1.0, 2.0, m.mean()]), data)
    p, q, g = np.exp(result.x)
    return GammaGammaFit(
        p=float(p),
        q=float(q),
        gamma=float(g),
        log_likelihood=float(-result.fun * len(x)),
        customers=len(x),
        converged=bool(result.success),
        iterations=int(result.nit),
    )


def expected_average_value(fit: GammaGammaFit, frequency, monetary_value) -> np.ndarray:
    """E[M | x, m] = p (gamma + x m) / (p x + q - 1): the observed mean shrunk towards the population mean
    p gamma / (q - 1) (Fader & Hardie 2013, eq. 5); the population mean for x = 0. A non-positive observed
    mean counts as 0."""
    x = np.asarray(frequency, dtype=float).ravel()
    m = np.clip(np.nan_to_num(np.asarray(monetary_value, dtype=float).ravel()), 0.0, None)
    m = np.where(x > 0, m, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = fit.p * (fit.gamma + x * m) / (fit.p * x + fit.q - 1)
    return np.where(fit.p * x + fit.q - 1 > 0, value, np.nan)
