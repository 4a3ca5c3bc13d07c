"""The `reconcile` command. ``app`` holds the group and the shared options; each module beside
it registers a family of commands on it."""

from reconciler.cli import admin, billing, drift, feasibility, importing, inspect, plan, schedule, schema  # noqa: F401  (they register commands)
from reconciler.cli.app import main

__all__ = ["main"]
