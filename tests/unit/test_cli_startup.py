"""Start-up (issue 15): a command's module is imported only when that command runs, so that
`reconcile --version` imports click and rich and nothing of the core. The table that says which
module registers which command (``app.COMMANDS``) is checked against the modules themselves.
The time itself is the benchmark's to measure; what is imported is deterministic (read from
``sys.modules`` at exit: ``-X importtime`` does not see what ``importlib.import_module`` loads)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

import reconciler.cli
from reconciler.cli import app

# What `--version` must not import: the core, the state database, the HTTP and simulator stacks,
# the spec language's validators.
HEAVY = ("sqlalchemy", "httpx", "starlette", "uvicorn", "pydantic", "yaml", "jsonschema",
         "croniter", "deepdiff", "psycopg", "reconciler.applier", "reconciler.state",
         "reconciler.specs", "reconciler.render", "reconciler.planner", "reconciler.platforms")


# Runs the command as `python -m reconciler` does, and writes what is imported at exit.
PROBE = """\
import atexit, json, runpy, sys
out, sys.argv = sys.argv[1], ["reconcile", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
runpy.run_module("reconciler", run_name="__main__")
"""


def imported_by(tmp_path: Path, *argv: str) -> set[str]:
    """The modules a fresh ``python -m reconciler ARGV`` has imported when it exits."""
    out = tmp_path / "modules.json"
    run = subprocess.run([sys.executable, "-c", PROBE, str(out), *argv],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    return set(json.loads(out.read_text(encoding="utf-8")))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules for h in HEAVY if m == h or m.startswith(h + "."))


def test_version_imports_nothing_of_the_core(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "--version")
    assert "click" in modules and "reconciler.cli.app" in modules  # the probe sees imports
    assert _heavy(modules) == []
    assert not [m for m in modules if m.startswith("reconciler.cli.") and m != "reconciler.cli.app"]


def test_one_command_imports_its_own_module_only(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "schema", "--help")
    assert "reconciler.cli.schema" in modules
    others = {f"reconciler.cli.{m}" for mods in app.COMMANDS.values() for m in mods} - {
        "reconciler.cli.schema"}
    assert modules.isdisjoint(others), sorted(modules & others)
    assert "reconciler.applier" not in modules and "sqlalchemy" not in modules


def _every_cli_module() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(reconciler.cli.__path__) if m.name != "app"]


def test_the_table_names_every_command_and_every_module() -> None:
    for name in _every_cli_module():
        importlib.import_module(f"reconciler.cli.{name}")
    assert set(app.main.commands) == set(app.COMMANDS)
    listed = {m for mods in app.COMMANDS.values() for m in mods}
    assert listed == set(_every_cli_module())


@pytest.mark.parametrize("name", sorted(app.COMMANDS))
def test_each_command_comes_from_the_modules_the_table_names(name: str) -> None:
    """Every callback of a command (and of its subcommands) is defined in one of the modules
    its entry lists: importing those registers all of it."""
    with click.Context(app.main) as ctx:
        command = app.main.get_command(ctx, name)
    assert command is not None
    modules = {f"reconciler.cli.{m}" for m in app.COMMANDS[name]}
    todo, seen = [command], []
    while todo:
        cmd = todo.pop()
        if cmd.callback is not None:
            seen.append(cmd.callback.__module__)
        if isinstance(cmd, click.Group):
            todo += cmd.commands.values()
    assert seen and set(seen) <= modules, (name, sorted(set(seen) - modules))
    assert app.main.get_command(ctx, "no-such-command") is None
