"""tfganad's import graph, built statically (ast), has no circle and the registry is a leaf.

A circle (a imports b, which imports, directly or through others, a) makes import order matter: a module
sees a half-initialised one, and a change far away breaks `import` with a confusing error.

Importing `tfganad.x.y` also runs `tfganad/x/__init__.py`, so that package is drawn as imported too,
except the importer's own parent packages: they are already loading when it runs (so the package
`tfganad`, whose __init__ imports `tfganad.models` and `tfganad.baselines`, is how every entry point
has the registry filled before a lookup, without the registry importing its clients).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1] / "tfganad"

# Function-level imports that still close a circle, as (importer, imported). The list may only shrink:
# an entry that is no longer a function-level import closing a circle fails (delete it), and no other
# edge may close a circle.
ALLOWED_FUNCTION_LEVEL = frozenset()  # empty since the baselines go through the one evaluation path (#17)


def module_name(path: pathlib.Path, package_dir: pathlib.Path = PACKAGE_DIR) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """Collects (imported module, at_module_level) of one file; relative imports made absolute."""

    def __init__(self, name: str, is_package: bool, modules: set[str]):
        self.name = name
        self.package = name if is_package else name.rpartition(".")[0]
        self.modules = modules
        self.depth = 0  # > 0 inside a def/lambda: runs on call, not on import
        self.found: list[tuple[str, bool]] = []
        self.walks_path = False

    def _add(self, target: str):
        if target not in self.modules:
            return
        parts = target.split(".")
        for k in range(1, len(parts) + 1):
            module = ".".join(parts[:k])
            # the importer's own parents are already loading; any other package runs its __init__ first
            if module in self.modules and not self.name.startswith(module + "."):
                self.found.append((module, self.depth == 0))

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If):
        if _is_type_checking(node.test):  # annotations only: never runs
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom):
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            # `from pkg import name` where pkg.name is a sub-module imports that sub-module.
            sub = f"{source}.{alias.name}"
            self._add(sub if sub in self.modules else source)

    def visit_Call(self, node: ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "iter_modules":
            self.walks_path = True  # `for m in pkgutil.iter_modules(__path__): import_module(...)`
        if (isinstance(func, ast.Attribute) and func.attr == "import_module" and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            self._add(node.args[0].value)
        self.generic_visit(node)


def import_graph(package_dir: pathlib.Path = PACKAGE_DIR) -> dict[str, dict[str, bool]]:
    """{importer: {imported: at_module_level}} over every tfganad module (package-internal edges only)."""
    files = {module_name(p, package_dir): p for p in sorted(package_dir.rglob("*.py"))}
    modules = set(files)
    graph: dict[str, dict[str, bool]] = {}
    for name, path in files.items():
        visitor = _Imports(name, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        edges: dict[str, bool] = {}
        for target, module_level in visitor.found:
            if target != name:
                edges[target] = edges.get(target, False) or module_level
        if visitor.walks_path:  # a package that imports all its sub-modules by walking its own folder
            for sub in modules:
                if sub.rpartition(".")[0] == name:
                    edges[sub] = True
        graph[name] = edges
    return graph


def components(graph: dict[str, dict[str, bool]], module_level_only: bool = False) -> list[list[str]]:
    """Strongly connected components of more than one module (each one a set of import circles), sorted."""
    adj = {a: sorted(b for b, top in edges.items() if top or not module_level_only) for a, edges in graph.items()}
    index, low, on_stack, stack, found = {}, {}, set(), [], []

    def visit(v):  # Tarjan; ~80 modules, so recursion depth is no issue
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in adj.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on_stack.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(adj):
        if v not in index:
            visit(v)
    return sorted(found)


def shortest_circle(graph, comp: list[str], module_level_only: bool = False) -> list[str]:
    """A shortest circle from the first module of `comp` back to it, e.g. [a, b, a]."""
    start, members = comp[0], set(comp)
    prev, frontier = {start: None}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w, top in sorted(graph[v].items()):
                if module_level_only and not top:
                    continue
                if w == start:
                    path = [v]
                    while prev[path[-1]] is not None:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w in members and w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{comp} is not a circle")


def cycles(graph, module_level_only: bool = False) -> list[str]:
    """One line per circle component: its modules and a shortest circle through them."""
    return [f"{len(comp)} modules ({', '.join(comp)}), e.g. "
            + describe(graph, shortest_circle(graph, comp, module_level_only))
            for comp in components(graph, module_level_only)]


def describe(graph, cycle: list[str]) -> str:
    return " -> ".join(
        a + ("" if graph[a][b] else " (in a function)") for a, b in zip(cycle, cycle[1:])) + " -> " + cycle[-1]


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_graph_sees_every_kind_of_import(graph):
    # absolute, relative, from-package-import-submodule, function-level and pkgutil-walk edges are all drawn
    assert graph["tfganad"]["tfganad.models"] is True
    assert graph["tfganad.models"]["tfganad.models.ganomaly"] is True  # pkgutil walk
    assert graph["tfganad.data"]["tfganad.data.tabular"] is True  # pkgutil walk
    assert graph["tfganad.training.hparams"]["tfganad.registry"] is False  # inside a function
    assert graph["tfganad.cli.main"].get("tfganad") is None  # its own parent package: already loading
    assert "tfganad.registry" in graph["tfganad.models.ganomaly"]


def test_builder_resolves_relative_submodule_and_parent_imports(tmp_path):
    pkg = tmp_path / "tfganad"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\nfrom .sub import c as _c\n")
    (pkg / "b.py").write_text("def f():\n    from tfganad.sub.c import X\n")
    (pkg / "sub" / "__init__.py").write_text("from ..a import thing\n")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tfganad import a\nimport tfganad.b\n")
    g = import_graph(pkg)
    # importing tfganad.sub.c runs tfganad/sub/__init__.py first: a real edge to tfganad.sub
    assert g["tfganad.a"] == {"tfganad.b": True, "tfganad.sub": True, "tfganad.sub.c": True}
    assert g["tfganad.b"] == {"tfganad.sub": False, "tfganad.sub.c": False}
    assert g["tfganad.sub"] == {"tfganad.a": True}
    assert g["tfganad.sub.c"] == {"tfganad.b": True}  # the TYPE_CHECKING import never runs
    assert g["tfganad"] == {}
    assert cycles(g, module_level_only=True) == [
        "2 modules (tfganad.a, tfganad.sub), e.g. tfganad.a -> tfganad.sub -> tfganad.a"]
    assert components(g) == [["tfganad.a", "tfganad.b", "tfganad.sub", "tfganad.sub.c"]]
    (pkg / "sub" / "__init__.py").write_text("")
    assert cycles(import_graph(pkg)) == [
        "2 modules (tfganad.b, tfganad.sub.c), e.g. tfganad.b (in a function) -> tfganad.sub.c -> tfganad.b"]


def test_registry_is_a_leaf(graph):
    assert set(graph["tfganad.registry"]) <= {"tfganad.errors"}
    assert graph["tfganad.errors"] == {}


def test_no_module_level_import_circle(graph):
    found = cycles(graph, module_level_only=True)
    assert found == [], "module-level import circles:\n" + "\n".join(found)


def _reaches(graph, start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for w in graph.get(todo.pop(), {}):
            if w == goal:
                return True
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return False


def test_no_import_circle_beyond_the_allow_list(graph):
    stale = [edge for edge in ALLOWED_FUNCTION_LEVEL
             if graph.get(edge[0], {}).get(edge[1]) is not False or not _reaches(graph, edge[1], edge[0])]
    assert stale == [], f"remove from ALLOWED_FUNCTION_LEVEL (no longer a function-level import in a circle): {stale}"
    pruned = {a: {b: top for b, top in edges.items() if (a, b) not in ALLOWED_FUNCTION_LEVEL}
              for a, edges in graph.items()}
    found = cycles(pruned)
    assert found == [], "import circles:\n" + "\n".join(found)


def test_registry_is_full_from_any_entry_point():
    # a fresh interpreter importing only the registry (as the CLI, sweep or a notebook may) sees every entry:
    # tfganad/__init__.py, which Python runs first, registers the models and the baselines
    import subprocess
    import sys

    code = ("from tfganad.registry import available_baselines, available_models, get_model_class\n"
            "print(len(available_models()), len(available_baselines()), get_model_class('pca_kde').__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE_DIR.parent).stdout.split()
    assert int(out[0]) >= 9 and int(out[1]) >= 5 and out[2] == "PCAKDE"
