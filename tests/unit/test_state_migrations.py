"""State schema migrations (issue 16): a state of schema 1, committed as it was made before the
migrations existed, is upgraded in place; the migrations build exactly the tables the models
describe; a newer state is refused; the SQL of an upgrade can be shown without running it."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from reconciler.errors import StateError
from reconciler.state import StateStore, schema
from reconciler.state.store import engine_url
from reconciler.state.tables import REVISION, REVISIONS, SCHEMA_VERSION, Base

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "state-schema-1.db"


def legacy_copy(tmp_path: Path) -> Path:
    target = tmp_path / "state" / "reconciler.db"
    target.parent.mkdir()
    shutil.copy(FIXTURE, target)
    return target


def facts(path: Path) -> dict[str, object]:
    with sqlite3.connect(path) as db:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        return {"lineage": meta["lineage"], "serial": meta["serial"],
                "fingerprint_key": meta["fingerprint_key"],
                "resources": db.execute("SELECT address, attributes FROM resources "
                                        "ORDER BY address").fetchall(),
                "journal": db.execute("SELECT * FROM journal ORDER BY id").fetchall(),
                "runs": db.execute("SELECT * FROM runs ORDER BY id").fetchall()}


def schema_diff(url: str) -> list[object]:
    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))
    finally:
        engine.dispose()


def test_the_revisions_the_tool_knows_are_the_migration_scripts() -> None:
    scripts = ScriptDirectory.from_config(schema._config())
    chain = [s.revision for s in reversed(list(scripts.walk_revisions()))]
    assert tuple(chain) == REVISIONS
    assert scripts.get_current_head() == REVISION


def test_a_state_of_schema_1_is_upgraded_in_place_and_keeps_everything(tmp_path: Path) -> None:
    path = legacy_copy(tmp_path)
    before = facts(path)
    assert before["resources"] and before["journal"] and before["runs"]
    store = StateStore(f"sqlite:///{path}")
    try:
        assert (store.upgrade.before, store.upgrade.after) == ("0001", REVISION)
        assert store.lineage == before["lineage"] and store.serial == int(str(before["serial"]))
        assert len(store.rows()) == len(before["resources"])  # type: ignore[arg-type]
    finally:
        store.close()
    after = facts(path)
    assert after == before  # lineage, serial, fingerprint key, resources, journal, history
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(REVISION,)]
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
    # the file as it was, beside it: the way back
    backup = path.with_name("reconciler.db.before-0001")
    assert facts(backup) == before
    with sqlite3.connect(backup) as db:
        assert "alembic_version" not in {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert schema_diff(f"sqlite:///{path}") == []
    # opened again: nothing more to do
    again = StateStore(f"sqlite:///{path}")
    assert not again.upgrade.changed
    again.close()


def test_the_migrations_build_the_tables_the_models_describe(backend_url: str) -> None:
    """From an empty database, the migrations alone (not create_all) give the models' schema:
    what a state of schema 1 on either backend becomes."""
    engine = create_engine(engine_url(backend_url))
    if backend_url.startswith("sqlite"):
        Path(backend_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        with engine.begin() as conn:
            command.upgrade(schema._config(connection=conn), "head")
        with engine.connect() as conn:
            assert schema.found(conn) == REVISION
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_a_schema_1_state_on_either_backend_upgrades_on_first_use(backend_url: str) -> None:
    engine = create_engine(engine_url(backend_url))
    if backend_url.startswith("sqlite"):
        Path(backend_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        with engine.begin() as conn:  # what reconcile 0.1 left: revision 0001, no version table
            command.upgrade(schema._config(connection=conn), "0001")
            conn.execute(text("DROP TABLE alembic_version"))
            conn.execute(text("INSERT INTO meta (key, value) VALUES ('schema_version', '1'), "
                              "('lineage', 'L-1'), ('serial', '7')"))
            assert inspect(conn).get_columns("locks")[0]["name"] == "name"
    finally:
        engine.dispose()
    store = StateStore(backend_url)
    try:
        assert (store.upgrade.before, store.lineage, store.serial) == ("0001", "L-1", 7)
    finally:
        store.close()
    assert schema_diff(backend_url) == []


def test_a_state_newer_than_the_tool_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "state" / "reconciler.db"
    StateStore(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(StateError, match=r"revision 0099, which this tool does not know.*upgrade "
                                         r"the tool"):
        StateStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]


def test_a_state_another_run_holds_is_not_upgraded_under_it(tmp_path: Path) -> None:
    path = legacy_copy(tmp_path)
    until = (datetime.utcnow() + timedelta(minutes=5)).isoformat(sep=" ")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO locks VALUES ('state', 'lock-1', 'ana@ci:42', 'apply', ?, ?, ?)",
                   (until, until, until))
    with pytest.raises(StateError, match=r"needs a schema upgrade, but ana@ci:42 holds a lock on "
                                         r"it for apply"):
        StateStore(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:  # still schema 1: nothing was changed
        assert "alembic_version" not in {r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}


@pytest.mark.parametrize("url", ["sqlite:///x.db", "postgresql+psycopg://u@localhost/db"])
def test_the_sql_of_an_upgrade_is_shown_for_the_backend_without_running_it(url: str) -> None:
    sql = schema.upgrade_sql(url, "0001")
    assert f"schema upgrade 0001 -> {REVISION}" in sql
    assert "UPDATE meta SET value='2' WHERE meta." in sql
    assert "UPDATE alembic_version SET version_num='0002'" in sql
    # PostgreSQL alters the column; SQLite copies the table into one of the new shape
    widened = ("ALTER TABLE locks ALTER COLUMN name TYPE VARCHAR(128)" if url.startswith("postgresql")
               else "CREATE TABLE _alembic_tmp_locks (\n    name VARCHAR(128) NOT NULL")
    assert widened in sql


def test_state_upgrade_shows_the_sql_then_upgrades_once(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from reconciler.cli import main

    url = f"sqlite:///{legacy_copy(tmp_path)}"
    runner = CliRunner()
    shown = runner.invoke(main, ["state", "upgrade", "--dry-run", "--state", url])
    assert shown.exit_code == 0, shown.output
    assert "CREATE TABLE _alembic_tmp_locks" in shown.stdout
    assert "revision 0001" in shown.stderr and "nothing was changed" in shown.stderr
    done = runner.invoke(main, ["state", "upgrade", "--state", url])
    assert done.exit_code == 0 and f"from revision 0001 to {REVISION}" in done.stdout
    again = runner.invoke(main, ["state", "upgrade", "--dry-run", "--state", url])
    assert again.exit_code == 0 and "nothing to upgrade" in again.stdout
    missing = runner.invoke(main, ["state", "upgrade", "--dry-run", "--state",
                                   f"sqlite:///{tmp_path / 'none.db'}"])
    assert missing.exit_code == 1 and "there is no state" in missing.output
    assert "Traceback" not in missing.output
