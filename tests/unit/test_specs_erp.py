"""The spec sections of the ERP export: `erp_sources:` checked against its ERP's kind, and
`service_details:` merged into the services another file declares (docs/erp.md)."""

from __future__ import annotations

from pathlib import Path

from reconciler.specs import load_desired, load_specs
from tests.unit.spec_helpers import issues, only_issue, write

INTEGRATIONS = """\
integrations:
  stfc:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:STFC_TOKEN}"}
number_ranges:
  sp: {integration: stfc, area_code: 11, first: 30001000, last: 30001099}
plans:
  fibra-500: {packages: []}
"""

EXPORTED = """\
clients:
  - document: "529.982.247-25"
    name: Maria Silva
    services:
      - id: 1001
        login: maria
        status: active
      - id: 1002
        status: suspended
"""

HUBSOFT = """\
erp_sources:
  hubsoft-main:
    kind: hubsoft
    url: https://api.isp.hubsoft.com.br
    credentials: {client_id: "${env:HS_ID}", client_secret: "${env:HS_SECRET}",
                  username: ops@isp.example, password: "${env:HS_PASSWORD}"}
    status_mapping: {suspenso_pedido_cliente: active}
    plans: {FIBRA 500MB: fibra-500}
"""

NUMBER = '    phone_numbers: [{integration: stfc, number: "1130001005", plan: STFC}]\n'


def base(specs: Path) -> Path:
    write(specs, "integrations.yaml", INTEGRATIONS)
    write(specs, "erp/hubsoft-main-0001.yaml", EXPORTED)
    return specs


def test_details_add_the_hand_fields_to_the_exported_service(tmp_path: Path) -> None:
    write(base(tmp_path), "details.yaml", """\
        service_details:
          1001:
            phone_numbers:
              - {integration: stfc, number: "1130001001", plan: STFC Ilimitado}
        """)
    specs = load_specs(tmp_path)
    services = {s.id: s for c in specs.clients for s in c.services}
    assert [p.number for p in services[1001].phone_numbers] == ["1130001001"]
    assert services[1001].login == "maria"  # the exported fields stay
    assert services[1002].phone_numbers == []
    desired = load_desired(tmp_path)
    assert any("1130001001" in key for key in desired.resources)


def test_a_detailed_number_is_checked_where_the_details_write_it(tmp_path: Path) -> None:
    details = write(base(tmp_path), "details.yaml", """\
        service_details:
          1001:
            phone_numbers:
              - {integration: stfc, number: "1140001001", plan: STFC Ilimitado}
        """)
    issue = only_issue(tmp_path)
    assert issue.file.endswith(details.name) and issue.line == 4
    assert "in no range of integration stfc" in issue.message


def test_a_field_given_on_the_service_and_in_its_details_names_both(tmp_path: Path) -> None:
    write(tmp_path, "integrations.yaml", INTEGRATIONS)
    write(tmp_path, "clients.yaml", """\
        clients:
          - document: "529.982.247-25"
            name: Maria Silva
            services:
              - id: 1001
                status: active
                phone_numbers:
                  - {integration: stfc, number: "1130001001", plan: STFC Ilimitado}
        """)
    write(tmp_path, "details.yaml", """\
        service_details:
          1001:
            phone_numbers:
              - {integration: stfc, number: "1130001002", plan: STFC Ilimitado}
        """)
    issue = only_issue(tmp_path)
    assert issue.file.endswith("details.yaml")
    assert "phone_numbers of service 1001 are declared at" in issue.message
    assert "clients.yaml:5" in issue.message


def test_package_parameters_join_the_package_the_export_gives(tmp_path: Path) -> None:
    write(tmp_path, "integrations.yaml", """\
        integrations:
          campsoft:
            platform: campsoft
            endpoint: embedded
            credentials: {api_key: "${env:CS_KEY}", api_secret: "${env:CS_SECRET}"}
        packages:
          livros: {integration: campsoft, price: 9.9, products: [livros]}
        """)
    write(tmp_path, "erp/x.yaml", """\
        clients:
          - document: "529.982.247-25"
            name: Maria Silva
            email: maria@example.com.br
            phone: "11987654321"
            services:
              - {id: 1001, login: maria, status: active, packages: [{package: livros}]}
        """)
    write(tmp_path, "details.yaml", """\
        service_details:
          1001:
            packages: [{package: livros, params: {label: maria-livros}}]
        """)
    service = load_specs(tmp_path).clients[0].services[0]
    assert [(p.package, p.params) for p in service.packages] == [("livros", {"label": "maria-livros"})]


def test_details_of_a_service_nobody_declares_are_a_warning(tmp_path: Path) -> None:
    write(base(tmp_path), "details.yaml", f"service_details:\n  4242:\n{NUMBER}")
    specs = load_specs(tmp_path)
    assert [w.message for w in specs.warnings] == [
        "no client declares service 4242: these details are not used"]
    assert specs.warnings[0].line == 2


def test_details_of_one_service_in_two_files_are_refused(tmp_path: Path) -> None:
    base(tmp_path)
    for name in ("a.yaml", "b.yaml"):
        write(tmp_path, name, f"service_details:\n  1002:\n{NUMBER}")
    issue = only_issue(tmp_path)
    assert issue.file.endswith("b.yaml") and "defined twice" in issue.message


def test_a_service_details_key_must_be_a_service_id(tmp_path: Path) -> None:
    write(base(tmp_path), "details.yaml", "service_details:\n  maria: {}\n")
    issue = only_issue(tmp_path)
    assert (issue.line, issue.message) == (2, "'maria' is not a service id")


def test_an_erp_source_is_read_with_its_mapping(tmp_path: Path) -> None:
    write(base(tmp_path), "erp.yaml", HUBSOFT)
    source = load_specs(tmp_path).erp_sources["hubsoft-main"]
    assert source.kind == "hubsoft"
    assert source.status_mapping == {"suspenso_pedido_cliente": "active"}
    assert source.plans == {"FIBRA 500MB": "fibra-500"}


def test_an_erp_source_is_checked_against_its_kind(tmp_path: Path) -> None:
    write(base(tmp_path), "erp.yaml", """\
        erp_sources:
          hubsoft-main:
            kind: hubsoft
            url: https://api.isp.hubsoft.com.br
            credentials: {client_id: "${env:HS_ID}", client_secret: s3cret, username: ops}
            status_mapping: {servico_habilitad: active, cancelado: gone}
        """)
    found = {(i.line, i.message) for i in issues(tmp_path)}
    messages = " | ".join(m for _, m in found)
    assert "missing credential 'password'" in messages
    assert "credential 'client_secret': a literal secret in a spec is refused" in messages
    assert "s3cret" not in messages
    assert (6, "'servico_habilitad' is not a HubSoft status") in found
    assert any(line == 6 and "'skip' or 'keep'" in m for line, m in found), found


def test_an_erp_source_maps_plans_and_packages_to_declared_ones(tmp_path: Path) -> None:
    write(base(tmp_path), "erp.yaml", HUBSOFT.replace("fibra-500}", "fibra-50}")
          + "    packages: {TV PLUS: tv}\n")
    found = {(i.line, i.message, i.hint) for i in issues(tmp_path)}
    assert found == {(8, "unknown plan 'fibra-50'", "did you mean 'fibra-500'? declared plans: "
                      "fibra-500"), (9, "unknown package 'tv'", "declared packages: none")}


def test_an_unknown_erp_kind_names_the_known_ones(tmp_path: Path) -> None:
    write(base(tmp_path), "erp.yaml", """\
        erp_sources:
          erp: {kind: ixcsoft, url: "https://isp.ixcsoft.com.br", credentials: {}}
        """)
    issue = only_issue(tmp_path)
    assert "unknown ERP kind 'ixcsoft'" in issue.message and "hubsoft, ixc" in issue.hint


def test_details_merge_the_same_with_the_spec_cache(tmp_path: Path) -> None:
    """The per-file spec cache keeps each file's entries: merging must not change them, or
    the second run would see the details twice."""
    specs = base(tmp_path / "specs")
    write(specs, "details.yaml", f"service_details:\n  1001:\n{NUMBER}")
    runs = []
    for i in range(3):  # another file changed each time: the set misses, the files hit
        (specs / "integrations.yaml").write_text(INTEGRATIONS + f"# run {i}\n", encoding="utf-8")
        runs.append(load_desired(specs, state_dir=tmp_path / "state"))
    assert runs[0].resources == runs[1].resources == runs[2].resources
    assert any("1130001005" in key for key in runs[2].resources)
