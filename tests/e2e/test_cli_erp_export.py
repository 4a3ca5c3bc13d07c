"""`reconcile erp export` against the HubSoft and IXC Soft simulators served on loopback: an
export, an ERP change, a second export -> exactly the changed lines; a re-run on an unchanged
ERP changes no byte; --check exits 2; hand-written files and service_details survive."""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Cli, child_env, serve_simulator

HUBSOFT_SECRET = "hs-e2e-secret"
IXC_TOKEN = "7:ixc-e2e-token"
CLIENTS = "1500"  # two files of clients

SPECS = """\
plans:
  fibra-500-combo: {packages: []}
erp_sources:
  hubsoft-main:
    kind: hubsoft
    url: HUBSOFT_URL
    credentials: {client_id: sim-client, client_secret: "${env:HS_SECRET}",
                  username: sim@isp.example, password: "${env:HS_SECRET}"}
    plans: {FIBRA 500MB COMBO: fibra-500-combo}
    status_mapping: {suspenso_pedido_cliente: active}
  ixc-main:
    kind: ixc
    url: IXC_URL
    credentials: {token: "${env:IXC_TOKEN}"}
"""


@pytest.fixture(scope="module")
def hubsoft() -> Iterator[tuple[str, httpx.Client]]:
    with serve_simulator("hubsoft", HUBSOFT_SECRET, "--clients", CLIENTS, "--seed", "5") as served:
        yield served


@pytest.fixture(scope="module")
def ixc() -> Iterator[tuple[str, httpx.Client]]:
    with serve_simulator("ixc", IXC_TOKEN, "--clients", CLIENTS, "--seed", "5") as served:
        yield served


@pytest.fixture
def erp_cli(tmp_path: Path, hubsoft: tuple[str, httpx.Client], ixc: tuple[str, httpx.Client]) -> Cli:
    specs = tmp_path / "specs"
    specs.mkdir()
    text = SPECS.replace("HUBSOFT_URL", hubsoft[0]).replace("IXC_URL", ixc[0])
    (specs / "erp.yaml").write_text(text, encoding="utf-8")
    return Cli(tmp_path, child_env(HS_SECRET=HUBSOFT_SECRET, IXC_TOKEN=IXC_TOKEN, NO_COLOR="1",
                                   COLUMNS="250"))


def export(cli: Cli, source: str, *extra: str, check: int = 0, now: str = "2026-12-05T10:00") -> str:
    proc = cli("erp", "export", "--specs", "specs", "--source", source, "--out",
               f"specs/erp/{source}", "--now", now, *extra, check=check)
    return proc.stdout


def texts(cli: Cli, source: str) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8")
            for p in sorted((cli.cwd / "specs" / "erp" / source).glob("*.yaml"))}


def changed_lines(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out = []
    for name in sorted(before.keys() | after.keys()):
        diff = difflib.unified_diff(before.get(name, "").splitlines(),
                                    after.get(name, "").splitlines(), lineterm="", n=0)
        out += [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    return out


def test_hubsoft_export_is_byte_stable_and_a_status_change_is_one_line(
        erp_cli: Cli, hubsoft: tuple[str, httpx.Client]) -> None:
    admin = hubsoft[1]
    said = export(erp_cli, "hubsoft-main")
    first = texts(erp_cli, "hubsoft-main")
    assert sorted(first) == ["hubsoft-main-0001.yaml", "hubsoft-main-0002.yaml"]
    assert "new services" in said
    assert HUBSOFT_SECRET not in said and HUBSOFT_SECRET not in "".join(first.values())
    erp_cli("validate", "--specs", "specs", check=0)  # the export is valid spec YAML

    export(erp_cli, "hubsoft-main", now="2026-12-06T10:00")
    assert texts(erp_cli, "hubsoft-main") == first  # no byte changed, not even a stamp
    export(erp_cli, "hubsoft-main", "--check", check=0)

    service = _service_with(first["hubsoft-main-0002.yaml"], "servico_habilitado")
    patched = admin.patch(f"/_sim/services/{service}", json={"status_prefixo": "suspenso_debito"})
    assert patched.status_code == 200, patched.text
    try:
        said = export(erp_cli, "hubsoft-main", "--check", check=2)
        assert "1 files would change: hubsoft-main-0002.yaml" in said
        assert texts(erp_cli, "hubsoft-main") == first  # --check writes nothing
        said = export(erp_cli, "hubsoft-main", "--summary", "summary.md", now="2026-12-07T08:30")
        assert "1 suspensions" in said
        lines = changed_lines(first, texts(erp_cli, "hubsoft-main"))
        assert lines == [
            "-        status: active  # hubsoft-main servico_habilitado, fetched 2026-12-05T10:00Z",
            "+        status: suspended  # hubsoft-main suspenso_debito, fetched 2026-12-07T08:30Z"]
        summary = (erp_cli.cwd / "summary.md").read_text(encoding="utf-8")
        assert "| suspensions | 1 |" in summary and f"**Suspended** (service ids): {service}" in summary
    finally:
        admin.patch(f"/_sim/services/{service}", json={"status_prefixo": "servico_habilitado"})


def test_a_mapping_override_and_a_migration_follow_the_source(
        erp_cli: Cli, hubsoft: tuple[str, httpx.Client]) -> None:
    admin = hubsoft[1]
    export(erp_cli, "hubsoft-main")
    first = texts(erp_cli, "hubsoft-main")
    service = _service_with(first["hubsoft-main-0001.yaml"], "servico_habilitado")
    try:
        # the source maps a customer-requested pause to active: nothing to change
        admin.patch(f"/_sim/services/{service}", json={"status_prefixo": "suspenso_pedido_cliente"})
        export(erp_cli, "hubsoft-main", now="2026-12-08T00:00")
        lines = changed_lines(first, texts(erp_cli, "hubsoft-main"))
        assert [line.split("#")[1].split(",")[0].strip() for line in lines] == [
            "hubsoft-main servico_habilitado", "hubsoft-main suspenso_pedido_cliente"]
        assert all("status: active" in line for line in lines)
        # a migration keeps what the last export said, ERP status and stamp included
        second = texts(erp_cli, "hubsoft-main")
        admin.patch(f"/_sim/services/{service}", json={"status_prefixo": "aguardando_migracao"})
        export(erp_cli, "hubsoft-main", now="2026-12-09T00:00")
        assert texts(erp_cli, "hubsoft-main") == second
    finally:
        admin.patch(f"/_sim/services/{service}", json={"status_prefixo": "servico_habilitado"})


def test_hand_files_and_details_survive_an_export(erp_cli: Cli) -> None:
    export(erp_cli, "hubsoft-main")
    out = erp_cli.cwd / "specs" / "erp" / "hubsoft-main"
    first = texts(erp_cli, "hubsoft-main")
    service = _service_with(first["hubsoft-main-0001.yaml"], "servico_habilitado")
    notes = out / "notes.yaml"
    notes.write_text("# my own file, beside the generated ones\n", encoding="utf-8")
    details = erp_cli.cwd / "specs" / "details.yaml"
    details.write_text(textwrap.dedent(f"""\
        service_details:
          {service}:
            exclude_packages: []
        """), encoding="utf-8")
    stale = out / "hubsoft-main-0009.yaml"  # a generated file no longer produced: removed
    stale.write_text(first["hubsoft-main-0001.yaml"].split("clients:")[0] + "clients: []\n",
                     encoding="utf-8")
    export(erp_cli, "hubsoft-main")
    assert notes.read_text(encoding="utf-8").startswith("# my own file")
    assert details.exists() and not stale.exists()
    assert texts(erp_cli, "hubsoft-main") == {**first, "notes.yaml": notes.read_text()}

    clash = out / "hubsoft-main-0003.yaml"
    clash.write_text("clients: []\n", encoding="utf-8")  # a hand file with a generated name
    proc = erp_cli("erp", "export", "--specs", "specs", "--source", "hubsoft-main", "--out",
                   "specs/erp/hubsoft-main", check=1)
    assert "is not a file this export wrote" in proc.stderr and "Traceback" not in proc.stderr
    assert clash.read_text(encoding="utf-8") == "clients: []\n"


def test_ixc_export_and_a_contract_change(erp_cli: Cli, ixc: tuple[str, httpx.Client]) -> None:
    admin = ixc[1]
    export(erp_cli, "ixc-main")
    first = texts(erp_cli, "ixc-main")
    assert len(first) == 2
    assert IXC_TOKEN.split(":")[1] not in "".join(first.values())
    service = _service_with(first["ixc-main-0001.yaml"], "A/A")
    try:
        admin.patch(f"/_sim/contracts/{service}", json={"status": "D"})
        export(erp_cli, "ixc-main", now="2026-12-07T00:00")
        assert changed_lines(first, texts(erp_cli, "ixc-main")) == [
            "-        status: active  # ixc-main A/A, fetched 2026-12-05T10:00Z",
            "+        status: cancelled  # ixc-main D, fetched 2026-12-07T00:00Z"]
    finally:
        admin.patch(f"/_sim/contracts/{service}", json={"status": "A", "status_internet": "A"})


def test_a_wrong_secret_is_a_clear_error_without_it(erp_cli: Cli) -> None:
    erp_cli.env["HS_SECRET"] = "not-the-secret"
    proc = erp_cli("erp", "export", "--specs", "specs", "--source", "hubsoft-main", "--out",
                   "specs/erp/hubsoft-main", check=1)
    assert "refused the login" in proc.stderr
    assert "not-the-secret" not in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert not (erp_cli.cwd / "specs" / "erp" / "hubsoft-main").exists()


def _service_with(text: str, erp_status: str) -> str:
    """The id of the first service of ``text`` whose ERP status is ``erp_status``."""
    sid = None
    for line in text.splitlines():
        if line.startswith("      - id: "):
            sid = line.split(": ")[1]
        elif f" {erp_status}, fetched" in line and sid is not None:
            return sid
    raise AssertionError(f"no service with {erp_status}")
