"""Serve a simulator over HTTP with uvicorn, on loopback, for end-to-end tests and demos.

The CLI's ``reconcile sim serve`` calls :func:`serve`; tests that need a served app without
uvicorn call :func:`build_app`. Simulators have no real security (the admin endpoints are open),
so a non-loopback address is refused unless the caller passes ``allow_remote=True``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import uvicorn
from starlette.applications import Starlette

from reconciler.errors import ReconcilerError
from reconciler.platforms import registry
from reconciler.sim import simulator
from reconciler.sim.faults import Faults
from reconciler.sources import registry as erps

DEFAULT_TOKEN = "sim-token"
DEFAULT_PORT = 8787


def serve(
    platform: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    token: str = DEFAULT_TOKEN,
    removal_delay: float | None = None,
    clients: int | None = None,
    faults: Mapping[str, Any] | None = None,
    seed: int | None = None,
    allow_remote: bool = False,
    log_level: str = "warning",
) -> None:
    """Serve ``platform``'s simulator until interrupted (blocks).

    ``token`` is what clients must send as ``Authorization: Bearer``; ``removal_delay`` (seconds,
    None for the simulator's default) is how long unlinked numbers wait in the removal queue;
    ``clients`` is how many clients an ERP simulator generates (``seed`` seeds them);
    ``faults`` (the keywords of :class:`Faults`: ``latency``, ``error_rate`` (fraction answered
    503), ``rate_limit_rate`` (fraction answered 429 with ``Retry-After: retry_after``),
    ``drop_rate`` (connections dropped before the work), ``lost_response_rate`` (work done,
    response lost)) and ``seed`` set the fault layer, which stays switchable at run time through
    ``POST /_sim/config``.
    """
    check_host(host, allow_remote=allow_remote)
    options = {} if removal_delay is None else {"removal_delay": removal_delay}
    for name in options:
        takes = [p.name for p in registry.every() if name in p.sim_options]
        if platform not in takes:
            raise ReconcilerError(f"--{name.replace('_', '-')} is a {' or '.join(takes)} "
                                  f"setting; the {platform} simulator does not take it")
    if clients is not None:
        if erps.find(platform) is None:
            raise ReconcilerError(f"--clients is a setting of the ERP simulators "
                                  f"({', '.join(erps.names())}); {platform} does not take it")
        options["clients"] = clients
    app = build_app(platform, token=token, seed=seed, faults=faults, options=options)
    uvicorn.run(app, host=host, port=port, log_level=log_level, lifespan="on")


def build_app(
    platform: str,
    *,
    token: str = DEFAULT_TOKEN,
    seed: int | None = None,
    faults: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> Starlette:
    """The app :func:`serve` would run: ``faults`` as for :class:`Faults`, ``options`` passed
    to the simulator's ``create_app`` (``removal_delay`` for saperx-stfc)."""
    try:
        layer = Faults(seed=seed, **(faults or {}))
    except ValueError as exc:
        message = f"invalid fault setting for the {platform} simulator: {exc}"
        raise ReconcilerError(message) from None
    create_app = simulator(platform).create_app
    app: Starlette = create_app(token, faults=layer, seed=seed, **(options or {}))
    return app


def check_host(host: str, *, allow_remote: bool = False) -> None:
    """Refuse to listen beyond this machine unless explicitly allowed."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ReconcilerError(
            f"refusing to serve a simulator on {host}: it has no real security; use 127.0.0.1 "
            f"or ::1, or pass allow_remote=True (--allow-remote) on a trusted network"
        )
