"""Domain rules across the spec set: documents, area codes, ranges, numbers, references."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.specs import load_desired, load_specs
from tests.unit.spec_helpers import issues, only_issue, write

BASE = """\
integrations:
  stfc-sp:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:SP}"}
  stfc-rj:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:RJ}"}
number_ranges:
  sp-centro:
    integration: stfc-sp
    area_code: 11
    first: 30001000
    last: 30001999
  rj-centro:
    integration: stfc-rj
    area_code: 21
    first: "2555-0000"
    last: "2555-0099"
"""


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "base.yaml").write_text(BASE, encoding="utf-8")
    return Path("specs")




def client(document: str = "529.982.247-25", services: str = "", **extra: str) -> str:
    """One client entry (YAML text), its services given as YAML text indented by 6."""
    lines = [f"  - document: {document}", "    name: Maria Silva"]
    lines += [f"    {key}: {value}" for key, value in extra.items()]
    if services:
        lines += ["    services:", textwrap.indent(textwrap.dedent(services), "      ").rstrip()]
    return "\n".join(lines) + "\n"


def service(id: int, status: str = "active", *numbers: str, integration: str = "stfc-sp") -> str:
    text = f"- id: {id}\n  status: {status}\n"
    if numbers:
        text += "  phone_numbers:\n"
        text += "".join(
            f'    - {{integration: {integration}, number: "{n}", plan: STFC Ilimitado}}\n' for n in numbers
        )
    return text


def clients(*entries: str) -> str:
    return "clients:\n" + "".join(entries)






# --- documents and contacts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        ("11.222.333/0001-81", "11222333000181"),
    ],
)
def test_documents_are_normalised_to_digits(specs: Path, document: str, expected: str) -> None:
    write(specs, "c.yaml", clients(client(document)))
    assert load_specs(specs).clients[0].document == expected


def test_an_unquoted_document_is_accepted_when_no_zero_can_be_lost(specs: Path) -> None:
    write(specs, "c.yaml", clients(client("52998224725"), client("01234567890")))
    assert [c.document for c in load_specs(specs).clients] == ["52998224725", "01234567890"]


def test_a_document_read_as_a_short_number_must_be_quoted(specs: Path) -> None:
    write(specs, "c.yaml", clients(client("1234567890")))
    issue = only_issue(specs)
    assert "may have lost its leading zeros" in issue.message and "quote it" in issue.hint


def test_a_bad_cpf_is_reported_at_its_line(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(), client("123.456.789-00")))
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.column) == ("specs/c.yaml", 4, 15)
    assert issue.message == "'document': invalid CPF: the check digits do not match"


def test_a_bad_cnpj_is_reported(specs: Path) -> None:
    write(specs, "c.yaml", clients(client("11.222.333/0001-80")))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (2, "'document': invalid CNPJ: the check digits do not match")


def test_a_document_of_the_wrong_length_is_reported(specs: Path) -> None:
    write(specs, "c.yaml", clients(client('"529.982.247"')))
    assert "has 9" in only_issue(specs).message


def test_the_same_document_on_two_clients_is_an_error(specs: Path) -> None:
    write(specs, "a.yaml", clients(client()))
    write(specs, "b.yaml", clients(client("52998224725")))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/b.yaml", 2)
    assert issue.message == "document 52998224725 is already used by the client at specs/a.yaml:2"


def test_email_and_phone_are_validated(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(email="maria.example.com", phone='"(10) 3000-1001"')))
    assert [(i.line, i.message) for i in issues(specs)] == [
        (4, "'email': this is not an e-mail address"),
        (5, "'phone': 10 is not a Brazilian area code (DDD)"),
    ]


def test_email_and_phone_are_optional_and_the_phone_normalised(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(phone='"+55 (48) 99999-0000"'), client("11.222.333/0001-81")))
    phones = [c.phone for c in load_specs(specs).clients]
    assert phones == ["48999990000", None]


def test_an_empty_name_is_an_error(specs: Path) -> None:
    write(specs, "c.yaml", "clients:\n  - document: 529.982.247-25\n    name: '  '\n")
    assert only_issue(specs).message == "'name' must not be empty"


# --- ranges -------------------------------------------------------------------------------------


def range_spec(
    name: str, integration: str = "stfc-sp", area: str = "11", first: str = "30005000", last: str = ""
) -> str:
    text = f"  {name}:\n    integration: {integration}\n    area_code: {area}\n    first: {first}\n"
    return text + (f"    last: {last}\n" if last else "")


def test_a_bad_area_code_is_reported(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("x", area="20"))
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == (
        "specs/n.yaml",
        4,
        "'area_code': 20 is not a Brazilian area code (DDD)",
    )


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("3000100", "'first': a fixed-line subscriber number has 8 digits, this one has 7"),
        ("1130001000", "'first': a fixed-line subscriber number has 8 digits, this one has 10"),
        ("90001000", "'first': fixed-line numbers start with 2 to 5, this one starts with 9"),
    ],
)
def test_a_first_number_of_the_wrong_form_is_reported(specs: Path, first: str, message: str) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("x", first=first))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (5, message)


def test_first_after_last_is_reported_at_last(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("x", first="30005010", last="30005000"))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (6, "last 30005000 comes before first 30005010")


def test_a_single_number_range_needs_no_last(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("one", first="30005000"))
    ranges = load_desired(specs).settings["ranges"]["stfc-sp"]
    assert [(r["name"], r["first"], r["last"]) for r in ranges] == [
        ("sp-centro", "1130001000", "1130001999"),
        ("one", "1130005000", "1130005000"),
    ]


def test_a_huge_range_is_refused(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("x", first="30005000", last="39999999"))
    assert "more than the 100000 allowed" in only_issue(specs).message


def test_overlapping_ranges_name_both_ranges_and_places(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("sp-norte", first="30001990", last="30002010"))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/n.yaml", 2)
    assert issue.message == (
        "number range 'sp-norte' (1130001990..1130002010, at specs/n.yaml:2) "
        "overlaps 'sp-centro' (1130001000..1130001999, at specs/base.yaml:11)"
    )


def test_ranges_of_different_integrations_or_area_codes_may_share_digits(specs: Path) -> None:
    extra = range_spec("rj-copy", "stfc-rj", "11", "30001000", "30001999") + range_spec(
        "sp-48", area="48", first="30001000"
    )
    write(specs, "n.yaml", "number_ranges:\n" + extra)
    assert len(load_specs(specs).number_ranges) == 4


def test_a_range_of_an_unknown_integration_is_reported(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("x", integration="stfc-sq"))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (3, "unknown integration 'stfc-sq'")
    assert issue.hint == "did you mean 'stfc-sp'? declared: stfc-rj, stfc-sp"


def test_only_brazil_is_supported(specs: Path) -> None:
    write(specs, "n.yaml", "number_ranges:\n" + range_spec("x") + "    country_code: 1\n")
    assert only_issue(specs).message == "'country_code': country code 1 is not supported"


# --- assigned numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["1130001001", "(11) 3000-1001", "+55 11 3000-1001"])
def test_assigned_numbers_are_normalised(specs: Path, number: str) -> None:
    write(specs, "c.yaml", clients(client(services=service(1, "active", number))))
    assert list(load_desired(specs).resources).count('stfc-sp.link["1130001001"]') == 1


def test_a_number_outside_every_range_is_reported_with_the_ranges(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(services=service(1, "active", "1130009999"))))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 8)
    assert issue.message == (
        "number 1130009999 of service 1 is in no range of integration stfc-sp; "
        "declared ranges: sp-centro 1130001000..1130001999"
    )
    assert issue.hint.endswith("or remove it from the service to unlink it")


def test_a_number_in_a_range_of_another_integration_is_reported(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(services=service(1, "active", "2125550001"))))
    issue = only_issue(specs)
    assert issue.message.startswith(
        "number 2125550001 of service 1 is in no range of integration stfc-sp;")
    assert issue.hint.startswith("it lies in range 'rj-centro' of integration 'stfc-rj'")


def test_a_number_that_is_not_a_fixed_line_is_reported(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(services=service(1, "active", "11987654321"))))
    assert "a fixed-line number has 10 digits" in only_issue(specs).message


def test_a_number_assigned_twice_is_reported_at_the_second(specs: Path) -> None:
    write(
        specs,
        "c.yaml",
        clients(
            client(services=service(1, "active", "1130001001") + service(2, "suspended", "(11) 3000-1001"))
        ),
    )
    issue = only_issue(specs)
    assert issue.line == 12
    assert issue.message == "number 1130001001 is already assigned to service 1 at specs/c.yaml:8"


def test_a_cancelled_service_does_not_hold_its_number(specs: Path) -> None:
    services = service(1, "cancelled", "1130001001", "1130009999") + service(2, "active", "1130001001")
    write(specs, "c.yaml", clients(client(services=services)))
    desired = load_desired(specs)
    assert desired.resources['stfc-sp.link["1130001001"]'].attrs["service"] == 2
    assert desired.settings["services"][1]["status"] == "cancelled"
    assert sum(r.kind == "link" for r in desired.resources.values()) == 1


def test_a_phone_number_of_an_unknown_integration_is_reported(specs: Path) -> None:
    write(
        specs, "c.yaml", clients(client(services=service(1, "active", "1130001001", integration="stfc-xx")))
    )
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (8, "unknown integration 'stfc-xx'")


def test_a_reference_to_a_broken_integration_is_not_reported_twice(specs: Path) -> None:
    write(specs, "i.yaml", "integrations:\n  stfc-mg:\n    platform: saperx-stfc\n")
    write(
        specs, "c.yaml", clients(client(services=service(1, "active", "1130001001", integration="stfc-mg")))
    )
    assert {i.file for i in issues(specs)} == {"specs/i.yaml"}


def test_a_service_id_used_twice_is_reported(specs: Path) -> None:
    write(
        specs,
        "c.yaml",
        clients(client(services=service(7)), client("11.222.333/0001-81", services=service(7))),
    )
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (10, "service id 7 is already used at specs/c.yaml:5")


def test_rules_still_run_on_the_valid_services_of_an_invalid_client(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(services=service(7)), client("bad", services=service(7))))
    assert [i.message for i in issues(specs)] == [
        "'document': document must contain only digits and punctuation",
        "service id 7 is already used at specs/c.yaml:5",
    ]


def test_a_bad_status_is_reported(specs: Path) -> None:
    write(specs, "c.yaml", clients(client(services=service(1, "paused"))))
    assert only_issue(specs).message == "'status' must be one of 'active', 'suspended' or 'cancelled'"


def test_an_invoice_phone_is_validated_and_normalised(specs: Path) -> None:
    def services(invoice_phone: str) -> str:
        entry = (
            '{integration: stfc-sp, number: "1130001001", plan: P, params: {numero_telefone_nf: "%s", x: y}}'
        )
        return "- id: 1\n  status: active\n  phone_numbers:\n    - " + entry % invoice_phone

    write(specs, "c.yaml", clients(client(services=services("(11) 3000-1001"))))
    params = load_desired(specs).resources['stfc-sp.link["1130001001"]'].attrs["params"]
    assert params == {"numero_telefone_nf": "1130001001", "x": "y"}
    write(specs, "c.yaml", clients(client(services=services("3000"))))
    issue = only_issue(specs)
    assert issue.message.startswith("'numero_telefone_nf': a Brazilian phone has 10 or 11 digits")


@pytest.mark.parametrize(("block", "expected"), [("true", True), ("false", False)])
def test_suspended_services_block_their_numbers_per_option(specs: Path, block: str, expected: bool) -> None:
    write(
        specs,
        "base.yaml",
        BASE.replace('"${env:SP}"}', f'"${{env:SP}}"}}\n    options: {{block_on_suspend: {block}}}'),
    )
    write(
        specs,
        "c.yaml",
        clients(client(services=service(1, "suspended", "1130001001") + service(2, "active", "1130001002"))),
    )
    resources = load_desired(specs).resources
    assert resources['stfc-sp.link["1130001001"]'].attrs["blocked"] is expected
    assert resources['stfc-sp.link["1130001002"]'].attrs["blocked"] is False


# --- on_remove on a range ------------------------------------------------------------------------


def test_on_remove_takes_refuse_or_unlink_and_reaches_the_range_settings(specs: Path) -> None:
    write(specs, "base.yaml", BASE.replace("    last: 30001999\n",
                                           "    last: 30001999\n    on_remove: unlink\n"))
    [sp] = load_desired(specs).settings["ranges"]["stfc-sp"]
    assert (sp["name"], sp["on_remove"]) == ("sp-centro", "unlink")
    [rj] = load_desired(specs).settings["ranges"]["stfc-rj"]
    assert rj["on_remove"] == "refuse"  # the default
    write(specs, "base.yaml", BASE.replace("    last: 30001999\n",
                                           "    last: 30001999\n    on_remove: delete\n"))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (16, "'on_remove' must be one of 'refuse' or 'unlink'")


def test_on_remove_on_a_range_whose_numbers_no_service_links_is_reported(specs: Path) -> None:
    write(specs, "voip.yaml", """\
integrations:
  voip:
    platform: saperx-v2
    endpoint: embedded
    credentials: {username: ixc, password: "${env:P}", api_key: "${env:K}", api_secret: "${env:S}"}
number_ranges:
  floripa: {integration: voip, area_code: 48, first: 30001000, last: 30001099, on_remove: unlink}
""")
    issue = only_issue(specs)
    assert issue.file == "specs/voip.yaml" and issue.line == 7
    assert issue.message == ("on_remove applies to ranges whose numbers are linked to client "
                             "services; integration 'voip' is a saperx-v2 integration")
