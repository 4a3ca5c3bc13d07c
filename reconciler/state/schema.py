"""The state's schema revision: a new state is made at the newest one, an older one is upgraded
in place by the alembic migrations of ``reconciler/state/migrations``, a newer one is refused.

Opening a state reads its revision (the ``alembic_version`` table) and, when it is the newest,
does nothing more: alembic is imported only to upgrade or to show an upgrade's SQL. A state from
before the migrations (reconcile 0.1: the tables, no ``alembic_version``) is taken to be at
revision 0001 and stamped so.

An upgrade runs in one transaction. On PostgreSQL that makes it atomic (DDL is transactional)
and a transaction-scoped advisory lock makes concurrent openers wait for the first one's
upgrade; on SQLite the opener takes the database's write lock (``BEGIN IMMEDIATE``) before it
looks, so two runs opening a new state at once create it once. A SQLite state file is first
copied beside itself (``reconciler.db.before-<revision>``), which is also the way back. A
state another run holds a lock on is not upgraded under it.
"""

from __future__ import annotations

import io
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from reconciler.errors import StateError
from reconciler.state.tables import REVISION, REVISIONS, SCHEMA_VERSION, Base, LockRow, MetaRow, table_of

MIGRATIONS = "reconciler.state:migrations"  # alembic's script location, as package:directory
LEGACY = REVISIONS[0]  # what a state made before the migrations is at
# alembic's own version table, declared here so that a new state is stamped without alembic
VERSIONS = Table("alembic_version", MetaData(),
                 Column("version_num", String(32), primary_key=True, nullable=False))
# one key of PostgreSQL's two-int advisory locks, apart from the state's integration locks
UPGRADE_LOCK = (0x5EC0, 0)


@dataclass(frozen=True)
class Upgrade:
    """What :func:`ensure` found and did: ``before`` None for a state it created."""

    before: str | None
    after: str
    backup: Path | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def found(conn: Connection) -> str | None:
    """The revision the state on ``conn`` is at; None for an empty database (no state yet)."""
    tables = set(inspect(conn).get_table_names())
    if VERSIONS.name in tables:
        value = conn.execute(select(VERSIONS.c.version_num)).scalar()
        if value is not None:
            return str(value)
    if table_of(MetaRow).name not in tables:
        return None
    meta = table_of(MetaRow)
    version = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    if version is not None and version != "1":  # made by a tool newer than this one
        return f"schema_version {version}"
    return LEGACY


def newer_error(shown: str, at: str) -> StateError:
    return StateError(f"state {shown!r} is at schema revision {at}, which this tool does not know "
                      f"(it knows {', '.join(REVISIONS)}): it was made or upgraded by a newer "
                      f"reconcile; upgrade the tool")


def ensure(engine: Engine, shown: str) -> Upgrade:
    """Make the state at ``engine`` current: create it, upgrade it, or refuse it (newer)."""
    try:
        with engine.connect() as conn:
            at = found(conn)
        if at == REVISION:
            return Upgrade(at, at)
        if at is not None and at not in REVISIONS:
            raise newer_error(shown, at)
        backup = _backup(engine, at) if at is not None else None
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"),
                             {"a": UPGRADE_LOCK[0], "b": UPGRADE_LOCK[1]})
            elif conn.dialect.name == "sqlite":  # the driver begins no transaction for DDL:
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before looking
            at = found(conn)  # again: another opener may have made or upgraded it meanwhile
            if at is None:
                _create(conn)
            elif at != REVISION:
                _refuse_if_locked(conn, shown)
                _upgrade(conn, at)
        return Upgrade(at, REVISION, backup)
    except SQLAlchemyError as exc:
        raise StateError(f"cannot open state {shown!r}: {exc}") from None


def _create(conn: Connection) -> None:
    Base.metadata.create_all(conn)
    VERSIONS.create(conn)
    conn.execute(VERSIONS.insert().values(version_num=REVISION))
    conn.execute(table_of(MetaRow).insert(), [
        {"key": "schema_version", "value": str(SCHEMA_VERSION)},
        {"key": "lineage", "value": str(uuid.uuid4())},
        {"key": "serial", "value": "0"},
    ])


def _refuse_if_locked(conn: Connection, shown: str) -> None:
    locks = table_of(LockRow)
    now = datetime.now(UTC).replace(tzinfo=None)
    held = conn.execute(select(locks.c.holder, locks.c.operation)
                        .where(locks.c.expires_at >= now)).first()
    if held is not None:
        raise StateError(f"state {shown!r} needs a schema upgrade, but {held.holder} holds a lock "
                         f"on it for {held.operation}: run again when that run has finished")


def _config(**attributes: Any) -> Any:
    from alembic.config import Config

    config = Config(output_buffer=attributes.pop("output", None))
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes.update(attributes)
    return config


def _upgrade(conn: Connection, at: str) -> None:
    from alembic import command

    config = _config(connection=conn)
    if VERSIONS.name not in inspect(conn).get_table_names():
        # a state of 0.1: the tables its release had not yet, as 0.1 itself added them, then
        # the revision it is at
        Base.metadata.create_all(conn)
        command.stamp(config, at)
    command.upgrade(config, "head")


def upgrade_sql(url: str, at: str) -> str:
    """The SQL an upgrade of a state at revision ``at`` runs, for ``url``'s dialect, run
    nowhere (alembic's offline mode)."""
    from alembic import command

    buffer = io.StringIO()
    config = _config(url=url, output=buffer)
    buffer.write(f"-- reconcile: schema upgrade {at} -> {REVISION}\n")
    command.upgrade(config, f"{at}:head", sql=True)
    return buffer.getvalue()


def _backup(engine: Engine, at: str) -> Path | None:
    """Copy a SQLite state file to ``<file>.before-<revision>`` (SQLite's online backup, so a
    reader elsewhere does not matter); None for other databases."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    path = Path(database)
    target = path.with_name(f"{path.name}.before-{at.replace(' ', '-')}")
    source = sqlite3.connect(path)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target
