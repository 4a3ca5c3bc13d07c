"""`reconcile import` end to end: the simulators, served on loopback, are seeded through their own
APIs with what an ERP created; the real CLI imports it, and the state, the simulators' counters,
a second import, `--generate` output, `validate` and `plan` are checked."""

from __future__ import annotations

import json
import shutil
import sqlite3
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cli, ContentSim, Sim
from tests.e2e.content_specs import ContentSpecs, cpf
from tests.e2e.specset import SpecSet

pytestmark = pytest.mark.e2e

ILIMITADO, BASICO = 103, 101  # the STFC simulator's plan ids
ERP_DOC = cpf(412_345_678).replace(".", "").replace("-", "")  # a client only the ERP knows


def managed(cli: Cli, *args: str) -> set[str]:
    shown = json.loads(cli("show", "--json", *args, check=0).stdout)
    rows = shown["resources"] if isinstance(shown, dict) else shown
    return {row["address"] for row in rows}


def delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    return {route: n - before["requests"].get(route, 0)
            for route, n in after["requests"].items() if n != before["requests"].get(route, 0)}


def plan_changes(cli: Cli) -> set[str]:
    data = json.loads(cli("plan", "--json", check=0).stdout)
    return {c["id"] for c in data["changes"]} | {f"adopt:{r['address']}" for r in data["adopt"]}


# -- SaperX STFC -------------------------------------------------------------------------------


def link(sim: Sim, number: str, service: int, plan: int, document: str, name: str,
         **params: str) -> None:
    body = {"id_plano": plan, "documento": document, "nome": name, "id_externo": service,
            "parametros": params, "bloqueado": False}
    sim.api("POST", f"/api/numeros/{number}/vincular", json=body).raise_for_status()


def seed_stfc(sim: Sim) -> None:
    """What the ERP pushed: the declared range and a block the specs do not know, links."""
    for first, last in (("1130001000", "1130001009"), ("1130002000", "1130002004"),
                        ("1140045000", None), ("1121003000", None)):
        body = {"numero_inicial": first, "ddi": 55, **({"numero_final": last} if last else {})}
        sim.api("POST", "/api/numeros", json=body).raise_for_status()
    link(sim, "1130001001", 1001, ILIMITADO, "52998224725", "Maria Silva",
         numero_telefone_nf="1130001001")
    link(sim, "1130001002", 1002, BASICO, "11144477735", "João Pereira")  # specs: Ilimitado
    link(sim, "1130001003", 9999, ILIMITADO, "39053344705", "Ana Costa")  # specs: service 1003
    link(sim, "1130001005", 1002, ILIMITADO, "11144477735", "João Pereira")  # not declared
    link(sim, "1130002001", 3001, BASICO, ERP_DOC, "Cliente do ERP")


# The collection routes the content providers list (catalogs and paginated listings); a route
# with an object's key after them would be a per-object read.
LISTINGS = {"usuarios", "produtos", "isps", "subscriptions", "products"}


def test_import_stfc_records_matches_lists_the_rest_and_generates_specs(
        cli: Cli, sim: Sim) -> None:
    specs = SpecSet(cli.cwd / "specs", sim.url)
    specs.write()
    seed_stfc(sim)
    before = sim.counters()

    proc = cli("import", "stfc-sp", "--auto-approve", check=0)

    after = sim.counters()
    assert after["writes"] == before["writes"]  # nothing changed on the platform
    reads = delta(before, after)
    # bulk: the plan catalog and the paginated listing, never one number at a time
    assert set(reads) == {"GET /api/planos", "GET /api/numeros"}, reads
    assert "Imported 13 resources" in proc.stdout
    with sqlite3.connect(cli.cwd / "state" / "reconciler.db") as db:
        runs = db.execute("SELECT command, outcome, summary FROM runs").fetchall()
    assert [(c, o, json.loads(s)["import"]) for c, o, s in runs] == [("import", "ok", 13)]
    numbers = {f'stfc-sp.number["11300010{i:02d}"]' for i in range(10)}
    assert managed(cli) == numbers | {'stfc-sp.number["1140045000"]',
                                      'stfc-sp.link["1130001001"]', 'stfc-sp.link["1130001002"]'}
    out = proc.stdout
    assert "stfc-sp.number[1130001000..1130001009]  import 10 numbers" in out
    assert 'stfc-sp.link["1130001002"]  import (differs from the specs: plan' in out
    assert '? stfc-sp.link["1130001003"]' in out and "service 9999" in out
    assert '? stfc-sp.link["1130001005"]' in out
    assert "stfc-sp.number[1130002000..1130002004]  unmatched: 5 numbers" in out
    assert "Import: 13 to record as managed, 0 already managed, 2 ambiguous, 7 unmatched" in out

    # the platform's plan was recorded: the next plan updates the link to the declared one
    assert 'update:stfc-sp.link["1130001002"]' in plan_changes(cli)

    # a second run imports nothing, records no run of changes, and says so
    serial = json.loads(cli("plan", "--json", check=0).stdout)["fingerprint"]["serial"]
    again = cli("import", "stfc-sp", "--auto-approve", "--generate", "generated", check=0)
    assert "Nothing to import" in again.stdout and "13 already managed" in again.stdout
    assert json.loads(cli("plan", "--json", check=0).stdout)["fingerprint"]["serial"] == serial

    generated = cli.cwd / "generated"
    ranges = yaml.safe_load((generated / "imported-numbers.yaml").read_text(encoding="utf-8"))
    assert ranges["number_ranges"] == {
        "stfc-sp-1121003000": {"integration": "stfc-sp", "area_code": 11, "first": 21003000},
        "stfc-sp-1130002000": {"integration": "stfc-sp", "area_code": 11, "first": 30002000,
                               "last": 30002004}}
    clients_text = (generated / "imported-clients.yaml").read_text(encoding="utf-8")
    assert clients_text.startswith("# Written by `reconcile import stfc-sp --generate`")
    assert "`reconcile schema`" in clients_text.splitlines()[1]
    [client] = yaml.safe_load(clients_text)["clients"]
    assert client["document"] == ERP_DOC and client["services"][0]["id"] == 3001
    assert client["services"][0]["phone_numbers"] == [
        {"integration": "stfc-sp", "number": "1130002001", "plan": "STFC Básico 100"}]

    refused = cli("import", "stfc-sp", "--dry-run", "--generate", "generated", check=1)
    assert "already exist" in refused.stderr and "--force" in refused.stderr

    for path in generated.iterdir():
        shutil.copy(path, specs.root / path.name)
    cli("validate", check=0)
    cli("import", "stfc-sp", "--auto-approve", check=0)
    assert 'stfc-sp.link["1130002001"]' in managed(cli)
    # what is left is what the operator must decide: the plan the ERP chose, and the link the
    # specs declare but the platform lacks; nothing generated is touched
    assert plan_changes(cli) == {'update:stfc-sp.link["1130001002"]',
                                 'link:stfc-sp.link["1140045000"]'}


# -- Qualifica and Campsoft --------------------------------------------------------------------

MARIA = {"document": "52601815906", "name": "Maria Silva", "email": "maria.silva@example.com.br",
         "phone": "11987654321"}


def seed_content(qualifica: ContentSim, campsoft: ContentSim) -> None:
    def user(usuario: str, nome: str, documento: str, email: str) -> None:
        qualifica.api("POST", "/usuarios", json={"usuario": usuario, "nome": nome, "email": email,
                                                 "documento": documento}).raise_for_status()

    def grant(usuario: str, produto: str, service: int) -> None:
        qualifica.api("POST", f"/usuarios/{usuario}/produtos",
                      json={"produto": produto, "id_cliente_servico": service}).raise_for_status()

    def subscribe(contract: str, label: str, customer: dict[str, Any]) -> None:
        body = {"isp_identifier": "isp-sim", "contract_identifier": contract, "label": label,
                "product_code": "1234567", "customer": {**customer, "password": "s3cr3t-erp"}}
        campsoft.api("POST", "/subscriptions", json=body).raise_for_status()

    user("maria.silva", MARIA["name"], MARIA["document"], MARIA["email"])
    grant("maria.silva", "premium", 1001)
    user("joao.pereira", "Outro João", "11144477735", "outro@example.com.br")  # another person
    grant("joao.pereira", "pro", 1002)
    user("erp.cliente", "Cliente do ERP", ERP_DOC, "erp@example.com.br")
    grant("erp.cliente", "pro", 4001)
    subscribe("1001", "livros-1001", {**MARIA, "login": "maria.silva"})
    subscribe("2001", "livros", {"name": "Padaria Pão Quente Ltda", "document": "75749118000116",
                                 "email": "financeiro@paoquente.example.com.br",
                                 "phone": "1133334444", "login": "paoquente"})
    subscribe("4001", "livros-4001", {"name": "Cliente do ERP", "document": ERP_DOC,
                                      "email": "erp@example.com.br", "phone": "11955554444",
                                      "login": "erp.cliente"})


def test_import_content_matches_by_key_and_owner_and_generates_a_client(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> None:
    cli = content_cli
    specs = ContentSpecs(cli.cwd / "specs", qualifica.url, campsoft.url)
    keep = {1001, 1002, 2001}
    specs.clients = [c for c in specs.clients if c["services"][0]["id"] in keep]
    specs.write()
    seed_content(qualifica, campsoft)
    before = {"q": qualifica.counters(), "c": campsoft.counters()}

    proc = cli("import", "qualifica", "campsoft", "--auto-approve", "--generate", "generated",
               check=0)

    for name, sim in (("q", qualifica), ("c", campsoft)):
        after = sim.counters()
        assert after["writes"] == before[name]["writes"]
        calls = delta(before[name], after)
        logins = {r: n for r, n in calls.items() if r in ("POST /oauth/token", "POST /authentication")}
        assert sum(logins.values()) == 1, calls  # one token, then listings only
        listings = {route for route in calls if route not in logins}
        # bulk: catalogs and paginated listings only, never one user or subscription at a time
        assert listings and all(route.startswith("GET ") and route.rsplit("/", 1)[-1] in LISTINGS
                                for route in listings), calls
    assert managed(cli) == {'qualifica.user["maria.silva"]',
                            'qualifica.subscription["maria.silva/premium"]',
                            'campsoft.subscription["1001/livros-1001"]'}
    out = proc.stdout
    assert '? qualifica.user["joao.pereira"]' in out and "11144477735" in out
    assert "its user joao.pereira is not imported" in out
    assert '? campsoft.subscription["2001/livros"]' in out and "label: livros" in out
    assert "s3cr3t-erp" not in out + proc.stderr

    generated = cli.cwd / "generated"
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(generated.iterdir()))
    assert "s3cr3t-erp" not in text and "password" not in text
    [client] = yaml.safe_load((generated / "imported-clients.yaml").read_text())["clients"]
    client["services"][0]["packages"].sort(key=lambda p: p["package"])
    assert client == {
        "document": ERP_DOC, "name": "Cliente do ERP", "email": "erp@example.com.br",
        "phone": "11955554444",
        "services": [{"id": 4001, "login": "erp.cliente", "status": "active",
                      "packages": [{"package": "cursos-pro"}, {"package": "livros"}]}]}

    for path in generated.iterdir():
        shutil.copy(path, specs.root / path.name)
    cli("validate", check=0)
    cli("import", "qualifica", "campsoft", "--auto-approve", check=0)
    imported = {'qualifica.user["erp.cliente"]', 'qualifica.subscription["erp.cliente/pro"]',
                'campsoft.subscription["4001/livros-4001"]'}
    assert imported <= managed(cli)
    changes = plan_changes(cli)
    # nothing imported or generated is touched by the next plan; what is left is the operator's
    # to decide (João's user belongs to someone else, Padaria's label differs) and what the
    # platforms lack
    touched = {c.split(":", 1)[1] for c in changes}
    assert not touched & (imported | managed(cli)), changes
    assert 'update:qualifica.user["joao.pereira"]' in changes
    assert 'create:campsoft.subscription["2001/livros-paoquente"]' in changes


def test_import_refuses_without_approval_and_names_an_unknown_integration(
        cli: Cli, sim: Sim) -> None:
    SpecSet(cli.cwd / "specs", sim.url).write()
    seed_stfc(sim)
    refused = cli("import", "stfc-sp", check=1)
    assert "--auto-approve" in refused.stderr and "Traceback" not in refused.stderr
    assert managed(cli) == set()
    unknown = cli("import", "nope", check=1)
    assert "integration nope is not declared" in unknown.stderr


# -- an estate only the ERP knows, on all three platforms ----------------------------------------

SHOP = {"document": cpf(523_456_781).replace(".", "").replace("-", ""), "name": "Loja Um",
        "email": "loja.um@example.com.br", "phone": "11944443333"}
HOME = {"document": cpf(634_567_892).replace(".", "").replace("-", ""), "name": "Casa Dois",
        "email": "casa.dois@example.com.br", "phone": "21988887777"}


def seed_estate(sim: Sim, qualifica: ContentSim, campsoft: ContentSim) -> None:
    """Two clients the ERP created everywhere: a shop (active, with an unknown course product
    and its books) and a delinquent home (its line blocked, its premium books suspended, under
    a label the ERP chose)."""
    body = {"numero_inicial": "1130005000", "numero_final": "1130005003", "ddi": 55}
    sim.api("POST", "/api/numeros", json=body).raise_for_status()
    link(sim, "1130005001", 6001, ILIMITADO, SHOP["document"], SHOP["name"],
         numero_telefone_nf="1130005001")
    link(sim, "1130005002", 6002, BASICO, HOME["document"], HOME["name"])
    sim.api("POST", "/api/numeros/1130005002/bloquear").raise_for_status()
    qualifica.api("POST", "/usuarios", json={"usuario": "loja.um", "nome": SHOP["name"],
                                             "email": SHOP["email"],
                                             "documento": SHOP["document"]}).raise_for_status()
    for product in ("premium", "1001"):
        qualifica.api("POST", "/usuarios/loja.um/produtos",
                      json={"produto": product, "id_cliente_servico": 6001}).raise_for_status()
    for contract, label, product, who, login in (
            ("6001", "livros-6001", "1234567", SHOP, "loja.um"),
            ("6002", "biblioteca", "7654321", HOME, "casa.dois")):
        body = {"isp_identifier": "isp-sim", "contract_identifier": contract, "label": label,
                "product_code": product,
                "customer": {**who, "login": login, "password": "erp-only-pw"}}
        created = campsoft.api("POST", "/subscriptions", json=body)
        created.raise_for_status()
        if contract == "6002":
            sid = created.json()["subscription_id"]
            campsoft.api("POST", f"/subscriptions/{sid}/suspend").raise_for_status()


def test_generated_specs_of_an_erp_estate_validate_import_and_plan_to_no_change(
        content_cli: Cli, sim: Sim, qualifica: ContentSim, campsoft: ContentSim) -> None:
    cli = content_cli
    specs = ContentSpecs(cli.cwd / "specs", qualifica.url, campsoft.url)
    specs.clients = []
    specs.write()
    stfc = {"stfc-sp": {"platform": "saperx-stfc", "endpoint": sim.url,
                        "credentials": {"token": "${env:E2E_STFC_TOKEN}"}}}
    (specs.root / "stfc.yaml").write_text(yaml.safe_dump({"integrations": stfc}),
                                          encoding="utf-8")
    seed_estate(sim, qualifica, campsoft)

    first = cli("import", "stfc-sp", "qualifica", "campsoft", "--generate", "generated",
                "--format", "json", "--dry-run", check=0)
    data = json.loads(first.stdout)
    unmatched = {r["address"] for i in data["integrations"] for r in i["unmatched"]}
    assert len(unmatched) == 4 + 2 + 1 + 2 + 2  # numbers, links, user, grants, subscriptions
    assert all(i["counts"]["import"] == 0 for i in data["integrations"])
    assert "no object on the platform matches the specs" in first.stderr
    generated = cli.cwd / "generated"
    packages = yaml.safe_load((generated / "imported-packages.yaml").read_text())["packages"]
    assert packages == {"qualifica-1001": {"integration": "qualifica", "price": 0,
                                           "products": ["1001"]}}
    clients = yaml.safe_load((generated / "imported-clients.yaml").read_text())["clients"]
    home = next(c for c in clients if c["name"] == HOME["name"])
    assert home["services"][0]["status"] == "suspended"  # its line is blocked
    assert home["services"][0]["packages"] == [{"package": "livros-premium",
                                                "params": {"label": "biblioteca"}}]
    assert "erp-only-pw" not in "".join(p.read_text() for p in generated.iterdir())

    for path in generated.iterdir():
        shutil.copy(path, specs.root / path.name)
    cli("validate", check=0)
    before = {"stfc": sim.counters(), "c": campsoft.counters(), "q": qualifica.counters()}
    proc = cli("import", "stfc-sp", "qualifica", "campsoft", "--auto-approve", check=0)
    assert f"Imported {len(unmatched)} resources" in proc.stdout
    assert sim.counters()["writes"] == before["stfc"]["writes"]
    assert campsoft.counters()["writes"] == before["c"]["writes"]
    assert qualifica.counters()["writes"] == before["q"]["writes"]
    assert managed(cli) == unmatched
    cli("plan", "--detailed-exitcode", check=0)
    cli("drift", check=0)
