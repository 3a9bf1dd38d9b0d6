"""The package's shape: files under 600 lines, imports at module level, no import cycles.

Read from the source with :mod:`ast`; nothing is imported or run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mfgp"
MAX_LINES = 600
#: files still over MAX_LINES, each to be split; the test fails when one of them is no longer
#: over the limit, so that the list only ever shrinks.
OVERSIZED: set[str] = set()


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported (not those under ``if TYPE_CHECKING``)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return found


def _targets(node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    """The mfgp modules an import statement loads by name (``from pkg import sub`` loads
    ``pkg.sub`` when that is a module; parent packages are not counted)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in modules}
    if node.level or not node.module or not node.module.startswith("mfgp"):
        return set()
    subs = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
    return subs or ({node.module} & set(modules))


def test_no_file_in_the_package_is_over_600_lines():
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")
    }
    over = {name for name, n in sizes.items() if n > MAX_LINES}
    assert over == OVERSIZED, {name: sizes.get(name) for name in over ^ OVERSIZED}


def test_mfgp_modules_are_imported_at_module_level():
    """No import of an mfgp module inside a function (optional third-party packages may be
    imported lazily)."""
    lazy = []
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        top = {id(n) for n in _module_level_imports(tree)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                mods += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                in_type_checking = False  # imports under TYPE_CHECKING are not executed
                for parent in ast.walk(tree):
                    if _is_type_checking(parent) and node in ast.walk(parent):
                        in_type_checking = True
                if not in_type_checking and any(m.split(".")[0] == "mfgp" for m in mods):
                    lazy.append(f"{name}:{node.lineno}")
    assert lazy == []


def test_no_import_cycle_between_mfgp_modules():
    modules = _modules()
    graph = {
        name: set().union(
            *(_targets(n, modules) for n in _module_level_imports(ast.parse(path.read_text())))
        )
        - {name}
        for name, path in modules.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # a package's __init__ importing its own submodules, which import a sibling through the
    # package, is how packages work; a cycle between two plain modules is not
    real = [c for c in cycles if not any(modules[m].name == "__init__.py" for m in c[:-1])]
    assert real == []


def _private_names_of_the_package() -> set[str]:
    """``_name`` functions, methods, classes and ``self._name`` attributes defined in mfgp."""
    names: set[str] = set()
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_tests_and_benchmarks_use_only_public_mfgp_names():
    """Tests and benchmark scripts use mfgp's public API: no ``from mfgp... import _name`` and
    no ``obj._name`` for a private name that mfgp defines."""
    private = _private_names_of_the_package()
    root = PACKAGE.parent
    found = []
    for path in sorted([*root.glob("tests/**/*.py"), *root.glob("benchmarks/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mfgp"):
                found += [f"{where} imports {a.name}" for a in node.names if a.name[0] == "_"]
            elif isinstance(node, ast.Attribute) and node.attr in private:
                found.append(f"{where} uses .{node.attr}")
    assert not found, "\n".join(found)
