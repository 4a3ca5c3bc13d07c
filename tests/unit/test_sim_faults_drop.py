"""Dropped connections and lost responses, as a client of the simulator sees them."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from reconciler.platforms.saperx_stfc.sim import create_app
from reconciler.sim.faults import Faults, SimTransport

TOKEN = "t0ken-for-faults"


async def register(faults: Faults) -> tuple[type[Exception] | None, dict[str, object]]:
    app = create_app(TOKEN, faults=faults)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(transport=SimTransport(app=app), base_url="http://sim",
                                 headers=headers) as client:
        error: type[Exception] | None = None
        try:
            await client.post("/api/numeros", json={"numero_inicial": "1130001000"})
        except httpx.TransportError as exc:
            error = type(exc)
        faults.configure(drop_rate=0.0, lost_response_rate=0.0)
        listed = (await client.get("/api/numeros")).json()
    return error, listed


@pytest.mark.parametrize(("setting", "done"), [("drop_rate", False), ("lost_response_rate", True)])
def test_the_client_sees_a_dropped_connection_and_the_work_was_or_was_not_done(
        setting: str, done: bool) -> None:
    error, listed = asyncio.run(register(Faults(**{setting: 1.0}, seed=3)))
    assert error is httpx.RemoteProtocolError
    assert listed["paginacao"]["total_registros"] == (1 if done else 0)  # type: ignore[index]
