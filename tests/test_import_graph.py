"""No import cycle between wsol_tf's packages (issue 31).

Every module is parsed with `ast` (imports inside functions count: a cycle hidden in a
function-level import is still a cycle of the design), each import is mapped to the package
it reaches, and the package graph must have no cycle. Nodes are the subpackages
(`wsol_tf.training`, `wsol_tf.data`, ...) and the top-level modules (`wsol_tf.train`,
`wsol_tf.cli`, ...). Cheap: no module is imported.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# setup.py's package_dir: these top-level folders are installed as wsol_tf.<name>.
PACKAGE_DIRS = {
    "wsol_tf": "wsol_tf",
    "wsol_tf.layers": "layers",
    "wsol_tf.models": "models",
    "wsol_tf.data": "data",
    "wsol_tf.experiments": "experiments",
}
PACKAGES = (
    "wsol_tf.training",
    "wsol_tf.evaluation",
    "wsol_tf.runs",
    "wsol_tf.reproduction",
    "wsol_tf.experiments",
    "wsol_tf.data",
    "wsol_tf.models",
    "wsol_tf.layers",
    "wsol_tf.methods",
    "wsol_tf.deployment",
    "wsol_tf.pseudo_box",
    "wsol_tf.fsl",
)


# Module imports left to cut, each with why; none now (training <-> evaluation was cut by
# moving a run's config and checkpoints down to `wsol_tf.runs`).
KNOWN = set()


def module_files():
    """{module name: file} of every wsol_tf module (the installed names)."""
    found = {}
    for package, folder in PACKAGE_DIRS.items():
        base = os.path.join(ROOT, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            rel = os.path.relpath(dirpath, base)
            parts = [package] + ([] if rel == "." else rel.split(os.sep))
            if package == "wsol_tf" and len(parts) > 1 and ".".join(parts[:2]) in PACKAGE_DIRS:
                continue  # a folder of that name inside wsol_tf/ would shadow nothing
            for filename in filenames:
                if filename.endswith(".py"):
                    stem = filename[:-3]
                    name = ".".join(parts + ([] if stem == "__init__" else [stem]))
                    found[name] = os.path.join(dirpath, filename)
    return found


def node_of(module):
    """The graph node a module belongs to: its package, or itself for wsol_tf's top level."""
    for package in PACKAGES:
        if module == package or module.startswith(package + "."):
            return package
    return module if module.startswith("wsol_tf") else None


def imported_modules(name, path):
    """Full names of what the module at `path` imports (at any depth in its code)."""
    is_package = path.endswith("__init__.py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module
            # `from wsol_tf import models`: the name may itself be a module.
            yield from (f"{module}.{alias.name}" for alias in node.names)


def package_graph(modules, known=frozenset()):
    """{node: {node it imports: 'module -> module' that shows the edge}}, without the module
    imports in `known`."""
    graph = {}
    for name, path in modules.items():
        source = node_of(name)
        for target in imported_modules(name, path):
            if target not in modules or (name, target) in known:
                continue  # outside wsol_tf, or a name imported from a module
            other = node_of(target)
            if other != source:
                graph.setdefault(source, {}).setdefault(other, f"{name} -> {target}")
    return graph


def find_cycle(graph):
    """One cycle as a list of nodes (first == last), or None."""
    state = {}  # node -> "open" while on the path, "done" after

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt, path + [nxt])
                if found:
                    return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start, [start])
            if found:
                return found
    return None


def describe(cycle, graph):
    return "; ".join(graph[a][b] for a, b in zip(cycle, cycle[1:], strict=False))


def test_the_graph_covers_every_package():
    modules = module_files()
    nodes = {node_of(m) for m in modules}
    assert set(PACKAGES) <= nodes
    assert {"wsol_tf.train", "wsol_tf.evaluate", "wsol_tf.cli"} <= nodes
    graph = package_graph(modules)
    # Function-level imports are edges too (the trainer reads the data inside functions).
    assert "wsol_tf.data" in graph["wsol_tf.training"]


def test_no_import_cycle_between_packages():
    graph = package_graph(module_files(), known=KNOWN)
    cycle = find_cycle(graph)
    assert cycle is None, (
        f"import cycle {' -> '.join(cycle)} (via {describe(cycle, graph)}); "
        "move the shared code down to the package both use"
    )


def test_the_known_imports_still_exist():
    """An entry of KNOWN that no longer exists is removed from it (so it cannot hide a new
    cycle through the same modules)."""
    modules = module_files()
    found = {(name, t) for name, path in modules.items() for t in imported_modules(name, path)}
    assert KNOWN <= found, sorted(KNOWN - found)


def test_a_cycle_is_found_and_named():
    graph = {"a": {"b": "a.x -> b.y"}, "b": {"c": "b.y -> c.z"}, "c": {"a": "c.z -> a.x"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert describe(["a", "b", "c", "a"], graph) == "a.x -> b.y; b.y -> c.z; c.z -> a.x"
    assert find_cycle({"a": {"b": ""}, "b": {}}) is None


@pytest.mark.parametrize("source", ["def f():\n    from wsol_tf.training import api\n"])
def test_function_level_imports_are_read(tmp_path, source):
    path = tmp_path / "mod.py"
    path.write_text(source)
    assert "wsol_tf.training.api" in set(imported_modules("wsol_tf.evaluation.x", str(path)))
