"""Rule lint: rules that can never match, empty segments, inconsistent and overlapping actions.

Two entry points (``segments rules validate`` calls them):

* :func:`lint_static` decides on the conditions alone (no data):

  - ``shadowed``: a rule that can never match because the rules before it in its scheme already take every
    entity its condition accepts (also a condition that is never true, and a default no entity can reach).
    Decided exactly for conditions built with AND/OR/NOT from atoms ``column <op> constant`` (=, <>, !=, <,
    <=, >, >=, either side), ``BETWEEN``, ``IN (constants)``, ``IS [NOT] NULL``, ``IS [NOT] TRUE/FALSE``,
    a bare boolean column and ``<condition> = true/false``. SQL's three-valued logic is followed: a
    comparison on NULL is not true, ``NOT`` of it is not true either. Numbers are treated as reals, so a
    shadowing that only holds on whole numbers (``x > 3`` then ``x >= 4``) is missed, never invented.
    Anything else (functions, arithmetic, CASE, LIKE, column-vs-column ...) is opaque: a rule containing
    it is not judged statically (the data check covers it); in an earlier rule it only counts where the
    rest of the condition alone decides (e.g. ``x > 5 OR abs(y) > 1`` takes at least ``x > 5``).
  - ``inconsistent_action``: one ``next_action.action`` name used with different channel/owner/priority.

* :func:`lint_on_data` runs one query per scheme (and one per entity level for overlaps) on the current
  data: ``shadowed_on_data``, ``never_true_on_data``, ``empty_segment`` and ``overlapping_actions``.

How the static check works: each column used by a scheme's conditions is split into elementary cells at
the constants it is compared with (below the first, each constant, between two, above the last, and NULL;
for booleans: false, true, NULL). A condition becomes a union of boxes (per column a set of cells) for where
it is TRUE, and one for where it is FALSE (for NOT). Rule *j* is shadowed when every one of its boxes is
covered by the union of the earlier rules' boxes, decided by splitting boxes (exact; capped, giving up means
"not reported"). Assumptions for soundness: DuckDB's default (binary) collation; a text constant that DuckDB
could also read as a number, date, time, interval, boolean or UUID makes its column opaque (the column may
not be text), as do constants of mixed kinds on one column and distinct numbers that are one DOUBLE.
"""

from .findings import LintFinding
from .on_data import lint_on_data
from .static import lint_static

__all__ = ["LintFinding", "lint_on_data", "lint_static"]
