"""SaperX v2 end to end: the real CLI against the embedded simulator (the same HTTP code as a
served one), SIP lines created with their DIDs, changed, moved, inactivated and reactivated,
and a generated password that appears nowhere but its file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, child_env

pytestmark = pytest.mark.e2e

SECRETS = {"V2_PASSWORD": "v2-pass-7781", "V2_KEY": "v2-key-5512", "V2_SECRET": "v2-secret-9931",
           "LINE_1001": "line-secret-4410"}

INTEGRATION = """\
integrations:
  voip:
    platform: saperx-v2
    endpoint: embedded
    credentials: {username: ixc, password: "${env:V2_PASSWORD}", api_key: "${env:V2_KEY}",
                  api_secret: "${env:V2_SECRET}"}
    options: {block_on_suspend: true}
number_ranges:
  floripa: {integration: voip, area_code: 48, first: 30001000, last: 30001099}
"""

CLIENTS = """\
clients:
  - document: "529.982.247-25"
    name: Maria Silva
    services:
      - id: 1001
        status: STATUS_1001
        sip_lines:
          - integration: voip
            account_code: "483920"
            password: "${env:LINE_1001}"
            plan: Fixo Local 100
            call_limit: LIMIT
            dids: [DIDS_1001]
  - document: "111.444.777-35"
    name: Loja Exemplo
    services:
      - id: 1002
        status: active
        sip_lines:
          - integration: voip
            password: generate
            password_file: ../secrets/line-1002.txt
            plan: Fixo Brasil 500
            caller_id: "4830001010"
            dids: [DIDS_1002]
"""


def write(root: Path, *, status: str = "active", limit: int = 2,
          dids_1001: str = '{number: "4830001000"}, {number: "4830001001"}',
          dids_1002: str = '{number: "4830001010", monthly_value: 15}') -> None:
    specs = root / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "integrations.yaml").write_text(INTEGRATION)
    (specs / "clients.yaml").write_text(CLIENTS.replace("STATUS_1001", status)
                                        .replace("LIMIT", str(limit))
                                        .replace("DIDS_1001", dids_1001)
                                        .replace("DIDS_1002", dids_1002))


def platform(root: Path) -> dict[str, dict[str, object]]:
    """The embedded platform's production extensions, by account code."""
    data = json.loads((root / "state" / "embedded" / "saperx-v2" / "voip.json").read_text())
    env = data["environments"]["production"]
    return {e["account_code"]: e for e in env["extensions"]}


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path, child_env(**SECRETS, NO_COLOR="1", COLUMNS="250"))


def test_sip_lines_live_through_their_services_statuses(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path)
    cli("validate", check=0)
    first = cli("plan", "--detailed-exitcode", check=2).stdout
    assert 'voip.voip_range["floripa"]' in first
    assert 'voip.extension["483920"]' in first and 'voip.extension["1002/4830001010"]' in first
    cli("apply", "--auto-approve", check=0)
    cli("plan", "--detailed-exitcode", check=0)
    lines = platform(tmp_path)
    assert lines["483920"]["call_limit"] == 2 and lines["483920"]["active"] is True
    generated = tmp_path / "secrets" / "line-1002.txt"
    assert stat.S_IMODE(generated.stat().st_mode) == 0o600
    password = generated.read_text().strip()

    write(tmp_path, limit=4, dids_1001='{number: "4830001000"}',
          dids_1002='{number: "4830001010", monthly_value: 15}, {number: "4830001001"}')
    moved = cli("plan", "--detailed-exitcode", check=2).stdout
    assert "changed in the specs: call_limit, dids" in moved
    cli("apply", "--auto-approve", check=0)
    lines = platform(tmp_path)
    assert lines["483920"]["call_limit"] == 4
    assert [d["number"] for d in lines["483920"]["dids"]] == ["554830001000"]  # DDI + DDD + number
    other = next(e for code, e in lines.items() if code != "483920")
    assert sorted(d["number"] for d in other["dids"]) == ["554830001001", "554830001010"]

    write(tmp_path, status="suspended", limit=4, dids_1001='{number: "4830001000"}',
          dids_1002='{number: "4830001010", monthly_value: 15}, {number: "4830001001"}')
    cli("apply", "--auto-approve", check=0)
    assert platform(tmp_path)["483920"]["blocked"] is True
    write(tmp_path, status="cancelled", limit=4, dids_1001='{number: "4830001000"}',
          dids_1002='{number: "4830001010", monthly_value: 15}, {number: "4830001001"}')
    cancel = cli("plan", "--detailed-exitcode", check=2).stdout
    assert "inactivate" in cancel
    cli("apply", "--auto-approve", check=0)
    assert platform(tmp_path)["483920"]["active"] is False
    write(tmp_path, limit=4, dids_1001='{number: "4830001000"}',
          dids_1002='{number: "4830001010", monthly_value: 15}, {number: "4830001001"}')
    cli("apply", "--auto-approve", check=0)
    back = platform(tmp_path)["483920"]
    assert back["active"] is True and back["blocked"] is False
    cli("plan", "--detailed-exitcode", check=0)
    cli("drift", check=0)

    everything = [(tmp_path / "state" / "reconciler.db").read_bytes()]
    everything += [p.read_bytes() for p in (tmp_path / "state").rglob("*.json")]
    plan_json = cli("plan", "--format", "json", check=0).stdout.encode()
    for blob in [*everything, plan_json]:
        for secret in (password, SECRETS["LINE_1001"], SECRETS["V2_PASSWORD"]):
            assert secret.encode() not in blob
