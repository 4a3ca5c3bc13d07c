"""Local state: the resources we manage, lineage and serial, catalogs and run history."""

from reconciler.state import schema
from reconciler.state.store import DEFAULT_URL, StateStore, state_dir, state_url

__all__ = ["DEFAULT_URL", "StateStore", "schema", "state_dir", "state_url"]
