"""The layout's rules, read from the source: the library never imports Dagster or the orchestration layer,
there is no import cycle (imports inside functions count), and an import of the project's own code inside a
function says why it is there."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("segments", "orchestration")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _imports(path: Path, name: str) -> list[tuple[ast.stmt, list[str], bool]]:
    """(statement, imported module names, inside a function) for every import in a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_function = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found.append((node, names, id(node) in in_function))
    return found


def _project_module(name: str) -> str | None:
    """The project module an imported name belongs to (``segments.rules.load_rule_file`` -> ``segments.rules``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def test_the_layout_is_what_the_tests_read():
    assert {"segments", "segments.cli", "segments.rules", "orchestration.definitions"} <= set(MODULES)
    assert len(MODULES) > 60


def test_the_library_never_imports_dagster_or_the_orchestration_layer():
    offending = [
        f"{MODULES[name].relative_to(ROOT)}:{node.lineno}: {target}"
        for name in MODULES
        if name.startswith("segments")
        for node, targets, _ in _imports(MODULES[name], name)
        for target in targets
        if target.split(".")[0] in ("dagster", "dagster_dbt", "dagster_webserver", "orchestration")
    ]
    assert offending == []


def test_no_import_cycles_counting_imports_inside_functions():
    graph = {
        name: {
            module
            for _, targets, _ in _imports(path, name)
            for module in map(_project_module, targets)
            if module and module != name
        }
        for name, path in MODULES.items()
    }
    cycles = []
    state: dict[str, str] = {}  # "open" while on the path, "done" after

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_an_import_of_the_project_inside_a_function_says_why():
    silent = []
    for name, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, targets, in_function in _imports(path, name):
            if not in_function or not any(_project_module(t) for t in targets):
                continue
            around = lines[node.lineno - 2 : node.end_lineno]  # the line above and the statement
            if not any("#" in line for line in around):
                silent.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert silent == []


# The library's layers, top to bottom (ARCHITECTURE.md): a module imports from its own layer or those below.
LAYERS = [
    ("segments.cli",),
    ("segments.reports", "segments.explain", "segments.guard", "segments.preflight"),
    ("segments.publish", "segments.rules", "segments.quality", "segments.ingest", "segments.value",
     "segments.demo", "segments.features", "segments.dbt_manifest"),
    ("segments.contract", "segments.warehouse", "segments.engines", "segments.lock", "segments.sql", "segments.settings",
     "segments.errors", "segments.formatting"),
]  # fmt: skip


def _layer(name: str) -> int:
    if name == "segments":  # the package itself: its __init__ imports nothing
        return len(LAYERS) - 1
    for depth, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return depth
    raise AssertionError(f"{name} is in no layer of LAYERS: add it")


def test_imports_go_down_the_layers():
    upward = [
        f"{MODULES[name].relative_to(ROOT)}:{node.lineno}: imports {target}"
        for name in MODULES
        if name.startswith("segments")
        for node, targets, _ in _imports(MODULES[name], name)
        for target in {_project_module(t) for t in targets} - {None}
        if _layer(target) < _layer(name)
    ]
    assert upward == []
