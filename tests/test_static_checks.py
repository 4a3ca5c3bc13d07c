"""Static checks, run by the README's test command (so by CI): no import cycle between the modules
of ``reconciler``, and ``ruff``, ``mypy`` and ``lint-imports`` (the import contracts in
pyproject.toml) all pass. The README says how to run them alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "reconciler"


# --- import cycles ------------------------------------------------------------------------------
#
# The graph holds the imports each module's code makes (TYPE_CHECKING blocks excluded: they never
# run). A package's __init__ importing its own submodules is the normal shape of a package and
# is an ordinary edge here; it becomes part of a cycle only when a submodule imports back from
# the package (as planner/drift.py once did from planner/__init__.py), which is a real cycle:
# whichever of the two is imported first sees the other half-initialised. Python's implicit
# import of a parent package before its child is not an edge (grimp does not record it), so a
# package and its children never form a cycle by themselves.


def _graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(PACKAGE, exclude_type_checking_imports=True)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def find_cycles(edges: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle (a list of modules, the first repeated at the end) per strongly connected
    component that has one, in a stable order. Iterative Tarjan, then a shortest way round."""
    succ = {m: sorted(set(targets) & set(edges)) for m, targets in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    for start in sorted(succ):
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, i = work[-1]
            if i < len(succ[node]):
                work[-1] = (node, i + 1)
                nxt = succ[node][i]
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in succ[node]:
                    components.append(sorted(component))
    return [_shortest_cycle(component, succ) for component in sorted(components)]


def _shortest_cycle(component: Sequence[str], succ: Mapping[str, Sequence[str]]) -> list[str]:
    """A shortest way from the component's first module back to itself (breadth first)."""
    start = component[0]
    members = set(component)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in succ[node]:
                if nxt == start:
                    way_back = [node]
                    while way_back[-1] != start:
                        way_back.append(came_from[way_back[-1]])
                    return [*reversed(way_back), start]
                if nxt in members and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start} in its component")  # Tarjan says there is


def test_find_cycles_reports_a_cycle_and_ignores_a_package_importing_its_children() -> None:
    edges = {
        "p": {"p.a", "p.b"},  # a package's __init__ importing its submodules: no cycle
        "p.a": {"p.b"},
        "p.b": set(),
        "q": {"q.x"},
        "q.x": {"q.y"},
        "q.y": {"q"},  # a submodule importing back from its package: a cycle
        "s": {"s"},
    }
    assert find_cycles(edges) == [["q", "q.x", "q.y", "q"], ["s", "s"]]


def test_no_import_cycles() -> None:
    cycles = find_cycles(_graph())
    assert not cycles, "import cycles between modules of reconciler:\n" + "\n".join(
        "  " + " -> ".join(cycle) for cycle in cycles
    )


# --- ruff, mypy, lint-imports -------------------------------------------------------------------


def _tool(name: str) -> str:
    """The executable installed next to this interpreter (the venv's), else one on PATH."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


CHECKS = {
    "ruff": (
        ["ruff", "check", "--no-cache", "--output-format", "concise", "reconciler", "tests", "benchmarks"],
        120,
    ),
    "mypy": (["mypy"], 240),  # files = reconciler, from pyproject.toml
    "lint-imports": (["lint-imports", "--no-cache"], 120),
}


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_static_check(name: str) -> None:
    command, timeout = CHECKS[name]
    env = {**os.environ, "NO_COLOR": "1", "MYPY_FORCE_COLOR": "0"}
    try:
        done = subprocess.run(
            [_tool(command[0]), *command[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = "".join(_text(part) for part in (exc.stdout, exc.stderr))
        pytest.fail(f"{name} did not finish in {timeout} s:\n{output}")
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
