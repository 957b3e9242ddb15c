"""The edgeport source a stage runs: its module and every edgeport module it imports, transitively.

A stage's fingerprint covers the sha256 of each of these files (one part per file, ``code.training/kd.py``), so
editing the KD loss re-runs distill and what consumes it, editing the report renderer re-runs only the report, and
``--dry-run`` names the file that changed. The package version is not used: it stayed 0.1.0 through every change.

The closure is read statically from the source (``ast``), because edgeport imports torch-heavy modules inside
functions (``--dry-run`` must not load torch): every ``import`` / ``from ... import`` anywhere in a module counts,
except those under ``if TYPE_CHECKING:`` (annotations only, never run). ``from pkg import name`` counts
``pkg/name.py`` when it is a submodule, else ``pkg/__init__.py`` (where ``name`` is defined or re-exported).

Not counted: a parent package's ``__init__`` that Python runs implicitly on the way to a submodule. The stage
registry ``edgeport/stages/__init__.py`` imports every stage, so counting it would tie each stage to every other
stage's code; a package ``__init__`` imported by name (``from ..models import load_classifier``) is counted.
Modules outside ``edgeport/`` are covered by the library versions (``lib.<name>`` parts), not here.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the edgeport package directory
PACKAGE = ROOT.name


def module_file(name: str) -> Path | None:
    """The source file of an edgeport module (``edgeport.training.kd``), or None when it is not one."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = ROOT.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST):
    """Every import statement in the module, skipping ``if TYPE_CHECKING:`` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute name of ``from <level dots><node.module> import ...`` inside ``module``."""
    if not node.level:
        return node.module or ""
    is_package = (module_file(module) or Path()).name == "__init__.py"
    base = module.split(".")
    base = base[: len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def direct_imports(module: str) -> tuple[str, ...]:
    """The edgeport modules ``module``'s source imports by name."""
    path = module_file(module)
    if path is None:
        return ()
    found = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:  # a submodule named in ``from pkg import sub`` is itself; any other name is pkg's __init__
            target = _absolute(module, node)
            names = [f"{target}.{a.name}" if module_file(f"{target}.{a.name}") else target for a in node.names]
        found |= {n for n in names if module_file(n) is not None}
    found.discard(module)
    return tuple(sorted(found))


def closure(module: str) -> list[str]:
    """``module`` and every edgeport module reachable through its imports, sorted."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or module_file(name) is None:
            continue
        seen.add(name)
        todo.extend(direct_imports(name))
    return sorted(seen)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def code_parts(module: str) -> dict[str, str]:
    """``{"code.<path under edgeport/>": sha256[:16]}`` for every file of ``closure(module)``."""
    files = {module_file(name) for name in closure(module)}
    return {f"code.{path.relative_to(ROOT).as_posix()}": _digest(path) for path in sorted(files)}
