"""The CLI end to end against the Qualifica and Campsoft simulators, each served by uvicorn on
its own loopback port: the real `reconcile` run as a subprocess, platform state read back from
the simulators' own API and admin counters."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, ContentSim, child_env, serve_simulator
from tests.e2e.content_specs import (
    CAMPSOFT_SUBSCRIPTIONS,
    QUALIFICA_GRANTS,
    ContentSpecs,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def specs(content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> ContentSpecs:
    spec = ContentSpecs(content_cli.cwd / "specs", qualifica.url, campsoft.url)
    spec.write()
    return spec


def converge(cli: Cli) -> None:
    cli("apply", "--auto-approve", check=0)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout


def statuses(qualifica: ContentSim, campsoft: ContentSim) -> dict[str, str]:
    """Every subscription's status on both platforms, by address-like key."""
    out = {f"qualifica:{k}": g["status"] for k, g in qualifica.grants().items()}
    out.update({f"campsoft:{k}": s["status"] for k, s in campsoft.subscriptions().items()})
    return out


def all_once(writes: dict[str, dict[str, int]]) -> bool:
    return all(n == 1 for per_key in writes.values() for n in per_key.values())


# -- the simulators as documented --------------------------------------------------------------


@pytest.mark.parametrize("platform", ["qualifica", "campsoft"])
def test_sim_serve_starts_the_content_simulators(platform: str) -> None:
    with serve_simulator(platform, "e2e-" + secrets.token_hex(8)) as (_, client):
        assert client.get("/_sim/counters").json()["logins"] == 0


def test_sim_serve_refuses_a_setting_the_platform_does_not_have() -> None:
    proc = subprocess.run([sys.executable, "-m", "reconciler", "sim", "serve", "--platform",
                           "qualifica", "--removal-delay", "1", "--token", "t"],
                          env=child_env(), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 1
    assert "--removal-delay is a saperx-stfc setting" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- packages on client services -----------------------------------------------------------------


def test_adding_packages_to_a_service_creates_user_and_subscriptions(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    specs.service(1002)["packages"] = []
    specs.write()
    converge(cli)
    assert "joao.pereira" not in qualifica.users()
    assert not any(k.startswith("1002/") for k in campsoft.subscriptions())

    specs.service(1002)["packages"] = [{"package": "cursos-pro"}, {"package": "livros-premium"}]
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    pro = f"  specs/clients.yaml:{specs.line_of('clients.yaml', 'package: cursos-pro')}"
    books = f"  specs/clients.yaml:{specs.line_of('clients.yaml', 'package: livros-premium')}"
    assert ('+ qualifica.user["joao.pereira"]  create user: client João Pereira needs a '
            "Qualifica user for their packages" + pro) in plan
    assert ('+ qualifica.subscription["joao.pereira/pro"]  subscribe to product pro: package '
            "cursos-pro added to service 1002 (João Pereira)" + pro) in plan
    assert ('+ campsoft.subscription["1002/livros-premium-1002"]  subscribe to product 7654321: '
            "package livros-premium added to service 1002 (João Pereira)" + books) in plan
    assert plan.count("  service 1002\n") == 2  # grouped per client service, on each platform
    assert "service 1001" not in plan and "Plan: 3 to create." in plan
    assert qualifica.writes().keys() == {"maria.silva", "maria.silva/premium", "ana.costa",
                                         "ana.costa/premium"}  # plan wrote nothing

    converge(cli)
    user = qualifica.users()["joao.pereira"]
    assert (user["nome"], user["documento"], user["email"]) == (
        "João Pereira", "08301661305", "joao.pereira@example.com.br")
    assert [(g["produto"], g["status"], g["id_cliente_servico"]) for g in user["produtos"]] == [
        ("pro", "ativo", 1002)]
    sub = campsoft.subscriptions()["1002/livros-premium-1002"]
    assert (sub["contract_identifier"], sub["label"], sub["product_code"], sub["status"]) == (
        "1002", "livros-premium-1002", "7654321", "active")
    assert sub["customer"] == {"name": "João Pereira", "document": "08301661305",
                               "email": "joao.pereira@example.com.br", "phone": "11976543210",
                               "login": "joao.pereira"}
    # the password (senha defaults to cpf_cnpj: the document's digits) reached the platform
    valid = campsoft.api("POST", "/validation", json={
        "isp_identifier": sub["isp_identifier"], "login": "joao.pereira",
        "password": "08301661305"})
    assert valid.status_code == 200 and valid.json()["products"] == [
        {"code": "7654321", "status": "active"}]
    writes = {**qualifica.writes(), **campsoft.writes()}
    assert writes["joao.pereira"] == {"criar": 1}
    assert writes["joao.pereira/pro"] == {"vincular": 1}
    assert writes["1002/livros-premium-1002"] == {"create": 1}
    assert all_once(writes)


@pytest.mark.parametrize("campsoft_suspends", [True, False], ids=["both-suspend", "campsoft-off"])
def test_suspend_and_reactivate_follow_suspend_on_delinquency(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs,
        campsoft_suspends: bool) -> None:
    cli = content_cli
    specs.campsoft_suspends = campsoft_suspends
    specs.service(1003)["status"] = "suspended"  # from the start: created suspended, or not
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    assert ('+ qualifica.subscription["ana.costa/premium"]  subscribe to product premium, '
            "suspended: package cursos-premium") in plan
    assert ('+ campsoft.subscription["1003/kids-1003"]  subscribe to product 2468013, '
            "suspended:" in plan) is campsoft_suspends
    converge(cli)
    now = statuses(qualifica, campsoft)
    assert now["qualifica:ana.costa/premium"] == "suspenso"
    assert now["campsoft:1003/kids-1003"] == ("suspended" if campsoft_suspends else "active")

    specs.service(1001)["status"] = "suspended"
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    assert ('! qualifica.subscription["maria.silva/premium"]  suspend: service 1001 is '
            "suspended (package cursos-premium)") in plan
    assert ('campsoft.subscription["1001/livros-1001"]' in plan) is campsoft_suspends
    converge(cli)
    now = statuses(qualifica, campsoft)
    assert now["qualifica:maria.silva/premium"] == "suspenso"
    assert now["campsoft:1001/livros-1001"] == ("suspended" if campsoft_suspends else "active")
    others = {k: v for k, v in now.items()
              if not any(w in k for w in (":1001/", ":maria.", ":1003/", ":ana."))}
    assert others == {"qualifica:joao.pereira/pro": "ativo",  # no other service touched
                      "campsoft:1002/livros-premium-1002": "active",
                      "campsoft:2001/livros-paoquente": "active"}
    if not campsoft_suspends:
        assert campsoft.writes()["1001/livros-1001"] == {"create": 1}

    specs.service(1001)["status"] = "active"
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    assert ('^ qualifica.subscription["maria.silva/premium"]  resume: service 1001 is active '
            "again") in plan
    converge(cli)
    now = statuses(qualifica, campsoft)
    assert now["qualifica:maria.silva/premium"] == "ativo"
    assert now["campsoft:1001/livros-1001"] == "active"
    assert qualifica.writes()["maria.silva/premium"] == {"vincular": 1, "suspender": 1, "ativar": 1}
    expected = {"create": 1, "suspend": 1, "reactivate": 1} if campsoft_suspends else {"create": 1}
    assert campsoft.writes()["1001/livros-1001"] == expected


def test_cancelling_a_service_cancels_its_subscriptions_on_both(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    converge(cli)
    specs.service(1002)["status"] = "cancelled"
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    assert ('- qualifica.subscription["joao.pereira/pro"]  cancel product pro: service 1002 is '
            "cancelled (package cursos-pro)") in plan
    assert ('- campsoft.subscription["1002/livros-premium-1002"]  cancel product 7654321: '
            "service 1002 is cancelled (package livros-premium)") in plan
    converge(cli)
    now = statuses(qualifica, campsoft)
    assert now["qualifica:joao.pereira/pro"] == "cancelado"  # kept, as cancelled
    assert now["campsoft:1002/livros-premium-1002"] == "cancelled"
    assert "joao.pereira" in qualifica.users()  # users are never deleted
    assert sorted(v for k, v in now.items() if "1002" not in k and "joao" not in k) == sorted(
        ["ativo"] * 2 + ["active"] * 3)
    writes = {**qualifica.writes(), **campsoft.writes()}
    assert writes["joao.pereira/pro"] == {"vincular": 1, "cancelar": 1}
    assert writes["1002/livros-premium-1002"] == {"create": 1, "cancel": 1}


def test_switching_plans_adds_and_cancels_only_the_packages_that_differ(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    converge(cli)
    before = {**qualifica.writes(), **campsoft.writes()}
    specs.service(1001)["plan"] = "combo-kids"  # keeps cursos-premium, livros -> kids
    specs.write()
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    assert ('+ campsoft.subscription["1001/kids-1001"]  subscribe to product 2468013: package '
            "kids comes with plan combo-kids of service 1001 (Maria Silva)") in plan
    assert ('- campsoft.subscription["1001/livros-1001"]  cancel product 1234567: service 1001 '
            "changed from plan combo-livros to plan combo-kids, without package livros") in plan
    # shared by both plans: no call to the platform, only its new origin recorded in the state
    changed = [line for line in plan.splitlines() if "maria.silva/premium" in line]
    assert [line.strip() for line in changed] == ['qualifica.subscription["maria.silva/premium"]']
    assert "1 to record as managed" in plan
    converge(cli)
    now = statuses(qualifica, campsoft)
    assert now["campsoft:1001/kids-1001"] == "active"
    assert now["campsoft:1001/livros-1001"] == "cancelled"
    assert now["qualifica:maria.silva/premium"] == "ativo"
    after = {**qualifica.writes(), **campsoft.writes()}
    assert after["1001/kids-1001"] == {"create": 1}
    assert after["1001/livros-1001"] == {"create": 1, "cancel": 1}
    assert after["maria.silva/premium"] == before["maria.silva/premium"] == {"vincular": 1}
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {"1001/kids-1001", "1001/livros-1001"}


# -- validation ------------------------------------------------------------------------------


def test_a_client_without_phone_on_a_campsoft_package_is_refused_before_any_call(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    del specs.client(1002)["phone"]
    specs.write()
    line = specs.line_of("clients.yaml", "package: livros-premium")
    client_line = specs.line_of("clients.yaml", "document: 083.016.613-05")
    before = (qualifica.counters(), campsoft.counters())
    for command in ("validate", "plan"):
        result = cli(command, check=1)
        assert "Traceback" not in result.stderr
        assert re.search(rf"specs/clients\.yaml:{line}:\d+: package 'livros-premium' is a "
                         r"Campsoft subscription, which needs the client's e-mail and phone; "
                         r"client João Pereira has no phone", result.stderr), result.stderr
        assert f"add phone to the client at specs/clients.yaml:{client_line}" in result.stderr
        assert "1 problem" in result.stderr  # the Qualifica package of the service is fine
    cli("apply", "--auto-approve", check=1)
    assert (qualifica.counters(), campsoft.counters()) == before
    assert before[0]["requests"] == {} and before[1]["requests"] == {}


def test_removing_a_mandatory_package_of_a_locked_plan_is_refused(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    specs.service(1001)["exclude_packages"] = ["cursos-premium"]
    specs.write()
    line = specs.line_of("clients.yaml", "- cursos-premium")
    result = content_cli("validate", check=1)
    assert re.search(rf"specs/clients\.yaml:{line}:\d+: package 'cursos-premium' is mandatory in "
                     r"plan 'combo-livros', which locks its packages", result.stderr), result.stderr
    specs.service(1001)["exclude_packages"] = ["livros"]  # optional: allowed
    specs.write()
    assert "Valid:" in content_cli("validate", check=0).stdout
    assert qualifica.counters()["requests"] == {} and campsoft.counters()["requests"] == {}


# -- tokens, check and sync ------------------------------------------------------------------------


def test_tokens_expiring_mid_apply_are_renewed(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    """Every live token is revoked once the first write of the apply lands on each platform,
    and tokens live 31 s, which the providers renew 30 s before: both renewal paths run."""
    cli = content_cli
    platforms = (qualifica, campsoft)
    for platform in platforms:  # slow enough for the apply to take a while
        platform.configure(latency=0.2, token_ttl=31)
    specs.qualifica_options["concurrency"] = specs.campsoft_options["concurrency"] = 1
    specs.write()  # one write at a time: the revocation lands between two of them
    revoked: dict[str, tuple[int, int]] = {}  # platform -> (tokens expired, writes by then)
    stop = threading.Event()

    def revoke_at_first_write() -> None:
        deadline = time.monotonic() + 60
        while not stop.wait(0.02) and time.monotonic() < deadline and len(revoked) < 2:
            for platform in platforms:
                done = sum(sum(ops.values()) for ops in platform.writes().values())
                if platform.platform not in revoked and done >= 1:
                    revoked[platform.platform] = (platform.expire_tokens(), done)

    thread = threading.Thread(target=revoke_at_first_write, daemon=True)
    thread.start()
    try:
        applied = cli("apply", "--auto-approve")
    finally:
        stop.set()
        thread.join(timeout=5)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "10 done, 0 partial, 0 failed, 0 skipped" in applied.stdout
    assert set(revoked) == {"qualifica", "campsoft"}, revoked
    for platform in platforms:
        expired, writes_then = revoked[platform.platform]
        total = sum(sum(ops.values()) for ops in platform.writes().values())
        assert expired >= 1 and writes_then < total, (platform.platform, revoked, total)
        assert platform.counters()["logins"] >= 2  # logged in again after the revocation

    for platform in platforms:
        platform.configure(latency=0)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
    assert set(qualifica.grants()) == QUALIFICA_GRANTS
    assert set(campsoft.subscriptions()) == CAMPSOFT_SUBSCRIPTIONS
    assert all_once({**qualifica.writes(), **campsoft.writes()})


def test_check_reports_each_integration_and_a_wrong_secret_without_showing_it(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    ok = cli("check", check=0).stdout
    assert re.search(r"^ok\s+qualifica \(qualifica\): ", ok, re.MULTILINE), ok
    assert re.search(r"^ok\s+campsoft \(campsoft\): ", ok, re.MULTILINE), ok

    wrong = {"E2E_QUALIFICA_SECRET": "wrong-" + qualifica.secret,
             "E2E_CAMPSOFT_SECRET": "wrong-" + campsoft.secret}
    cli.env.update(wrong)
    failed = cli("-vv", "check", check=1)
    out = failed.stdout + failed.stderr
    assert re.search(r"^FAILED\s+qualifica \(qualifica\): .*refused the credentials "
                     r"\(HTTP 401\)", failed.stdout, re.MULTILINE), failed.stdout
    assert re.search(r"^FAILED\s+campsoft \(campsoft\): .*refused the credentials \(HTTP 401\)",
                     failed.stdout, re.MULTILINE), failed.stdout
    assert "2 of 2 integrations failed the check." in out
    for secret in (*wrong.values(), qualifica.secret, campsoft.secret):
        assert secret not in out
    assert "Traceback" not in out

    cli.env["E2E_QUALIFICA_SECRET"] = qualifica.secret  # one fixed: only the other fails
    one = cli("check", check=1).stdout
    assert re.search(r"^ok\s+qualifica ", one, re.MULTILINE) and re.search(r"^FAILED\s+campsoft ", one,
                                                                    re.MULTILINE)
    assert all_once(qualifica.writes()) and qualifica.writes() == campsoft.writes() == {}


def test_sync_stores_the_catalogs_and_validate_rejects_unknown_codes(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    synced = cli("sync", check=0).stdout
    assert "qualifica: 3 products" in synced and "campsoft: 3 products" in synced
    assert "9000001" not in synced  # Campsoft's inactive product is not synchronised
    data = json.loads(cli("sync", "--json", check=0).stdout)
    assert {p["code"] for p in data["qualifica"]["products"]} == {"pro", "premium", "1001"}
    assert {p["code"] for p in data["campsoft"]["products"]} == {"1234567", "7654321", "2468013"}

    before = (qualifica.counters(), campsoft.counters())
    specs.packages["cursos-pro"]["products"] = ["gold"]
    specs.packages["livros-premium"]["products"] = ["9000001"]  # exists, but inactive
    specs.write()
    result = cli("validate", check=1)
    assert "product 'gold' is not in the catalog of integration qualifica" in result.stderr
    assert "valid codes: 1001, premium, pro" in result.stderr
    assert "product '9000001' is not in the catalog of integration campsoft" in result.stderr
    assert "valid codes: 1234567, 2468013, 7654321" in result.stderr
    assert re.search(r"specs/\w+\.yaml:\d+:\d+: package cursos-pro: product 'gold'", result.stderr)
    assert (qualifica.counters(), campsoft.counters()) == before  # validate reads the state
    planned = cli("plan", check=1)  # plan checks against what the platforms list now
    assert "product 'gold' of package cursos-pro is not in the catalog" in planned.stderr
    assert "valid codes: 1001, premium, pro" in planned.stderr
    assert qualifica.writes() == campsoft.writes() == {}


def test_validate_checks_every_package_against_the_synced_catalog(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    content_cli("sync", check=0)
    specs.packages["cursos-gold"] = {"integration": "qualifica", "price": 29.9,
                                     "products": ["gold"]}  # declared, on no service yet
    specs.write()
    result = content_cli("validate")
    assert result.returncode == 1, result.stdout
    assert "'gold'" in result.stderr and "valid codes: 1001, premium, pro" in result.stderr


# -- secrets -----------------------------------------------------------------------------------

TOKEN_SHAPE = re.compile(rb"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32}(?![A-Za-z0-9_-])")


def token_like(data: bytes) -> list[bytes]:
    """Strings shaped like the simulators' tokens (secrets.token_urlsafe(24): 32 characters,
    upper and lower case mixed), which hex digests, UUIDs and SQLite's names are not."""
    return [m for m in TOKEN_SHAPE.findall(data)
            if re.search(rb"[A-Z]", m) and re.search(rb"[a-z]", m)]


def test_no_secret_reaches_output_plan_file_or_state(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    outputs = [cli("-vv", "check", check=0),
               cli("-vv", "plan", "--out", "plan.json", check=0),
               cli("-vv", "apply", "plan.json", check=0),
               cli("-vv", "drift", check=0), cli("show", "--json", check=0)]
    # a token of ours, issued by the same platform: must be masked if it ever showed
    issued = [qualifica.api("GET", "/produtos").request.headers["authorization"].split()[1],
              campsoft.api("GET", "/isps").request.headers["authorization"].split()[1]]
    cli.env.update(E2E_QUALIFICA_SECRET="bad-" + qualifica.secret,
                   E2E_CAMPSOFT_SECRET="bad-" + campsoft.secret)
    outputs.append(cli("-vv", "plan", check=1))
    assert "401" in outputs[-1].stderr
    forbidden = [qualifica.secret, campsoft.secret, campsoft.ident, *issued]
    for run in outputs:
        text = (run.stdout + run.stderr).encode()
        assert [s for s in forbidden if s.encode() in text] == [], run.args
        assert token_like(text) == [], run.args
        assert not re.search(rb'"(password|senha)"\s*:', text), run.args
    files = [cli.cwd / "plan.json", *(p for p in (cli.cwd / "state").rglob("*") if p.is_file())]
    assert len(files) >= 2
    for path in files:
        data = path.read_bytes()
        assert [s for s in forbidden if s.encode() in data] == [], path
        assert token_like(data) == [], path
        assert not re.search(rb'"(password|senha|client_secret|api_secret|api_key)"', data), path
    plan = json.loads((cli.cwd / "plan.json").read_text())
    after = [c["after"] for c in plan["changes"] if c["kind"] == "subscription"
             and c["integration"] == "campsoft"]
    assert after and all(a["password_from"] == "cpf_cnpj" and "password" not in a for a in after)


# -- drift -------------------------------------------------------------------------------------


def test_a_subscription_suspended_behind_the_tools_back_is_drift(
        content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    converge(cli)
    cli("drift", check=0)
    sub = campsoft.subscriptions()["1001/livros-1001"]
    campsoft.api("POST", f"/subscriptions/{sub['subscription_id']}/suspend").raise_for_status()
    qualifica.api("PATCH", "/usuarios/joao.pereira/produtos/pro",
                  json={"status": "suspenso"}).raise_for_status()
    report = cli("drift", check=2).stdout
    assert re.search(r'changed\s+campsoft\.subscription\["1001/livros-1001"\]', report), report
    assert re.search(r'changed\s+qualifica\.subscription\["joao\.pereira/pro"\]', report), report
    assert "status: 'active' (applied) -> 'suspended' (on the platform)" in report
    data = json.loads(cli("drift", "--json", check=2).stdout)
    assert data["summary"]["drifted"] == 2
    plan = cli("plan", "--detailed-exitcode", check=2).stdout
    assert re.search(r'\^ campsoft\.subscription\["1001/livros-1001"\]  resume', plan), plan
    assert re.search(r'\^ qualifica\.subscription\["joao\.pereira/pro"\]  resume', plan), plan
    converge(cli)
    assert statuses(qualifica, campsoft)["campsoft:1001/livros-1001"] == "active"
    cli("drift", check=0)


# -- the Campsoft password rule (the seed's senha) -----------------------------------------------

KEY = "1002/livros-premium-1002"  # João Pereira's Campsoft subscription
DOCUMENT, LOGIN = "08301661305", "joao.pereira"  # the passwords cpf_cnpj and the login give


def accepts(campsoft: ContentSim, password: str) -> bool:
    """Whether the platform's /validation accepts João's login with ``password``."""
    isp = campsoft.subscriptions()[KEY]["isp_identifier"]
    answer = campsoft.api("POST", "/validation", json={
        "isp_identifier": isp, "login": LOGIN, "password": password})
    assert answer.status_code in (200, 401), answer.text
    return answer.status_code == 200


def use_rule(specs: ContentSpecs, rule: str) -> None:
    specs.service(1002)["packages"] = [
        {"package": "cursos-pro"}, {"package": "livros-premium", "params": {"senha": rule}}]
    specs.write()


def state_db(cli: Cli) -> Path:
    return cli.cwd / "state" / "reconciler.db"


def test_a_changed_password_rule_updates_the_subscriber_once_and_shows_no_password(
        content_cli: Cli, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    converge(cli)
    assert accepts(campsoft, DOCUMENT) and not accepts(campsoft, LOGIN)

    use_rule(specs, "login_autenticacao")
    planned = cli("-vv", "plan", "--detailed-exitcode", "--out", "plan.json", check=2)
    line = specs.line_of("clients.yaml", "package: livros-premium")
    assert (f'~ campsoft.subscription["{KEY}"]  update 1 subscription: service 1002, package '
            f"livros-premium: password rule changed (cpf_cnpj -> login_autenticacao)  "
            f"specs/clients.yaml:{line}") in planned.stdout, planned.stdout
    assert "password_from: 'cpf_cnpj' -> 'login_autenticacao'" in planned.stdout
    assert "Plan: 1 to update." in planned.stdout
    assert campsoft.writes()[KEY] == {"create": 1}  # planning wrote nothing

    applied = cli("-vv", "apply", "plan.json", check=0)
    assert "1 done, 0 partial, 0 failed, 0 skipped" in applied.stdout
    assert campsoft.writes()[KEY] == {"create": 1, "update": 1}
    assert accepts(campsoft, LOGIN)  # the new rule's password
    assert not accepts(campsoft, DOCUMENT)  # the old one is refused
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
    assert campsoft.writes()[KEY] == {"create": 1, "update": 1}

    # what the reconciler wrote: a keyed fingerprint at most, never a password's plain digest
    with sqlite3.connect(state_db(cli)) as db:
        (key,) = db.execute("SELECT value FROM meta WHERE key = 'fingerprint_key'").fetchone()
        (attrs,) = db.execute("SELECT attributes FROM resources WHERE address = ?",
                              (f'campsoft.subscription["{KEY}"]',)).fetchone()
    recorded = json.loads(attrs)
    assert recorded["password_from"] == "login_autenticacao" and len(recorded[
        "password_digest"]) == 64
    plan_file = json.loads((cli.cwd / "plan.json").read_text())
    (change,) = plan_file["changes"]
    assert change["after"]["password_digest"] == recorded["password_digest"]
    plain = [hashlib.sha256(p.encode()).hexdigest() for p in (DOCUMENT, LOGIN)]
    files = [cli.cwd / "plan.json", *(p for p in (cli.cwd / "state").rglob("*") if p.is_file())]
    for path in files:
        data = path.read_bytes()
        assert [d for d in plain if d.encode() in data] == [], path
        assert b'"password"' not in data, path
    assert key.encode() not in (cli.cwd / "plan.json").read_bytes()  # the key stays in the state
    for run in (planned, applied):
        text = run.stdout + run.stderr
        assert "password_digest" not in text and recorded["password_digest"] not in text
        assert key not in text and not [d for d in plain if d in text]
        assert '"password"' not in text


def test_an_unchanged_rule_never_resets_a_password_the_client_changed(
        content_cli: Cli, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    use_rule(specs, "login_autenticacao")
    converge(cli)
    assert accepts(campsoft, LOGIN)
    subscription = campsoft.subscriptions()[KEY]["subscription_id"]  # the client's own change
    campsoft.api("PUT", f"/subscriptions/{subscription}",
                 json={"customer": {"password": "escolhida-pelo-cliente"}}).raise_for_status()
    writes = campsoft.writes()[KEY]

    for _ in range(2):
        assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout
        cli("apply", "--auto-approve", check=0)
    assert campsoft.writes()[KEY] == writes  # no call to the platform
    assert accepts(campsoft, "escolhida-pelo-cliente") and not accepts(campsoft, LOGIN)


def test_subscriptions_recorded_before_fingerprints_are_not_all_updated_on_upgrade(
        content_cli: Cli, campsoft: ContentSim, specs: ContentSpecs) -> None:
    cli = content_cli
    converge(cli)
    with sqlite3.connect(state_db(cli)) as db:  # as an older version recorded them
        db.execute("UPDATE resources SET attributes = json_remove(attributes, "
                   "'$.password_digest')")
        left = db.execute("SELECT count(*) FROM resources WHERE attributes LIKE "
                          "'%password_digest%'").fetchone()[0]
    assert left == 0
    before = campsoft.writes()
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout

    use_rule(specs, "id_contrato")  # the rule they recorded still says when one changed
    planned = cli("plan", "--detailed-exitcode", check=2).stdout
    assert "password rule changed (cpf_cnpj -> id_contrato)" in planned
    assert "Plan: 1 to update." in planned
    converge(cli)
    after = campsoft.writes()
    assert {k for k in after if after[k] != before.get(k)} == {KEY}
    assert accepts(campsoft, "1002") and not accepts(campsoft, DOCUMENT)
