"""`reconcile state`: the state database itself (its schema revision)."""

from __future__ import annotations

import click

from reconciler.cli.app import emit, err, handles_errors, main, out, state_option
from reconciler.errors import StateError
from reconciler.state import StateStore, schema, state_url
from reconciler.state.store import open_engine, shown_url
from reconciler.state.tables import REVISION, REVISIONS


@main.group("state")
def state_group() -> None:
    """The state database itself: its schema revision."""


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
