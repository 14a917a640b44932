"""BG/NBD (purchase frequency and dropout) and Gamma-Gamma (spend per purchase) models, vectorised.

A customer is summarised by ``frequency`` x (repeat purchase days: distinct purchase days - 1),
``recency`` t_x (first to last purchase day) and ``T`` (first purchase day to the end of the calibration
period), both in the chosen time unit, and ``monetary_value`` m (mean spend of the repeat purchase days).

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a customer buys at
rate lambda ~ Gamma(r, alpha); after each repeat purchase they drop out with probability p ~ Beta(a, b).
Per customer, with B the beta function::

    L = Gamma(r + x) alpha^r / Gamma(r) * [ B(a, b + x) / B(a, b) / (alpha + T)^(r + x)
                                            + [x > 0] B(a + 1, b + x - 1) / B(a, b) / (alpha + t_x)^(r + x) ]

Gamma-Gamma (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value"): each purchase is
Gamma(p, nu) with nu ~ Gamma(q, gamma) per customer; fitted on customers with x > 0::

    L = Gamma(p x + q) / (Gamma(p x) Gamma(q)) gamma^q m^(p x - 1) x^(p x) / (gamma + m x)^(p x + q)

Both are fitted by maximum likelihood with scipy's L-BFGS-B on the log-parameters with analytic
gradients. Terms that depend only on x are computed once per distinct x, and identical (x, t_x, T) rows are
fitted once with a weight: a million customers fit and are scored in about 3 s. No loop over customers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy import optimize, special

DAYS_PER_UNIT = {"day": 1, "week": 7}
DAYS_PER_YEAR = 365.0
_LOG_BOUND = 30.0  # log-parameters stay in [-30, 30]: exp() can neither overflow nor reach 0


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


# --- summary -------------------------------------------------------------------------------------------


def _unit_days(time_unit: str) -> int:
    if time_unit not in DAYS_PER_UNIT:
        raise ValueError(f"time_unit must be one of {', '.join(DAYS_PER_UNIT)}, got {time_unit!r}")
    return DAYS_PER_UNIT[time_unit]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def summary_sql(
    source: str,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None,
    calibration_end: date,
    time_unit: str = "day",
) -> str:
    """DuckDB SQL for :func:`summary_from_transactions` over the table or view ``source``.

    One row per customer with a transaction on or before ``calibration_end`` (the end of the period, so
    T = calibration_end - first purchase date). Transactions of one day are one purchase (amounts summed):
    frequency counts distinct days whatever the unit, and recency and T are days / 7 for weeks, as in
    Fader and Hardie's CDNOW data. monetary_value is the mean of the repeat days' amounts (0 when x = 0).
    """
    days = _unit_days(time_unit)
    end = f"date '{calibration_end.isoformat()}'"
    amount = f"sum({_quote(amount_col)})" if amount_col else "0"
    return f"""
        with purchase_days as (
            select {_quote(customer_col)} as customer_id, cast({_quote(date_col)} as date) as purchase_date,
                   cast({amount} as double) as amount
            from {source}
            where cast({_quote(date_col)} as date) <= {end}
            group by all
        )
        select
            customer_id,
            count(*) - 1 as frequency,
            date_diff('day', min(purchase_date), max(purchase_date)) / {days}.0 as recency,
            date_diff('day', min(purchase_date), {end}) / {days}.0 as "T",
            coalesce((sum(amount) - arg_min(amount, purchase_date)) / nullif(count(*) - 1, 0), 0.0)
                as monetary_value
        from purchase_days
        group by customer_id
        order by customer_id
    """


def summary_from_transactions(
    df: pd.DataFrame,
    *,
    customer_col: str,
    date_col: str,
    amount_col: str | None = None,
    calibration_end: date,
    time_unit: str = "day",
) -> pd.DataFrame:
    """frequency, recency, T and monetary_value per customer, indexed by customer (like lifetimes'
    ``summary_data_from_transaction_data`` with exact durations); see :func:`summary_sql`."""
    import duckdb

    sql = summary_sql(
        "transactions",
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        calibration_end=calibration_end,
        time_unit=time_unit,
    )
    with duckdb.connect() as con:
        con.register("transactions", df)
        summary = con.execute(sql).df()
    summary["frequency"] = summary["frequency"].astype("int64")
    return summary.set_index("customer_id").rename_axis(customer_col)


# --- input checks and grouping ---------------------------------------------------------------------------


def _rfm_arrays(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, t = (np.asarray(v, dtype=float).ravel() for v in (frequency, recency, T))
    if not x.shape == tx.shape == t.shape:
        raise ValueError("frequency, recency and T must have the same length")
    if not (np.isfinite(x).all() and np.isfinite(tx).all() and np.isfinite(t).all()):
        raise ValueError("frequency, recency and T must be finite numbers")
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError("frequency must be a non-negative whole number")
    if (tx < 0).any() or (tx > t).any():
        raise ValueError("recency must be between 0 and T")
    return x, tx, t


def _codes(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct rows of the columns: (distinct values per column, row -> distinct row, counts)."""
    keys = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        code, distinct = pd.factorize(column)
        keys, _ = pd.factorize(keys * len(distinct) + code)  # compact: codes stay below the row count
    first = np.empty(keys.max(initial=-1) + 1, dtype=np.int64)
    first[keys] = np.arange(len(keys))  # a row of each distinct row
    return [column[first] for column in columns], keys, np.bincount(keys, minlength=len(first))


# --- BG/NBD ------------------------------------------------------------------------------------------------


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
    (gx, gtx, gt), _, counts = _codes(x, tx, t)
    xi, ux = pd.factorize(gx.astype(np.int64))
    w = counts.astype(float)
    w_x = np.bincount(xi, weights=w, minlength=len(ux))
    j = np.arange(max(int(ux.max()), 1), dtype=float)
    return {"ux": np.asarray(ux), "xi": xi, "w_x": w_x, "w": w, "T": gt, "tx": gtx, "j": j, "n": w.sum()}


def _minimize(objective, theta0: np.ndarray, data: dict) -> optimize.OptimizeResult:
    """L-BFGS-B on the mean negative log-likelihood; Nelder-Mead from where it stopped if it gives up."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(theta0)
    options = {"maxiter": 2000, "ftol": 1e-12, "gtol": 1e-8}
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        result = optimize.minimize(
            objective, theta0, args=(data,), jac=True, method="L-BFGS-B", bounds=bounds, options=options
        )
        free = np.abs(result.x) < _LOG_BOUND - 1e-9
        if not result.success and np.abs(result.jac[free]).max(initial=0.0) < 1e-6:
            result.success = True  # a line search that cannot improve on float noise at the optimum
        if not result.success:  # e.g. a flat likelihood: polish without gradients
            polished = optimize.minimize(
                lambda theta, d: objective(theta, d)[0],
                result.x,
                args=(data,),
                method="Nelder-Mead",
                bounds=bounds,
                options={"maxiter": 4000, "xatol": 1e-10, "fatol": 1e-14},
            )
            polished.nit += result.nit
            result = polished
    return result


def fit_bgnbd(frequency, recency, T) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit. ``recency`` and ``T`` in one time unit; ``alpha`` comes out in it."""
    x, tx, t = _rfm_arrays(frequency, recency, T)
    if len(x) == 0 or not (t > 0).any():
        raise ValueError("BG/NBD needs at least one customer observed for longer than 0 (T > 0)")
    data = _bgnbd_data(x, tx, t)
    # start at r = 1, a = b = 1 and alpha such that the mean purchase rate r / alpha matches the data
    theta0 = np.log([1.0, max(t.sum() / max(x.sum(), 1.0), 1e-6), 1.0, 1.0])
    result = _minimize(_bgnbd_objective, theta0, data)
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
    x, tx, t = _rfm_arrays(frequency, recency, T)
    x1 = np.maximum(x, 1.0)
    log_odds_dropped = (
        math.log(fit.a)
        - np.log(fit.b + x1 - 1)
        + (fit.r + x) * (np.log(fit.alpha + t) - np.log(fit.alpha + tx))
    )
    return np.where(x > 0, special.expit(-log_odds_dropped), 1.0)


def _purchases_if_alive(fit: BgNbdFit, times, x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
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
    (ux, ut), inverse, _ = _codes(x, big_t)
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
    x, tx, big_t = _rfm_arrays(frequency, recency, T)
    if t < 0:
        raise ValueError("t must be >= 0")
    return _purchases_if_alive(fit, [float(t)], x, big_t)[0] * p_alive(fit, x, tx, big_t)


def expected_purchases_new_customer(fit: BgNbdFit, t: float) -> float:
    """E[X(t)] for a customer who has just made a first purchase (FHL 2005, eq. 9)."""
    return float(_purchases_if_alive(fit, [float(t)], np.zeros(1), np.zeros(1))[0, 0])


# --- Gamma-Gamma -----------------------------------------------------------------------------------------


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
    result = _minimize(_gamma_gamma_objective, np.log([1.0, 2.0, m.mean()]), data)
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


# --- value -----------------------------------------------------------------------------------------------


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
    x, tx, big_t = _rfm_arrays(frequency, recency, T)
    alive = p_alive(bg, x, tx, big_t)
    year = DAYS_PER_YEAR / _unit_days(time_unit)
    terms = {"horizon": horizon, "discount_rate": discount_rate, "margin": margin, "year": year}
    return _predicted_clv(bg, gg, x, big_t, alive, monetary_value, **terms, steps=steps_per_year)


def _predicted_clv(bg, gg, x, big_t, alive, monetary_value, *, horizon, discount_rate, margin, year, steps):
    if horizon < 0 or discount_rate <= -1:
        raise ValueError("horizon must be >= 0 and discount_rate > -1")
    ends = np.minimum(np.arange(1, math.ceil(horizon * steps / year - 1e-9) + 1) * year / steps, horizon)
    cumulative = _purchases_if_alive(bg, [0.0, *ends], x, big_t)
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
    x, tx, big_t = _rfm_arrays(summary["frequency"], summary["recency"], summary["T"])
    alive = p_alive(bg, x, tx, big_t)
    out = {"p_alive": alive}
    expected = _purchases_if_alive(bg, [float(h) for h in horizons], x, big_t) * alive
    for h, values in zip(horizons, expected, strict=True):
        out[f"expected_purchases_{h:g}"] = values
    out["expected_average_value"] = expected_average_value(gg, x, summary["monetary_value"])
    year = DAYS_PER_YEAR / _unit_days(time_unit)
    terms = {"horizon": clv_horizon, "discount_rate": discount_rate, "margin": margin, "year": year}
    out["predicted_clv"] = _predicted_clv(
        bg, gg, x, big_t, alive, summary["monetary_value"], **terms, steps=12
    )
    return pd.DataFrame(out, index=summary.index)
