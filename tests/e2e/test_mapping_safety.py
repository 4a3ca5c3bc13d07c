"""The safe-apply guarantees on the mapping platforms (OZmap, Geosite), end to end against their
simulators served over loopback: an apply linking, swapping, migrating and freeing ports killed
at random points, faults injected by the simulators, and the safety limits on freeing ports.

Each test runs on both platforms through a small adapter (:class:`Mapping`): how its simulator
is served and seeded, what it holds (which client is on which port), and which of its writes
landed twice."""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Cli, child_env, serve_simulator
from tests.e2e.content_specs import cpf
from tests.e2e.safe_apply import (
    NO_FAULT_RATES,
    apply_under_faults,
    bounded_trials,
    forget_state,
    kill_an_apply,
    recovered_by_the_next_run,
)
from tests.e2e.specset import write_files

pytestmark = pytest.mark.e2e

INTEGRATION = "map"
PROJECT = "Floripa Sul"
BOXES, PORTS = 4, 8  # CTO-0001..CTO-0004, ports 1..8 (OZmap: one customer splitter a box)
STRANGER = "9001"  # a client on a port that no service declares
Writes = dict[str, dict[str, int]]


class Mapping:
    """A served mapping simulator as these tests drive it (the Served of safe_apply)."""

    platform = ""

    def __init__(self, url: str, secret: str, client: httpx.Client) -> None:
        self.url, self.secret, self.client = url, secret, client

    def counters(self) -> dict[str, Any]:
        return self.client.get("/_sim/counters").json()  # type: ignore[no-any-return]

    def writes(self) -> Writes:
        return self.counters()["writes"]  # type: ignore[no-any-return]

    def configure(self, **settings: Any) -> None:
        self.client.post("/_sim/config", json=settings).raise_for_status()

    def start_over(self) -> None:
        """An empty platform holding only the project's network, no fault."""
        self.client.post("/_sim/reset").raise_for_status()
        self.configure(**NO_FAULT_RATES, retry_after=0)
        self.seed_network()

    def integration(self) -> dict[str, Any]:
        raise NotImplementedError

    def seed_network(self) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """What the platform holds, without its own ids."""
        raise NotImplementedError

    def put_stranger(self, box: str, port: int) -> None:
        """A client no service declares, put on a port behind the tool's back."""
        raise NotImplementedError

    def counted(self, key: str, operation: str) -> bool:
        """Whether a write of ``operation`` on ``key`` should land at most once an apply."""
        return True

    def twice(self, before: Writes) -> dict[str, int]:
        """The writes since ``before`` that landed more than once per key and operation."""
        out = {}
        for key, ops in self.writes().items():
            for operation, count in ops.items():
                more = count - before.get(key, {}).get(operation, 0)
                if more > 1 and self.counted(key, operation):
                    out[f"{key}:{operation}"] = more
        return out


class Ozmap(Mapping):
    platform = "ozmap"

    def integration(self) -> dict[str, Any]:
        return {"platform": "ozmap", "endpoint": self.url,
                "credentials": {"api_key": "${env:E2E_MAP_SECRET}"},
                "options": {"project": PROJECT, "concurrency": 2}}

    def seed_network(self) -> None:
        self.client.post("/_sim/seed", json={"generate": {
            "project": PROJECT, "boxes": BOXES, "ports": PORTS, "seed": 1}}).raise_for_status()

    def rows(self, resource: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v2/{resource}", params={"limit": -1},
                                   headers={"Authorization": self.secret})
        response.raise_for_status()
        return response.json()["rows"]  # type: ignore[no-any-return]

    def snapshot(self) -> dict[str, Any]:
        """Every property as (its client's code, box, splitter, port): a property without a
        client or a port shows as such; every client by code, with whether a property holds it."""
        boxes = {b["id"]: b["name"] for b in self.rows("boxes")}
        splitters = {s["id"]: s["name"] for s in self.rows("splitters")}
        clients = {c["id"]: c for c in self.rows("ftth-clients")}
        codes = [c["code"] for c in clients.values()]
        assert len(codes) == len(set(codes)), f"a client code twice: {sorted(codes)}"
        held, properties = set(), []
        for prop in self.rows("properties"):
            client = clients.get(prop["client"] or "")
            held.add(prop["client"])
            wire = prop["connections"][0] if prop["connections"] else None
            properties.append((client["code"] if client else None, boxes.get(prop["box"]),
                               splitters.get(wire["id"]) if wire else None,
                               wire["port"] if wire else None))
        return {"properties": sorted(properties, key=str),
                "clients": {c["code"]: (c["name"], c["observation"], c["id"] in held)
                            for c in clients.values()}}

    def put_stranger(self, box: str, port: int) -> None:
        box_id = next(b["id"] for b in self.rows("boxes") if b["name"] == box)
        splitter = next(s["id"] for s in self.rows("splitters") if s["parent"] == box_id)
        self.client.post("/_sim/seed", json={"properties": [{
            "connector": splitter, "port": port, "client": {
                "code": STRANGER, "name": "Loja da Esquina",
                "observation": "CPF/CNPJ 86288366757"}}]}).raise_for_status()

    def counted(self, key: str, operation: str) -> bool:
        # a swap moves the displaced client's property twice (off its port, then onto the
        # other): the plan's, not a repeat. Creates, deletes and each port's take and free
        # happen once.
        return not (key.startswith("properties/") and operation == "update")


class Geosite(Mapping):
    platform = "geosite"
    user = "sim-user"

    def integration(self) -> dict[str, Any]:
        return {"platform": "geosite", "endpoint": self.url,
                "credentials": {"username": self.user, "password": "${env:E2E_MAP_SECRET}"},
                "options": {"project": PROJECT, "concurrency": 2}}

    def seed_network(self) -> None:
        self.client.post("/_sim/seed", json={
            "projeto": PROJECT, "ctos": BOXES, "portas": PORTS, "em_projeto": 0,
            "reservadas": 0, "seed": 1}).raise_for_status()

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.client.post("/api/v1/auth/login", json={
            "usuario": self.user, "senha": self.secret}).json()["token"]
        response = self.client.request(method, "/api/v1" + path,
                                       headers={"Authorization": f"Bearer {token}"}, **kwargs)
        response.raise_for_status()
        return response

    def snapshot(self) -> dict[str, Any]:
        """Every client by code: its CTO, port, document and name."""
        found = self.api("GET", "/clientes", params={"por_pagina": 1000}).json()["itens"]
        return {"clients": {c["codigo"]: (c["cto_nome"], c["porta"], c["documento"], c["nome"])
                            for c in found}}

    def put_stranger(self, box: str, port: int) -> None:
        ctos = self.api("GET", "/elementos", params={"tipo": "cto", "por_pagina": 1000})
        cto = next(e["id"] for e in ctos.json()["itens"] if e["nome"] == box)
        self.api("PUT", f"/ctos/{cto}/portas/{port}/cliente", json={
            "codigo": STRANGER, "documento": "86288366757", "nome": "Loja da Esquina"})


PLATFORMS: dict[str, type[Mapping]] = {"ozmap": Ozmap, "geosite": Geosite}


@pytest.fixture(scope="module", params=sorted(PLATFORMS))
def served(request: pytest.FixtureRequest) -> Iterator[Mapping]:
    secret = f"e2e-{request.param}-" + secrets.token_hex(10)
    with serve_simulator(request.param, secret) as (url, client):
        yield PLATFORMS[request.param](url, secret, client)


@pytest.fixture
def sim(served: Mapping) -> Mapping:
    served.start_over()
    return served


@pytest.fixture
def cli(tmp_path: Path, sim: Mapping) -> Cli:
    return Cli(tmp_path, child_env(E2E_MAP_SECRET=sim.secret, NO_COLOR="1", COLUMNS="250"))


# -- the specs ---------------------------------------------------------------------------------


class MapSpecs:
    """One mapping integration and one client a service, each service on a port (box, port),
    kept as data so each test can change it before writing it out."""

    def __init__(self, root: Path, sim: Mapping, services: dict[int, tuple[str, int]]) -> None:
        self.root, self.sim = root, sim
        self.services = {s: {"status": "active", "box": box, "port": port}
                         for s, (box, port) in services.items()}
        self.safety: dict[str, Any] = {}

    def write(self) -> Path:
        clients = [{"document": cpf(300_000_000 + 7919 * service), "name": f"Cliente {service}",
                    "services": [{"id": service, "status": s["status"], "port": {
                        "integration": INTEGRATION, "box": s["box"], "port": s["port"]}}]}
                   for service, s in sorted(self.services.items())]
        head = {"integrations": {INTEGRATION: self.sim.integration()},
                **({"safety": self.safety} if self.safety else {})}
        return write_files(self.root / "specs", {"integrations.yaml": head,
                                                 "clients.yaml": {"clients": clients}})


def box(n: int) -> str:
    return f"CTO-{n:04d}"


# 12 services on the first ports of three boxes: 101..104 on CTO-0001, 105..108 on CTO-0002...
FIRST = {101 + n: (box(1 + n // 4), 1 + n % 4) for n in range(12)}


def first_specs(cli: Cli, sim: Mapping) -> MapSpecs:
    return MapSpecs(cli.cwd, sim, FIRST)


def changed_specs(cli: Cli, sim: Mapping) -> MapSpecs:
    """A month later, one change of every kind a port takes, in one apply: a swap (a ring of
    moves, broken by a displacement), a migration whose old port goes to a new service, a move
    to a free port, a cancel (the port freed), a new service, and a port held by a client no
    service declares given to a new service (that client taken off first)."""
    specs = first_specs(cli, sim)
    specs.services[101].update(port=2)
    specs.services[102].update(port=1)
    specs.services[103].update(box=box(4), port=1)
    specs.services[113] = {"status": "active", "box": box(1), "port": 3}  # 103's old port
    specs.services[106].update(box=box(4), port=2)
    specs.services[105]["status"] = "cancelled"
    specs.services[114] = {"status": "active", "box": box(4), "port": 3}
    specs.services[115] = {"status": "active", "box": box(3), "port": 8}  # the stranger's
    specs.safety = {INTEGRATION: {"unlink": {"max_count": 2, "max_percent": 20}}}
    return specs


def before_the_changes(cli: Cli, sim: Mapping) -> None:
    """The first specs applied, a stranger put on port 8 of CTO-0003, the changed specs
    written."""
    first_specs(cli, sim).write()
    cli("apply", "--auto-approve", check=0)
    sim.put_stranger(box(3), 8)
    changed_specs(cli, sim).write()


_CLEAN: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # per platform, made once


def clean_results(cli: Cli, sim: Mapping) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a clean first apply, and a clean apply of the changed specs after it, leave on the
    platform (neither depends on the state's or the platform's history)."""
    if sim.platform not in _CLEAN:
        before_the_changes(cli, sim)
        first = sim.snapshot()
        before = sim.writes()
        cli("apply", "--auto-approve", check=0)
        assert sim.twice(before) == {}  # a clean run writes each thing once
        _CLEAN[sim.platform] = (_without_stranger(first), sim.snapshot())
        sim.start_over()
        forget_state(cli)
    first, second = _CLEAN[sim.platform]
    assert len(first["clients"]) == len(FIRST)
    where = _places(second)
    assert where["101"] == (box(1), 2) and where["102"] == (box(1), 1)
    assert where["103"] == (box(4), 1) and where["113"] == (box(1), 3)
    assert where["115"] == (box(3), 8) and "105" not in where and STRANGER not in where
    assert len(where) == len(FIRST) + 3 - 1
    return first, second


def _without_stranger(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A snapshot as it was before the stranger came (what the first apply alone leaves)."""
    out = {"clients": {k: v for k, v in snapshot["clients"].items() if k != STRANGER}}
    if "properties" in snapshot:
        out["properties"] = [p for p in snapshot["properties"] if p[0] != STRANGER]
    return out


def _places(snapshot: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """Client code -> (box, port), whichever platform the snapshot is of."""
    if "properties" in snapshot:
        return {p[0]: (p[1], p[3]) for p in snapshot["properties"] if p[0] is not None}
    return {code: (c[0], c[1]) for code, c in snapshot["clients"].items()}


# -- an apply killed at random points ----------------------------------------------------------

KILL_TRIALS = 5
KILL_BUDGET = 25.0  # seconds a platform: fewer trials on a slow or loaded machine


def test_apply_killed_at_random_points_is_recovered_by_the_next_run(cli: Cli,
                                                                    sim: Mapping) -> None:
    """Seeded trials, alternately from an empty platform (12 services linked) and from a
    converged one (the changed specs: a swap, migrations, a cancel, new services, a stranger
    taken off): SIGKILL the apply somewhere in its run, apply again, check the platform and
    the state."""
    clean = clean_results(cli, sim)
    rng = random.Random(20261210 + len(sim.platform))
    recovered = 0
    for trial in bounded_trials(KILL_TRIALS, KILL_BUDGET):
        sim.start_over()
        forget_state(cli)
        if trial % 2:
            before_the_changes(cli, sim)
        else:
            first_specs(cli, sim).write()
        before = sim.writes()
        kill_an_apply(cli, rng, [sim], latency=0.15, longest=0.8)
        recovered += recovered_by_the_next_run(cli, trial)
        assert sim.twice(before) == {}, trial  # nothing created, moved or freed twice
        assert sim.snapshot() == clean[trial % 2], trial  # the clean run's result, exactly
    assert recovered >= 1  # some kills did land mid-change


# -- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "phase"), [(5, 0), (6, 1)])
def test_apply_under_injected_faults_converges_to_the_clean_result(cli: Cli, sim: Mapping,
                                                                   seed: int,
                                                                   phase: int) -> None:
    """Phase 0 links the first specs on an empty platform, phase 1 applies the changed ones on
    a converged platform, under a third of the requests faulted: 503, 429 (Retry-After: 0), a
    connection dropped before the work, a response lost after it (a property or a client the
    platform made, unheard: the retry must find it, not make another)."""
    clean = clean_results(cli, sim)
    if phase:
        before_the_changes(cli, sim)
    else:
        first_specs(cli, sim).write()
    before = sim.writes()
    sim.configure(latency=0.005, error_rate=0.08, rate_limit_rate=0.08, drop_rate=0.08,
                  lost_response_rate=0.08, retry_after=0, seed=seed)
    logs = apply_under_faults(cli)
    sim.configure(**NO_FAULT_RATES)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
    assert sim.snapshot() == clean[phase]  # nothing lost, nothing extra
    assert sim.twice(before) == {}  # no write landed twice
    assert logs.count("; retry ") >= 3  # the faults did happen, and were retried


# -- safety limits -----------------------------------------------------------------------------


def refused(cli: Cli, *allow: str) -> str:
    """What `apply` says when it refuses the plan over the safety limits (nothing is sent)."""
    args = [a for limit in allow for a in ("--allow", limit)]
    message = cli("apply", "--auto-approve", *args, check=3).stderr
    assert "the plan goes over the safety limits, so nothing was applied" in message
    return message


def test_freeing_many_ports_at_once_needs_the_exact_allowance(cli: Cli, sim: Mapping) -> None:
    specs = first_specs(cli, sim)
    specs.write()
    cli("apply", "--auto-approve", check=0)
    for service in range(101, 107):
        specs.services[service]["status"] = "cancelled"
    specs.write()
    before = sim.writes()

    plan = cli("plan", check=3)
    assert plan.stdout.count(f"< {INTEGRATION}.port_link[") == 6  # the plan still prints
    assert f"free box {box(1)}" in plan.stdout
    words = (f"this plan unlinks 6 ports of 12 (50.0%) on integration {INTEGRATION}; the limit "
             f"is 10% and 200: pass --allow {INTEGRATION}.unlink=6 if this is intended")
    assert words in plan.stderr
    wrong = refused(cli, f"{INTEGRATION}.unlink=5")
    assert f"(--allow {INTEGRATION}.unlink=5 was given, but the count is 6)" in wrong
    assert sim.writes() == before  # refused before any write
    assert len(_places(sim.snapshot())) == len(FIRST)

    cli("apply", "--auto-approve", "--allow", f"{INTEGRATION}.unlink=6", check=0)
    assert set(_places(sim.snapshot())) == {str(s) for s in range(107, 113)}
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout


def test_a_port_taken_from_an_undeclared_client_is_an_unlink_and_counted(cli: Cli,
                                                                         sim: Mapping) -> None:
    specs = first_specs(cli, sim)
    specs.safety = {INTEGRATION: {"unlink": {"max_count": 0}}}
    specs.write()
    cli("apply", "--auto-approve", check=0)
    sim.put_stranger(box(3), 8)
    specs.services[115] = {"status": "active", "box": box(3), "port": 8}
    specs.write()
    before = sim.writes()

    plan = cli("plan", check=3)
    assert f"< {INTEGRATION}.port_link[\"{STRANGER}\"]" in plan.stdout
    assert f"the client {STRANGER} (not managed by the tool) leaves the port" in plan.stdout
    message = refused(cli)
    assert (f"this plan unlinks 1 ports of 13 (7.7%) on integration {INTEGRATION}; the limit is "
            f"10% and 0: pass --allow {INTEGRATION}.unlink=1 if this is intended") in message
    assert sim.writes() == before
    assert _places(sim.snapshot())[STRANGER] == (box(3), 8)

    cli("apply", "--auto-approve", "--allow", f"{INTEGRATION}.unlink=1", check=0)
    where = _places(sim.snapshot())
    assert where["115"] == (box(3), 8) and STRANGER not in where
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
