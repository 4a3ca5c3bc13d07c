"""Alembic's environment for the state schema.

Run by :mod:`reconciler.state.schema` only, never from an ``alembic.ini``: online, on the
connection it passes in ``config.attributes["connection"]`` (inside its transaction); offline
(``reconcile state upgrade --dry-run``), for the dialect of ``config.attributes["url"]``, writing
the SQL instead of running it. Batch mode, so that SQLite gets its ALTERs as table copies.
"""

from alembic import context

from reconciler.state.tables import Base

config = context.config

if context.is_offline_mode():
    context.configure(url=config.attributes["url"], target_metadata=Base.metadata,
                      literal_binds=True, render_as_batch=True)
else:
    context.configure(connection=config.attributes["connection"],
                      target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
