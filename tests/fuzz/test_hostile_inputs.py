"""Bounds on what the tool reads besides spec files: simulator bodies, secret files, the spec
cache and schema --check (saved plan files have tests of their own)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from reconciler.bounds import MAX_REQUEST_BYTES
from reconciler.cli import main
from reconciler.errors import SecretError
from reconciler.model import SecretRef
from reconciler.platforms.qualifica.sim import create_app
from reconciler.secrets import resolve
from reconciler.sim.clock import FakeClock
from reconciler.specs import cache, load_desired

SPECS = Path(__file__).resolve().parents[2] / "specs"


def post(path: str, content: bytes | None = None, chunks: list[bytes] | None = None) -> httpx.Response:
    app = create_app("secret", client_id="c", clock=FakeClock())

    async def stream():  # type: ignore[no-untyped-def]
        for chunk in chunks or []:
            yield chunk

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as api:
            return await api.post(path, content=content if chunks is None else stream(),
                                  headers={"content-type": "application/json"})

    return asyncio.run(go())


def test_a_simulator_refuses_a_body_over_its_bound_whether_announced_or_streamed() -> None:
    announced = post("/oauth/token", b"{" + b" " * MAX_REQUEST_BYTES + b"}")
    assert announced.status_code == 413, announced.text
    assert str(MAX_REQUEST_BYTES) in announced.text
    streamed = post("/oauth/token", chunks=[b" " * (1024 * 1024)] * 9)
    assert streamed.status_code == 413, streamed.text


def test_a_simulator_answers_deep_json_with_a_400_not_a_crash() -> None:
    response = post("/usuarios", b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code in (400, 401), response.text  # refused, never a 500
    login = post("/oauth/token", b"[" * 100_000 + b"]" * 100_000)
    assert login.status_code in (400, 401, 422), login.text


def test_a_body_under_the_bound_still_reaches_the_platform() -> None:
    response = post("/oauth/token", json.dumps(
        {"grant_type": "client_credentials", "client_id": "c", "client_secret": "secret"}).encode())
    assert response.status_code == 200, response.text


def test_a_secret_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="not a regular file"):
        resolve(SecretRef(scheme="file", name="/dev/zero", base_dir=str(tmp_path)), field="token")
    big = tmp_path / "big.secret"
    big.write_bytes(b"x" * (65 * 1024))
    with pytest.raises(SecretError, match="over the bound"):
        resolve(SecretRef(scheme="file", name="big.secret", base_dir=str(tmp_path)), field="token")


def test_a_cache_entry_under_another_key_or_cut_short_is_not_unpickled(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = load_desired(SPECS, state_dir=state)
    key = cache.key_of(SPECS)
    assert key is not None and cache.load(state, key) == first
    entry = cache.cache_dir(state) / f"{key}.pickle"
    raw = entry.read_bytes()
    entry.write_bytes(raw[:-10])  # truncated
    assert cache.load(state, key) is None
    other = "0" * 64
    (cache.cache_dir(state) / f"{other}.pickle").write_bytes(raw)  # renamed: its header says key
    assert cache.load(state, other) is None
    entry.write_bytes(raw)
    assert cache.load(state, key) == first


def test_schema_check_does_not_read_a_huge_file(tmp_path: Path) -> None:
    huge = tmp_path / "schema.json"
    with huge.open("wb") as out:
        out.truncate(2 * 1024 * 1024 * 1024)  # sparse: 2 GiB announced, nothing on disk
    result = CliRunner().invoke(main, ["schema", "--check", str(huge)])
    assert result.exit_code == 1
    assert "over the bound" in result.output and "Traceback" not in result.output
    os.unlink(huge)
