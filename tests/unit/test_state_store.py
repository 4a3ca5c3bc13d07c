"""The SQLite state store: lineage, serial, row-by-row writes, catalogs, runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.model import Resource
from reconciler.state import StateStore, state_dir, state_url


def test_new_state_has_a_lineage_that_stays_and_serial_zero(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/s/reconciler.db"
    first = StateStore(url)
    assert first.serial == 0 and len(first.lineage) == 36
    lineage = first.lineage
    first.close()
    assert StateStore(url).lineage == lineage


def test_the_fingerprint_key_is_random_per_state_and_stays(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/a/reconciler.db"
    first = StateStore(url)
    key = first.fingerprint_key
    assert len(key) == 32 and first.serial == 0  # not a state write: plans stay fresh
    first.close()
    again = StateStore(url)
    assert again.fingerprint_key == key
    other = StateStore(f"sqlite:///{tmp_path}/b/reconciler.db")
    assert other.fingerprint_key != key


def test_a_state_made_before_fingerprints_gets_its_key_when_first_asked(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.db"
    made = StateStore(f"sqlite:///{path}")
    assert made.fingerprint_key
    made.close()
    with sqlite3.connect(path) as db:  # as an older version left it
        db.execute("DELETE FROM meta WHERE key = 'fingerprint_key'")
    store = StateStore(f"sqlite:///{path}")
    key = store.fingerprint_key
    with sqlite3.connect(path) as db:
        (stored,) = db.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()
    assert bytes.fromhex(stored) == key


def test_each_write_bumps_the_serial_and_touches_only_its_rows(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    store.record([Resource("i", "number", str(n), {"n": n}) for n in range(3)])
    store.record([Resource("i", "number", "1", {"n": 10})])
    store.remove(['i.number["2"]'])
    known = store.known()
    assert known.serial == 3
    assert {a: r.attrs["n"] for a, r in known.resources.items()} == {
        'i.number["0"]': 0, 'i.number["1"]': 10}
    serials = {r.key: r.serial for r in store.rows()}
    assert serials == {"0": 1, "1": 2}


def test_catalogs_and_runs_are_kept(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    store.save_catalog("stfc", "plans", [{"id": 1, "nome": "A"}])
    store.save_catalog("stfc", "plans", [{"id": 2, "nome": "B"}])
    assert store.catalog("stfc", "plans") == [{"id": 2, "nome": "B"}]
    run = store.begin_run("apply")
    store.finish_run(run, "ok", {"done": 3})
    (last,) = store.runs()
    assert (last.command, last.outcome, last.summary) == ("apply", "ok", {"done": 3})
    assert "@" in last.user


def test_observed_facts_do_not_move_the_serial(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    store.record([Resource("i", "number", "1", {})])
    store.refresh_observed({'i.number["1"]': {"status": "free"}, 'i.number["9"]': {"x": 1}})
    assert store.serial == 1
    assert store.rows()[0].observed == {"status": "free"}


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.db"
    StateStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StateError, match="schema version 99, newer than this tool's"):
        StateStore(f"sqlite:///{path}")


def test_url_and_directory_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILER_STATE", raising=False)
    assert state_url(None) == "sqlite:///state/reconciler.db"
    monkeypatch.setenv("RECONCILER_STATE", "sqlite:///x/y.db")
    assert state_url(None) == "sqlite:///x/y.db" and state_url("sqlite:///o.db") == "sqlite:///o.db"
    assert state_dir("sqlite:///x/y.db") == Path("x")
