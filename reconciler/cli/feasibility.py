"""`reconcile feasibility`: which boxes near a point can take a new client (docs/cli.md)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.app import emit, format_option, handles_errors, main, workspace_options
from reconciler.errors import ReconcilerError
from reconciler.feasibility import Feasibility
from reconciler.model import Integration
from reconciler.providers.base import FeasibilitySource
from reconciler.render.feasibility import RENDERERS
from reconciler.runtime import Workspace, connect, run_async


@main.command("feasibility")
@click.option("--integration", "name", required=True, help="The mapping integration to ask.")
@click.option("--lat", type=click.FloatRange(-90, 90), required=True, help="Latitude (degrees).")
@click.option("--lon", type=click.FloatRange(-180, 180), required=True,
              help="Longitude (degrees).")
@click.option("--radius", type=click.FloatRange(1, 50_000), default=None, metavar="M",
              help="Search radius in metres (default: the platform's own).")
@format_option
@workspace_options
@handles_errors
def feasibility_cmd(name: str, lat: float, lon: float, radius: float | None, fmt: str,
                    specs: Path, state: str | None) -> None:
    """The boxes of the integration's network within the radius of a point: those that can
    take a new client (implanted, with a free customer port) first, nearest first, then those
    that cannot and why. Asks the platform; changes nothing."""
    ws = Workspace.open(specs, state)
    try:
        integration = ws.select([name])[0]
        result = run_async(_ask(ws, integration, lat, lon, radius))
    finally:
        ws.close()
    emit(RENDERERS[fmt](result))


async def _ask(ws: Workspace, integration: Integration, lat: float, lon: float,
               radius: float | None) -> Feasibility:
    async with connect([integration], ws.state_dir) as providers:
        provider = providers[integration.name]
        if not isinstance(provider, FeasibilitySource):
            raise ReconcilerError(f"integration {integration.name} ({integration.platform}) "
                                  f"answers no feasibility search: ask a mapping integration "
                                  f"(ozmap, geosite)")
        return await provider.feasibility(lat, lon, radius)
