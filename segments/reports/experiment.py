"""Champion/challenger experiment report: ``segments report experiment NAME [--format table|markdown|json]``.

Per arm (champion, challenger, holdout): customers and share (``segments.experiment_assignments``), current
next actions (``segments.customer_segments``), and outcomes after assignment from the sales facts
(``marts.fct_orders``): a customer's orders count when ``order_date`` is after the as-of date of the run that
first assigned the customer to the arm, returns excluded. Challenger and holdout are compared with the
champion in revenue per customer and buyer rate (absolute and relative difference). The figures are plain
descriptive statistics; no significance test is made.

The ``markdown`` and ``table`` documents are the templates ``experiment.md`` and ``experiment.txt``; the rows both
show are formatted here, once.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal

import duckdb

from segments.contract.tables import readable
from segments.formatting import money, noun, percent, points, text_table
from segments.reports import mart
from segments.reports.render import render as render_template
from segments.warehouse import table_exists

__all__ = [
    "ARMS",
    "FORMATS",
    "ActionCount",
    "ArmReport",
    "ExperimentReport",
    "Lift",
    "experiment_report",
    "known_experiments",
    "render",
]

ARMS = ("champion", "challenger", "holdout")
FORMATS = ("table", "markdown", "json")

ORDERS = "marts.fct_orders"
ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "net_amount_eur", "is_return")  # what is read of it


@dataclass(frozen=True)
class ActionCount:
    scheme: str
    action: str
    channel: str
    owner: str
    assignments: int  # entities of the arm with this next action in this scheme


@dataclass(frozen=True)
class ArmReport:
    arm: str
    customers: int
    share: float | None  # of the experiment's customers (0..1)
    buyers: int  # customers with at least one order after assignment
    buyer_rate: float | None  # buyers / customers
    orders: int
    revenue: Decimal  # sum of net_amount_eur, EUR
    revenue_per_customer: float | None  # revenue / customers (all customers of the arm, not only buyers)
    actions: list[ActionCount] = field(default_factory=list)


@dataclass(frozen=True)
class Lift:
    """An arm against the champion. Relative differences are fractions (0.1 = +10 %); None if undefined."""

    arm: str
    revenue_per_customer_diff: float | None
    revenue_per_customer_rel: float | None
    buyer_rate_diff: float | None  # in rate units: 0.05 = 5 percentage points
    buyer_rate_rel: float | None


@dataclass(frozen=True)
class ExperimentReport:
    name: str
    customers: int
    arms: list[ArmReport]  # champion, challenger, holdout (always), then any other arm found
    lifts: list[Lift]  # challenger and holdout vs champion
    first_assigned: date | None  # earliest first_as_of of the experiment
    last_assigned: date | None  # latest first_as_of (customers keep joining as they appear)
    last_order_date: date | None  # latest order_date in marts.fct_orders
    outcome_days: int  # last_order_date - first_assigned (0 if there are no orders after it)
    sales_available: bool  # False: marts.fct_orders does not exist (outcomes are all zero)
    runs: int  # published runs of the experiment
    first_run: str | None
    last_run: str | None
    champion_versions: list[str]
    challenger_versions: list[str]

    def arm(self, name: str) -> ArmReport:
        return next(a for a in self.arms if a.arm == name)

    def lift(self, name: str) -> Lift:
        return next(lift for lift in self.lifts if lift.arm == name)


def known_experiments(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Experiments with assigned customers or published runs, by name."""
    assignments = readable(con, "segments.experiment_assignments")
    runs = readable(con, "segments.runs")
    rows = con.execute(
        f"""select experiment from {assignments} union
            select experiment from {runs} where experiment is not null order by 1"""
    ).fetchall()
    return [r[0] for r in rows]


def experiment_report(con: duckdb.DuckDBPyConnection, name: str) -> ExperimentReport:
    """Read the report of experiment ``name``; ``LookupError`` (naming the known ones) if there is none."""
    known = known_experiments(con)
    if name not in known:
        listing = ", ".join(known) if known else "none yet (no rule version has run an experiment)"
        raise LookupError(f"unknown experiment {name!r}; known experiments: {listing}")
    assignments = readable(con, "segments.experiment_assignments")
    assigned = f"(select * from {assignments} where experiment = $name)"
    sales_available = table_exists(con, ORDERS)
    orders = mart(con, ORDERS, ORDER_COLUMNS)

    outcome_rows = con.execute(
        f"""with assigned as {assigned},
            per_customer as (
                select a.arm, a.customer_id, count(o.order_id) as orders,
                       coalesce(sum(o.net_amount_eur), 0) as revenue
                from assigned a
                left join {orders} o
                  on o.customer_id = a.customer_id and o.order_date > a.first_as_of
                 and not coalesce(o.is_return, false)
                group by a.arm, a.customer_id),
            arms as (select unnest($arms::varchar[]) as arm union select distinct arm from assigned)
            select arms.arm, count(p.customer_id) as customers,
                   count(p.customer_id) / nullif(sum(count(p.customer_id)) over (), 0) as share,
                   count(*) filter (where p.orders > 0) as buyers,
                   coalesce(sum(p.orders), 0)::bigint as orders,
                   coalesce(sum(p.revenue), 0)::decimal(38, 2) as revenue
            from arms left join per_customer p using (arm)
            group by arms.arm
            order by coalesce(list_position($arms::varchar[], arms.arm), 99), arms.arm""",
        {"name": name, "arms": list(ARMS)},
    ).fetchall()

    actions: dict[str, list[ActionCount]] = {}
    for arm, scheme, action, channel, owner, n in con.execute(
        # only the schemes the experiment changes: the challenger's (every scheme differs for the holdout,
        # but only in getting no action, which the arm table already says)
        f"""with rows as (select * from {readable(con, "segments.customer_segments")}
                          where experiment = ?),
                 tested as (select distinct scheme from rows where arm = 'challenger'
                            and rule_version is distinct from (select max(rule_version) from rows where arm = 'champion'))
            select arm, scheme, next_action, action_channel, action_owner, count(*) as n
            from rows where scheme in (select scheme from tested)
            group by all order by arm, scheme, n desc, next_action, action_channel, action_owner""",
        [name],
    ).fetchall():
        actions.setdefault(arm, []).append(ActionCount(scheme, action, channel, owner, n))

    first_assigned, last_assigned = con.execute(
        f"select min(first_as_of), max(first_as_of) from {assigned}", {"name": name}
    ).fetchone()
    last_order_date = con.execute(f"select max(order_date) from {orders}").fetchone()[0]
    outcome_days = (
        max((last_order_date - first_assigned).days, 0) if first_assigned and last_order_date else 0
    )
    runs, first_run, last_run, champions, challengers = con.execute(
        f"""select count(*), arg_min(run_id, as_of), arg_max(run_id, as_of),
                   coalesce(list(distinct rule_version order by rule_version)
                            filter (where rule_version is not null), []),
                   coalesce(list(distinct challenger_version order by challenger_version)
                            filter (where challenger_version is not null), [])
            from {readable(con, "segments.runs")}
            where experiment = ? and status = 'published'""",
        [name],
    ).fetchone()

    arms = [
        ArmReport(
            arm=arm,
            customers=customers,
            share=share,
            buyers=buyers,
            buyer_rate=buyers / customers if customers else None,
            orders=n_orders,
            revenue=revenue,
            revenue_per_customer=float(revenue) / customers if customers else None,
            actions=actions.get(arm, []),
        )
        for arm, customers, share, buyers, n_orders, revenue in outcome_rows
    ]
    champion = next(a for a in arms if a.arm == "champion")
    lifts = [_lift(a, champion) for a in arms if a.arm in ("challenger", "holdout")]
    return ExperimentReport(
        name=name,
        customers=sum(a.customers for a in arms),
        arms=arms,
        lifts=lifts,
        first_assigned=first_assigned,
        last_assigned=last_assigned,
        last_order_date=last_order_date,
        outcome_days=outcome_days,
        sales_available=sales_available,
        runs=runs,
        first_run=first_run,
        last_run=last_run,
        champion_versions=list(champions),
        challenger_versions=list(challengers),
    )


def _diff(value: float | None, base: float | None) -> tuple[float | None, float | None]:
    if value is None or base is None:
        return None, None
    return value - base, (value - base) / base if base else None


def _lift(arm: ArmReport, champion: ArmReport) -> Lift:
    rpc_diff, rpc_rel = _diff(arm.revenue_per_customer, champion.revenue_per_customer)
    rate_diff, rate_rel = _diff(arm.buyer_rate, champion.buyer_rate)
    return Lift(arm.arm, rpc_diff, rpc_rel, rate_diff, rate_rel)


# --- rendering ------------------------------------------------------------------------------------------


def render(report: ExperimentReport, fmt: str = "table") -> str:
    """``table`` (plain text for a terminal), ``markdown`` or ``json``."""
    if fmt == "json":
        return json.dumps(_json(report), indent=2, sort_keys=False) + "\n"
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return render_template(
        "experiment.md" if fmt == "markdown" else "experiment.txt",
        report=report,
        intro=_intro(report),
        arm_header=ARM_HEADER,
        arm_rows=_arm_rows(report),
        lift_header=LIFT_HEADER,
        lift_rows=_lift_rows(report),
        action_header=ACTION_HEADER,
        action_rows=_action_rows(report),
        text_table=text_table,
    )


def _json(report: ExperimentReport) -> dict:
    def convert(value):
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return convert(asdict(report))


def _intro(report: ExperimentReport) -> list[str]:
    versions = ""
    if report.champion_versions or report.challenger_versions:
        versions = (
            f"champion {', '.join(report.champion_versions) or '—'} vs "
            f"challenger {', '.join(report.challenger_versions) or '—'}; "
        )
    runs = f"{report.runs} {noun('published run', report.runs)}" + (
        f" ({report.first_run} … {report.last_run})" if report.runs else ""
    )
    lines = [f"{versions}{runs}; {report.customers:,} customers assigned"]
    if report.first_assigned and report.first_assigned == report.last_assigned:
        lines[0] += f" on {report.first_assigned}"
    elif report.first_assigned:
        lines[0] += f" from {report.first_assigned} to {report.last_assigned}"
    if not report.sales_available:
        lines.append("Outcomes: no sales data (marts.fct_orders does not exist yet).")
    elif report.last_order_date is None:
        lines.append("Outcomes: no orders in marts.fct_orders yet.")
    else:
        lines.append(
            f"Outcomes: {report.outcome_days} days of orders (after each customer's first assignment, "
            f"up to {report.last_order_date}; returns excluded; revenue = net EUR)."
        )
    return lines


def _arm_rows(report: ExperimentReport) -> list[list[str]]:
    return [
        [
            a.arm,
            f"{a.customers:,}",
            percent(a.share),
            f"{a.buyers:,}",
            percent(a.buyer_rate),
            f"{a.orders:,}",
            money(a.revenue, 2),
            money(a.revenue_per_customer, 2),
        ]
        for a in report.arms
    ]


ARM_HEADER = [
    "arm",
    "customers",
    "share",
    "buyers",
    "buyer rate",
    "orders",
    "revenue EUR",
    "revenue/customer",
]
LIFT_HEADER = ["arm vs champion", "revenue/customer", "relative", "buyer rate", "relative"]
ACTION_HEADER = ["arm", "scheme", "next action", "channel", "owner", "assignments"]


def _lift_rows(report: ExperimentReport) -> list[list[str]]:
    return [
        [
            lift.arm,
            money(lift.revenue_per_customer_diff, 2, signed=True),
            percent(lift.revenue_per_customer_rel, signed=True),
            points(lift.buyer_rate_diff),
            percent(lift.buyer_rate_rel, signed=True),
        ]
        for lift in report.lifts
    ]


def _action_rows(report: ExperimentReport) -> list[list[str]]:
    return [
        [a.arm, c.scheme, c.action, c.channel, c.owner, f"{c.assignments:,}"]
        for a in report.arms
        for c in a.actions
    ]
