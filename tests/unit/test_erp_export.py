"""The ERP export's writer (reconciler/sources/export.py): the status mapping entry by entry,
golden files, review comments, provenance stamps, and YAML that reads back as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler.errors import SpecError
from reconciler.sources import export
from reconciler.sources import registry as erps
from reconciler.sources.erp import ErpClient, ErpService
from reconciler.specs import load_specs
from tests.golden.golden import assert_golden

#: The documented default of every status (docs/erp.md), written out once more here so that
#: a change of a descriptor's mapping is a change of this table too.
HUBSOFT = {
    "agendado_para_instalacao": "skip", "aguardando_assinatura_contrato": "skip",
    "aguardando_configuracao": "skip", "aguardando_instalacao": "skip",
    "aguardando_liberacao_ti": "skip", "aguardando_migracao": "keep", "cancelado": "cancelled",
    "franquia_excedida": "active", "inativo": "cancelled", "servico_habilitado": "active",
    "suspenso_debito": "suspended", "suspenso_parcialmente": "suspended",
    "suspenso_pedido_cliente": "suspended",
}
IXC = {"P": "skip", "A/A": "active", "A/D": "suspended", "A/CM": "suspended",
       "A/CA": "suspended", "A/FA": "suspended", "A/AA": "skip", "I": "cancelled",
       "N": "suspended", "D": "cancelled"}
STAMP = "2026-12-05T10:00Z"


def config(kind: str, **overrides: str) -> export.Settings:
    return export.settings(f"{kind}-main", erps.get(kind), overrides, {"FIBRA 500": "fibra-500"},
                           {"TV PLUS": "tv"}, ["combo"], ["livros"])


def maria(*services: ErpService, **fields: str | None) -> ErpClient:
    values: dict[str, str | None] = {"email": "maria@example.com.br", "phone": "11987654321",
                                     **fields}
    return ErpClient("7", "52998224725", "Maria Silva", values["email"], values["phone"],
                     services)


def status_of(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("        status: "):
            return line.split()[1]
    return None


@pytest.mark.parametrize(("kind", "status", "target"),
                         [("hubsoft", s, t) for s, t in HUBSOFT.items()]
                         + [("ixc", s, t) for s, t in IXC.items()])
def test_every_status_exports_as_documented(kind: str, status: str, target: str) -> None:
    assert erps.get(kind).statuses.keys() == (HUBSOFT if kind == "hubsoft" else IXC).keys()
    settings = config(kind)
    files = export.render([maria(ErpService("1001", status))], settings, {}, STAMP, export.Summary())
    text = "".join(files.values())
    if target in ("skip", "keep"):  # keep with no earlier export: not exported either
        assert files == {}
        return
    assert status_of(text) == target
    assert f"status: {target}  # {kind}-main {status}, fetched {STAMP}" in text


def test_keep_says_what_the_last_export_said_stamp_included() -> None:
    before = {"1001": export.Seen("suspended", "suspenso_debito", "2026-11-01T00:00Z")}
    files = export.render([maria(ErpService("1001", "aguardando_migracao"))], config("hubsoft"),
                          before, STAMP, summary := export.Summary())
    assert ("status: suspended  # hubsoft-main suspenso_debito, fetched 2026-11-01T00:00Z"
            in files["hubsoft-main-0001.yaml"])
    assert summary.suspended == [] and summary.new == []


def test_an_override_replaces_one_default() -> None:
    settings = config("hubsoft", suspenso_pedido_cliente="active", cancelado="skip")
    assert settings.mapping["suspenso_pedido_cliente"] == "active"
    assert settings.mapping["suspenso_debito"] == "suspended"
    files = export.render([maria(ErpService("1", "cancelado"))], settings, {}, STAMP,
                          export.Summary())
    assert files == {}


def test_a_status_read_before_keeps_its_stamp_and_a_change_counts() -> None:
    before = {"1": export.Seen("active", "servico_habilitado", "2026-01-01T00:00Z"),
              "2": export.Seen("active", "servico_habilitado", "2026-01-01T00:00Z"),
              "3": export.Seen("suspended", "suspenso_debito", "2026-01-01T00:00Z"),
              "9": export.Seen("active", "servico_habilitado", "2026-01-01T00:00Z")}
    services = [ErpService("1", "servico_habilitado"), ErpService("2", "cancelado"),
                ErpService("3", "servico_habilitado"), ErpService("4", "suspenso_debito")]
    summary = export.Summary()
    text = export.render([maria(*services)], config("hubsoft"), before, STAMP, summary)[
        "hubsoft-main-0001.yaml"]
    assert "servico_habilitado, fetched 2026-01-01T00:00Z" in text  # service 1 unchanged
    assert (summary.cancelled, summary.reactivated, summary.new, summary.gone) == (
        ["2"], ["3"], ["4"], ["9"])


def test_files_hold_a_thousand_ids_each_and_clients_never_move() -> None:
    clients = [ErpClient(str(n), "52998224725" if n == 1 else f"{n:011d}", f"C {n}", None, None,
                         (ErpService(str(n), "servico_habilitado"),)) for n in (1, 999, 1000, 1001, 5200)]
    files = export.render(clients, config("hubsoft"), {}, STAMP, export.Summary())
    assert sorted(files) == ["hubsoft-main-0001.yaml", "hubsoft-main-0002.yaml",
                             "hubsoft-main-0006.yaml"]
    assert files["hubsoft-main-0001.yaml"].count("  - document:") == 3


def test_missing_and_invalid_contact_data_is_left_out_and_flagged() -> None:
    text = export.render([maria(ErpService("1", "servico_habilitado"), email=None, phone="123")],
                         config("hubsoft"), {}, STAMP, export.Summary())["hubsoft-main-0001.yaml"]
    assert "  # review: HubSoft has no e-mail for this client\n" in text
    assert '  # review: HubSoft\'s phone "123" is not a valid Brazilian phone: left out\n' in text
    assert "    phone:" not in text and "    email:" not in text


def test_an_invalid_document_is_written_and_flagged_for_validate(tmp_path: Path) -> None:
    bad = ErpClient("13", "12345678900", "CPF Errado", "c@example.com.br", "11987654321",
                    (ErpService("1011", "servico_habilitado"),))
    text = export.render([bad], config("hubsoft"), {}, STAMP, export.Summary())[
        "hubsoft-main-0001.yaml"]
    assert "# review: HubSoft's CPF/CNPJ of client 13 is not valid; correct it in HubSoft" in text
    (tmp_path / "x.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_specs(tmp_path)
    [issue] = caught.value.issues
    assert issue.line == text.splitlines().index('  - document: "123.456.789-00"') + 1
    assert "check digits" in issue.message


def test_two_erp_clients_of_one_document_are_one_client() -> None:
    one = maria(ErpService("1", "servico_habilitado"))
    two = ErpClient("40", "529.982.247-25", "Maria S.", None, None,
                    (ErpService("2", "suspenso_debito"),))
    text = export.render([two, one], config("hubsoft"), {}, STAMP, export.Summary())[
        "hubsoft-main-0001.yaml"]
    assert text.count("  - document:") == 1
    assert "# review: HubSoft clients 7, 40 share this document" in text
    assert text.index("- id: 1\n") < text.index("- id: 2\n")


def test_plans_and_packages_map_or_are_counted() -> None:
    service = ErpService("1", "servico_habilitado", "maria", "FIBRA 500",
                         ("TV PLUS", "livros", "IP FIXO"))
    other = ErpService("2", "servico_habilitado", None, "RADIO 50")
    summary = export.Summary()
    text = export.render([maria(service, other)], config("hubsoft"), {}, STAMP, summary)[
        "hubsoft-main-0001.yaml"]
    assert "        plan: fibra-500\n        packages: [{package: tv}, {package: livros}]\n" in text
    assert summary.unmapped_plans == {"RADIO 50": 1}
    assert summary.unmapped_packages == {"IP FIXO": 1}


def test_previous_reads_back_what_render_wrote() -> None:
    services = [ErpService("1", "servico_habilitado"), ErpService("2", "suspenso_debito")]
    files = export.render([maria(*services)], config("hubsoft"), {}, STAMP, export.Summary())
    assert export.previous(files.values()) == {
        "1": export.Seen("active", "servico_habilitado", STAMP),
        "2": export.Seen("suspended", "suspenso_debito", STAMP)}


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.strip() == s and "\x00" not in s))
def test_every_text_reads_back_as_itself(value: str) -> None:
    try:
        loaded = yaml.safe_load(f"name: {export._text(value)}\n")
    except yaml.YAMLError:  # characters YAML cannot hold at all (control characters)
        return
    assert loaded == {"name": value}


def test_golden_export_validates(tmp_path: Path) -> None:
    clients = [
        maria(ErpService("1001", "servico_habilitado", "maria.silva", "FIBRA 500", ("IP FIXO",)),
              ErpService("1002", "suspenso_debito", "maria.2")),
        ErpClient("12", "11222333000181", "Padaria Pão: Quente Ltda", "pao@example.com.br", None,
                  (ErpService("1010", "cancelado", "padaria"),)),
        ErpClient("13", "12345678900", "CPF Errado", None, None,
                  (ErpService("1011", "aguardando_instalacao"),)),
    ]
    files = export.render(clients, config("hubsoft"), {}, STAMP, export.Summary())
    assert_golden("erp_export_hubsoft.yaml", files["hubsoft-main-0001.yaml"])
    (tmp_path / "erp").mkdir()
    (tmp_path / "erp" / "x.yaml").write_text(files["hubsoft-main-0001.yaml"], encoding="utf-8")
    (tmp_path / "plans.yaml").write_text("plans:\n  fibra-500: {packages: []}\n", encoding="utf-8")
    specs = load_specs(tmp_path)
    assert [c.name for c in specs.clients] == ["Maria Silva", "Padaria Pão: Quente Ltda"]
    assert [s.status for s in specs.clients[0].services] == ["active", "suspended"]
