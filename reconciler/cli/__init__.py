"""The `reconcile` command. ``app`` holds the group and the shared options; each module beside
it registers a family of commands on it, imported when one of its commands runs
(``app.COMMANDS``)."""

from reconciler.cli.app import main

__all__ = ["main"]
