"""The package's shape (issue "One house"): capability packages whose imports run one way,
web and ops at the top, core at the bottom; no import circle, type-only imports included;
no package over 12 modules and no module over 300 lines."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "scoreboard"
# A package may import from its own floor's other packages only where listed below, and
# from any floor beneath it.
FLOORS = {"core": 0, "data": 1, "adapters": 1, "boards": 2,
          "play": 3, "identity": 3, "live": 3, "ops": 4, "web": 4}
ACROSS = {("web", "ops")}  # the web layer logs and counts through ops; ops never needs web
MAX_MODULES, MAX_LINES = 12, 300


def modules() -> dict[str, Path]:
    """Every module under scoreboard/, by dotted name relative to it ('' for the root)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(p for p in parts if p != "__init__")] = path
    return found


def imports(name: str, path: Path, known) -> set[str]:
    """The modules of the package that ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".") if package else []
            base = base[:len(base) - node.level + 1]
            target = ".".join(filter(None, [*base, node.module or ""]))
            for alias in node.names:
                full = f"{target}.{alias.name}" if target else alias.name
                found.add(full if full in known else target)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def package(name: str) -> str:
    return name.split(".")[0] if "." in name else name


def circles(edges) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in edges:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_in_a_circle():
    assert circles(graph()) == []


def test_no_package_imports_in_a_circle():
    edges = {}
    for name, targets in graph().items():
        edges.setdefault(package(name), set()).update(
            package(t) for t in targets if package(t) != package(name))
    for targets in list(edges.values()):
        for target in targets:
            edges.setdefault(target, set())
    assert circles(edges) == []


def test_imports_run_down_the_floors():
    upward = []
    for name, targets in graph().items():
        if package(name) not in FLOORS:
            continue  # the root: create_app wires everything
        for target in targets:
            here, there = package(name), package(target)
            if here == there or there not in FLOORS:
                continue
            if FLOORS[there] > FLOORS[here] or (
                    FLOORS[there] == FLOORS[here] and (here, there) not in ACROSS):
                upward.append(f"{name} -> {target}")
    assert upward == []


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_a_package_is_small(name):
    assert len(list((ROOT / name).glob("*.py"))) - 1 <= MAX_MODULES  # its __init__ aside


def test_no_module_is_long():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_importing_the_package_registers_nothing_in_a_library():
    """Nothing acts at import time: importing every module leaves the libraries' own
    registries as they were (limits' storage schemes, prometheus_client's default
    registry, the root logger); create_app is where the service is wired in."""
    probe = """
import importlib, logging, pkgutil
import prometheus_client
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
def known(scheme):
    try:
        storage_from_string(scheme + "://127.0.0.1:1")
    except ConfigurationError:
        return False
    return True
def state():
    return (known("scoreboard+cluster"), [m.name for m in prometheus_client.REGISTRY.collect()],
            list(logging.getLogger().handlers), logging.getLogger().level)
before = state()
import scoreboard
for found in pkgutil.walk_packages(scoreboard.__path__, "scoreboard."):
    importlib.import_module(found.name)
assert state() == before, (before, state())
from scoreboard.adapters import limits_scheme
assert known(limits_scheme())
"""
    subprocess.run([sys.executable, "-c", probe], cwd=ROOT.parent, check=True)
