"""SaperX v2 in the spec language: SIP lines on client services, their DIDs in number ranges,
every rule checked before any call, and the resources they become."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.specs import load_desired
from tests.unit.spec_helpers import issues, write

INTEGRATION = """\
integrations:
  voip:
    platform: saperx-v2
    endpoint: embedded
    environment: homologation
    credentials: {username: ixc, password: "${env:V2_PASSWORD}", api_key: "${env:V2_KEY}",
                  api_secret: "${env:V2_SECRET}"}
    options: {block_on_suspend: BLOCK}
  stfc:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:STFC_TOKEN}"}
number_ranges:
  floripa: {integration: voip, area_code: 48, first: 30001000, last: 30001099}
"""

CLIENTS = """\
clients:
  - document: "529.982.247-25"
    name: Maria Silva
    services:
      - id: 1001
        status: STATUS
        sip_lines:
          - integration: voip
            account_code: "483920"
            password: "${env:LINE_1001}"
            plan: VoIP 100
            call_limit: 3
            dids:
              - {number: "4830001000", monthly_value: 12.5, city: Florianópolis}
              - {number: "4830001001"}
            caller_id: "4830001001"
      - id: 1002
        status: active
        sip_lines:
          - integration: voip
            password: generate
            password_file: secrets/line-1002.txt
            plan: VoIP 100
            permissions: {LDI: true}
            dids: [{number: "4830001002", collect_calls: true}]
"""


def spec_set(specs: Path, *, status: str = "active", block: str = "false",
             clients: str = CLIENTS) -> Path:
    write(specs, "integrations.yaml", INTEGRATION.replace("BLOCK", block))
    write(specs, "clients.yaml", clients.replace("STATUS", status))
    return specs


def attrs(specs: Path, address: str) -> dict[str, object]:
    return dict(load_desired(specs).resources[address].attrs)


def test_lines_and_ranges_become_extensions_and_voip_ranges(tmp_path: Path) -> None:
    specs = spec_set(tmp_path)
    desired = load_desired(specs)
    assert desired.resources['voip.voip_range["floripa"]'].attrs == {
        "country_code": 55, "area_code": 48, "first": "30001000", "last": "30001099"}
    line = dict(desired.resources['voip.extension["483920"]'].attrs)
    assert (line["service"], line["plan"], line["call_limit"], line["caller_id"]) == (
        1001, "VoIP 100", 3, "4830001001")
    assert line["dids"] == [
        {"number": "4830001000", "monthly_value": "12.50", "collect_calls": False,
         "city": "Florianópolis"},
        {"number": "4830001001", "monthly_value": "0.00", "collect_calls": False, "city": None}]
    assert line["password_from"] == "${env:LINE_1001}"  # a reference, never a value
    assert (line["active"], line["blocked"]) == (True, False)
    # without an account code the line is keyed by its service and the number it presents
    other = dict(desired.resources['voip.extension["1002/4830001002"]'].attrs)
    assert other["account_code"] is None and other["password_from"] == "generate"
    assert other["permissions"] == {"LC": True, "LDN": True, "LDI": True, "VC1": True,
                                    "VC2": True, "VC3": True}
    assert not any(r.kind == "number" for r in desired.resources.values())  # no STFC numbers


@pytest.mark.parametrize(("status", "block", "active", "blocked"), [
    ("suspended", "false", True, False),  # the seed's default: suspension changes nothing
    ("suspended", "true", True, True),
    ("cancelled", "false", False, False),  # cancelling inactivates, whatever the switch
    ("cancelled", "true", False, False),
])
def test_the_service_status_drives_the_line(tmp_path: Path, status: str, block: str,
                                            active: bool, blocked: bool) -> None:
    line = attrs(spec_set(tmp_path, status=status, block=block), 'voip.extension["483920"]')
    assert (line["active"], line["blocked"]) == (active, blocked)


def test_each_line_is_checked_on_its_own_and_every_problem_is_reported(tmp_path: Path) -> None:
    lines = """\
clients:
  - document: "111.444.777-35"
    name: Loja
    services:
      - id: 2001
        status: active
        sip_lines:
          - {integration: voip, account_code: "48392", plan: P, dids: [{number: "4830001050"}]}
          - {integration: voip, plan: P, password: s3cret, dids: [{number: "4830001052"}]}
          - {integration: voip, plan: P, password: generate, dids: [{number: "4830001053"}]}
          - {integration: voip, plan: P, call_limit: 0, closing_day: 29, dids: [{number: "4830001054"}]}
          - {integration: voip, plan: P, caller_id: "4830001099", dids: [{number: "4830001055"}]}
          - {integration: voip, plan: P, dids: []}
"""
    found = issues(spec_set(tmp_path, clients=lines))
    assert [(i.line, i.message) for i in found] == [
        (8, "'account_code': an account code has exactly 6 digits"),
        (9, "'password': a literal password is refused"),
        (10, "'password': password: generate needs password_file (where the generated password "
             "is written), and password_file needs password: generate"),
        (11, "'call_limit' must be at least 1"),
        (11, "'closing_day' must be at most 28"),
        (12, "'caller_id': caller_id 4830001099 is not one of the line's DIDs"),
        (13, "'dids' must list at least 1 item"),
    ], "\n".join(map(str, found))
    assert "s3cret" not in "\n".join(str(i) for i in found)


def test_dids_must_lie_in_a_range_and_be_held_once(tmp_path: Path) -> None:
    more = CLIENTS.replace('{number: "4830001002", collect_calls: true}',
                           '{number: "4830001001"}, {number: "4830002000"}')
    more += """\
      - id: 1003
        status: active
        sip_lines:
          - {integration: stfc, plan: P, dids: [{number: "4830001051"}]}
"""
    found = issues(spec_set(tmp_path, clients=more))
    assert [(i.line, i.message) for i in found] == [
        (25, "DID 4830001001 is already held by the line of service 1001 at "
             f"{tmp_path / 'clients.yaml'}:8"),
        (25, "DID 4830002000 is in no range of integration voip; declared ranges: floripa "
             "4830001000..4830001099"),
        (29, "integration 'stfc' is a saperx-stfc integration, which holds no SIP lines"),
    ], "\n".join(map(str, found))


def test_an_account_code_is_held_once_per_integration(tmp_path: Path) -> None:
    twice = CLIENTS.replace("          - integration: voip\n            password: generate",
                            '          - integration: voip\n            account_code: "483920"\n'
                            "            password: generate")
    (issue,) = issues(spec_set(tmp_path, clients=twice))
    assert issue.message.startswith("account code 483920 is already held by service 1001")


def test_a_cdr_import_schedule_out_of_step_with_the_integration_is_a_warning(
        tmp_path: Path) -> None:
    from reconciler.specs import load_specs

    spec_set(tmp_path)
    write(tmp_path, "schedules.yaml", """\
        schedules:
          weekly: {cron: "0 7 * * mon", run: cdr-import, integration: voip}
          daily: {cron: "30 7 * * *", run: cdr-import}
        """)
    warnings = load_specs(tmp_path).warnings  # valid: warnings, no error
    assert [(w.file.endswith("schedules.yaml"), w.line) for w in warnings] == [(True, 2)]
    assert "integration voip imports call records daily (options.cdr_import), but this " \
           "schedule (0 7 * * mon) does not run every day" in warnings[0].message
    assert "30 7 * * *" in warnings[0].hint
    text = (tmp_path / "integrations.yaml").read_text().replace(
        "options: {", "options: {cdr_import: monthly, ")
    (tmp_path / "integrations.yaml").write_text(text)
    warnings = load_specs(tmp_path).warnings
    assert [w.line for w in warnings] == [2, 3]
    assert all("imports call records monthly" in w.message for w in warnings)
    assert load_desired(tmp_path).settings["warnings"] == [str(w) for w in warnings]


def test_a_cdr_import_of_an_integration_without_call_records_is_an_error(tmp_path: Path) -> None:
    spec_set(tmp_path)
    write(tmp_path, "schedules.yaml", """\
        schedules:
          wrong: {cron: "30 7 * * *", run: cdr-import, integration: [voip, stfc]}
        """)
    found = issues(tmp_path)
    assert [(i.line, i.message) for i in found] == [
        (2, "integration 'stfc' has no call records to import")]
    assert found[0].hint == "integrations with call records: voip"
