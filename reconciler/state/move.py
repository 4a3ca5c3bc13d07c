"""Moving a state to another database (`reconcile state migrate`), SQLite to PostgreSQL or back.

Every table is copied row for row, ids included, in the order of the foreign keys, in one
transaction on the target: lineage and serial, the fingerprint key, the resources, the journal,
the runs, the schedule's claims, saved plans, drift ages, call records and charges. The locks
are not (a lock belongs to a run on the old database). The target must be a new, empty state;
the source is left as it was, so it stays a backup until the operator removes it. While the
copy runs, the source's integrations are locked, so no run writes to it behind the copy.

PostgreSQL hands out ids from sequences: after the copy each sequence is set past the largest
id copied, so the next journal entry or run does not collide with a moved one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from reconciler.errors import StateError
from reconciler.state import locks
from reconciler.state.store import StateStore
from reconciler.state.tables import Base, CatalogRow, LockRow, MetaRow, ResourceRow, table_of

CHUNK = 5_000  # rows read and written at a time: a large state moves in bounded memory
FRESH_META = {"lineage", "serial", "schema_version"}  # what a new state's meta holds


@dataclass(frozen=True)
class Moved:
    lineage: str
    serial: int
    rows: dict[str, int]  # by table, the tables that had any


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name != LockRow.__tablename__]


def _integrations(store: StateStore) -> set[str]:
    with store.session() as s:
        return {*s.execute(select(ResourceRow.integration).distinct()).scalars(),
                *s.execute(select(CatalogRow.integration).distinct()).scalars()}


def _refuse_unless_empty(conn: Connection, shown: str) -> None:
    held = []
    for table in _tables():
        query = select(func.count()).select_from(table)
        if table.name == MetaRow.__tablename__:
            query = query.where(table.c.key.not_in(FRESH_META))
        if conn.execute(query).scalar_one():
            held.append(table.name)
    serial = conn.execute(select(table_of(MetaRow).c.value)
                          .where(table_of(MetaRow).c.key == "serial")).scalar_one()
    if held or serial != "0":
        raise StateError(f"the target state {shown!r} is not empty (it holds "
                         f"{', '.join(held) or 'writes: serial ' + serial}): a state moves only "
                         f"into a new database, never over another state")


def _reset_sequences(conn: Connection) -> None:
    """Set each id sequence past the largest id copied (a table without one: NULL, a no-op)."""
    for table in _tables():
        (column, *more) = table.primary_key.columns
        if not more and column.type.python_type is int:
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)"))


def migrate(source_url: str, target_url: str) -> Moved:
    """Copy the state at ``source_url`` into the new, empty state at ``target_url``."""
    source = StateStore(source_url)
    try:
        target = StateStore(target_url)
        try:
            if (source.engine.url.render_as_string(hide_password=False)
                    == target.engine.url.render_as_string(hide_password=False)):
                raise StateError("--from and --to are the same state")
            with locks.locked(source, "migrate", sorted(_integrations(source))):
                return _copy(source, target)
        finally:
            target.close()
    finally:
        source.close()


def _copy(source: StateStore, target: StateStore) -> Moved:
    counts: dict[str, int] = {}
    try:
        with source.engine.connect() as reading, target.engine.begin() as writing:
            if reading.dialect.name == "postgresql":  # every table read from one snapshot
                reading = reading.execution_options(isolation_level="REPEATABLE READ")
            _refuse_unless_empty(writing, target.shown)
            writing.execute(table_of(MetaRow).delete())
            for table in _tables():
                result = reading.execution_options(yield_per=CHUNK).execute(
                    select(table).order_by(*table.primary_key.columns))
                for rows in result.mappings().partitions():
                    writing.execute(table.insert(), [dict(row) for row in rows])
                    counts[table.name] = counts.get(table.name, 0) + len(rows)
            if writing.dialect.name == "postgresql":
                _reset_sequences(writing)
    except SQLAlchemyError as exc:  # the transaction rolled back: the target is as it was
        raise StateError(f"moving the state {source.shown!r} to {target.shown!r} failed, and "
                         f"the target was left empty: {exc.__class__.__name__}: {exc}") from None
    return Moved(target.lineage, target.serial, counts)
