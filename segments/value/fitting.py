"""What fitting both customer value models shares: grouping identical rows, and the optimiser.

Both models are fitted by maximum likelihood with scipy's L-BFGS-B on the log-parameters with analytic
gradients. Terms that depend only on x are computed once per distinct x, and identical (x, t_x, T) rows are
fitted once with a weight: a million customers fit and are scored in about 3 s. No loop over customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize

_LOG_BOUND = 30.0  # log-parameters stay in [-30, 30]: exp() can neither overflow nor reach 0


def distinct_rows(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Distinct rows of the columns: (distinct values per column, row -> distinct row, counts)."""
    keys = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        code, distinct = pd.factorize(column)
        keys, _ = pd.factorize(keys * len(distinct) + code)  # compact: codes stay below the row count
    first = np.empty(keys.max(initial=-1) + 1, dtype=np.int64)
    first[keys] = np.arange(len(keys))  # a row of each distinct row
    return [column[first] for column in columns], keys, np.bincount(keys, minlength=len(first))


def minimize(objective, theta0: np.ndarray, data: dict) -> optimize.OptimizeResult:
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
