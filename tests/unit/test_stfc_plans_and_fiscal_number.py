"""Issue 14 item 4: a plan the last sync no longer lists is a validation error (STFC numbers,
SaperX v2 lines), and with ``fiscal_number_param`` a number's numero_telefone_nf defaults to the
number itself and must be a number of the same client."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.specs import load_desired
from reconciler.specs.catalogs import catalog_problems
from reconciler.state import StateStore
from tests.unit.spec_helpers import issues, write

INTEGRATIONS = """\
integrations:
  stfc-sp:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:SAPERX_STFC_TOKEN}"}
    options: {fiscal_number_param: FISCAL}
number_ranges:
  sp-centro: {integration: stfc-sp, area_code: 11, first: 30001000, last: 30001009}
"""
CLIENTS = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    services:
      - id: 1001
        status: active
        phone_numbers:
          - {integration: stfc-sp, number: "1130001001", plan: STFC Ilimitado}
      - id: 1002
        status: active
        phone_numbers:
          - integration: stfc-sp
            number: "1130001002"
            plan: STFC Básico 100
            params: {numero_telefone_nf: NF}
"""


def spec_set(root: Path, *, fiscal: str = "true", nf: str = "1130001001") -> Path:
    write(root, "integrations.yaml", INTEGRATIONS.replace("FISCAL", fiscal))
    write(root, "clients.yaml", CLIENTS.replace("NF", nf))
    return root


def params(root: Path, number: str) -> dict[str, str]:
    return dict(load_desired(root).resources[f'stfc-sp.link["{number}"]'].attrs["params"])


def test_the_invoice_number_defaults_to_the_number_itself(tmp_path: Path) -> None:
    specs = spec_set(tmp_path)
    assert params(specs, "1130001001") == {"numero_telefone_nf": "1130001001"}
    assert params(specs, "1130001002") == {"numero_telefone_nf": "1130001001"}  # another of hers
    off = spec_set(tmp_path / "off", fiscal="false")
    assert params(off, "1130001001") == {}


def test_an_invoice_number_of_another_client_is_an_error_at_its_line(tmp_path: Path) -> None:
    found = issues(spec_set(tmp_path, nf="1130001009"))
    assert [(i.file.endswith("clients.yaml"), i.line) for i in found] == [(True, 15)]  # params
    assert found[0].message == ("numero_telefone_nf 1130001009 is not a number of client "
                                "Maria Silva on stfc-sp")
    assert "1130001001, 1130001002" in found[0].hint and "defaults to the number" in found[0].hint
    load_desired(spec_set(tmp_path / "off", fiscal="false", nf="1130001009"))  # option off: free


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    opened = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened  # type: ignore[misc]
    opened.close()


def test_a_plan_the_last_sync_no_longer_lists_is_a_validation_error(tmp_path: Path,
                                                                    store: StateStore) -> None:
    desired = load_desired(spec_set(tmp_path / "specs"))
    assert catalog_problems(desired, store.catalog) == []  # never synced: checked at plan time
    store.save_catalog("stfc-sp", "plans", [{"id": 1, "nome": "STFC Ilimitado"},
                                            {"id": 3, "nome": "STFC Empresarial"}])
    found = catalog_problems(desired, store.catalog)
    assert [(i.line, i.message) for i in found] == [
        (12, "number 1130001002: plan 'STFC Básico 100' is not among the plans last synced "
             "from stfc-sp")]
    assert found[0].hint.startswith("plans that exist: STFC Empresarial, STFC Ilimitado")


def test_a_sip_line_plan_the_last_sync_no_longer_lists_is_a_validation_error(
        tmp_path: Path, store: StateStore) -> None:
    write(tmp_path, "specs.yaml", """\
        integrations:
          voip:
            platform: saperx-v2
            endpoint: embedded
            credentials: {username: ixc, password: "${env:P}", api_key: "${env:K}",
                          api_secret: "${env:S}"}
        number_ranges:
          floripa: {integration: voip, area_code: 48, first: 30001000, last: 30001099}
        clients:
          - document: 529.982.247-25
            name: Maria Silva
            services:
              - id: 1001
                status: active
                sip_lines:
                  - integration: voip
                    password: "${env:L}"
                    plan: VoIP 100
                    international_plan: Mundo
                    dids: [{number: "4830001000"}]
        """)
    desired = load_desired(tmp_path)
    store.save_catalog("voip", "plans", [{"id": 101, "name": "VoIP 100"}])
    store.save_catalog("voip", "international_plans", [{"id": 901, "name": "Américas"}])
    found = catalog_problems(desired, store.catalog)
    assert [i.message for i in found] == [
        "SIP line of service 1001: international plan 'Mundo' is not among the international "
        "plans last synced from voip"]
    assert found[0].line == 16 and "Américas" in found[0].hint
