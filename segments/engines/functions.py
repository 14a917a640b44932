"""Functions the SQL generated for PostgreSQL calls where PostgreSQL has no built-in that behaves as DuckDB's.

They live in schema ``segments`` and are made by the contract's migrations (``segments.contract.migrations``);
``segments.engines.dialect`` generates the calls. Each is written in SQL, immutable and not strict, so
PostgreSQL inlines it into the statement (no per-row function call), except ``_json_large``, which only runs
for the rare number of magnitude 1e15 or more.

``segments.json_text(value)``: ``value`` as DuckDB writes it inside JSON (``json_object``), one overload per
type, so PostgreSQL picks the rendering by the argument's type while planning:

- text: in double quotes, ``"`` and ``\\`` escaped, control characters as ``\\b \\t \\n \\f \\r`` or
  ``\\u00XX`` with upper-case hex digits (PostgreSQL's ``to_json`` writes lower case), everything else as is;
- double precision (and real, widened to double as DuckDB does): the shortest digits that read back as the
  same double, in fixed notation with ``.0`` for a whole number when the decimal exponent is from -7 to 20
  (``100000.0``, ``0.000001``), else ``1.5e21`` / ``1e-7``; ``NaN``, ``Infinity``, ``-Infinity``, ``-0.0``.
  PostgreSQL's own output (``extra_float_digits`` >= 1, which ``PostgresConnection`` sets) gives the shortest
  digits, except that its Ryu excludes the ends of the rounding interval, so for some numbers of 2^53 or more
  it writes 17 digits where a shorter number at the interval's end reads back the same
  (``2.0204999999999999e+21`` for ``2.0205e21``): ``_json_large`` rounds those to one digit fewer and keeps
  that when it reads back as the same double;
- numeric, integers: their text; boolean: ``true`` / ``false``; date, timestamp: their ISO text in quotes;
  arrays: ``to_json``; NULL: ``null``.
"""

from __future__ import annotations

__all__ = ["FUNCTIONS_DDL", "JSON_TEXT", "ROUND"]

JSON_TEXT = "segments.json_text"
ROUND = "segments.round"

_SHORT_ESCAPES = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}


def _escaped(text: str) -> str:
    """SQL for ``text`` with JSON's escapes: backslash and quote first, then every control character."""
    escaped = f"replace(replace({text}, '\\', '\\\\'), '\"', '\\\"')"
    for code in range(1, 32):  # PostgreSQL text never holds chr(0)
        escape = _SHORT_ESCAPES.get(code, f"\\u{code:04X}")
        escaped = f"replace({escaped}, chr({code}), '{escape}')"
    return escaped


def _function(signature: str, returns: str, body: str, language: str = "sql") -> str:
    return (
        f"create or replace function {signature} returns {returns} language {language} immutable "
        f"parallel safe as $function$ {body} $function$"
    )


_PLAIN = "replace(replace(value, '\\', '\\\\'), '\"', '\\\"')"
_TEXT = f"""select case when value is null then 'null'
    when value ~ '[\\x01-\\x1f]' then '"' || {_escaped("value")} || '"'
    else '"' || {_PLAIN} || '"' end"""

# value::text is PostgreSQL's shortest output: 1.5e+21, 1e-07, 123.456, 100000, -0, NaN
_DOUBLE = """select case when value is null then 'null'
    when value::text in ('NaN', 'Infinity', '-Infinity') then value::text
    when value::text = '-0' then '-0.0'
    when value::text like '%e+%' then segments._json_large(value)
    when coalesce(nullif(split_part(value::text, 'e-', 2), ''), '0')::integer >= 7
        then regexp_replace(value::text, 'e-0*', 'e-')
    when value::text::numeric::text like '%.%' then value::text::numeric::text
    else value::text::numeric::text || '.0' end"""

# |value| >= 1e15, which PostgreSQL writes as d.ddde+XX
_LARGE = """
declare
    mantissa text := split_part(abs(value)::text, 'e+', 1);
    exponent integer := split_part(abs(value)::text, 'e+', 2)::integer;
    digits text := replace(mantissa, '.', '');
    shorter numeric;
    sign text := case when value < 0 then '-' else '' end;
begin
    if length(digits) > 1 then
        shorter := round(mantissa::numeric, length(digits) - 2);
        begin
            if (shorter::text || 'e' || exponent)::double precision = abs(value) then
                if shorter >= 10 then
                    shorter := shorter / 10;
                    exponent := exponent + 1;
                end if;
                digits := replace(trim_scale(shorter)::text, '.', '');
            end if;
        exception when numeric_value_out_of_range then
            null;  -- rounded past the largest double: the digits stay
        end;
    end if;
    if exponent + 1 <= 21 then  -- fixed notation up to 21 digits before the point, as DuckDB's writer
        if length(digits) <= exponent + 1 then
            return sign || rpad(digits, exponent + 1, '0') || '.0';
        end if;
        return sign || left(digits, exponent + 1) || '.' || substr(digits, exponent + 2);
    end if;
    return sign || left(digits, 1) || case when length(digits) > 1 then '.' || substr(digits, 2) else '' end
        || 'e' || exponent;
end"""

# DuckDB's round of a double: std::round (half away from zero) of value * 10^digits, divided back; for
# negative digits value / 10^-digits rounded, multiplied back. PostgreSQL's round(double) rounds half to even
# and it has no round(double, integer). value - trunc(value) is exact in binary floating point.
_HALF_AWAY = "(trunc({v}) + sign({v}) * (abs({v} - trunc({v})) >= 0.5)::integer)"
_ROUND_DIGITS = f"""select case
    when digits >= 0 then {_HALF_AWAY.format(v="(value * 10::double precision ^ digits)")}
        / 10::double precision ^ digits
    else {_HALF_AWAY.format(v="(value / 10::double precision ^ -digits)")} * 10::double precision ^ -digits
    end"""

FUNCTIONS_DDL: tuple[str, ...] = (
    _function("segments._json_large(value double precision)", "text", _LARGE, language="plpgsql"),
    _function(f"{JSON_TEXT}(value double precision)", "text", _DOUBLE),
    _function(f"{JSON_TEXT}(value real)", "text", f"select {JSON_TEXT}(value::double precision)"),
    _function(f"{JSON_TEXT}(value text)", "text", _TEXT),
    *(
        _function(f"{JSON_TEXT}(value {type_})", "text", "select coalesce(value::text, 'null')")
        for type_ in ("smallint", "integer", "bigint", "numeric")
    ),
    _function(
        f"{JSON_TEXT}(value boolean)",
        "text",
        "select case when value then 'true' when not value then 'false' else 'null' end",
    ),
    *(
        _function(
            f"{JSON_TEXT}(value {type_})", "text", "select coalesce('\"' || value::text || '\"', 'null')"
        )
        for type_ in ("date", "timestamp", "timestamptz")
    ),
    _function(f"{JSON_TEXT}(value anyarray)", "text", "select coalesce(to_json(value)::text, 'null')"),
    _function(
        f"{ROUND}(value double precision)", "double precision", f"select {_HALF_AWAY.format(v='value')}"
    ),
    _function(f"{ROUND}(value double precision, digits integer)", "double precision", _ROUND_DIGITS),
    _function(f"{ROUND}(value numeric)", "numeric", "select pg_catalog.round(value)"),
    _function(f"{ROUND}(value numeric, digits integer)", "numeric", "select pg_catalog.round(value, digits)"),
)
