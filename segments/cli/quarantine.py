"""``segments quarantine list|show``: the rows the quality gate set aside.

- ``quarantine list``: the rows a run set aside (``raw._quarantine``), counted per entity, check, column and
  file, largest first; ``--all-runs``: the count of each of the last runs;
- ``quarantine show ENTITY``: the quarantined rows themselves, with file and line, and the row as it was loaded
  (``raw.<entity>``) while that load is still the current one.

Which run, and the options both share with ``segments quality``: :mod:`segments.cli.checked_runs`.
"""

from __future__ import annotations

import argparse
import textwrap

from segments.cli.arguments import positive_int
from segments.cli.checked_runs import (
    common_options,
    open_warehouse,
    print_json,
    resolve_run,
    run_info,
    run_option,
    run_times,
    runs_relation,
)
from segments.errors import SegmentsError
from segments.formatting import plural, text_table
from segments.ingest.schemas import ENTITIES
from segments.quality.gate import LINEAGE, QUARANTINE_TABLE
from segments.quality.results import RESULTS_TABLE
from segments.warehouse import quote_ident, table_exists

ALL_RUNS_LIMIT = 20
NO_QUARANTINE = "no quarantine yet: run `segments run` first"
REPLACED = "(the load has been replaced since; original row not available)"


def add_parser(subparsers) -> None:
    """Add ``quarantine list|show`` to the ``segments`` command's subparsers."""
    quarantine = subparsers.add_parser(
        "quarantine", help="rows the quality gate set aside (raw._quarantine)"
    ).add_subparsers(dest="quarantine_command", required=True, metavar="COMMAND")
    listing = quarantine.add_parser(
        "list", help="quarantined rows of a run per entity, check, column and file (largest first)"
    )
    run_option(listing)
    listing.add_argument(
        "--all-runs", action="store_true", help=f"quarantined rows per run (the last {ALL_RUNS_LIMIT} runs)"
    )
    common_options(listing)
    listing.set_defaults(handler=quarantine_list)

    show = quarantine.add_parser(
        "show", help="the quarantined rows of an entity: key, check, value, file:line and the original row"
    )
    show.add_argument("entity", metavar="ENTITY", help=f"landing entity ({', '.join(ENTITIES)})")
    run_option(show)
    show.add_argument("--expectation", metavar="TEXT", help="only checks whose name contains TEXT")
    show.add_argument("--column", metavar="C", help="only checks of this column")
    show.add_argument(
        "--limit", type=positive_int, default=50, metavar="N", help="at most N rows (default 50)"
    )
    common_options(show)
    show.set_defaults(handler=quarantine_show)


def _quarantine_default() -> list[str]:
    return [f"{RESULTS_TABLE}:checked_at", f"{QUARANTINE_TABLE}:quarantined_at"]


# --- quarantine list ----------------------------------------------------------------------------------------


def quarantine_list(args: argparse.Namespace) -> int:
    with open_warehouse(args) as con:
        if not table_exists(con, QUARANTINE_TABLE):
            raise SegmentsError(NO_QUARANTINE)
        if args.all_runs:
            if args.run:
                raise SegmentsError("--all-runs and --run exclude each other")
            return _list_all_runs(con, args.format)
        run_id = resolve_run(con, args.run, default_from=_quarantine_default(), missing=NO_QUARANTINE)
        info = run_info(con, run_id)
        rows = con.execute(
            f"""select entity, expectation, column_name, source_file, count(*) as n from {QUARANTINE_TABLE}
                where run_id = ? group by all order by n desc, entity, expectation, column_name, source_file""",
            [run_id],
        ).fetchall()
    total = sum(r[4] for r in rows)
    if args.format == "json":
        reasons = [
            {"entity": e, "expectation": x, "column": c, "source_file": f, "rows": n}
            for e, x, c, f, n in rows
        ]
        print_json({"run": info.as_json(), "quarantined_rows": total, "reasons": reasons})
        return 0
    print(info.header())
    if not rows:
        print("no rows quarantined")
        return 0
    print(f"{plural(total, 'row')} quarantined")
    print(
        text_table(
            ["rows", "entity", "check", "column", "file"],
            [[f"{n:,}", e, x, c, f] for e, x, c, f, n in rows],
            numeric={0},
        )
    )
    return 0


def _list_all_runs(con, fmt: str) -> int:
    rows = con.execute(
        f"""with known as ({run_times(con)}),
                counts as (select run_id, count(*) as n, count(distinct entity) as entities
                           from {QUARANTINE_TABLE} group by run_id)
            select k.run_id, r.as_of, r.status, coalesce(c.n, 0), coalesce(c.entities, 0), k.seen
            from known k left join counts c using (run_id) left join {runs_relation(con)} r using (run_id)
            order by k.seen desc nulls last, k.run_id desc limit {ALL_RUNS_LIMIT}"""
    ).fetchall()
    if fmt == "json":
        print_json(
            [
                {"run_id": run, "as_of": as_of, "status": status, "quarantined_rows": n, "entities": entities}
                for run, as_of, status, n, entities, _ in rows
            ]
        )
        return 0
    if not rows:
        print("no runs yet")
        return 0
    print(
        text_table(
            ["run", "as of", "status", "quarantined", "entities"],
            [[run, as_of or "-", status or "-", f"{n:,}", f"{e:,}"] for run, as_of, status, n, e, _ in rows],
            numeric={3, 4},
        )
    )
    return 0


# --- quarantine show ----------------------------------------------------------------------------------------


def quarantine_show(args: argparse.Namespace) -> int:
    entity = ENTITIES.get(args.entity)
    if entity is None:
        raise SegmentsError(f"unknown entity {args.entity!r}: one of {', '.join(ENTITIES)}")
    with open_warehouse(args) as con:
        if not table_exists(con, QUARANTINE_TABLE):
            raise SegmentsError(NO_QUARANTINE)
        run_id = resolve_run(con, args.run, default_from=_quarantine_default(), missing=NO_QUARANTINE)
        info = run_info(con, run_id)
        where, params = "q.run_id = ? and q.entity = ?", [run_id, entity.name]
        if args.expectation:
            where += " and contains(lower(q.expectation), lower(?))"
            params.append(args.expectation)
        if args.column:
            where += " and q.column_name = ?"
            params.append(args.column)
        total = con.execute(f"select count(*) from {QUARANTINE_TABLE} q where {where}", params).fetchone()[0]
        columns: list[str] = []
        join, found = "", "false"
        if table_exists(con, entity.table):
            columns = [
                r[0]
                for r in con.execute(
                    """select column_name from information_schema.columns
                       where table_schema = 'raw' and table_name = ? order by ordinal_position""",
                    [entity.name],
                ).fetchall()
                if r[0] not in LINEAGE
            ]
            join = (
                f"left join {entity.table} r on r._loaded_at = q.loaded_at and r._source_row = q.source_row"
            )
            found = "r._source_row is not null"
        values = "".join(f", r.{quote_ident(c)}" for c in columns) if join else ""
        rows = con.execute(
            f"""select q.natural_key, q.expectation, q.column_name, q.offending_value, q.source_file,
                       q.source_line, q.source_row, q.loaded_at, {found}{values}
                from {QUARANTINE_TABLE} q {join} where {where}
                order by q.source_row, q.expectation, q.column_name limit ?""",
            [*params, args.limit],
        ).fetchall()
    shown = [
        {
            "natural_key": key, "expectation": expectation, "column": column, "offending_value": value,
            "source_file": file, "source_line": line, "source_row": row, "loaded_at": loaded_at,
            "original": dict(zip(columns, rest, strict=True)) if original else None,
        }
        for key, expectation, column, value, file, line, row, loaded_at, original, *rest in rows
    ]  # fmt: skip
    if args.format == "json":
        print_json(
            {"run": info.as_json(), "entity": entity.name, "key": entity.key, "total": total, "rows": shown}
        )
        return 0
    filters = "".join(
        f", {name} {value!r}"
        for name, value in (("check", args.expectation), ("column", args.column))
        if value
    )
    print(info.header())
    if not total:
        print(f"no rows of {entity.name} quarantined{filters}")
        return 0
    more = f"; showing the first {len(shown):,} (--limit)" if len(shown) < total else ""
    print(f"{total:,} quarantined {'row' if total == 1 else 'rows'} of {entity.name}{filters}{more}")
    for r in shown:
        where_ = (
            f"{r['source_file']}:{r['source_line']}"
            if r["source_line"] is not None
            else f"{r['source_file']} row {r['source_row']}"
        )
        print(
            f"{entity.key} {_text(r['natural_key'])}  {r['expectation']}({r['column']}) = "
            f"{_text(r['offending_value'])}  {where_}"
        )
        if r["original"] is None:
            print(f"    {REPLACED}")
        else:
            pairs = ", ".join(f"{c}={_text(v)}" for c, v in r["original"].items())
            print(textwrap.fill(pairs, width=110, initial_indent="    ", subsequent_indent="    "))
    return 0


def _text(value: object) -> str:
    """A value as the reader should see it: NULL, strings quoted (so spaces and empty strings show)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return repr(value)
    return str(value)
