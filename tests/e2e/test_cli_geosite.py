"""Geosite end to end: the real CLI against a served simulator over loopback. Sync the project's
network, validate ports against it, link services, swap two services' ports, migrate one and give
its port to another, cancel, see a move made behind the tool's back as drift, import a client the
specs do not hold, and ask for feasibility."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import mapping
from tests.e2e.conftest import Cli, child_env
from tests.e2e.mapping import Service, write_specs

pytestmark = pytest.mark.e2e

PROJECT = "Floripa Norte"
USER = "sim-user"
LAT, LNG = -27.5954, -48.5480


class Geosite:
    def __init__(self, url: str, password: str, client: httpx.Client) -> None:
        self.url, self.password, self.client = url, password, client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        token = self.client.post("/api/v1/auth/login",
                                 json={"usuario": USER, "senha": self.password}).json()["token"]
        return self.client.request(method, "/api/v1" + path,
                                   headers={"Authorization": f"Bearer {token}"}, **kwargs)

    def clients(self) -> dict[str, tuple[str, int]]:
        """code -> (CTO name, port) of every client on the platform."""
        found = self.api("GET", "/clientes", params={"por_pagina": 1000}).json()["itens"]
        return {c["codigo"]: (c["cto_nome"], c["porta"]) for c in found}

    def cto(self, name: str) -> dict[str, Any]:
        items = self.api("GET", "/elementos", params={"tipo": "cto", "por_pagina": 1000}).json()
        return next(e for e in items["itens"] if e["nome"] == name)


@pytest.fixture(scope="module")
def served() -> Iterator[Geosite]:
    yield from mapping.served("geosite", Geosite)


@pytest.fixture
def geo(served: Geosite) -> Geosite:
    served.client.post("/_sim/reset").raise_for_status()
    served.client.post("/_sim/seed", json={
        "projeto": PROJECT, "ctos": 4, "portas": 8, "em_projeto": 0, "reservadas": 0,
        "latitude": LAT, "longitude": LNG, "raio": 400, "seed": 3}).raise_for_status()
    for body in ({"nome": "CTO-RES", "portas": 4, "reservadas": [2]},
                 {"nome": "CTO-NEW", "portas": 8, "status": "em_projeto"}):
        served.client.post("/_sim/elementos", json={
            "projeto": PROJECT, "latitude": LAT + 0.001, "longitude": LNG, **body,
        }).raise_for_status()
    return served


@pytest.fixture
def cli(tmp_path: Path, geo: Geosite) -> Cli:
    return Cli(tmp_path, child_env(GEO_PASSWORD=geo.password, NO_COLOR="1", COLUMNS="250"))


def specs(root: Path, url: str, services: list[Service]) -> None:
    """One Geosite integration and one client per (service, status, box, port)."""
    write_specs(root, "geo", f"""\
    platform: geosite
    endpoint: {url}
    credentials: {{username: {USER}, password: "${{env:GEO_PASSWORD}}"}}
    options: {{project: {PROJECT}}}
""", services)


START = [(101, "active", "CTO-0001", 1), (102, "active", "CTO-0001", 2),
         (103, "active", "CTO-0002", 1)]


def test_ports_follow_the_specs_through_swaps_migrations_and_cancels(cli: Cli,
                                                                     geo: Geosite) -> None:
    specs(cli.cwd, geo.url, START)
    synced = cli("sync", "geo", check=0)
    assert "geo: 6 elements" in synced.stdout
    cli("validate", check=0)
    plan = cli("plan", "--detailed-exitcode", check=2)
    assert "connect service 101 to box CTO-0001, port 1" in plan.stdout
    cli("apply", "--auto-approve", check=0)
    assert geo.clients() == {"101": ("CTO-0001", 1), "102": ("CTO-0001", 2),
                             "103": ("CTO-0002", 1)}
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout

    # swap 101 and 102, one apply
    specs(cli.cwd, geo.url, [(101, "active", "CTO-0001", 2), (102, "active", "CTO-0001", 1),
                             START[2]])
    plan = cli("plan", check=0)
    assert "move service 101 from box CTO-0001, port 1 to box CTO-0001, port 2" in plan.stdout
    cli("apply", "--auto-approve", check=0)
    assert geo.clients()["101"] == ("CTO-0001", 2) and geo.clients()["102"] == ("CTO-0001", 1)

    # 103 migrates; its old port goes to a new service 104
    specs(cli.cwd, geo.url, [(101, "active", "CTO-0001", 2), (102, "active", "CTO-0001", 1),
                             (103, "active", "CTO-0003", 4), (104, "active", "CTO-0002", 1)])
    cli("apply", "--auto-approve", check=0)
    assert geo.clients() == {"101": ("CTO-0001", 2), "102": ("CTO-0001", 1),
                             "103": ("CTO-0003", 4), "104": ("CTO-0002", 1)}

    # cancelled: the port is freed; suspended: nothing changes on the map
    specs(cli.cwd, geo.url, [(101, "suspended", "CTO-0001", 2), (102, "active", "CTO-0001", 1),
                             (103, "active", "CTO-0003", 4), (104, "cancelled", "CTO-0002", 1)])
    plan = cli("plan", check=0)
    assert "free box CTO-0002, port 1 (client 104)" in plan.stdout and "101" not in plan.stdout
    cli("apply", "--auto-approve", check=0)
    assert "104" not in geo.clients() and geo.cto("CTO-0002")["portas_livres"] == 8
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout


def test_ports_are_validated_against_the_synced_network(cli: Cli, geo: Geosite) -> None:
    specs(cli.cwd, geo.url, [(101, "active", "CTO-0001", 9), (102, "active", "CTO-RES", 2),
                             (103, "active", "CTO-NEW", 1), (105, "active", "CTO-9999", 1)])
    cli("validate", check=0)  # never synced: checked at plan time
    cli("sync", "geo", check=0)
    refused = cli("validate", check=1)
    assert "Traceback" not in refused.stderr
    assert "specs/clients.yaml:7:15: service 101" in refused.stderr  # its port: line
    assert "service 101: box CTO-0001 has ports 1 to 8, not 9; free ports of box CTO-0001: 1, " \
           "2, 3 (and 5 more)" in refused.stderr
    assert "service 102: port 2 of box CTO-RES is reserved; free ports of box CTO-RES: 1, 3, " \
           "4" in refused.stderr
    assert "service 103: box CTO-NEW is still in design" in refused.stderr
    assert "service 105: box 'CTO-9999' is not in the synced network" in refused.stderr
    plan = cli("plan", check=1)
    assert "is still in design" in plan.stderr and geo.clients() == {}


def test_drift_import_and_feasibility(cli: Cli, geo: Geosite) -> None:
    specs(cli.cwd, geo.url, START[:2])
    cli("apply", "--auto-approve", check=0)
    cto1, cto4 = geo.cto("CTO-0001")["id"], geo.cto("CTO-0004")["id"]
    # behind the tool's back: 102 moved to port 5, a stranger put on CTO-0004 port 3
    geo.api("DELETE", f"/ctos/{cto1}/portas/2/cliente").raise_for_status()
    geo.api("PUT", f"/ctos/{cto1}/portas/5/cliente", json={
        "codigo": "102", "documento": "11144477735", "nome": "Client 102"}).raise_for_status()
    geo.api("PUT", f"/ctos/{cto4}/portas/3/cliente", json={
        "codigo": "777", "documento": "86288366757", "nome": "Loja da Esquina"}).raise_for_status()
    drift = cli("drift", "--format", "json", check=2)
    found = {(d["address"], d["kind"]) for d in json.loads(drift.stdout)["drift"]}
    assert ('geo.port_link["102"]', "changed") in found
    assert ('geo.port_link["777"]', "unmanaged") in found
    cli("apply", "--auto-approve", check=0)  # puts 102 back on port 2
    assert geo.clients()["102"] == ("CTO-0001", 2)

    imported = cli("import", "geo", "--auto-approve", "--generate", "generated", check=0)
    assert "777" in imported.stdout
    generated = (cli.cwd / "generated" / "imported-clients.yaml").read_text()
    assert "document: '86288366757'" in generated or 'document: "86288366757"' in generated
    assert "id: 777" in generated and "box: CTO-0004" in generated and "port: 3" in generated

    text = cli("feasibility", "--integration", "geo", "--lat", str(LAT), "--lon", str(LNG),
               "--radius", "2000", check=0).stdout
    assert text.startswith("geo: (-27.595400, -48.548000) within 2000 m: viable:")
    document = json.loads(cli("feasibility", "--integration", "geo", "--lat", str(LAT), "--lon",
                              str(LNG), "--radius", "2000", "--format", "json", check=0).stdout)
    boxes = [b["box"] for b in document["boxes"]]
    assert document["viable"] and "CTO-NEW" not in boxes and "CTO-0001" in boxes
    distances = [b["distance_m"] for b in document["boxes"]]
    assert distances == sorted(distances)
    free = {b["box"]: b["free_ports"] for b in document["boxes"]}
    assert free["CTO-0001"] == 6 and free["CTO-0004"] == 7
