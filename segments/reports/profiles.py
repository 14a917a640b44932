"""Segment profiles and the revenue Pareto curve, read from the warehouse (schemas ``segments`` and ``marts``).

A profile describes one segment of one scheme of the current assignments (``segments.customer_segments``):
its size, its money (``marts.customer_features``), what it buys (``marts.fct_order_lines``), how it is reached
(``marts.customer_behaviour`` and the segment's own ``action_channel``) and who it is (``marts.dim_customers``).

Money belongs to customers (the buying unit), while a scheme may segment contacts. So a customer's revenue is
split evenly over its entities in the scheme (a contact scheme with two contacts of one account gives each half
the account's revenue): the revenue of a scheme's segments adds up to its customers' revenue, counted once.
Per-customer figures (CLV, probability alive, preferred channel, facts mix) count each distinct customer of the
segment once.

Every figure group is one SQL query over the whole warehouse; no Python loop over customers. A mart no run has
built yet reads as empty, one built by an older release without a column read here is an error saying what to
run (see ``segments.reports.mart``). ``predicted_clv`` and ``p_alive`` give ``None`` where the CLV models
could not be fitted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import duckdb

from segments.contract.tables import readable
from segments.formatting import percent
from segments.reports import mart
from segments.reports.render import render

__all__ = [
    "CLV_QUANTILES",
    "FACTS",
    "Pareto",
    "SegmentProfile",
    "Share",
    "by_scheme",
    "facts_text",
    "pareto",
    "pareto_markdown",
    "profiles_markdown",
    "segment_profiles",
    "shares_text",
]

FACTS = ("industry", "employee_band", "region", "age_band")
CLV_QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)  # of predicted_clv per segment (box plots)
TOP_N = 3  # values kept per category, channel and fact list
PARETO_POINTS = 200  # at most, the origin included


@dataclass(frozen=True)
class Share:
    """One value of a top-N list: how much of the segment it covers (revenue, customers or entities)."""

    value: str
    amount: float
    share: float | None  # 0..1 of the segment's total; None when that total is 0


@dataclass(frozen=True)
class SegmentProfile:
    scheme: str
    entity: str  # what the scheme segments: customer, account or contact
    segment: str
    entities: int
    customers: int  # distinct buying units (= entities for customer and account schemes)
    share: float  # of the scheme's entities, 0..1
    revenue: float  # net EUR (marts.customer_features.monetary), split over a customer's entities
    revenue_share: float | None  # of the scheme's revenue; None when that is not positive
    avg_clv: float | None
    median_clv: float | None
    clv_quantiles: tuple[float, ...] | None  # predicted_clv at CLV_QUANTILES; None without CLV
    mean_p_alive: float | None
    top_categories: tuple[Share, ...] = ()  # by net revenue of the lines, positive only
    preferred_channels: tuple[Share, ...] = ()  # customer_behaviour.preferred_channel, of customers
    action_channels: tuple[Share, ...] = ()  # the segment's action_channel, of entities
    facts: dict[str, tuple[Share, ...]] = field(default_factory=dict)  # FACTS -> top values, of customers


@dataclass(frozen=True)
class Pareto:
    """Cumulative share of revenue over buyers ranked by revenue (as ``marts.customer_features``
    ``cumulative_revenue_share``: buyers have a non-return order, negative revenue counts as 0)."""

    buyers: int
    revenue: float  # total positive revenue of the buyers
    top20_buyers: int  # ceil(20% of buyers)
    top20_share: float | None  # their share of revenue
    buyers_for_80pct: int | None  # fewest top buyers that bring 80% of revenue
    points: tuple[tuple[float, float], ...]  # (share of buyers, share of revenue) from (0, 0), <= 200 points


def _scheme_segments(con: duckdb.DuckDBPyConnection) -> str:
    """The current assignments with ``w``: the part of its customer's money each entity carries."""
    segments = readable(con, "segments.customer_segments")
    return f"""
        assigned as (
            select scheme, segment, entity, entity_id, customer_id, action_channel,
                   1.0 / count(*) over (partition by scheme, customer_id) as w
            from {segments} s),
        members as (select distinct scheme, segment, customer_id from assigned)"""


def segment_profiles(con: duckdb.DuckDBPyConnection) -> list[SegmentProfile]:
    """One profile per scheme and segment of ``segments.customer_segments``; schemes by name, segments by
    size (largest first). Empty for a warehouse without published segments."""
    cte = _scheme_segments(con)
    features = mart(con, "marts.customer_features", ("customer_id", "monetary", "predicted_clv", "p_alive"))
    quantiles = ", ".join(str(q) for q in CLV_QUANTILES)
    rows = con.execute(
        f"""with {cte},
        sized as (
            select a.scheme, a.segment, string_agg(distinct a.entity, ', ' order by a.entity) as entity,
                   count(*) as entities, count(distinct a.customer_id) as customers,
                   coalesce(sum(a.w * coalesce(f.monetary, 0)), 0)::double as revenue
            from assigned a left join {features} f using (customer_id)
            group by all),
        clv as (
            select m.scheme, m.segment, avg(f.predicted_clv)::double as avg_clv,
                   quantile_cont(f.predicted_clv::double, [{quantiles}]) as clv_quantiles,
                   avg(f.p_alive)::double as mean_p_alive
            from members m left join {features} f using (customer_id)
            group by all)
        select sized.*,
               entities / sum(entities) over (partition by scheme) as share,
               revenue / nullif(greatest(sum(revenue) over (partition by scheme), 0), 0) as revenue_share,
               clv.avg_clv, clv.clv_quantiles, clv.mean_p_alive
        from sized join clv using (scheme, segment)
        order by scheme, entities desc, segment"""
    ).fetchall()
    categories = _top_categories(con, cte)
    channels = _top_channels(con, cte)
    facts = _facts_mix(con, cte)
    profiles = []
    for scheme, segment, entity, n, customers, revenue, share, rev_share, avg_clv, qs, p_alive in rows:
        key = (scheme, segment)
        clv_quantiles = tuple(float(q) for q in qs) if qs and qs[0] is not None else None
        profiles.append(
            SegmentProfile(
                scheme=scheme,
                entity=entity or "",
                segment=segment,
                entities=int(n),
                customers=int(customers),
                share=float(share),
                revenue=float(revenue),
                revenue_share=None if rev_share is None else float(rev_share),
                avg_clv=avg_clv,
                median_clv=clv_quantiles[CLV_QUANTILES.index(0.5)] if clv_quantiles else None,
                clv_quantiles=clv_quantiles,
                mean_p_alive=p_alive,
                top_categories=tuple(categories.get(key, ())),
                preferred_channels=tuple(channels.get((*key, "preferred"), ())),
                action_channels=tuple(channels.get((*key, "action"), ())),
                facts={fact: tuple(facts[key][fact]) for fact in FACTS if facts.get(key, {}).get(fact)},
            )
        )
    return profiles


def _shares(rows) -> dict[tuple, list[Share]]:
    """Rows (*key, value, amount, share) grouped by key, in query order."""
    grouped: dict[tuple, list[Share]] = defaultdict(list)
    for *key, value, amount, share in rows:
        grouped[tuple(key)].append(Share(value, float(amount), None if share is None else float(share)))
    return grouped


def _top_categories(con: duckdb.DuckDBPyConnection, cte: str) -> dict[tuple, list[Share]]:
    lines = mart(con, "marts.fct_order_lines", ("customer_id", "category", "net_amount_eur"))
    rows = con.execute(
        f"""with {cte},
        customer_lines as (
            select customer_id, coalesce(category, '(unknown)') as category, sum(net_amount_eur) as revenue
            from {lines} l group by all),
        per_segment as (
            select a.scheme, a.segment, l.category, sum(a.w * l.revenue)::double as revenue
            from assigned a join customer_lines l using (customer_id)
            group by all),
        shared as (
            select *, revenue / nullif(sum(greatest(revenue, 0)) over (partition by scheme, segment), 0) as share
            from per_segment)
        select scheme, segment, category, revenue, share from shared
        where revenue > 0
        qualify row_number() over (partition by scheme, segment order by revenue desc, category) <= {TOP_N}
        order by scheme, segment, revenue desc, category"""
    ).fetchall()
    return _shares(rows)


def _top_channels(con: duckdb.DuckDBPyConnection, cte: str) -> dict[tuple, list[Share]]:
    """Preferred channels of the segment's customers and action channels of its entities (NULL counts in
    the share's base but is not listed)."""
    behaviour = mart(con, "marts.customer_behaviour", ("customer_id", "preferred_channel"))
    rows = con.execute(
        f"""with {cte},
        counted as (
            select m.scheme, m.segment, 'preferred' as kind, b.preferred_channel as channel, count(*) as n
            from members m left join {behaviour} b using (customer_id) group by all
            union all
            select scheme, segment, 'action', action_channel, count(*) from assigned group by all),
        shared as (
            select *, n / sum(n) over (partition by scheme, segment, kind) as share from counted)
        select scheme, segment, kind, channel, n, share from shared
        where channel is not null
        qualify row_number() over (partition by scheme, segment, kind order by n desc, channel) <= {TOP_N}
        order by scheme, segment, kind, n desc, channel"""
    ).fetchall()
    return _shares(rows)


def _facts_mix(con: duckdb.DuckDBPyConnection, cte: str) -> dict[tuple, dict[str, list[Share]]]:
    """Top values of each fact among the segment's customers; the share's base is all its customers."""
    dims = mart(con, "marts.dim_customers", ("customer_id", *FACTS))
    fact_list = ", ".join(FACTS)
    rows = con.execute(
        f"""with {cte},
        sized as (select scheme, segment, count(*) as customers from members group by all),
        facts as (
            select m.scheme, m.segment, {", ".join(f"d.{f}::varchar as {f}" for f in FACTS)}
            from members m left join {dims} d using (customer_id)),
        counted as (
            select scheme, segment, fact, fact_value, count(*) as n
            from facts unpivot (fact_value for fact in ({fact_list}))
            group by all)
        select c.scheme, c.segment, c.fact, c.fact_value, c.n, c.n / s.customers as share
        from counted c join sized s using (scheme, segment)
        qualify row_number() over (partition by c.scheme, c.segment, c.fact
                                   order by c.n desc, c.fact_value) <= {TOP_N}
        order by c.scheme, c.segment, c.fact, c.n desc, c.fact_value"""
    ).fetchall()
    result: dict[tuple, dict[str, list[Share]]] = defaultdict(dict)
    for (scheme, segment, fact), shares in _shares(rows).items():
        result[(scheme, segment)][fact] = shares
    return result


def pareto(con: duckdb.DuckDBPyConnection) -> Pareto:
    """The revenue Pareto curve of all buyers of ``marts.customer_features``, downsampled to at most 200
    points (evenly over the ranks, the last buyer always included), and the top-20% share."""
    features = mart(con, "marts.customer_features", ("customer_id", "monetary", "frequency"))
    keep = PARETO_POINTS - 1  # plus the origin
    rows = con.execute(
        f"""with buyers as (
                select customer_id, greatest(coalesce(monetary, 0), 0) as revenue from {features}
                where coalesce(frequency > 0, monetary > 0)),
            ranked as (
                select row_number() over (order by revenue desc, customer_id) as rank, count(*) over () as n,
                       revenue from buyers),
            cumulated as (
                select rank, n, sum(revenue) over (order by rank rows unbounded preceding) as cumulative,
                       sum(revenue) over () as total
                from ranked)
            select rank, n, (cumulative / nullif(total, 0))::double as share,
                   (max(cumulative) filter (where rank <= (n + 4) // 5) over () / nullif(total, 0))::double,
                   min(rank) filter (where cumulative >= 0.8 * total and total > 0) over (),
                   total::double
            from cumulated
            qualify n <= {keep} or (rank * {keep}) // n > ((rank - 1) * {keep}) // n
            order by rank"""
    ).fetchall()
    if not rows:
        return Pareto(0, 0.0, 0, None, None, ())
    n = int(rows[0][1])
    points = ((0.0, 0.0), *((rank / n, share) for rank, _, share, *_ in rows if share is not None))
    return Pareto(
        buyers=n,
        revenue=rows[0][5],
        top20_buyers=(n + 4) // 5,  # ceil(20% of n), in integers
        top20_share=rows[0][3],
        buyers_for_80pct=None if rows[0][4] is None else int(rows[0][4]),
        points=points if len(points) > 1 else (),
    )


# --- text and Markdown (Dagster asset metadata) ------------------------------------------------------------------


def shares_text(shares: tuple[Share, ...]) -> str:
    """``a 50%, b 30%`` (plain text; escape for the target format)."""
    return ", ".join(f"{s.value} {percent(s.share, 0)}" for s in shares)


def facts_text(profile: SegmentProfile) -> str:
    """``industry: Retail 67%, Finance 33%; region: North 67%, ...`` (plain text, like ``shares_text``)."""
    return "; ".join(
        f"{fact.replace('_', ' ')}: {shares_text(profile.facts[fact])}"
        for fact in FACTS
        if fact in profile.facts
    )


def by_scheme(profiles: list[SegmentProfile]) -> dict[str, list[SegmentProfile]]:
    """The profiles per scheme, in their order (schemes by name, segments largest first)."""
    grouped: dict[str, list[SegmentProfile]] = defaultdict(list)
    for p in profiles:
        grouped[p.scheme].append(p)
    return dict(grouped)


def pareto_markdown(p: Pareto) -> str:
    """The Pareto figures as a Markdown list (templates/pareto.md)."""
    return render("pareto.md", p=p)


def profiles_markdown(profiles: list[SegmentProfile]) -> str:
    """A Markdown table of the profiles per scheme (templates/profiles.md)."""
    return render("profiles.md", by_scheme=by_scheme(profiles), shares_text=shares_text)
