"""`reconcile state`: the state database itself (its schema revision, moving it)."""

from __future__ import annotations

import click

from reconciler.cli.app import emit, err, handles_errors, main, out, state_option
from reconciler.errors import StateError
from reconciler.state import StateStore, move, schema, state_url
from reconciler.state.store import open_engine, shown_url
from reconciler.state.tables import REVISION, REVISIONS


@main.group("state")
def state_group() -> None:
    """The state database itself: its schema revision, and moving it to another database."""


@state_group.command("upgrade")
@state_option
@click.option("--dry-run", is_flag=True,
              help="Print the SQL the upgrade would run, for this database; change nothing.")
@handles_errors
def upgrade_cmd(state: str | None, dry_run: bool) -> None:
    """Upgrade the state's schema to this tool's (any command does it on first use; this one
    does only that, or shows its SQL)."""
    url = state_url(state)
    if dry_run:
        engine = open_engine(url)
        try:
            with engine.connect() as conn:
                at = schema.found(conn)
        finally:
            engine.dispose()
        if at is None:
            raise StateError(f"there is no state at {shown_url(url)!r} yet: the first command "
                             f"creates it at revision {REVISION}")
        if at not in REVISIONS:
            raise schema.newer_error(shown_url(url), at)
        if at == REVISION:
            out.print(f"State {shown_url(url)} is at revision {REVISION}, this tool's: nothing "
                      f"to upgrade.")
            return
        err.print(f"State {shown_url(url)} is at revision {at}; the upgrade to {REVISION} would "
                  f"run this SQL (nothing was changed):")
        emit(schema.upgrade_sql(url, at))
        return
    store = StateStore(url)
    store.close()
    done = store.upgrade
    if done.before is None:
        out.print(f"Created the state {store.shown} at revision {done.after}.")
    elif done.changed:
        out.print(f"Upgraded the state {store.shown} from revision {done.before} to "
                  f"{done.after}" + (f"; the file as it was: {done.backup}" if done.backup else "")
                  + ".")
    else:
        out.print(f"State {store.shown} is at revision {done.after}, this tool's: nothing to "
                  f"upgrade.")


@state_group.command("migrate")
@click.option("--from", "source", required=True, metavar="URL",
              help="The state to move (sqlite:///path or postgresql+psycopg://...).")
@click.option("--to", "target", required=True, metavar="URL",
              help="Where to: a new, empty database (its tables are made at this tool's "
                   "revision).")
@handles_errors
def migrate_cmd(source: str, target: str) -> None:
    """Move a state to another database, lineage, serial, journal and history with it; the
    old one is left as it was (a backup, until you remove it)."""
    source, target = state_url(source), state_url(target)
    moved = move.migrate(source, target)
    tables = ", ".join(f"{rows} {name}" for name, rows in moved.rows.items()
                       if name != "meta")
    out.print(f"Moved the state {shown_url(source)} to {shown_url(target)}: lineage "
              f"{moved.lineage}, serial {moved.serial}; rows: {tables or 'none'}.")
    out.print(f"Point --state or RECONCILER_STATE at {shown_url(target)} from now on; "
              f"{shown_url(source)} was not changed.")
