"""The Campsoft password rule (the seed's ``senha``) end to end, against the Campsoft simulator
served by uvicorn on loopback: a changed rule reaches an existing subscriber in one update, an
unchanged one never resets a password, and no password or unkeyed digest of one is written
anywhere the reconciler writes."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, ContentSim
from tests.e2e.content_specs import ContentSpecs

pytestmark = pytest.mark.e2e

KEY = "1002/livros-premium-1002"  # João Pereira's Campsoft subscription
DOCUMENT, LOGIN = "08301661305", "joao.pereira"  # the passwords cpf_cnpj and the login give


@pytest.fixture
def specs(content_cli: Cli, qualifica: ContentSim, campsoft: ContentSim) -> ContentSpecs:
    spec = ContentSpecs(content_cli.cwd / "specs", qualifica.url, campsoft.url)
    spec.write()
    return spec


def converge(cli: Cli) -> None:
    cli("apply", "--auto-approve", check=0)
    assert "No changes." in cli("plan", "--detailed-exitcode", check=0).stdout


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
