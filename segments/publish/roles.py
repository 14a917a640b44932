"""The PostgreSQL roles the published tables are read with (``segments grant``).

``segments_reader`` and ``segments_auditor`` (``segments.contract.privileges``: which tables each reads) are
group roles without login: a person or a tool logs in with its own role, which is made a member. Making them
again is harmless and also updates them: each role loses every privilege outside its list (in every schema,
``segments`` included), then gets USAGE on schema ``segments`` and SELECT on its tables; neither may write
anything. Default privileges give the auditor SELECT on tables the job's role makes in schema ``segments``
later; the reader's tables are named, so the contract's migrations grant those as they make them.

Everything happens in one transaction: a failure (a login role that does not exist, a missing privilege)
changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from segments.contract.privileges import AUDITOR, READER, ROLE_TABLES, renew_grants
from segments.engines import PostgresError, dialect_of
from segments.errors import PublishError
from segments.sql import quote_identifier

__all__ = ["AUDITOR", "READER", "RoleGrants", "grant_roles"]


@dataclass(frozen=True)
class RoleGrants:
    role: str
    created: bool  # False: it existed and was updated
    tables: tuple[str, ...]  # what it may SELECT now (schema segments)
    members: tuple[str, ...]  # the login roles that have it


def grant_roles(con, *, readers: Sequence[str] = (), auditors: Sequence[str] = ()) -> list[RoleGrants]:
    """Make or update both roles, and grant them to the login roles ``readers`` and ``auditors``."""
    if dialect_of(con) != "postgres":
        raise PublishError("roles are a PostgreSQL feature")
    members = {READER: list(dict.fromkeys(readers)), AUDITOR: list(dict.fromkeys(auditors))}
    try:
        con.execute_native("begin")
        try:
            created = _grant(con, members)
            con.execute_native("commit")
        except BaseException:
            con.execute_native("rollback")
            raise
    except PostgresError as exc:
        raise PublishError(f"could not grant the roles ({exc}); nothing was changed") from None
    return [
        RoleGrants(role, role in created, _readable(con, role), _members(con, role)) for role in ROLE_TABLES
    ]


def _grant(con, members: dict[str, list[str]]) -> set[str]:
    wanted = [name for names in members.values() for name in names]
    known = {name for (name,) in con.execute_native("select rolname from pg_roles").fetchall()}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise PublishError(
            f"no login role {', '.join(unknown)} in this database: create it first (create role ... login)"
        )
    created = set()
    for role in ROLE_TABLES:
        if role in known:
            con.execute_native(f"alter role {role} nologin")
        else:
            con.execute_native(f"create role {role} nologin")
            created.add(role)
    con.execute_native("create schema if not exists segments")
    (owner,) = con.execute_native(
        "select nspowner::regrole::text from pg_namespace where nspname = 'segments'"
    ).fetchone()
    schemas = [
        name
        for (name,) in con.execute_native(
            """select nspname from pg_namespace
               where nspname not like 'pg\\_%' and nspname <> 'information_schema'"""
        ).fetchall()
    ]
    for role in ROLE_TABLES:
        for schema in schemas:  # nothing but what follows, wherever it came from
            con.execute_native(f"revoke all on all tables in schema {quote_identifier(schema)} from {role}")
            con.execute_native(f"revoke all on schema {quote_identifier(schema)} from {role}")
        con.execute_native(
            f"alter default privileges for role {owner} in schema segments revoke all on tables from {role}"
        )
        con.execute_native(f"grant usage on schema segments to {role}")
    con.execute_native(
        f"alter default privileges for role {owner} in schema segments grant select on tables to {AUDITOR}"
    )
    renew_grants(con)
    for role, names in members.items():
        for name in names:
            con.execute_native(f"grant {role} to {quote_identifier(name)}")
    return created


def _readable(con, role: str) -> tuple[str, ...]:
    rows = con.execute_native(
        """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where n.nspname = 'segments' and c.relkind in ('r', 'v', 'p')
             and has_table_privilege(%s, c.oid, 'select')
           order by 1""",
        [role],
    ).fetchall()
    return tuple(name for (name,) in rows)


def _members(con, role: str) -> tuple[str, ...]:
    rows = con.execute_native(
        """select m.rolname from pg_auth_members a join pg_roles g on g.oid = a.roleid
           join pg_roles m on m.oid = a.member where g.rolname = %s order by 1""",
        [role],
    ).fetchall()
    return tuple(name for (name,) in rows)
