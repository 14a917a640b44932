"""One truth per expectation: GX's verdict, the quarantined rows and the stored results agree, on Unicode input
(no-break spaces, full-width digits, Nordic and Turkish letters, zero-width spaces, composed and decomposed
accents) as well as on ASCII.

DuckDB matches regexes with RE2; GX on pandas with Python's ``re``, or with Arrow's RE2 where pandas thinks the
two agree. They differ exactly on such input: ``\\s``, ``\\d``, ``\\w`` are Unicode in ``re`` and ASCII in RE2,
``$`` matches before a final newline in ``re`` only, case-insensitive ``[a-z]`` takes ``ı`` in ``re`` only.
Whatever GX decides, the quarantine must set aside those rows and no others, and the results table (what Data
Docs render) must say the same counts.

The reference is GX itself on the whole table, one frame row per table row: no reduction, no SQL.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import duckdb
import pytest

from segments.contract import migrate
from segments.ingest.schemas import CHANNELS, COUNTRIES, ENTITIES
from segments.quality import results
from segments.quality.gate import check_entity
from segments.quality.suites import Suite, load_suite, load_suites
from segments.quality.validation import judge, source_sql, unexpected_rows
from segments.settings import EXPECTATIONS_DIR
from tests.unit.test_quality_suites import raw_table

NOW = datetime(2026, 11, 1, 12, 0)
CONTACTS = list(ENTITIES["crm_contacts"].columns)
EMAIL = r"^\s*[^@\s]+@[^@\s]+\.[A-Za-z]{2,}\s*$"  # as in the shipped suites


def contact(contact_id, **values):
    row = {
        "contact_id": contact_id, "account_id": None, "first_name": "Anna", "last_name": "Berg",
        "email": "anna@example.se", "phone": "+46 70 123 45 67", "birth_year": 1980, "gender": "f",
        "education": "university", "household": "couple", "country": "SE", "region": "Skane", "city": "Lund",
        "consent_email": True, "consent_sms": False, "consent_phone": False, "consent_post": True,
        "preferred_channel": "email", "acquisition_channel": "web", "acquisition_cost": 120.5,
        "created_at": "2025-03-01 10:00:00",
    }  # fmt: skip
    row.update(values)
    return tuple(row[c] for c in CONTACTS)


ASCII = [
    contact("C01"),
    contact("C02", email=" Anna.Berg@Example.SE "),
    contact("C03", email="anna@example"),  # no top-level domain
    contact("C04", email="anna@@example.se", phone="12"),
    contact("C05", first_name="Bo-Erik", last_name="O'Neil", phone="+46 (0)70-123 45 67"),
    contact("C06", birth_year=1850, acquisition_cost=-1),
    contact("C06", consent_email=None, country="US"),  # a later copy of C06
    contact(None, preferred_channel="pigeon", household="unknown"),
    contact("C08", email=None, phone=None, birth_year=None, city="Ystad", region=None),
    contact("C09", acquisition_cost=2_000_000, created_at="2027-01-01 00:00:00", gender="x"),
    contact("C10", email="anna@example.se"),  # the same e-mail as C01
]

UNICODE = [
    contact("C01", first_name="Åsa", last_name="Øster Ærø", city="Ærø", region="Skåne"),
    contact("C02", email="anna@example.se\u00a0"),  # trailing no-break space: \s in re, not in RE2
    contact("C03", email="anna@example.se\n"),  # $ before a final newline in re, not in RE2
    contact("C04", email="zero\u200bwidth@example.se", phone="\u00a0+46701234567"),
    contact("C05", email="bo@example.ｓｅ", phone="+46 70 １２３ ４５ ６７"),  # full-width letters and digits
    contact("C06", first_name="José", email="josé@example.se", region="Skåne"),  # composed; C07 decomposed
    contact("C07", first_name="Jose\u0301", email="jose\u0301@example.se", region="Ska\u030ane"),
    contact("C08", last_name="Yıldız", city="İzmir", household="okänd"),  # dotless ı, dotted İ
    contact("C09", last_name="ÖSTERGÅRD", household="oka\u0308nd", city="Va\u0308xjo\u0308"),
    contact("Ｃ10", first_name="Ｃ", country="SE\u200b", preferred_channel="email\u00a0"),  # full-width id
    contact("C10", gender="ｆ", education="\u3000university"),
    contact("C10", email="\u3000bo@example.se", consent_sms=None),  # a later copy of C10
    contact("C11", email="josé@example.se", birth_year=None, acquisition_cost=None),  # the same as C06
    contact(None, phone="１２３４５６７８", country="ＳＥ"),
]

# Every expectation type the suites allow, on columns where Python and DuckDB see Unicode differently.
ALL_TYPES = [
    ("expect_column_values_to_not_be_null", {"column": "contact_id"}),
    ("expect_column_values_to_be_unique", {"column": "contact_id"}),
    ("expect_column_values_to_be_unique", {"column": "email"}),
    ("expect_column_values_to_match_regex", {"column": "email", "regex": EMAIL}),
    ("expect_column_values_to_match_regex", {"column": "phone", "regex": r"^\s*\+?\d[\d ]{5,19}$"}),
    ("expect_column_values_to_match_regex", {"column": "last_name", "regex": "(?i)^[a-zåäöæø' -]+$"}),
    ("expect_column_values_to_not_match_regex", {"column": "first_name", "regex": r"\W"}),
    ("expect_column_values_to_not_match_regex", {"column": "education", "regex": r"^\s"}),
    ("expect_column_values_to_be_in_set", {"column": "preferred_channel", "value_set": list(CHANNELS)}),
    ("expect_column_values_to_be_in_set", {"column": "region", "value_set": ["Skåne", "Skane"]}),
    ("expect_column_values_to_not_be_in_set", {"column": "household", "value_set": ["okänd", "unknown"]}),
    ("expect_column_value_lengths_to_be_between", {"column": "city", "min_value": 2, "max_value": 5}),
    ("expect_column_values_to_be_between", {"column": "created_at", "max_value": "2026-11-01T00:00:00"}),
    ("expect_column_values_to_be_between", {"column": "birth_year", "min_value": 1900, "max_value": 2015}),
    (
        "expect_column_values_to_be_between",
        {"column": "acquisition_cost", "min_value": 0, "strict_min": True},
    ),
    ("expect_column_values_to_not_be_null", {"column": "consent_sms"}),
    ("expect_column_values_to_be_in_set", {"column": "country", "value_set": list(COUNTRIES)}),
]


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute("create schema accepted")
    for entity in ENTITIES:
        raw_table(connection, entity, [])
        connection.execute(f"create view accepted.{entity} as select * from raw.{entity}")
    migrate(connection)
    yield connection
    connection.close()


def every_type_suite(tmp_path) -> Suite:
    items = [{"type": kind, "kwargs": kwargs, "severity": "quarantine"} for kind, kwargs in ALL_TYPES]
    path = tmp_path / "every_type.json"
    path.write_text(
        json.dumps({"name": "every_type", "meta": {"table": "raw.crm_contacts"}, "expectations": items})
    )
    return load_suite(path)


def shipped_suite() -> Suite:
    """The contacts suite as shipped, every expectation promoted to quarantine so each one sets rows aside."""
    suite = load_suites(EXPECTATIONS_DIR)["raw.crm_contacts"]
    return replace(suite, expectations=[replace(e, severity="quarantine") for e in suite.expectations])


def gx_unexpected_rows(con, suite: Suite, expectation) -> set[int]:
    """``_source_row`` of the rows GX finds unexpected when it is given the whole table, row by row."""
    import great_expectations as gx  # heavy import: only the tests that need the reference pay for it
    from great_expectations.data_context.types.base import ProgressBarsConfig

    sql = source_sql(suite, columns=[expectation.column], extra=("_source_row",))
    frame = con.execute(sql, {"now": NOW} if "$now" in sql else None).fetch_df()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    batch = (
        context.data_sources.add_pandas("reference")
        .add_dataframe_asset("rows")
        .add_batch_definition_whole_dataframe("rows")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    kwargs = {k: v for k, v in expectation.kwargs.items() if k != "mostly"}
    gx_suite = gx.ExpectationSuite(
        name="reference", expectations=[{"type": expectation.type, "kwargs": kwargs}]
    )
    (result,) = batch.validate(gx_suite, result_format="COMPLETE").results
    assert not (result.exception_info or {}).get("raised_exception"), result.exception_info
    return {int(frame.loc[i, "_source_row"]) for i in result.result["unexpected_index_list"]}


def first_copies(con, column: str, rows: set[int]) -> set[int]:
    """Of ``rows`` (duplicated values), the first of each value: kept, not quarantined."""
    if not rows:
        return set()
    return {
        r
        for (r,) in con.execute(
            f"select min(_source_row) from raw.crm_contacts where _source_row in ({', '.join(map(str, rows))}) "
            f"group by {column}"
        ).fetchall()
    }


@pytest.mark.parametrize("data", [ASCII, UNICODE], ids=["ascii", "unicode"])
@pytest.mark.parametrize("which", ["every_type", "shipped"])
def test_verdict_quarantine_and_results_agree(con, tmp_path, data, which):
    suite = every_type_suite(tmp_path) if which == "every_type" else shipped_suite()
    suite = replace(suite, quarantine_limit=1.0)
    raw_table(con, "crm_contacts", data)
    report = check_entity(con, suite, run_id="r1", now=NOW)
    results.record(con, "r1", [report], checked_at=NOW)
    (stored,) = results.reports_for_run(con, "r1")  # what Data Docs render
    quarantined = con.execute(
        "select expectation, column_name, list(source_row) from raw._quarantine where run_id = 'r1' group by all"
    ).fetchall()
    quarantined = {(kind, column): set(rows) for kind, column, rows in quarantined}
    assert len(quarantined) == sum(o.quarantined > 0 for o in report.outcomes)

    disagreements = []
    outcomes = report.outcomes[: len(suite.expectations)]  # then anomalies and freshness
    for expectation, outcome, kept in zip(suite.expectations, outcomes, stored.outcomes, strict=False):
        assert (outcome.expectation, outcome.column) == (expectation.type, expectation.column)
        unexpected = gx_unexpected_rows(con, suite, expectation)
        moved = quarantined.get((expectation.type, expectation.column), set())
        if expectation.type == "expect_column_values_to_be_unique":  # the first copy of a value stays
            should_move = unexpected - first_copies(con, expectation.column, unexpected)
        else:
            should_move = unexpected
        got = (outcome.unexpected_count, outcome.quarantined, kept.unexpected_count, kept.quarantined, moved)
        want = (len(unexpected), len(should_move), len(unexpected), len(should_move), should_move)
        if got != want:
            disagreements.append(f"{expectation.label}: got {got}, GX row by row says {want}")
    assert not disagreements, "\n".join(disagreements)
    assert report.quarantined == sum(len(rows) for rows in quarantined.values())


def test_nan_is_missing_to_gx_so_it_is_not_judged_with_other_values(tmp_path):
    """pandas reads NaN as missing, DuckDB as a number above every other: a frame row standing for both NaN and
    2.0 would count, and quarantine, both or neither."""
    between = "expect_column_values_to_be_between"
    items = [
        {"type": kind, "kwargs": {"column": "x", **kwargs}, "severity": "quarantine"}
        for kind, kwargs in [
            (between, {"min_value": 0, "max_value": 1}),
            (between, {"min_value": 0}),
            ("expect_column_values_to_not_be_null", {}),
        ]
    ]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"name": "t", "meta": {"table": "raw.t"}, "expectations": items}))
    suite = load_suite(path)
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute(
        "create table raw.t as select x::double as x, row_number() over () as _source_row "
        "from (values ('nan'), ('2.0'), ('0.5'), (null), ('-inf'), ('nan')) v(x)"
    )
    _, verdicts = judge(con, suite, now=NOW)
    for verdict in verdicts:
        with unexpected_rows(con, suite, verdict, "raw.t", lineage=("_source_row",)) as sql:
            rows = {r for (r,) in con.execute(f"select _source_row from ({sql})").fetchall()}
        expected = gx_unexpected_rows(con, suite, verdict.expectation)
        assert (verdict.outcome.unexpected_count, rows) == (len(expected), expected), (
            verdict.expectation.label
        )
