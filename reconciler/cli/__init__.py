"""The `reconcile` command. ``app`` holds the group and the shared options; each module beside
it registers a family of commands on it."""

from reconciler.cli import (  # noqa: F401  (they register commands)
    admin,
    billing,
    charges,
    drift,
    feasibility,
    importing,
    inspect,
    numbers,
    plan,
    schedule,
    schema,
)
from reconciler.cli.app import main

__all__ = ["main"]
