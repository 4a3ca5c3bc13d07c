"""Platform simulators: one ASGI app per platform, plus shared fault injection and time.

Each simulator module (named after its provider) exposes ``create_app(token, *, faults=None,
seed=None, **options)`` and ``embedded_app(credentials, data)``, and keeps its live data at
``app.state.store`` (with ``to_json()``). :func:`simulator` finds the module by platform name,
so :mod:`reconciler.sim.embedded` and :mod:`reconciler.sim.serve` stay platform-agnostic. What
the simulators do alike over HTTP (refusals, the endpoint wrapper, request parsing, the
``/_sim/`` admin endpoints) is in :mod:`reconciler.sim.wire`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from reconciler.errors import ReconcilerError

SIMULATORS = {
    "saperx-stfc": "reconciler.sim.saperx_stfc",
    "qualifica": "reconciler.sim.qualifica",
    "campsoft": "reconciler.sim.campsoft",
}


def simulator(platform: str) -> ModuleType:
    """The simulator module for a platform name (ReconcilerError naming the known ones)."""
    module = SIMULATORS.get(platform)
    if module is None:
        known = ", ".join(sorted(SIMULATORS))
        raise ReconcilerError(
            f"no simulator for platform {platform!r}; simulated platforms: {known}"
        )
    return importlib.import_module(module)
