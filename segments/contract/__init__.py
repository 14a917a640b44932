"""The contract of the tables Python owns: what they are (``tables``) and how a warehouse gets there
(``migrations``). The bottom of the library besides ``errors``: every writer and reader imports it."""

from segments.contract.migrations import (
    SCHEMA_VERSION,
    SchemaVersionError,
    migrate,
    require_current,
    schema_version,
)

__all__ = ["SCHEMA_VERSION", "SchemaVersionError", "migrate", "require_current", "schema_version"]
