"""``segments clv fit TRANSACTIONS.csv``: fit the customer value models on a transactions file.

The CSV has a header with (at least) the columns customer_id, date (YYYY-MM-DD, a time may follow) and
amount. Purchases after ``--calibration-end`` are ignored; purchases on one day are one purchase.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from segments.cli.arguments import iso_date, non_negative_number
from segments.errors import SegmentsError
from segments.value.units import DAYS_PER_UNIT, DAYS_PER_YEAR

if TYPE_CHECKING:
    import pandas as pd

    from segments.value.bgnbd import BgNbdFit
    from segments.value.gamma_gamma import GammaGammaFit


def add_parser(subparsers) -> None:
    """Add ``clv fit`` to the ``segments`` command's subparsers."""
    commands = subparsers.add_parser("clv", help="customer value models (BG/NBD and Gamma-Gamma)")
    clv_commands = commands.add_subparsers(dest="clv_command", required=True, metavar="COMMAND")
    fit = clv_commands.add_parser(
        "fit",
        help="fit BG/NBD and Gamma-Gamma on a transactions CSV (customer_id, date, amount)",
        description=__doc__,
    )
    fit.add_argument("transactions", type=Path, metavar="TRANSACTIONS.csv")
    fit.add_argument(
        "--calibration-end",
        required=True,
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="last day of the history",
    )
    fit.add_argument("--time-unit", choices=sorted(DAYS_PER_UNIT), default="day")
    fit.add_argument("--json", action="store_true", help="print the parameters as JSON")
    fit.add_argument(
        "--predictions", type=Path, metavar="OUT.csv", help="write per-customer predictions to this CSV"
    )
    fit.add_argument(
        "--horizon",
        type=non_negative_number,
        metavar="N",
        help="prediction horizon in time units (default: a year)",
    )
    fit.set_defaults(handler=fit_command)


def fit_command(args: argparse.Namespace) -> int:
    # imported when the command runs: pandas and scipy take about 2 s, which every other command would pay
    from segments.value import bgnbd, gamma_gamma, rfm, transactions

    history = transactions.read_transactions(args.transactions)
    summary = rfm.summary_from_transactions(
        history,
        customer_col="customer_id",
        date_col="date",
        amount_col="amount",
        calibration_end=args.calibration_end,
        time_unit=args.time_unit,
    )
    if summary.empty:
        raise SegmentsError(f"{args.transactions}: no purchase on or before {args.calibration_end}")
    try:
        bg = bgnbd.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
        gg = gamma_gamma.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    except ValueError as exc:
        raise SegmentsError(f"{args.transactions}: {exc}") from None
    horizon = args.horizon if args.horizon is not None else DAYS_PER_YEAR / DAYS_PER_UNIT[args.time_unit]
    if horizon < 0:
        raise SegmentsError(f"--horizon must be >= 0, got {horizon:g}")
    if args.predictions:
        _write_predictions(args.predictions, bg, gg, summary, horizon)
    if args.json:
        print(json.dumps(_as_json(args, bg, gg, len(summary)), indent=2))
    else:
        print(_as_table(args, bg, gg, len(summary)))
    if args.predictions:  # a message, so stdout is the table or the JSON alone
        print(
            f"wrote {args.predictions} ({len(summary):,} customers, horizon {horizon:g} {args.time_unit}s)",
            file=sys.stderr,
        )
    return 0


def _write_predictions(path: Path, bg, gg, summary: pd.DataFrame, horizon: float) -> None:
    # imported when the command runs (see fit_command)
    from segments.value import bgnbd, gamma_gamma

    x, tx, big_t = summary["frequency"], summary["recency"], summary["T"]
    out = summary[["frequency", "recency", "T"]].copy()
    out["p_alive"] = bgnbd.p_alive(bg, x, tx, big_t)
    out["expected_purchases"] = bgnbd.expected_purchases(bg, horizon, x, tx, big_t)
    out["expected_average_value"] = gamma_gamma.expected_average_value(gg, x, summary["monetary_value"])
    out["expected_spend"] = out["expected_purchases"] * out["expected_average_value"]
    try:
        out.rename_axis("customer_id").to_csv(path, float_format="%.6g")
    except OSError as exc:
        raise SegmentsError(f"{path}: cannot write the predictions ({exc.strerror})") from None


def _as_json(args, bg: BgNbdFit, gg: GammaGammaFit, customers: int) -> dict:
    return {
        "transactions": str(args.transactions),
        "calibration_end": args.calibration_end.isoformat(),
        "time_unit": args.time_unit,
        "customers": customers,
        "bgnbd": bg.as_dict(),
        "gamma_gamma": gg.as_dict(),
    }


def _as_table(args, bg: BgNbdFit, gg: GammaGammaFit, customers: int) -> str:
    def converged(fit) -> str:
        return f"converged in {fit.iterations} iterations" if fit.converged else "NOT CONVERGED"

    def parameters(*pairs) -> list[str]:
        return [f"  {name:<16}{value:>14.4f}" for name, value in pairs]

    return "\n".join(
        [
            f"{args.transactions}: {customers:,} customers with purchases up to {args.calibration_end}, "
            f"times in {args.time_unit}s",
            f"BG/NBD (purchase rate and dropout), {bg.customers:,} customers, {converged(bg)}",
            *parameters(("r", bg.r), ("alpha", bg.alpha), ("a", bg.a), ("b", bg.b)),
            f"  {'log-likelihood':<16}{bg.log_likelihood:>14.2f}",
            f"Gamma-Gamma (spend per purchase), {gg.customers:,} customers with repeat purchases, "
            + converged(gg),
            *parameters(("p", gg.p), ("q", gg.q), ("gamma", gg.gamma)),
            f"  {'log-likelihood':<16}{gg.log_likelihood:>14.2f}",
            f"  {'mean spend':<16}{gg.mean_value:>14.4f}  per purchase (p gamma / (q - 1))",
        ]
    )
