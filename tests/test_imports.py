"""The package's import graph: no module imports itself through others (no cycles), and
``import tinygan as tg`` reaches the public modules as attributes."""
import ast
import pathlib

import pytest

import tinygan

ROOT = pathlib.Path(tinygan.__file__).parent


def _module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module, is_package, level, name):
    """The absolute name of ``from <level dots><name> import ...`` inside ``module``."""
    if level == 0:
        return name
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph():
    """{module: set of tinygan modules it imports}, every import statement counted (also
    those inside functions: a deferred import closes a cycle all the same)."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        edges = set()
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module)
                # "from pkg import mod" imports the module pkg.mod; "from mod import f" mod
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                           for a in node.names]
            else:
                continue
            edges.update(t for t in targets if t in modules and t != name)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """One cycle as a list of modules [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_graph_sees_relative_and_deferred_imports():
    graph = import_graph()
    assert "tinygan.kernels" in graph["tinygan.nn.activations"]     # from .. import kernels
    assert "tinygan.nn.base" in graph["tinygan.nn.affine"]          # from .base import Layer
    assert "tinygan.nn.functional" in graph["tinygan.nn"]           # from . import functional


def test_training_code_draws_nothing():
    """Pictures are an epoch-end callback (plot.EpochPictures) that the caller attaches."""
    graph = import_graph()
    for module in ("tinygan.loop", "tinygan.train", "tinygan.train.base"):
        assert "tinygan.plot" not in graph[module]


def test_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_is_listed():
    on_disk = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    on_disk |= {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert on_disk == set(tinygan.MODULES), "add new modules to tinygan.MODULES"


@pytest.mark.parametrize("name", tinygan.MODULES)
def test_public_modules_are_attributes(name):
    import importlib
    assert getattr(tinygan, name) is importlib.import_module(f"tinygan.{name}")


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        tinygan.nope
