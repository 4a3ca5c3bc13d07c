"""End-to-end fixtures: a simulator served by uvicorn on a loopback port, and the real CLI run
as a subprocess in a temporary directory."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import tempfile
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

START_TIMEOUT = 20.0
REPO = Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout importable even when not installed."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, **extra}
    env.pop("RECONCILER_STATE", None)
    env.pop("RECONCILER_SPECS", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sim:
    """A served simulator: its URL, token, and a client for its wire and admin APIs."""

    url: str
    token: str
    client: httpx.Client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.request(method, path, headers=headers, **kwargs)

    def number(self, numero: str) -> dict[str, Any]:
        found = self.api("GET", "/api/numeros", params={"numero": numero}).json()["numeros"]
        return next(n for n in found if n["numero"] == numero)

    def numbers(self) -> dict[str, dict[str, Any]]:
        items = self.api("GET", "/api/numeros", params={"itens_por_pagina": 1000}).json()
        return {n["numero"]: n for n in items["numeros"]}

    def counters(self) -> dict[str, Any]:
        return self.client.get("/_sim/counters").json()  # type: ignore[no-any-return]

    def configure(self, **settings: Any) -> None:
        self.client.post("/_sim/config", json=settings).raise_for_status()


@pytest.fixture(scope="session")
def served_sim() -> Iterator[Sim]:
    port, token = free_port(), "e2e-" + secrets.token_hex(12)
    env = child_env(SIM_TOKEN=token)
    cmd = [sys.executable, "-m", "reconciler", "sim", "serve", "--platform", "saperx-stfc",
           "--port", str(port), "--removal-delay", "0.5"]
    log = tempfile.TemporaryFile()  # a pipe nobody reads would fill up and block the server
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(base_url=url, timeout=10)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client.get("/_sim/counters").raise_for_status()
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                raise RuntimeError(f"simulator did not start: {log.read()!r}") from None
            time.sleep(0.1)
    try:
        yield Sim(url, token, client)
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture
def sim(served_sim: Sim) -> Sim:
    """The served simulator, emptied and with default settings, for one test."""
    served_sim.client.post("/_sim/reset").raise_for_status()
    served_sim.configure(removal_delay=0.5)
    return served_sim


@dataclass
class Cli:
    """Runs `reconcile` in a working directory, as an operator would."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, check: int | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=self.cwd,
                              env=self.env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL)
        if check is not None:
            assert proc.returncode == check, (
                f"`reconcile {' '.join(args)}` exited {proc.returncode}, wanted {check}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def cli(tmp_path: Path, sim: Sim) -> Cli:
    return Cli(tmp_path, child_env(E2E_STFC_TOKEN=sim.token, NO_COLOR="1", COLUMNS="250"))
