"""End-to-end fixtures: simulators served by uvicorn on loopback ports, and the real CLI run
as a subprocess in a temporary directory."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import pytest
from sqlalchemy.exc import SQLAlchemyError

START_TIMEOUT = 20.0
REPO = Path(__file__).resolve().parents[2]

# Every fault setting back to "no fault", as the content simulators' POST /_sim/config takes it.
NO_FAULTS: dict[str, Any] = {"latency": 0.0, "error_rate": 0.0, "rate_limit_rate": 0.0,
                             "drop_rate": 0.0, "lost_response_rate": 0.0, "retry_after": 1,
                             "seed": None}
SIM_TOKEN_TTL = 3600  # the simulators' default token lifetime, restored between tests

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


def _start(cmd: list[str], env: dict[str, str], log: IO[bytes],
           client: httpx.Client) -> tuple[subprocess.Popen[bytes], str | None]:
    """Start ``cmd`` and wait until its admin API answers; (process, None) when it serves,
    (exited process, its log) when it died at startup."""
    log.seek(0)
    log.truncate()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client.get("/_sim/counters").raise_for_status()
            return proc, None
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=10)
                log.seek(0)
                return proc, log.read().decode("utf-8", "replace")
            time.sleep(0.1)


@contextlib.contextmanager
def serve_simulator(platform: str, token: str, *options: str) -> Iterator[tuple[str, httpx.Client]]:
    """Serve ``platform``'s simulator with `reconcile sim serve` on a free loopback port, its
    token (STFC bearer token, or the content platforms' secret) given through SIM_TOKEN as the
    CLI reads it; yields its URL and a client of it, and stops it afterwards."""
    port = free_port()
    env = child_env(SIM_TOKEN=token)
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "reconciler", "sim", "serve", "--platform", platform,
           "--port", str(port), *options]
    client = httpx.Client(base_url=url, timeout=10)
    # a file, not a pipe: a pipe nobody reads would fill up and block the server
    with tempfile.TemporaryFile() as log, client:
        proc, failure = _start(cmd, env, log, client)
        if failure is not None:
            raise RuntimeError(f"{platform} simulator did not start: {failure!r}")
        try:
            yield url, client
        finally:
            proc.terminate()
            proc.wait(timeout=10)


# -- SaperX STFC ---------------------------------------------------------------------------


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
    token = "e2e-" + secrets.token_hex(12)
    with serve_simulator("saperx-stfc", token, "--removal-delay", "0.5") as (url, client):
        yield Sim(url, token, client)


@pytest.fixture
def sim(served_sim: Sim) -> Sim:
    """The served simulator, emptied and with default settings, for one test."""
    served_sim.client.post("/_sim/reset").raise_for_status()
    served_sim.configure(removal_delay=0.5)
    return served_sim


# -- content platforms (Qualifica, Campsoft) ---------------------------------------------------


@dataclass
class ContentSim:
    """A served content simulator: its URL and credentials, and a client for its wire API
    (logging in as the reconciler would, so calls here count in its counters) and its admin
    API (never counted, never faulted)."""

    platform: str
    url: str
    ident: str  # the public half of the credentials: client_id / ApiKey
    secret: str  # client_secret / ApiSecret
    client: httpx.Client
    _token: str | None = field(default=None, repr=False)

    def _login(self) -> str:
        if self.platform == "qualifica":
            body = {"grant_type": "client_credentials", "client_id": self.ident,
                    "client_secret": self.secret}
            response = self.client.post("/oauth/token", json=body)
            response.raise_for_status()
            return str(response.json()["access_token"])
        response = self.client.post("/authentication",
                                    json={"ApiKey": self.ident, "ApiSecret": self.secret})
        response.raise_for_status()
        return str(response.json()["AccessToken"])

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call of the platform's own API, logging in first (and again on a 401)."""
        for _ in range(2):
            if self._token is None:
                self._token = self._login()
            headers = {"Authorization": f"Bearer {self._token}"}
            response = self.client.request(method, path, headers=headers, **kwargs)
            if response.status_code != 401:
                return response
            self._token = None
        return response

    def counters(self) -> dict[str, Any]:
        return self.client.get("/_sim/counters").json()  # type: ignore[no-any-return]

    def writes(self) -> dict[str, dict[str, int]]:
        return self.counters()["writes"]  # type: ignore[no-any-return]

    def configure(self, **settings: Any) -> None:
        self.client.post("/_sim/config", json=settings).raise_for_status()

    def reset(self) -> None:
        """Empty the platform and its counters, and put every setting back to its default."""
        self.client.post("/_sim/reset").raise_for_status()
        self.configure(token_ttl=SIM_TOKEN_TTL, **NO_FAULTS)

    def expire_tokens(self) -> int:
        response = self.client.post("/_sim/tokens/expire")
        response.raise_for_status()
        return int(response.json()["expired"])

    # Qualifica: users and their grants
    def users(self) -> dict[str, dict[str, Any]]:
        assert self.platform == "qualifica"
        response = self.api("GET", "/usuarios", params={"pagina": 0, "por_pagina": 1000})
        response.raise_for_status()
        return {u["usuario"]: u for u in response.json()["usuarios"]}

    def grants(self) -> dict[str, dict[str, Any]]:
        """Every Qualifica grant by ``usuario/produto``."""
        return {f"{name}/{g['produto']}": g
                for name, user in self.users().items() for g in user["produtos"]}

    # Campsoft: subscriptions
    def subscriptions(self) -> dict[str, dict[str, Any]]:
        """Every Campsoft subscription by ``contract_identifier/label``."""
        assert self.platform == "campsoft"
        response = self.api("GET", "/subscriptions", params={"page": 1, "per_page": 1000})
        response.raise_for_status()
        return {f"{s['contract_identifier']}/{s['label']}": s for s in response.json()["items"]}


ContentSimT = TypeVar("ContentSimT", bound=ContentSim)
QUALIFICA_CLIENT_ID = "sim-client"  # what `sim serve --platform qualifica` accepts
CAMPSOFT_API_KEY = "sim-key"  # what `sim serve --platform campsoft` accepts


def serve_logged_in(cls: type[ContentSimT], platform: str, ident: str) -> Iterator[ContentSimT]:
    """``platform``'s simulator served with a fresh secret, as a ``cls`` that logs in with
    ``ident`` and it."""
    secret = f"e2e-{platform}-" + secrets.token_hex(12)
    with serve_simulator(platform, secret) as (url, client):
        yield cls(platform, url, ident, secret, client)


@pytest.fixture(scope="session")
def served_qualifica() -> Iterator[ContentSim]:
    yield from serve_logged_in(ContentSim, "qualifica", QUALIFICA_CLIENT_ID)


@pytest.fixture(scope="session")
def served_campsoft() -> Iterator[ContentSim]:
    yield from serve_logged_in(ContentSim, "campsoft", CAMPSOFT_API_KEY)


@pytest.fixture
def qualifica(served_qualifica: ContentSim) -> ContentSim:
    """The served Qualifica simulator, emptied and with default settings, for one test."""
    served_qualifica.reset()
    return served_qualifica


@pytest.fixture
def campsoft(served_campsoft: ContentSim) -> ContentSim:
    """The served Campsoft simulator, emptied and with default settings, for one test."""
    served_campsoft.reset()
    return served_campsoft



# -- SaperX v2 (VoIP) ------------------------------------------------------------------------

V2_USERNAME, V2_PASSWORD, V2_API_KEY = "sim-user", "sim-password", "sim-key"  # `sim serve`'s


@dataclass
class VoipSim(ContentSim):
    """A served SaperX v2 simulator (production environment): ``ident`` is the API key,
    ``secret`` the API secret; the username and password are the simulator's defaults."""

    def _login(self) -> str:
        body = {"username": V2_USERNAME, "password": V2_PASSWORD, "api_key": self.ident,
                "api_secret": self.secret}
        response = self.client.post("/api/v2/auth/token", json=body)
        response.raise_for_status()
        return str(response.json()["access_token"])

    def _listing(self, what: str) -> list[dict[str, Any]]:
        response = self.api("GET", f"/api/v2/{what}", params={"page": 1, "per_page": 1000})
        response.raise_for_status()
        return response.json()["items"]

    def extensions(self) -> dict[str, dict[str, Any]]:
        """Every extension by account code."""
        return {e["account_code"]: e for e in self._listing("extensions")}

    def ranges(self) -> dict[str, dict[str, Any]]:
        """Every number range by name."""
        return {r["name"]: r for r in self._listing("ranges")}


@pytest.fixture(scope="session")
def served_voip() -> Iterator[VoipSim]:
    yield from serve_logged_in(VoipSim, "saperx-v2", V2_API_KEY)


@pytest.fixture
def voip(served_voip: VoipSim) -> VoipSim:
    """The served SaperX v2 simulator, emptied and with default settings, for one test."""
    served_voip.reset()
    return served_voip


# -- the CLI -------------------------------------------------------------------------------


@dataclass
class Cli:
    """Runs `reconcile` in a working directory, as an operator would."""

    cwd: Path
    env: dict[str, str]

    def __call__(self, *args: str, check: int | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=self.cwd,
                              env=self.env, capture_output=True, text=True, timeout=120,
                              stdin=subprocess.DEVNULL, check=False)
        if check is not None:
            assert proc.returncode == check, (
                f"`reconcile {' '.join(args)}` exited {proc.returncode}, wanted {check}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked ``both_backends`` runs each test whose CLI uses the state on SQLite and
    on PostgreSQL (but its tests marked ``sqlite_only``); every other module on SQLite only
    (``state_backend`` below)."""
    if ("state_backend" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("both_backends")
            and not metafunc.definition.get_closest_marker("sqlite_only")):
        metafunc.parametrize("state_backend", ["sqlite", "postgresql"])


@pytest.fixture
def state_backend() -> str:
    return "sqlite"


@pytest.fixture
def cli(tmp_path: Path, sim: Sim, state_backend: str, request: pytest.FixtureRequest) -> Cli:
    """The CLI in the test's directory with the STFC simulator's token; its state the default
    SQLite file there, or (``both_backends`` modules) a new PostgreSQL database."""
    env = child_env(E2E_STFC_TOKEN=sim.token, NO_COLOR="1", COLUMNS="250")
    if state_backend == "postgresql":
        env["RECONCILER_STATE"] = str(request.getfixturevalue("pg_url"))
    return Cli(tmp_path, env)


@pytest.fixture
def content_cli(tmp_path: Path, served_sim: Sim, qualifica: ContentSim,
                campsoft: ContentSim) -> Cli:
    """The CLI with every secret of every served simulator in its environment (the STFC token,
    Qualifica's client_secret, Campsoft's ApiKey and ApiSecret), the content simulators reset."""
    return Cli(tmp_path, child_env(
        E2E_STFC_TOKEN=served_sim.token,
        E2E_QUALIFICA_SECRET=qualifica.secret,
        E2E_CAMPSOFT_KEY=campsoft.ident,
        E2E_CAMPSOFT_SECRET=campsoft.secret,
        NO_COLOR="1", COLUMNS="250",
    ))


@pytest.fixture
def voip_cli(tmp_path: Path, voip: VoipSim) -> Cli:
    """The CLI with the served SaperX v2 simulator's credentials and a SIP line password in its
    environment, the simulator reset."""
    return Cli(tmp_path, child_env(
        E2E_V2_USERNAME=V2_USERNAME, E2E_V2_PASSWORD=V2_PASSWORD, E2E_V2_KEY=voip.ident,
        E2E_V2_SECRET=voip.secret, E2E_LINE_PASSWORD="line-pass-" + secrets.token_hex(6),
        NO_COLOR="1", COLUMNS="250",
    ))


def state_url_of(cli: Cli) -> str:
    """The state a CLI run uses: its RECONCILER_STATE, else the SQLite file in its directory."""
    return cli.env.get("RECONCILER_STATE") or f"sqlite:///{cli.cwd / 'state' / 'reconciler.db'}"


def _state_of(where: Path | Cli) -> tuple[str | None, Path]:
    """(the RECONCILER_STATE of a CLI run, or None; the SQLite file: the path given, or the one
    in the run's directory). Duck-typed: a test module's Cli may be another import of this one."""
    if isinstance(where, Path):
        return None, where
    return where.env.get("RECONCILER_STATE"), where.cwd / "state" / "reconciler.db"


def wait_for_state(where: Path | Cli, proc: subprocess.Popen[bytes], query: str, *,
                   deadline: float) -> bool:
    """Whether ``query`` (one value) on the state (a SQLite file, or a CLI run's state) answered
    something true while ``proc`` ran (read-only polling), waited for at most ``deadline``
    seconds or until ``proc`` exits."""
    url, db = _state_of(where)
    until = time.monotonic() + deadline
    while time.monotonic() < until and proc.poll() is None:
        try:
            if url is not None:
                rows = _rows_at(url, query, ())
                if rows and next(iter(rows[0].values())):
                    return True
            else:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                    if conn.execute(query).fetchone()[0]:
                        return True
        except (sqlite3.Error, SQLAlchemyError):
            pass  # not created yet, or busy: look again
        time.sleep(0.02)
    return False


def wait_for_pending_change(where: Path | Cli, proc: subprocess.Popen[bytes], *,
                            deadline: float) -> bool:
    """Whether the apply wrote the intent of a change it has not finished."""
    return wait_for_state(where, proc, "SELECT count(*) FROM journal WHERE outcome = 'pending'",
                          deadline=deadline)


def state_rows(cli: Cli, query: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of ``query`` on the state of a CLI run (the SQLite file in its directory, or the
    state in its RECONCILER_STATE), as dicts; JSON and times as SQLite gives them (text)."""
    url, file = _state_of(cli)
    if url is not None:
        return _rows_at(url, query, params)
    with contextlib.closing(sqlite3.connect(file)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(query, params)]


def _rows_at(url: str, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine, text

    from reconciler.state.store import engine_url

    engine = create_engine(engine_url(url))
    try:
        with engine.connect() as conn:
            bound = {f"p{i}": value for i, value in enumerate(params)}
            for i in range(len(params)):
                query = query.replace("?", f":p{i}", 1)
            return [{key: _as_sqlite(value) for key, value in row._mapping.items()}
                    for row in conn.execute(text(query), bound)]
    finally:
        engine.dispose()


def _as_sqlite(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return str(value)
    return value
