"""The state store on both backends (SQLite and PostgreSQL, see tests/conftest.py): lineage,
serial, row-by-row writes, catalogs, runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.errors import StateError
from reconciler.model import Resource
from reconciler.state import StateStore, state_dir, state_url
from reconciler.state.store import Writes


def test_new_state_has_a_lineage_that_stays_and_serial_zero(backend_url: str) -> None:
    url = backend_url
    first = StateStore(url)
    assert first.serial == 0 and len(first.lineage) == 36
    lineage = first.lineage
    first.close()
    assert StateStore(url).lineage == lineage


def test_the_fingerprint_key_is_random_per_state_and_stays(backend_url: str, tmp_path: Path) -> None:
    url = backend_url
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


def test_each_write_bumps_the_serial_and_touches_only_its_rows(backend_url: str) -> None:
    store = StateStore(backend_url)
    store.record([Resource("i", "number", str(n), {"n": n}) for n in range(3)])
    store.record([Resource("i", "number", "1", {"n": 10})])
    store.remove(['i.number["2"]'])
    known = store.known()
    assert known.serial == 3
    assert {a: r.attrs["n"] for a, r in known.resources.items()} == {
        'i.number["0"]': 0, 'i.number["1"]': 10}
    serials = {r.key: r.serial for r in store.rows()}
    assert serials == {"0": 1, "1": 2}


def test_catalogs_and_runs_are_kept(backend_url: str) -> None:
    store = StateStore(backend_url)
    store.save_catalog("stfc", "plans", [{"id": 1, "nome": "A"}])
    store.save_catalog("stfc", "plans", [{"id": 2, "nome": "B"}])
    assert store.catalog("stfc", "plans") == [{"id": 2, "nome": "B"}]
    run = store.begin_run("apply")
    store.finish_run(run, "ok", {"done": 3})
    (last,) = store.runs()
    assert (last.command, last.outcome, last.summary) == ("apply", "ok", {"done": 3})
    assert "@" in last.user


def test_observed_facts_do_not_move_the_serial(backend_url: str) -> None:
    store = StateStore(backend_url)
    store.record([Resource("i", "number", "1", {})])
    store.refresh_observed({'i.number["1"]': {"status": "free"}, 'i.number["9"]': {"x": 1}})
    assert store.serial == 1
    assert store.rows()[0].observed == {"status": "free"}


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "reconciler.db"
    StateStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        # as a tool before the migrations would find a state of a newer one
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
        db.execute("DROP TABLE alembic_version")
    with pytest.raises(StateError, match=r"schema_version 99, which this tool does not know.*"
                                         r"upgrade the tool"):
        StateStore(f"sqlite:///{path}")


def test_url_and_directory_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECONCILER_STATE", raising=False)
    assert state_url(None) == "sqlite:///state/reconciler.db"
    monkeypatch.setenv("RECONCILER_STATE", "sqlite:///x/y.db")
    assert state_url(None) == "sqlite:///x/y.db" and state_url("sqlite:///o.db") == "sqlite:///o.db"
    assert state_dir("sqlite:///x/y.db") == Path("x")


def test_the_journal_keeps_intents_and_outcomes_in_order(backend_url: str) -> None:
    from reconciler.model import Action, Change

    store = StateStore(backend_url)
    run = store.begin_run("apply")
    changes = [Change("i", "number", Action.CREATE, (f"{n}",), None, {"n": n}, "test")
               for n in range(3)]
    entries = store.commit(Writes(intents=changes), run)
    assert entries == sorted(entries) and len(set(entries)) == 3  # in the order given
    # outcomes ride with rows of the same commit, under one new serial
    serial = store.serial
    store.commit(Writes(records=[([Resource("i", "number", "0", {"n": 0})], False)],
                        outcomes=[(entries[0], "confirmed", ""),
                                  (entries[1], "unknown", "timeout " * 200)]))  # cut to 1,000
    assert store.serial == serial + 1 and 'i.number["0"]' in store.known().resources
    assert [e.change_id for e in store.journal_pending()] == [changes[1].id, changes[2].id]
    store.journal_recover(entries[1:], "resolved")
    assert store.journal_pending() == []
    outcomes = [(e.outcome, len(e.detail)) for e in store.journal(run)]
    assert outcomes == [("confirmed", 0), ("recovered", 8), ("recovered", 8)]


def test_a_postgresql_password_never_reaches_an_error(pg_url: str) -> None:
    from reconciler import secrets

    wrong = pg_url.replace("postgres@", "postgres:S3cret-pw@").rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(StateError) as info:
        StateStore(wrong)
    assert "S3cret-pw" not in str(info.value) and "***" in str(info.value)
    assert "S3cret-pw" not in secrets.redact(f"driver said {wrong}")


def test_a_plain_postgresql_url_uses_psycopg(pg_url: str) -> None:
    store = StateStore(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    assert store.engine.dialect.driver == "psycopg" and store.serial == 0


def _res(integration: str, n: int) -> Resource:
    return Resource(integration, "number", f"{n:010d}", {"n": n})


def test_each_integration_keeps_the_serial_of_its_last_write(backend_url: str) -> None:
    store = StateStore(backend_url)
    store.record([_res("stfc-sp", 1)])
    store.record([_res("qualifica", 1), _res("campsoft", 1)])
    store.remove([_res("stfc-sp", 1).address])
    known = store.known()
    assert known.serial == 3
    assert dict(known.serials) == {"stfc-sp": 3, "qualifica": 2, "campsoft": 2}
    assert known.serial_of(["qualifica"]) == 2 and known.serial_of(None) == 3
    assert known.serial_of(["voip"]) == 0  # never written


def test_reading_the_state_costs_the_same_statements_at_any_size(backend_url: str) -> None:
    """Bulk reads, no query per resource: what a plan reads of the state is a fixed number of
    statements whether it holds 10 resources or 3,000 (writes go in chunks of many rows)."""
    counts = []
    store = StateStore(backend_url)
    for size in (10, 3_000):
        store.record([_res("stfc-sp", n) for n in range(size)])
        before = store.statements
        assert len(store.known().resources) == size
        store.rows()
        counts.append(store.statements - before)
    assert counts[0] == counts[1] and counts[0] <= 6
    before = store.statements
    store.record([_res("qualifica", n) for n in range(3_000)])
    assert store.statements - before <= 12  # 3,000 rows written in a handful of statements
