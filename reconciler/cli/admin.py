"""Housekeeping commands: the state lock and the platform simulators."""

from __future__ import annotations

import click
from rich.markup import escape

from reconciler.cli.app import handles_errors, main, out, state_option
from reconciler.errors import ReconcilerError
from reconciler.state import StateStore, locks, state_url

# -- lock -------------------------------------------------------------------------------


@main.group()
def lock() -> None:
    """See and release the integration locks plan, apply, drift, sync and import take."""


@lock.command("list")
@state_option
@handles_errors
def lock_list(state: str | None) -> None:
    """Show which runs hold which integrations, if any."""
    store = StateStore(state_url(state))
    try:
        held = locks.current(store)
    finally:
        store.close()
    for run in held:
        out.print(escape(run.describe()))
    if not held:
        out.print("No integration of the state is locked.")


@lock.command("release")
@click.argument("lock_id")
@state_option
@handles_errors
def lock_release(lock_id: str, state: str | None) -> None:
    """Release a lock whose run is gone (check `reconcile lock list` first)."""
    store = StateStore(state_url(state))
    try:
        if not locks.release(store, lock_id):
            raise ReconcilerError(f"no lock {lock_id} on this state; `reconcile lock list` "
                                  f"shows the current ones")
    finally:
        store.close()
    out.print(f"Released lock {lock_id}.")



# -- sim --------------------------------------------------------------------------------


@main.group()
def sim() -> None:
    """Platform simulators, for demos, rehearsals and tests."""


@sim.command("serve")
@click.option("--platform", default="saperx-stfc", show_default=True,
              help="Which platform or ERP to simulate: any registered platform that ships a "
                   "simulator (saperx-stfc, qualifica, campsoft, saperx-v2, ozmap, geosite, and "
                   "installed plugins), or an ERP (hubsoft, ixc).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind.")
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--token", envvar="SIM_TOKEN", required=True,
              help="The secret the simulator accepts: the bearer token; for hubsoft the "
                   "client_secret and password; for ixc the <user_id>:<token> text (env SIM_TOKEN).")
@click.option("--removal-delay", type=float,
              help="saperx-stfc only: seconds before an unlinked number leaves the removal "
                   "queue (default 5).")
@click.option("--clients", type=click.IntRange(0, 1_000_000),
              help="hubsoft and ixc only: how many clients the ERP holds, generated from "
                   "--seed (default: a small estate).")
@click.option("--latency", default=0.0, show_default=True, type=float,
              help="Seconds added to every request.")
@click.option("--error-rate", default=0.0, show_default=True, type=float,
              help="Fraction of requests answered 503.")
@click.option("--rate-limit-rate", default=0.0, show_default=True, type=float,
              help="Fraction of requests answered 429 with Retry-After.")
@click.option("--drop-rate", default=0.0, show_default=True, type=float,
              help="Fraction of connections dropped before the platform does anything.")
@click.option("--lost-response-rate", default=0.0, show_default=True, type=float,
              help="Fraction of requests the platform carries out whose response is then lost.")
@click.option("--seed", type=int, help="Seed of the fault injection, to replay a run.")
@handles_errors
def sim_serve(platform: str, host: str, port: int, token: str, removal_delay: float | None,
              clients: int | None, seed: int | None, **faults: float) -> None:
    """Serve a platform simulator over HTTP on loopback."""
    # ``faults``: --latency to --lost-response-rate, which click names as Faults' keywords.
    from reconciler.sim.serve import serve

    serve(platform, host=host, port=port, token=token, removal_delay=removal_delay,
          clients=clients, faults=faults, seed=seed)
