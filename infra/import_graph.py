"""The project's own import graph, read from the source with `ast`: which first-party modules
each module imports, wherever the import stands (top level, inside a function, under
TYPE_CHECKING). infra/package_artifacts.py builds the AWS zips from it (an entry point and
what it imports) and tests/unit/test_layering.py holds the layering to it.

Importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first, so a module's packages
count among its imports.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("streaming", "clickstream_assets")


def module_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Every first-party module by dotted name (a package by its __init__.py)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "node_modules" in parts or "__pycache__" in parts:
                continue
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _with_packages(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts) + 1)}


def _imported(name: str, tree: ast.AST, known: dict[str, Path]) -> set[str]:
    """The first-party modules `tree` (module `name`) imports."""
    package = name if known[name].name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.add(submodule if submodule in known else base)
    return {module for target in targets for module in _with_packages(target) if module in known}


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    """module -> the first-party modules it imports directly (itself excluded)."""
    known = module_files(root, packages)
    return {name: _imported(name, ast.parse(path.read_text(), str(path)), known) - {name}
            for name, path in known.items()}


def closure(graph: dict[str, set[str]], entry: str) -> set[str]:
    """`entry`, its packages and every module they import, transitively."""
    seen: set[str] = set()
    waiting = [module for module in _with_packages(entry) if module in graph]
    while waiting:
        module = waiting.pop()
        if module not in seen:
            seen.add(module)
            waiting.extend(graph[module] - seen)
    return seen
