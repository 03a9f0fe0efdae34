"""The package's structure, checked from its imports (read with ``ast``, nothing is run).

* no import loop anywhere in ``recbole_outfit`` (module-level and in-function imports alike);
* a lower layer never imports a higher one: nothing under ``model/``, ``data/``, ``evaluator/`` or
  ``trainer/`` (nor the shared utilities) imports ``quick_start``, the ``pipeline``, the ``experiments`` or the
  ``benchmarks``, and the pipeline does not import the entry points, the experiments or the benchmarks;
* imports inside functions only for optional dependencies (modules outside the package).

The last test plants a loop and an upward import in a scratch package and sees the checks catch both.
"""

import ast
import os

import pytest

PACKAGE = "recbole_outfit"
ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), PACKAGE)
TOP = ("recbole_outfit.quick_start", "recbole_outfit.pipeline", "recbole_outfit.benchmarks", "recbole_outfit.experiments",
       "recbole_outfit.cli", "recbole_outfit.recommend", "recbole_outfit.serve", "recbole_outfit.plots.__main__")
BELOW_PIPELINE = ("recbole_outfit.model", "recbole_outfit.data", "recbole_outfit.evaluator", "recbole_outfit.trainer",
                  "recbole_outfit.errors", "recbole_outfit.compat", "recbole_outfit.report", "recbole_outfit.atomic",
                  "recbole_outfit.settings", "recbole_outfit.config", "recbole_outfit.utils", "recbole_outfit.validation",
                  "recbole_outfit.checkpoint", "recbole_outfit.verified", "recbole_outfit.run_id", "recbole_outfit.plots.draw",
                  "recbole_outfit.options", "recbole_outfit.startup")
# command-line modules: they check their arguments with light modules first and import the run's modules inside
# main afterwards, so that --help and a mistake answer before torch and RecBole load (docs/configuration.md)
COMMANDS = ("recbole_outfit.cli", "recbole_outfit.experiments.hyper_cli", "recbole_outfit.recommend.__main__",
            "recbole_outfit.serve.__main__", "recbole_outfit.plots.__main__", "recbole_outfit.reproduce")


def _modules(root=ROOT):
    """{module name: path} of every module of the package at ``root``."""
    modules = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                parts = os.path.relpath(path, os.path.dirname(root))[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join(parts)] = path
    return modules


def _resolve(name, modules):
    """The package module an import of ``name`` loads (its longest known prefix), or None."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imports(module, path, modules):
    """[(imported package module, inside a function?)] of ``module``."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in child.names] + [base]
            for name in names:
                target = _resolve(name, modules)
                if target and target != module:
                    found.append((target, nested, name))
                elif not target and name.startswith(PACKAGE + ".") and not in_function:
                    pass
            visit(child, nested)

    visit(tree, False)
    return found


def import_graph(root=ROOT):
    """{module: [(imported package module, inside a function?, name as written)]} of the package at ``root``."""
    modules = _modules(root)
    return {module: _imports(module, path, modules) for module, path in modules.items()}


def import_loops(graph):
    """The import loops of ``graph``, each as the modules around it (first one repeated at the end)."""
    edges = {m: sorted({t for t, _, _ in targets if not (t == PACKAGE)}) for m, targets in graph.items()}
    state, stack, cycles = {}, [], []

    def walk(node):
        state[node] = "open"
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node)
    return cycles


def upward_imports(graph):
    """``[(module, imported module)]`` where a lower layer imports a higher one."""
    bad = [(m, t) for m, targets in graph.items() if _is_under(m, BELOW_PIPELINE)
           for t, _, _ in targets if _is_under(t, TOP)]
    bad += [(m, t) for m, targets in graph.items() if _is_under(m, ("recbole_outfit.pipeline",))
            for t, _, _ in targets if _is_under(t, TOP) and not _is_under(t, ("recbole_outfit.pipeline",))]
    return bad


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def _is_under(module, prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_no_import_loop(graph):
    cycles = import_loops(graph)
    assert not cycles, "import loops: " + "; ".join(" -> ".join(c) for c in cycles)


def test_lower_layers_never_import_the_top(graph):
    bad = upward_imports(graph)
    assert not bad, f"imports that run up the layers: {bad}"


def test_package_imports_sit_at_module_level(graph):
    nested = [(m, name) for m, targets in graph.items() for _, in_function, name in targets
              if in_function and m not in COMMANDS]
    assert not nested, f"imports of package modules inside functions (only optional dependencies may be): {nested}"


def _scratch_package(tmp_path, files):
    """A package named like ours under ``tmp_path`` holding ``files`` ({relative path: source})."""
    root = tmp_path / PACKAGE
    for relative, source in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source)
    return str(root)


def test_the_checks_see_a_planted_loop_and_upward_import(tmp_path):
    """The checks above, run on a scratch package: a clean one passes, one with a loop and an upward import
    planted (one at module level, one inside a function) is caught by each check."""
    clean = _scratch_package(tmp_path / "clean", {
        "model/a.py": "from recbole_outfit.data.c import x\n",
        "data/c.py": "x = 1\n",
        "pipeline/b.py": "from recbole_outfit.model.a import x\n",
    })
    graph = import_graph(clean)
    assert not import_loops(graph) and not upward_imports(graph)

    planted = _scratch_package(tmp_path / "planted", {
        "model/a.py": "from recbole_outfit.pipeline.b import y\n",  # a model imports the pipeline
        "pipeline/b.py": "y = 1\n",
        "data/c.py": "from recbole_outfit.data import d\n",  # c -> d -> c
        "data/d.py": "def f():\n    import recbole_outfit.data.c\n",
    })
    graph = import_graph(planted)
    assert import_loops(graph) == [["recbole_outfit.data.c", "recbole_outfit.data.d", "recbole_outfit.data.c"]]
    assert set(upward_imports(graph)) == {("recbole_outfit.model.a", "recbole_outfit.pipeline.b")}
    assert ("recbole_outfit.data.d", "recbole_outfit.data.c") in [
        (m, name) for m, targets in graph.items() for _, nested, name in targets if nested]
