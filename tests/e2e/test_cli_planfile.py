"""Saved plans edited between review and apply, end to end: each edit an outsider makes to a
reviewed plan file of 2 suspensions is refused with its reason, and nothing is sent.

Two gates are tried: the sha256 of the file's bytes recorded at `plan --out`, and, for someone
who can also write the state, the plan made again at apply."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler import planfile
from reconciler.state import StateStore
from tests.e2e.conftest import Cli, Sim
from tests.e2e.specset import SpecSet

pytestmark = pytest.mark.e2e

SUSPENDED = ('suspend:stfc-sp.link["1130001001"]', 'suspend:stfc-sp.link["1130001002"]')
Edit = Callable[[dict[str, Any]], Any]


def as_unlink(doc: dict[str, Any]) -> None:
    doc["changes"][0]["action"] = "unlink"


def to_an_active_service(doc: dict[str, Any]) -> None:
    """Point a suspension at the number of service 2001, active in the specs."""
    change = doc["changes"][1]
    change["keys"] = ["1140045000"]
    change["address"] = 'stfc-sp.link["1140045000"]'
    change["id"] = 'suspend:stfc-sp.link["1140045000"]'


def expiring_in_2099(doc: dict[str, Any]) -> None:
    doc["expires_at"] = "2099-01-01T00:00:00+00:00"


def emptied(doc: dict[str, Any]) -> None:
    doc["changes"] = []
    doc["summary"] = {**doc["summary"], "changes": 0}
    doc["summary"].pop("suspend")


EDITS: dict[str, tuple[Edit, str]] = {
    "action": (as_unlink, "changes"),
    "address": (to_an_active_service, "changes"),
    "expires_at": (expiring_in_2099, "expires_at"),
    "emptied": (emptied, "changes, summary"),
}


@pytest.fixture
def reviewed(cli: Cli, sim: Sim) -> tuple[Path, dict[str, Any]]:
    """A converged estate, then a reviewed plan file suspending services 1001 and 1002."""
    specs = SpecSet(cli.cwd / "specs", sim.url)
    specs.write()
    cli("apply", "--auto-approve", check=0)
    for service in (1001, 1002):
        specs.service(service)["status"] = "suspended"
    specs.write()
    cli("plan", "--out", "reviewed.json", check=0)
    path = cli.cwd / "reviewed.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert tuple(c["id"] for c in doc["changes"]) == SUSPENDED
    return path, doc


def written(cli: Cli, doc: Any, name: str = "edited.json") -> Path:
    path = cli.cwd / name
    path.write_bytes(planfile.encode(doc) if isinstance(doc, dict) else json.dumps(doc).encode())
    return path


def refused(cli: Cli, sim: Sim, path: Path) -> str:
    before = sim.counters()["writes"]
    result = cli("apply", path.name, "--auto-approve", check=1)
    assert "Traceback" not in result.stderr
    assert sim.counters()["writes"] == before  # nothing was sent
    return " ".join(result.stderr.split())  # the message as one line, whatever the wrapping


def test_each_edit_is_refused_naming_what_was_edited_then_the_reviewed_file_applies(
        cli: Cli, sim: Sim, reviewed: tuple[Path, dict[str, Any]]) -> None:
    path, doc = reviewed
    for change, fields in EDITS.values():
        edited = copy.deepcopy(doc)
        change(edited)
        message = refused(cli, sim, written(cli, edited))
        assert ("plan file edited.json was not produced by `reconcile plan` against this state, "
                f"or was edited after: {fields} differ") in message, message
        assert "stale" not in message  # not a re-plan matter: someone edited it
    reformatted = written(cli, doc, "reformatted.json")
    reformatted.write_text(json.dumps(doc), encoding="utf-8")  # same fields, other bytes
    assert "no field differs from the file written, but its bytes do" in refused(cli, sim,
                                                                                reformatted)
    cli("apply", path.name, check=0)
    assert sim.number("1130001001")["bloqueado"] is True
    assert sim.number("1130001002")["bloqueado"] is True
    assert sim.number("1140045000")["bloqueado"] is False
    assert sim.number("1130001001")["status"] == "vinculado"  # suspended, not unlinked


def test_a_plan_file_of_another_state_is_refused(cli: Cli, sim: Sim,
                                                 reviewed: tuple[Path, dict[str, Any]]) -> None:
    path, _ = reviewed
    other = cli("apply", path.name, "--state", "sqlite:///other/state.db", check=1)
    assert "was made against another state (lineage" in other.stderr


def test_a_wrong_shaped_plan_file_is_a_clear_error(cli: Cli, sim: Sim,
                                                   reviewed: tuple[Path, dict[str, Any]]) -> None:
    _, saved = reviewed
    path = written(cli, [])
    assert ("plan file edited.json is not a plan file of format 1: at (top level): [] is not of "
            "type 'object'") in refused(cli, sim, path)
    path = written(cli, {**saved, "changes": "x"})
    assert ("plan file edited.json is not a plan file of format 1: at changes: 'x' is not of "
            "type 'array'") in refused(cli, sim, path)
    path.write_bytes(planfile.encode(saved)[:500])
    assert ("plan file edited.json is not JSON (Unterminated string starting at"
            in refused(cli, sim, path))


def record(cli: Cli, path: Path) -> None:
    """What someone who can write the state could do: record an edited file as plan would."""
    doc = json.loads(path.read_bytes())
    store = StateStore(f"sqlite:///{cli.cwd / 'state' / 'reconciler.db'}")
    try:
        store.record_plan_file(planfile.digest(path.read_bytes()), serial=doc["fingerprint"]["serial"],
                               created_at=doc["created_at"], expires_at=None,
                               fields=planfile.field_digests(doc))
    finally:
        store.close()


REPLANNED = {
    "action": 'changes[0] (suspend:stfc-sp.link["1130001001"]).action: "unlink" in the file, '
              '"suspend" in a plan made now',
    "address": 'changes[1] (suspend:stfc-sp.link["1130001002"]).id: '
               '"suspend:stfc-sp.link[\\"1140045000\\"]" in the file, '
               '"suspend:stfc-sp.link[\\"1130001002\\"]" in a plan made now',
    "emptied": "changes: 0 in the file, 2 in a plan made now (only in a plan made now: "
               f"{SUSPENDED[0]}, {SUSPENDED[1]})",
}


def test_an_edited_plan_file_recorded_in_the_state_is_refused_by_the_plan_made_again(
        cli: Cli, sim: Sim, reviewed: tuple[Path, dict[str, Any]]) -> None:
    _, doc = reviewed
    for edit, difference in REPLANNED.items():
        edited = copy.deepcopy(doc)
        EDITS[edit][0](edited)
        path = written(cli, edited, f"{edit}.json")
        record(cli, path)
        message = refused(cli, sim, path)
        assert (f"plan file {edit}.json is stale: the plan made now from the same state and "
                "specs differs from it, so nothing was applied: ") in message
        assert difference in message, message
