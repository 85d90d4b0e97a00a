"""The package's layering: no import cycle, and nothing but the command line imports it.

Imports inside functions count as much as those at the top of a module: a cycle hidden by a
deferred import is still a cycle (see README, "Layout").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import glassbox

PACKAGE = Path(glassbox.__file__).parent
ALLOWED_INTO_CLI = {"glassbox.cli", "glassbox.__main__"}  # `python -m glassbox` is the command


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package rooted at ``root`` (the compiled ``_core`` by its stub)."""
    names = {}
    for path in sorted(root.rglob("*.py")) + sorted(root.rglob("*.pyi")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.setdefault(".".join(parts), path)
    return names


def imports_of(name: str, path: Path, known) -> set[str]:
    """The package's modules that module ``name`` imports anywhere, function bodies included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # `from . import x` imports the module x
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    # `import a.b.c` imports a and a.b too: keep only the deepest known module of each
    return {_known_prefix(m, known) for m in found} - {None, name}


def _known_prefix(module: str, known):
    while module and module not in known:
        module = module.rpartition(".")[0]
    return module or None


def import_graph(root: Path) -> dict[str, set[str]]:
    known = module_names(root)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 20 and "glassbox._core" in graph  # the walk saw the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_nothing_outside_the_command_line_imports_it():
    graph = import_graph(PACKAGE)
    offenders = sorted(
        f"{src} -> {dst}"
        for src, targets in graph.items()
        if not (src in ALLOWED_INTO_CLI or src.startswith("glassbox.cli."))
        for dst in targets
        if dst == "glassbox.cli" or dst.startswith("glassbox.cli.")
    )
    assert not offenders


def test_the_low_level_modules_import_nothing_from_glassbox():
    graph = import_graph(PACKAGE)
    for name in ("glassbox._io", "glassbox.groups", "glassbox._core"):
        assert graph[name] == set(), name


def _write_package(root: Path, modules: dict[str, str]) -> Path:
    pkg = root / "glassbox"
    for name, text in modules.items():
        path = pkg / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return pkg


@pytest.mark.parametrize(
    "modules",
    [
        # a deferred import inside a function closes the cycle
        {"__init__": "", "a": "from . import b\n", "b": "def f():\n    from .a import x\n"},
        # through three modules, absolute and relative spellings mixed
        {
            "__init__": "",
            "a": "import glassbox.b\n",
            "b": "from .c import y\n",
            "c": "from glassbox import a\n",
        },
        # a sub-package reaching back up to its parent
        {
            "__init__": "",
            "lib": "from .cli import run\n",
            "cli/__init__": "",
            "cli/run": ("def main():\n    from ..lib import thing\n"),
        },  # fmt: skip
    ],
)
def test_a_planted_cycle_is_found(tmp_path, modules):
    graph = import_graph(_write_package(tmp_path, modules))
    cycle = find_cycle(graph)
    assert cycle is not None and cycle[0] == cycle[-1]


def test_an_acyclic_planted_package_passes(tmp_path):
    modules = {"__init__": "from . import a, b\n", "a": "from . import b\n", "b": "import os\n"}
    assert find_cycle(import_graph(_write_package(tmp_path, modules))) is None
