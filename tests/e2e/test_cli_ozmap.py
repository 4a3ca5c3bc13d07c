"""OZmap end to end: the real CLI against a served simulator over loopback (`reconcile sim serve
--platform ozmap`, its network seeded through `POST /_sim/seed`). Sync the project's network,
validate ports against it, link services, swap two services' ports, migrate one and give its
port to another, cancel with each `on_cancel`, see a move made behind the tool's back as drift
and a stranger as unmanaged, import a client the specs do not hold, and ask for feasibility. The
API key and the login password reach the CLI through `${env:...}` only and show nowhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import mapping
from tests.e2e.conftest import Cli, child_env, state_rows
from tests.e2e.mapping import DOCUMENTS, Service, assert_nowhere, write_specs

pytestmark = pytest.mark.e2e

PROJECT = "Floripa Norte"
LAT, LNG = -27.5954, -48.5480
BOX_RES = "5f0000000000000000000001"  # an explicit box: 4 ports, the last reserved, 2 blocked
SIM_USER, SIM_PASSWORD = "sim-user", "sim-password"  # the login `sim serve` accepts
S1 = "Splitter 1"  # the generated boxes' customer splitter (Splitter D distributes)


class Ozmap:
    """The served simulator, through its own API (the key sent raw) and its admin API."""

    def __init__(self, url: str, key: str, client: httpx.Client) -> None:
        self.url, self.key, self.client = url, key, client

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.client.request(method, "/api/v2" + path,
                                       headers={"Authorization": self.key}, **kwargs)
        response.raise_for_status()
        return response

    def rows(self, resource: str) -> list[dict[str, Any]]:
        return self.api("GET", f"/{resource}", params={"limit": -1}).json()["rows"]  # type: ignore[no-any-return]

    def ports(self) -> dict[str, tuple[str, str, int]]:
        """client code -> (box, splitter, port) of every connected client."""
        boxes = {b["id"]: b["name"] for b in self.rows("boxes")}
        codes = {c["id"]: c["code"] for c in self.rows("ftth-clients")}
        return {codes[p["client"]]: (boxes[p["box"]], p["connections"][0]["name"],
                                     p["connections"][0]["port"])
                for p in self.rows("properties") if p["client"] and p["connections"]}

    def property_of(self, code: str) -> dict[str, Any]:
        (client,) = [c for c in self.rows("ftth-clients") if c["code"] == code]
        (prop,) = [p for p in self.rows("properties") if p["client"] == client["id"]]
        return prop

    def splitter(self, box: str, name: str = S1) -> str:
        parent = next(b["id"] for b in self.rows("boxes") if b["name"] == box)
        return next(s["id"] for s in self.rows("splitters")
                    if s["parent"] == parent and s["name"] == name)

    def put(self, box: str, port: int, code: str, document: str, name: str) -> str:
        """A client on a port, made behind the tool's back: its property's id."""
        made = self.api("POST", "/properties", json={
            "connector": self.splitter(box), "port": port,
            "client": {"code": code, "name": name, "observation": f"CPF/CNPJ {document}"}})
        return str(made.json()["id"])


@pytest.fixture(scope="module")
def served() -> Iterator[Ozmap]:
    yield from mapping.served("ozmap", Ozmap)


@pytest.fixture
def oz(served: Ozmap) -> Ozmap:
    """CTO-0001..4 of 8 customer ports (Splitter 1) and a distribution splitter (Splitter D),
    CTO-0004 in design, 60 m apart; and CTO-RES, explicit, with a reserved and a blocked port."""
    served.client.post("/_sim/reset").raise_for_status()
    seeded = served.client.post("/_sim/seed", json={"generate": {
        "project": PROJECT, "boxes": 4, "ports": 8, "distribution": True, "design_every": 4,
        "center": {"lat": LAT, "lng": LNG}, "spacing": 60}})
    seeded.raise_for_status()
    project = seeded.json()["generated"]["project"]
    served.client.post("/_sim/seed", json={
        "boxes": [{"id": BOX_RES, "name": "CTO-RES", "project": project, "implanted": True,
                   "default_reserve": 1, "coords": [LNG, LAT + 0.002]}],
        "splitters": [{"parent": BOX_RES, "name": S1, "isDrop": True,
                       "ratio": {"input": 1, "output": 4},
                       "ports": [{"index": 2, "blocked": True}]}]}).raise_for_status()
    return served


@pytest.fixture
def cli(tmp_path: Path, oz: Ozmap) -> Cli:
    return Cli(tmp_path, child_env(OZ_KEY=oz.key, OZ_PASSWORD=SIM_PASSWORD, NO_COLOR="1",
                                   COLUMNS="250"))


def specs(root: Path, url: str, services: list[Service], *, on_cancel: str = "remove_client",
          login: bool = False, documents: dict[int, str] | None = None) -> None:
    """One OZmap integration (the API key, or the login) and one client per service."""
    credentials = (f'{{username: {SIM_USER}, password: "${{env:OZ_PASSWORD}}"}}' if login
                   else '{api_key: "${env:OZ_KEY}"}')
    write_specs(root, "oz", f"""\
    platform: ozmap
    endpoint: {url}
    credentials: {credentials}
    options: {{project: {PROJECT}, on_cancel: {on_cancel}}}
""", services, documents=documents)


START: list[Service] = [(101, "active", "CTO-0001", 1), (102, "active", "CTO-0001", 2),
                        (103, "active", "CTO-0002", 1)]


def test_ports_follow_the_specs_through_swaps_migrations_and_cancels(cli: Cli, oz: Ozmap) -> None:
    specs(cli.cwd, oz.url, START)
    synced = cli("sync", "oz", check=0)
    assert "oz: 5 elements" in synced.stdout and "CTO-RES" in synced.stdout
    cli("validate", check=0)
    plan = cli("-vv", "plan", "--detailed-exitcode", "--out", "linked.plan", check=2)
    assert f"connect service 101 to box CTO-0001, splitter {S1}, port 1" in plan.stdout
    applied = cli("-vv", "apply", "linked.plan", check=0)
    assert oz.ports() == {"101": ("CTO-0001", S1, 1), "102": ("CTO-0001", S1, 2),
                          "103": ("CTO-0002", S1, 1)}
    client = next(c for c in oz.rows("ftth-clients") if c["code"] == "102")
    assert (client["name"], client["observation"], client["implanted"]) == (
        "Client 102", f"CPF/CNPJ {DOCUMENTS[1]}", True)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout

    # swap 101 and 102, one apply
    specs(cli.cwd, oz.url, [(101, "active", "CTO-0001", 2), (102, "active", "CTO-0001", 1),
                            START[2]])
    swapped = cli("apply", "--auto-approve", check=0)
    assert (f"move service 101 from box CTO-0001, splitter {S1}, port 1 to box CTO-0001, "
            f"splitter {S1}, port 2") in swapped.stdout
    assert oz.ports()["101"] == ("CTO-0001", S1, 2) and oz.ports()["102"] == ("CTO-0001", S1, 1)
    # the details show the field that moves, not what the change carries for the provider
    assert "port: 1 -> 2" in swapped.stdout
    assert not {"box_id", "splitter_id", "displace"} & set(swapped.stdout.replace(":", " ").split())
    recorded = state_rows(cli, "SELECT attributes FROM resources WHERE key = '101'")
    assert set(json.loads(recorded[0]["attributes"])) == {"service", "box", "splitter", "port",
                                                          "document", "name"}

    # 103 migrates (its premises move with it); its old port goes to a new service 104
    premises = oz.property_of("103")["id"]
    migrated = [(101, "active", "CTO-0001", 2), (102, "active", "CTO-0001", 1),
                (103, "active", "CTO-0003", 4), (104, "active", "CTO-0002", 1)]
    specs(cli.cwd, oz.url, migrated)
    cli("apply", "--auto-approve", check=0)
    assert oz.ports() == {"101": ("CTO-0001", S1, 2), "102": ("CTO-0001", S1, 1),
                          "103": ("CTO-0003", S1, 4), "104": ("CTO-0002", S1, 1)}
    assert oz.property_of("103")["id"] == premises

    # cancelled with remove_client: client and premises go; suspended: nothing changes
    specs(cli.cwd, oz.url, [(101, "suspended", "CTO-0001", 2), *migrated[1:3],
                            (104, "cancelled", "CTO-0002", 1)])
    freed = cli("apply", "--auto-approve", check=0)
    assert f"free box CTO-0002, splitter {S1}, port 1 (client 104)" in freed.stdout
    assert "101" not in freed.stdout
    assert "104" not in {c["code"] for c in oz.rows("ftth-clients")}
    assert len(oz.rows("properties")) == 3 and oz.ports()["101"] == ("CTO-0001", S1, 2)

    # cancelled with keep_property: the premises stay, off the port; the client goes
    premises = oz.property_of("103")["id"]
    specs(cli.cwd, oz.url, [(101, "suspended", "CTO-0001", 2), migrated[1],
                            (103, "cancelled", "CTO-0003", 4)], on_cancel="keep_property")
    cli("apply", "--auto-approve", check=0)
    kept = {p["id"]: p for p in oz.rows("properties")}[premises]
    assert (kept["client"], kept["connections"]) == (None, [])
    assert set(oz.ports()) == {"101", "102"}
    assert {c["code"] for c in oz.rows("ftth-clients")} == {"101", "102"}
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout

    state = cli.cwd / "state"
    assert_nowhere(oz.key, [plan.stdout, plan.stderr, applied.stdout, applied.stderr],
                   [cli.cwd / "linked.plan", *(p for p in state.rglob("*") if p.is_file())])
    assert "DEBUG" in applied.stderr  # -vv did log: the check above looked at something


def test_ports_are_validated_against_the_synced_network(cli: Cli, oz: Ozmap) -> None:
    oz.put("CTO-0002", 1, "G-1", DOCUMENTS[7], "Loja")  # occupied: not named as free
    specs(cli.cwd, oz.url, [(101, "active", "CTO-0002", 9), (102, "active", "CTO-0001", 1,
                                                              "Splitter D"),
                            (103, "active", "CTO-0004", 1), (104, "active", "CTO-RES", 4),
                            (105, "active", "CTO-RES", 2), (106, "active", "CTO-9999", 1)])
    cli("validate", check=0)  # never synced: checked at plan time
    cli("sync", "oz", check=0)
    refused = cli("validate", check=1)
    assert "Traceback" not in refused.stderr
    assert "specs/clients.yaml:7:15: service 101" in refused.stderr  # its port: line
    assert (f"service 101: box CTO-0002, splitter {S1} has ports 1 to 8, not 9; free ports of "
            f"box CTO-0002: {S1}/2, {S1}/3, {S1}/4 (and 4 more)") in refused.stderr
    assert ("service 102: splitter Splitter D of box CTO-0001 does not serve customers (a "
            f"distribution splitter); free ports of box CTO-0001: {S1}/1, ") in refused.stderr
    assert f"service 103: box CTO-0004, splitter {S1} is still in design" in refused.stderr
    assert (f"service 104: port 4 of box CTO-RES, splitter {S1} is reserved; free ports of box "
            f"CTO-RES: {S1}/1, {S1}/3") in refused.stderr
    assert f"service 105: port 2 of box CTO-RES, splitter {S1} is reserved" in refused.stderr
    assert "service 106: box 'CTO-9999' is not in the synced network" in refused.stderr
    plan = cli("plan", check=1)
    assert "is still in design" in plan.stderr and set(oz.ports()) == {"G-1"}


def test_drift_import_and_feasibility(cli: Cli, oz: Ozmap) -> None:
    specs(cli.cwd, oz.url, START[:2])
    cli("apply", "--auto-approve", check=0)
    # behind the tool's back: 102 moved to port 5, a stranger put on CTO-0003 port 3
    oz.api("PATCH", f"/properties/{oz.property_of('102')['id']}", json={"port": 5})
    oz.put("CTO-0003", 3, "777", DOCUMENTS[4], "Loja da Esquina")
    drift = cli("drift", "--format", "json", check=2)
    found = {(d["address"], d["kind"]): d for d in json.loads(drift.stdout)["drift"]}
    assert found[('oz.port_link["102"]', "changed")]["after"] == {"port": 5}
    assert ('oz.port_link["777"]', "unmanaged") in found
    cli("apply", "--auto-approve", check=0)  # puts 102 back on port 2
    assert oz.ports()["102"] == ("CTO-0001", S1, 2) and oz.ports()["777"] == ("CTO-0003", S1, 3)

    # two clients the specs declare, put there before the tool: 106 is its client's (adopted),
    # 107 carries another document (held back)
    oz.put("CTO-0003", 6, "106", DOCUMENTS[5], "Client 106")
    oz.put("CTO-0002", 5, "107", DOCUMENTS[7], "Someone Else")
    specs(cli.cwd, oz.url, [*START[:2], (106, "active", "CTO-0003", 6),
                            (107, "active", "CTO-0002", 5)], documents={106: DOCUMENTS[5],
                                                                        107: DOCUMENTS[6]})
    imported = cli("import", "oz", "--auto-approve", "--generate", "generated", check=0)
    assert f"the platform's client 107 on box CTO-0002 splitter {S1} port 5 has document " \
           f"{DOCUMENTS[7]}, the specs' service 107 belongs to {DOCUMENTS[6]}: not " \
           "imported" in imported.stdout
    managed = {r["key"] for r in state_rows(cli, "SELECT key FROM resources")}
    assert managed == {"101", "102", "106"}
    generated = (cli.cwd / "generated" / "imported-clients.yaml").read_text()
    written = generated.split("not written as specs")[0]
    assert f"document: '{DOCUMENTS[4]}'" in written and "id: 777" in written
    assert "box: CTO-0003" in written and f"splitter: {S1}" in written and "port: 3" in written
    assert "107" not in generated and "106" not in generated

    radius = ("--integration", "oz", "--lat", str(LAT), "--lon", str(LNG), "--radius", "2000")
    text = cli("feasibility", *radius, check=0).stdout
    assert text.startswith("oz: (-27.595400, -48.548000) within 2000 m: viable:")
    assert "CTO-0004" in text and "not viable: in design" in text
    document = json.loads(cli("feasibility", *radius, "--format", "json", check=0).stdout)
    boxes = {b["box"]: b for b in document["boxes"]}
    assert document["viable"] and (boxes["CTO-0004"]["viable"], boxes["CTO-0004"]["reason"]) == (
        False, "in design")
    viable = [b for b in document["boxes"] if b["viable"]]
    assert [b["distance_m"] for b in viable] == sorted(b["distance_m"] for b in viable)
    free = {b["box"]: b["free_ports"] for b in viable}
    assert free == {"CTO-0001": 6, "CTO-0002": 7, "CTO-0003": 6, "CTO-RES": 2}
    markdown = cli("feasibility", *radius, "--format", "markdown", check=0).stdout
    assert markdown.startswith("## Feasibility on oz")
    assert "| CTO-0002 |" in markdown and "no: in design" in markdown


def test_the_login_password_shows_nowhere(cli: Cli, oz: Ozmap) -> None:
    specs(cli.cwd, oz.url, START[:1], login=True)
    checked = cli("-vv", "check", check=0)
    assert "answered with 5 boxes" in checked.stdout
    applied = cli("-vv", "apply", "--auto-approve", check=0)
    assert oz.ports() == {"101": ("CTO-0001", S1, 1)}
    assert oz.client.get("/_sim/counters").json()["logins"] == 2  # one per run
    state = cli.cwd / "state"
    assert_nowhere(SIM_PASSWORD, [checked.stdout, checked.stderr, applied.stdout,
                                  applied.stderr],
                   [p for p in state.rglob("*") if p.is_file()])
