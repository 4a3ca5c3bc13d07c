"""Platform simulators: what they share (fault injection, time, the wire helpers), and where
each platform's is found.

Each simulator module (``reconciler/platforms/<name>/sim.py``, named in its platform's
descriptor) exposes ``create_app(token, *, faults=None, seed=None, **options)`` and
``embedded_app(credentials, data)``, and keeps its live data at ``app.state.store`` (with
``to_json()``). :func:`simulator` finds the module by platform name, so
:mod:`reconciler.sim.embedded` and :mod:`reconciler.sim.serve` stay platform-agnostic. What the
simulators do alike over HTTP (refusals, the endpoint wrapper, request parsing, the ``/_sim/``
admin endpoints) is in :mod:`reconciler.sim.wire`; the dict view of a store's records (fields
in order) in :mod:`reconciler.sim.records`.
"""

from __future__ import annotations

from types import ModuleType

from reconciler.errors import ReconcilerError
from reconciler.platforms import registry


def simulated() -> list[str]:
    """The platforms that ship a simulator."""
    return [p.name for p in registry.every() if p.simulator]


def simulator(platform: str) -> ModuleType:
    """The simulator module for a platform name (ReconcilerError naming the known ones)."""
    found = registry.find(platform)
    module = found.simulator_module() if found is not None else None
    if module is None:
        known = ", ".join(simulated())
        raise ReconcilerError(
            f"no simulator for platform {platform!r}; simulated platforms: {known}"
        )
    return module
