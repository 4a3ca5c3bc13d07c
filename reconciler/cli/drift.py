"""`reconcile drift`: what the platforms hold that differs from what was last applied."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import click

from reconciler.cli.app import (
    EXIT_CHANGES,
    EXIT_OK,
    format_option,
    handles_errors,
    lock_option,
    main,
    now,
    out,
    warn,
    workspace_options,
)
from reconciler.cli.plan import refresh
from reconciler.model import Observed
from reconciler.planner import drift as compute_drift
from reconciler.render import jsonplan, text
from reconciler.runtime import Workspace, connect
from reconciler.state.locks import locked


@main.command("drift")
@workspace_options
@lock_option
@format_option
@handles_errors
def drift_cmd(specs: Path, state: str | None, lock_timeout: float, fmt: str) -> None:
    """Report what the platforms hold that differs from what was last applied (exit 2 if any)."""
    ws = Workspace.open(specs, state)
    try:
        with locked(ws.store, "drift", timeout=lock_timeout, warn=warn):
            known = ws.known()

            async def run() -> dict[str, Observed]:
                async with connect(ws.select(), ws.state_dir) as providers:
                    return await refresh(ws, providers, known)

            observed = asyncio.run(run())
            items = compute_drift(known, observed, ws.platforms())
    finally:
        ws.close()
    if fmt == "json":
        click.echo(json.dumps(jsonplan.drift_to_json(items, checked=sorted(observed),
                                                      created_at=now()), indent=2))
    else:
        text.render_drift(items, sorted(observed), out)
    sys.exit(EXIT_CHANGES if any(d.kind != "converging" for d in items) else EXIT_OK)
