"""Platform simulators: what they share (fault injection, time, the wire helpers), and where
each platform's is found.

Each simulator module (``reconciler/platforms/<name>/sim.py``, named in its platform's
descriptor) exposes ``create_app(token, *, faults=None, seed=None, **options)`` and
``embedded_app(credentials, data)``, and keeps its live data at ``app.state.store`` (with
``to_json()``); the ERP simulators (``reconciler/sources/<erp>/sim.py``, named in the ERP's
descriptor) do too. :func:`simulator` finds the module by platform or ERP name, so
:mod:`reconciler.sim.embedded` and :mod:`reconciler.sim.serve` stay platform-agnostic. What the
simulators do alike over HTTP (refusals, the endpoint wrapper, request parsing, the ``/_sim/``
admin endpoints) is in :mod:`reconciler.sim.wire`; the dict view of a store's records (fields
in order) in :mod:`reconciler.sim.records`.
"""

from __future__ import annotations

from types import ModuleType

from reconciler.errors import ReconcilerError
from reconciler.platforms import registry
from reconciler.sources import registry as erps


def simulated() -> list[str]:
    """The platforms that ship a simulator, then the ERPs."""
    return [*(p.name for p in registry.every() if p.simulator), *erps.names()]


def simulator(platform: str) -> ModuleType:
    """The simulator module for a platform or ERP name (ReconcilerError naming the known ones)."""
    found = registry.find(platform)
    module = found.simulator_module() if found is not None else None
    erp = erps.find(platform) if module is None else None
    if erp is not None:
        module = erps.simulator_module(erp)
    if module is None:
        known = ", ".join(simulated())
        raise ReconcilerError(
            f"no simulator for platform {platform!r}; simulated platforms: {known}"
        )
    return module
