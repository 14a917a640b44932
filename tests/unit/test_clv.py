"""BG/NBD and Gamma-Gamma: the published CDNOW estimates, hand-computed cases, and the ``clv fit`` command."""

from __future__ import annotations

import argparse
import importlib.resources
import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from benchmarks.clv import TRUE_BGNBD, TRUE_GAMMA_GAMMA, simulate
from segments.cli.clv import add_parser
from segments.errors import IngestError, SegmentsError
from segments.value import bgnbd, clv, gamma_gamma, rfm

CALIBRATION_END = date(1997, 9, 30)  # end of week 39 of the CDNOW sample


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The CDNOW sample shipped in the lifetimes wheel: 2,357 customers' purchases, 1997-01 to 1998-06.
    Read as a file: ``lifetimes.datasets`` imports pkg_resources, which recent setuptools no longer has."""
    path = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_sample.txt"
    with importlib.resources.as_file(path) as file:
        raw = pd.read_csv(
            file, sep=r"\s+", header=None, names=["index", "customer_id", "date", "cds", "amount"], dtype=str
        )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"].astype(int),
            "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"].astype(float),
        }
    )


@pytest.fixture(scope="module")
def weekly(cdnow) -> pd.DataFrame:
    return rfm.summary_from_transactions(
        cdnow,
        customer_col="customer_id",
        date_col="date",
        amount_col="amount",
        calibration_end=CALIBRATION_END,
        time_unit="week",
    )


@pytest.fixture(scope="module")
def bg(weekly) -> bgnbd.BgNbdFit:
    return bgnbd.fit_bgnbd(weekly["frequency"], weekly["recency"], weekly["T"])


@pytest.fixture(scope="module")
def gg(weekly) -> gamma_gamma.GammaGammaFit:
    return gamma_gamma.fit_gamma_gamma(weekly["frequency"], weekly["monetary_value"])


# --- CDNOW: the published figures ---------------------------------------------------------------------


def test_summary_is_fader_hardies_cdnow_calibration_data(weekly):
    # their file rounds recency and T to 2 decimals; customer 1 bought on 01-01, 01-18 and 08-02 (and in the
    # holdout period): 2 repeat purchases, recency 213 / 7, T 272 / 7, mean of the two repeat amounts
    published = pd.read_csv(
        importlib.resources.files("lifetimes") / "datasets" / "cdnow_customers_summary.csv"
    )
    assert len(weekly) == 2357 and (weekly.index == published["ID"]).all()
    assert (weekly["frequency"].to_numpy() == published["frequency"].to_numpy()).all()
    assert np.abs(weekly["recency"].to_numpy() - published["recency"].to_numpy()).max() < 0.0051
    assert np.abs(weekly["T"].to_numpy() - published["T"].to_numpy()).max() < 0.0051
    first = weekly.loc[1]
    assert (first["frequency"], first["recency"], first["T"]) == (2, 213 / 7, 272 / 7)
    assert first["monetary_value"] == pytest.approx((29.73 + 14.96) / 2)


def test_bgnbd_reproduces_fader_hardie_lee_2005(bg):
    assert bg.converged and bg.customers == 2357
    assert (round(bg.r, 3), round(bg.alpha, 3), round(bg.a, 3), round(bg.b, 3)) == (
        0.243,
        4.414,
        0.793,
        2.426,
    )
    assert round(bg.log_likelihood, 1) == -9582.4


def test_gamma_gamma_reproduces_fader_hardie_2013(gg):
    assert gg.converged and gg.customers == 946  # buyers with a repeat purchase in weeks 1-39
    assert (round(gg.p, 2), round(gg.q, 2), round(gg.gamma, 2)) == (6.25, 3.74, 15.44)
    assert gg.mean_value == pytest.approx(gg.p * gg.gamma / (gg.q - 1))


def test_predictions_on_cdnow(bg, gg, weekly, cdnow):
    x, tx, t = weekly["frequency"], weekly["recency"], weekly["T"]
    alive = bgnbd.p_alive(bg, x, tx, t)
    expected = bgnbd.expected_purchases(bg, 39, x, tx, t)
    assert ((alive > 0) & (alive <= 1)).all() and (alive[x.to_numpy() == 0] == 1).all()
    # Fader & Hardie's worked example, customer 1 (x = 2, t_x = 30.43, T = 38.86): E[Y(39)] = 1.226
    assert round(expected[0], 3) == 1.226
    assert (bgnbd.expected_purchases(bg, 0, x, tx, t) == 0).all()
    assert (bgnbd.expected_purchases(bg, 52, x, tx, t) > expected).all()
    # the 39 holdout weeks: 1,882 repeat purchase days happened; the model expects about 1,650 (it
    # under-forecasts CDNOW's holdout a little, as in the paper's tracking plots)
    holdout = cdnow[cdnow["date"].dt.date > CALIBRATION_END].drop_duplicates(["customer_id", "date"])
    assert len(holdout) == 1882
    assert expected.sum() == pytest.approx(len(holdout), rel=0.15)
    # the busiest recent buyers are expected to buy more than those who stopped long ago
    recent = (x >= 5) & (t - tx < 4)
    lapsed = (x >= 5) & (t - tx > 20)
    assert expected[recent.to_numpy()].mean() > 3 * expected[lapsed.to_numpy()].mean()
    value = gamma_gamma.expected_average_value(gg, x, weekly["monetary_value"])
    assert value[x.to_numpy() == 0] == pytest.approx(gg.mean_value)


# --- hand-computed cases ------------------------------------------------------------------------------

# r = 2, alpha = 10, a = 2, b = 1 make the hypergeometric terms elementary; one customer with x = 1,
# t_x = 5, T = 10:
#   L = Gamma(3) 10^2 / Gamma(2) [B(2, 2) / B(2, 1) / 20^3 + B(3, 1) / B(2, 1) / 15^3]
#     = 200 (1/3 / 8000 + 2/3 / 3375) = 1/120 + 400/10125
#   P(alive) = 1 / (1 + a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)) = 1 / (1 + 2 (4/3)^3) = 27/155
#   E[Y(10) | alive] = (a + b + x - 1) / (a - 1) [1 - (2/3)^3 2F1(3, 2; 3; 1/3)] = 3 [1 - 8/27 * 9/4] = 1
HAND = bgnbd.BgNbdFit(
    r=2.0, alpha=10.0, a=2.0, b=1.0, log_likelihood=0, customers=1, converged=True, iterations=0
)


def test_hand_computed_bgnbd():
    data = bgnbd._bgnbd_data(np.array([1.0]), np.array([5.0]), np.array([10.0]))
    mean_nll, _ = bgnbd._bgnbd_objective(np.log([2.0, 10.0, 2.0, 1.0]), data)
    assert -mean_nll == pytest.approx(math.log(1 / 120 + 400 / 10125), rel=1e-12)
    assert bgnbd.p_alive(HAND, [1], [5], [10])[0] == pytest.approx(27 / 155, rel=1e-12)
    assert bgnbd.expected_purchases(HAND, 10, [1], [5], [10])[0] == pytest.approx(27 / 155, rel=1e-12)
    # a new customer (x = 0, T = 0): (a + b - 1) / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b; a + b - 1; .)]
    # = 2 [1 - (1/2)^2 2F1(2, 1; 2; 1/2)] = 2 [1 - 1/4 * 2] = 1 for t = 10
    assert bgnbd.expected_purchases_new_customer(HAND, 10) == pytest.approx(1.0, rel=1e-12)


def test_hand_computed_value_and_clv():
    gg = gamma_gamma.GammaGammaFit(
        p=1.0, q=2.0, gamma=10.0, log_likelihood=0, customers=2, converged=True, iterations=0
    )
    # E[M] = p (gamma + x m) / (p x + q - 1) = (10 + 5) / 2; the population mean 10 without repeat purchases
    assert list(gamma_gamma.expected_average_value(gg, [1, 0], [5.0, 0.0])) == [7.5, 10.0]
    # 10 days fit in one (monthly) step: margin * E[M] * E[Y(10)] / 1.1^(10 / 365)
    value = clv.predicted_clv(
        HAND, gg, [1], [5], [10], [5.0], horizon=10, discount_rate=0.10, margin=0.5, time_unit="day"
    )
    assert value[0] == pytest.approx(0.5 * 7.5 * 27 / 155 / 1.1 ** (10 / 365), rel=1e-12)
    # two steps, discounted from their ends: the month-end step and the rest
    step = 365 / 12
    two = clv.predicted_clv(HAND, gg, [1], [5], [10], [5.0], horizon=40, discount_rate=0.1, margin=1.0)
    cumulative = [bgnbd.expected_purchases(HAND, t, [1], [5], [10])[0] for t in (step, 40)]
    by_hand = 7.5 * (
        cumulative[0] / 1.1 ** (step / 365) + (cumulative[1] - cumulative[0]) / 1.1 ** (40 / 365)
    )
    assert two[0] == pytest.approx(by_hand, rel=1e-12)


def test_summary_counts_days_and_leaves_out_the_first():
    transactions = pd.DataFrame(
        {
            "customer": ["a", "a", "a", "a", "b", "c"],
            "when": pd.to_datetime(
                [  # timestamps: the summary counts days
                    "2026-01-01 09:00",
                    "2026-01-01 17:00",
                    "2026-01-15",
                    "2026-01-29",
                    "2026-01-20",
                    "2026-02-02",
                ],
                format="ISO8601",
            ),
            "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 99.0],
        }
    )
    summary = rfm.summary_from_transactions(
        transactions,
        customer_col="customer",
        date_col="when",
        amount_col="amount",
        calibration_end=date(2026, 2, 1),
    )
    # a: three purchase days (two orders on 01-01 are one purchase), mean of the repeat days 30; c: later
    assert summary.to_dict("index") == {
        "a": {"frequency": 2, "recency": 28.0, "T": 31.0, "monetary_value": 30.0},
        "b": {"frequency": 0, "recency": 0.0, "T": 12.0, "monetary_value": 0.0},
    }
    weeks = rfm.summary_from_transactions(
        transactions,
        customer_col="customer",
        date_col="when",
        calibration_end=date(2026, 2, 1),
        time_unit="week",
    )
    assert weeks.loc["a", "recency"] == 4.0 and weeks.loc["a", "T"] == pytest.approx(31 / 7)


# --- numerics -------------------------------------------------------------------------------------------


def test_gradients_match_finite_differences(weekly):
    x, tx, t, m = (weekly[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    data = bgnbd._bgnbd_data(x, tx, t)
    for theta in (np.log([0.3, 5.0, 0.7, 2.0]), np.log([0.7, 90.0, 3e6, 2e7])):
        analytic = bgnbd._bgnbd_objective(theta, data)[1]
        numeric = optimize.approx_fprime(theta, lambda th: bgnbd._bgnbd_objective(th, data)[0], 1e-7)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-3, atol=1e-6)
    keep = x > 0
    ux, xi = np.unique(x[keep], return_inverse=True)
    gg_data = {
        "ux": ux,
        "w_x": np.bincount(xi).astype(float),
        "x": x[keep],
        "m": m[keep],
        "sum_x_log_mx": x[keep] @ np.log(m[keep] * x[keep]),
        "sum_log_m": np.log(m[keep]).sum(),
    }
    theta = np.log([2.0, 3.0, 10.0])
    numeric = optimize.approx_fprime(
        theta, lambda th: gamma_gamma._gamma_gamma_objective(th, gg_data)[0], 1e-7
    )
    np.testing.assert_allclose(gamma_gamma._gamma_gamma_objective(theta, gg_data)[1], numeric, rtol=1e-4)


def test_quadrature_agrees_with_the_closed_form_and_takes_over_where_it_overflows():
    x = np.array([0.0, 3, 5, 50, 2, 0])
    big_t = np.array([10.0, 817, 394, 1000, 5, 0])
    moderate = bgnbd.BgNbdFit(0.68, 93.3, 0.8, 2.4, 0, 0, True, 0)
    for t in (30, 365):
        closed = bgnbd.purchases_if_alive(moderate, [t], x, big_t)[0]
        np.testing.assert_allclose(
            bgnbd._purchases_by_quadrature(moderate, t, x, big_t, {}), closed, rtol=1e-10
        )
    # no heterogeneity in dropout (the fit's a and b run off to millions): scipy's 2F1 overflows, and the
    # expectation tends to that of one dropout probability p = a / (a + b + x)
    degenerate = bgnbd.BgNbdFit(0.68, 93.3, 8.8e11, 6.5e12, 0, 0, True, 0)
    values = bgnbd.purchases_if_alive(degenerate, [365], x, big_t)[0]
    p, s = 8.8e11 / (8.8e11 + 6.5e12 + x), 365 / (93.3 + big_t)
    np.testing.assert_allclose(values, (1 - (1 + p * s) ** -(0.68 + x)) / p, rtol=1e-6)


def test_fits_recover_simulated_parameters():
    summary = simulate(100_000, seed=3)
    bg = bgnbd.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
    gg = gamma_gamma.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    assert bg.converged and gg.converged
    for name, true in TRUE_BGNBD.items():
        assert getattr(bg, name) == pytest.approx(true, rel=0.1), name
    for name, true in TRUE_GAMMA_GAMMA.items():
        assert getattr(gg, name) == pytest.approx(true, rel=0.15), name
    scores = clv.score(bg, gg, summary)
    assert list(scores.columns) == [
        "p_alive",
        "expected_purchases_90",
        "expected_purchases_365",
        "expected_average_value",
        "predicted_clv",
    ]
    assert (
        scores.notna().all().all()
        and (scores["expected_purchases_365"] >= scores["expected_purchases_90"]).all()
    )


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="recency must be between 0 and T"):
        bgnbd.fit_bgnbd([1, 2], [5, 12], [10, 10])
    with pytest.raises(ValueError, match="non-negative whole number"):
        bgnbd.fit_bgnbd([1.5], [1], [2])
    with pytest.raises(ValueError, match="at least two customers with a repeat purchase"):
        gamma_gamma.fit_gamma_gamma([0, 3, 0], [0.0, 10.0, 0.0])
    with pytest.raises(ValueError, match="time_unit"):
        rfm.summary_sql(
            "t",
            customer_col="c",
            date_col="d",
            amount_col=None,
            calibration_end=date.today(),
            time_unit="month",
        )


# --- the command ----------------------------------------------------------------------------------------


def run_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="segments")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture
def cdnow_csv(cdnow, tmp_path):
    path = tmp_path / "transactions.csv"
    cdnow.assign(date=cdnow["date"].dt.date).to_csv(path, index=False)
    return path


def test_clv_fit_prints_the_parameters(cdnow_csv, capsys):
    argv = ["clv", "fit", str(cdnow_csv), "--calibration-end", "1997-09-30", "--time-unit", "week"]
    assert run_command(argv) == 0
    out = capsys.readouterr().out
    assert "2,357 customers" in out and "946 customers with repeat purchases" in out
    for line in (
        "  r                       0.2426",
        "  alpha                   4.4136",
        "  log-likelihood        -9582.43",
    ):
        assert line in out
    assert run_command([*argv, "--json"]) == 0
    fitted = json.loads(capsys.readouterr().out)
    assert round(fitted["bgnbd"]["b"], 3) == 2.426 and round(fitted["gamma_gamma"]["q"], 2) == 3.74


def test_clv_fit_writes_predictions(cdnow_csv, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    argv = ["clv", "fit", str(cdnow_csv), "--calibration-end", "1997-09-30", "--time-unit", "week"]
    assert run_command([*argv, "--predictions", str(out), "--horizon", "39"]) == 0
    captured = capsys.readouterr()  # the message on stderr: stdout is the parameters alone
    assert f"wrote {out} (2,357 customers, horizon 39 weeks)" in captured.err
    assert "wrote" not in captured.out and "2,357 customers" in captured.out
    predictions = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    assert list(predictions.columns) == [
        "frequency",
        "recency",
        "T",
        "p_alive",
        "expected_purchases",
        "expected_average_value",
        "expected_spend",
    ]
    assert predictions.loc["1", "expected_purchases"] == pytest.approx(1.226, abs=5e-4)
    assert predictions["expected_spend"].to_numpy() == pytest.approx(
        (predictions["expected_purchases"] * predictions["expected_average_value"]).to_numpy(), rel=1e-4
    )


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        ("c1,2026-01-01,10\nc1,2026-02-01,abc\n", ":3: column 'amount'", "'abc' is not a number"),
        (
            "c1,2026-01-01,10\n\nc2,01/02/2026,5\n",
            ":4: column 'date'",
            "'01/02/2026' is not a date (YYYY-MM-DD)",
        ),
        ("c1,2026-01-01,10\n ,2026-01-02,5\n", ":3: column 'customer_id'", "empty customer id"),
        ("c1,2026-01-01,10,extra\n", ":2", "4 fields where the header has 3"),
        ("c1,2026-01-01,nan\n", ":2: column 'amount'", "'nan' is not a number"),
    ],
)
def test_clv_fit_names_file_line_and_column_of_a_bad_row(tmp_path, rows, where, message):
    path = tmp_path / "bad.csv"
    path.write_text("customer_id,date,amount\n" + rows, encoding="utf-8")
    with pytest.raises(IngestError) as raised:
        run_command(["clv", "fit", str(path), "--calibration-end", "2026-12-31"])
    assert str(raised.value) == f"{path}{where}: {message}"


def test_clv_fit_refuses_files_it_cannot_use(tmp_path):
    header = tmp_path / "header.csv"
    header.write_text("customer,date,value\nc1,2026-01-01,10\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"header.csv:1: missing column\(s\) customer_id, amount"):
        run_command(["clv", "fit", str(header), "--calibration-end", "2026-12-31"])
    with pytest.raises(IngestError, match="cannot read the file"):
        run_command(["clv", "fit", str(tmp_path / "missing.csv"), "--calibration-end", "2026-12-31"])
    few = tmp_path / "few.csv"
    few.write_text("customer_id,date,amount\nc1,2026-01-01,10\nc2,2026-01-05,5\n", encoding="utf-8")
    with pytest.raises(SegmentsError, match=r"few\.csv: Gamma-Gamma needs at least two customers"):
        run_command(["clv", "fit", str(few), "--calibration-end", "2026-12-31"])
    with pytest.raises(SegmentsError, match="no purchase on or before 2025-12-31"):
        run_command(["clv", "fit", str(few), "--calibration-end", "2025-12-31"])
