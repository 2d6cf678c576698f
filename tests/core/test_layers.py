"""The layers of docs/architecture.md hold: no module imports upward, and no import circles.

Every ``import`` in ``src/llmcost`` is read with ``ast`` (those inside functions too: a lazy
import is still a dependency), except the ones under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "llmcost"

#: Each layer may import the layers before it and its own layer, never a later one.
LAYERS: list[set[str]] = [
    {"types", "errors", "_lazy", "policy"},
    {"pricing", "tokens", "sinks", "reading"},
    {"_dispatch", "_context"},
    {"budgets", "_budgets", "tracking"},
    {"_recorder"},
    {"integrations"},
    {
        "__init__",
        "__main__",
        "report",
        "report_html",
        "anomaly",
        "testing",
        "pytest_plugin",
        "cli",
        "commands",
        "demo",
    },
]
#: Siblings of one layer that must not import each other (each stands on the layers below).
SIBLINGS = LAYERS[1]


def _unit(path: Path) -> str:
    """The top-level unit a file belongs to: ``pricing`` for ``pricing/_math.py``."""
    parts = path.relative_to(SRC).with_suffix("").parts
    return parts[0]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["llmcost", *parts])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> set[str]:
    """The llmcost units ``path`` imports at run time."""
    tree = ast.parse(path.read_text())
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            for alias in node.names:
                found.add(f"{module}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    units = set()
    for name in found:
        parts = name.split(".")
        if (parts[0] == "llmcost" and len(parts) > 1 and (SRC / parts[1]).exists()) or (
            parts[0] == "llmcost" and len(parts) > 1 and (SRC / f"{parts[1]}.py").exists()
        ):
            units.add(parts[1])
    return units


def _layer(unit: str) -> int:
    for index, layer in enumerate(LAYERS):
        if unit in layer:
            return index
    raise AssertionError(f"src/llmcost/{unit} has no layer: add it to LAYERS and the docs")


FILES = sorted(SRC.rglob("*.py"))


def test_every_unit_has_a_layer() -> None:
    for path in FILES:
        _layer(_unit(path))


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(SRC)))
def test_no_upward_import(path: Path) -> None:
    unit = _unit(path)
    own = _layer(unit)
    for imported in sorted(_imports(path) - {unit}):
        layer = _layer(imported)
        assert layer <= own, f"{unit} (layer {own}) imports {imported} (layer {layer})"
        if unit in SIBLINGS:
            assert imported not in SIBLINGS, f"{unit} imports its sibling {imported}"


def test_no_import_circles_between_units() -> None:
    graph: dict[str, set[str]] = {}
    for path in FILES:
        graph.setdefault(_unit(path), set()).update(_imports(path) - {_unit(path)})
    visiting: list[str] = []
    done: set[str] = set()

    def walk(unit: str) -> None:
        if unit in done:
            return
        assert unit not in visiting, "import circle: " + " -> ".join([*visiting, unit])
        visiting.append(unit)
        for imported in sorted(graph.get(unit, ())):
            walk(imported)
        visiting.pop()
        done.add(unit)

    for unit in sorted(graph):
        walk(unit)
