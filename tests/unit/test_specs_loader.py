"""Reading spec files: discovery, YAML errors, duplicate keys, shapes, positions, and Desired."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.model import Desired, Integration, Resource, SecretRef, Source
from reconciler.specs import load_desired, load_specs
from reconciler.specs.validate import credential_problem
from tests.unit.spec_helpers import issues, only_issue, write

INTEGRATIONS = """\
integrations:
  stfc-sp:
    platform: saperx-stfc
    endpoint: embedded
    credentials:
      token: ${env:SAPERX_STFC_TOKEN}
    rate_limit: {per_second: 5, burst: 10}
"""
NUMBERS = """\
number_ranges:
  sp-centro:
    integration: stfc-sp
    area_code: 11
    first: 30001000
    last: 30001003
"""
CLIENTS = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    email: maria@example.com
    phone: "+55 11 98765-4321"
    services:
      - id: 1001
        login: maria.silva
        status: suspended
        phone_numbers:
          - integration: stfc-sp
            number: "(11) 3000-1001"
            plan: STFC Ilimitado
            params: {numero_telefone_nf: "+55 11 3000-1001"}
"""


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty specs directory, with the working directory just above it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    return Path("specs")








def valid_set(specs: Path) -> None:
    write(specs, "integrations.yaml", INTEGRATIONS)
    write(specs, "numbers.yaml", NUMBERS)
    write(specs, "clients/0001.yaml", CLIENTS)


# --- Desired ------------------------------------------------------------------------------------


def test_desired_integrations_carry_references_defaults_and_source(specs: Path) -> None:
    valid_set(specs)
    desired = load_desired(specs)
    assert isinstance(desired, Desired)
    assert desired.integrations["stfc-sp"] == Integration(
        name="stfc-sp",
        platform="saperx-stfc",
        endpoint="embedded",
        credentials={"token": SecretRef("env", "SAPERX_STFC_TOKEN", str(specs.absolute()))},
        options={
            "page_size": 500,
            "concurrency": 4,
            "block_on_suspend": True, "fiscal_number_param": False,
            "batch_size": 10_000,
            "environment": "production",
            "rate_limit": {"per_second": 5.0, "burst": 10},
        },
        source=Source("specs/integrations.yaml", 2, 3),
    )


def test_desired_has_one_number_per_range_member_and_one_link_per_live_number(specs: Path) -> None:
    valid_set(specs)
    resources = load_desired(specs).resources
    numbers = sorted(r.key for r in resources.values() if r.kind == "number")
    assert numbers == ["1130001000", "1130001001", "1130001002", "1130001003"]
    assert resources['stfc-sp.number["1130001000"]'] == Resource(
        "stfc-sp",
        "number",
        "1130001000",
        {"country_code": 55, "range": "sp-centro"},
        Source("specs/numbers.yaml", 2, 3),
    )
    assert resources['stfc-sp.link["1130001001"]'] == Resource(
        "stfc-sp",
        "link",
        "1130001001",
        {
            "service": 1001,
            "plan": "STFC Ilimitado",
            "params": {"numero_telefone_nf": "1130001001"},
            "blocked": True,
            "document": "52998224725",
            "name": "Maria Silva",
        },
        Source("specs/clients/0001.yaml", 11, 13),
    )
    assert len(resources) == 5


def test_desired_settings_list_services_and_ranges(specs: Path) -> None:
    valid_set(specs)
    settings = load_desired(specs).settings
    assert settings["services"] == {
        1001: {
            "status": "suspended",
            "client": "Maria Silva",
            "source": Source("specs/clients/0001.yaml", 7, 9), "plan": None,
        }
    }
    assert settings["ranges"] == {
        "stfc-sp": [
            {
                "name": "sp-centro",
                "first": "1130001000",
                "last": "1130001003",
                "country_code": 55,
                "on_remove": "refuse",
                "source": Source("specs/numbers.yaml", 2, 3),
            }
        ]
    }


def test_digest_follows_the_files_contents_and_names(specs: Path) -> None:
    valid_set(specs)
    first = load_desired(specs).digest
    assert len(first) == 64 and first == load_desired(specs).digest
    write(specs, "numbers.yaml", NUMBERS + "\n# a comment\n")
    second = load_desired(specs).digest
    assert second != first
    (specs / "numbers.yaml").rename(specs / "ranges.yaml")
    assert load_desired(specs).digest != second


def test_load_specs_returns_options_with_defaults_filled_in(specs: Path) -> None:
    valid_set(specs)
    spec_set = load_specs(specs)
    assert spec_set.integrations["stfc-sp"].options == {
        "page_size": 500,
        "concurrency": 4,
        "block_on_suspend": True,
        "batch_size": 10_000,
        "fiscal_number_param": False,
    }
    assert spec_set.files == ["specs/clients/0001.yaml", "specs/integrations.yaml", "specs/numbers.yaml"]


def test_file_references_resolve_from_the_spec_files_directory(specs: Path) -> None:
    write(specs, "deep/i.yaml", INTEGRATIONS.replace("${env:SAPERX_STFC_TOKEN}", "${file:secrets/token}"))
    ref = load_desired(specs).integrations["stfc-sp"].credentials["token"]
    assert ref == SecretRef("file", "secrets/token", str((specs / "deep").absolute()))


# --- discovery ----------------------------------------------------------------------------------


def test_files_are_found_recursively_skipping_hidden_and_other_files(specs: Path) -> None:
    write(specs, "a/integrations.yml", INTEGRATIONS)
    write(specs, ".git/broken.yaml", "{{{")
    write(specs, ".hidden.yaml", "{{{")
    write(specs, "notes.txt", "{{{")
    assert list(load_specs(specs).integrations) == ["stfc-sp"]


def test_an_empty_directory_is_an_error(specs: Path) -> None:
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == ("specs", 1, "no spec files found in specs")


def test_a_missing_directory_is_an_error(specs: Path) -> None:
    assert "does not exist" in only_issue(Path("nowhere")).message


def test_an_empty_file_declares_nothing(specs: Path) -> None:
    write(specs, "empty.yaml", "# nothing yet\n")
    spec_set = load_specs(specs)
    assert (spec_set.integrations, spec_set.clients) == ({}, [])


def test_paths_outside_the_working_directory_are_shown_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    write(tmp_path / "s", "x.yaml", "foo: 1\n")
    assert only_issue(tmp_path / "s").file == str(tmp_path / "s" / "x.yaml")


def test_an_unreadable_file_is_reported(specs: Path) -> None:
    (specs / "gone.yaml").symlink_to("nowhere.yaml")
    issue = only_issue(specs)
    assert issue.file == "specs/gone.yaml" and "cannot read the file" in issue.message


def test_a_file_that_is_not_utf8_is_reported(specs: Path) -> None:
    (specs / "latin1.yaml").write_bytes("clients:\n  - name: Jo\xe3o\n".encode("latin-1"))
    assert "not UTF-8" in only_issue(specs).message


# --- YAML ---------------------------------------------------------------------------------------


def test_a_yaml_syntax_error_is_reported_with_its_location(specs: Path) -> None:
    write(
        specs, "bad.yaml", "integrations:\n  stfc-sp:\n    platform: [saperx-stfc\n    endpoint: embedded\n"
    )
    issue = only_issue(specs)
    assert issue.file == "specs/bad.yaml"
    assert issue.line == 4
    assert issue.message.startswith("YAML syntax error:")


def test_a_syntax_error_does_not_hide_other_files_problems(specs: Path) -> None:
    write(specs, "a.yaml", "clients: [\n")
    write(specs, "b.yaml", "integrations:\n  stfc-sp: {platform: nope}\n")
    found = issues(specs)
    assert [i.file for i in found] == ["specs/a.yaml", "specs/b.yaml", "specs/b.yaml", "specs/b.yaml"]


def test_duplicate_keys_name_both_lines(specs: Path) -> None:
    write(
        specs,
        "i.yaml",
        INTEGRATIONS.replace("    endpoint: embedded\n", "    endpoint: embedded\n    endpoint: embedded\n"),
    )
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.column) == ("specs/i.yaml", 5, 5)
    assert issue.message == "key 'endpoint' appears twice in the same mapping, at lines 4 and 5"


def test_duplicate_names_in_one_file_are_duplicate_keys(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS + INTEGRATIONS.removeprefix("integrations:\n"))
    issue = only_issue(specs)
    assert issue.line == 8 and "key 'stfc-sp' appears twice" in issue.message


def test_merge_keys_are_understood_and_not_taken_for_duplicates(specs: Path) -> None:
    write(
        specs,
        "i.yaml",
        """\
        integrations:
          stfc-sp: &base
            platform: saperx-stfc
            endpoint: embedded
            credentials: {token: "${env:A}"}
          stfc-rj:
            <<: *base
            endpoint: https://10.20.0.5:8443
        """,
    )
    integrations = load_desired(specs).integrations
    assert integrations["stfc-rj"].endpoint == "https://10.20.0.5:8443"
    assert integrations["stfc-rj"].platform == "saperx-stfc"


# --- shapes -------------------------------------------------------------------------------------


def test_an_unknown_top_level_key_lists_the_allowed_ones(specs: Path) -> None:
    write(specs, "x.yaml", "clients: []\nintegration: {}\n")
    issue = only_issue(specs)
    assert (issue.line, issue.column, issue.message) == (2, 1, "unknown top-level key 'integration'")
    assert "did you mean 'integrations'?" in issue.hint
    assert "integrations, number_ranges, products, packages, plans, clients" in issue.hint


def test_an_unknown_key_is_located_and_the_allowed_keys_hinted(specs: Path) -> None:
    write(specs, "c.yaml", CLIENTS.replace("            plan: STFC", "            plna: STFC"))
    found = issues(specs)
    assert [(i.line, i.message) for i in found] == [
        (11, "missing required key 'plan'"),
        (13, "unknown key 'plna'"),
    ]
    assert found[1].hint == (
        "did you mean 'plan'? allowed keys here: integration, number, plan, params, protect")


def test_a_bad_type_is_located_at_the_value(specs: Path) -> None:
    write(
        specs, "i.yaml", INTEGRATIONS.replace("burst: 10", "burst: ten") + "    options: {page_size: many}\n"
    )
    found = issues(specs)
    assert [(i.line, i.column, i.message) for i in found] == [
        (7, 40, "'burst' must be a whole number, not text"),
        (8, 26, "'page_size' must be a whole number, not text"),
    ]
    assert found[0].hint == "the value given was 'ten'"


def test_a_section_of_the_wrong_kind_is_reported(specs: Path) -> None:
    write(specs, "x.yaml", "integrations: [a, b]\nclients: {a: 1}\n")
    assert [i.message for i in issues(specs)] == [
        "'integrations' must be a mapping of names to entries",
        "'clients' must be a list",
    ]


def test_a_file_that_is_not_a_mapping_is_reported(specs: Path) -> None:
    write(specs, "x.yaml", "- a\n- b\n")
    assert only_issue(specs).message == "a spec file must be a mapping of top-level keys"


def test_options_are_checked_per_platform(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS + "    options: {page_size: 5000, concurency: 3}\n")
    assert [(i.line, i.message) for i in issues(specs)] == [
        (8, "'page_size' must be at most 1000"),
        (8, "unknown key 'concurency'"),
    ]


def test_an_unknown_platform_lists_the_supported_ones(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("saperx-stfc", "saperx-stcf"))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (3, "'platform': unknown platform 'saperx-stcf'")
    assert issue.hint == ("did you mean 'saperx-stfc'? supported platforms: saperx-stfc, qualifica, "
                          "campsoft, saperx-v2, ozmap, geosite")


def test_an_endpoint_must_be_embedded_or_an_http_url(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("embedded", "ftp://10.0.0.1"))
    assert only_issue(specs).message == "'endpoint' must be 'embedded' or an http(s) URL"


@pytest.mark.parametrize("name", ["Stfc", "1stfc", "stfc_sp", "-stfc"])
def test_names_are_lowercase_letters_digits_and_dashes(specs: Path, name: str) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("stfc-sp", name))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (2, f"'{name}' is not a valid name")


def test_the_same_name_in_two_files_names_both_places(specs: Path) -> None:
    write(specs, "a.yaml", INTEGRATIONS)
    write(specs, "b.yaml", "\n" + INTEGRATIONS)
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/b.yaml", 3)
    assert issue.message == "integration 'stfc-sp' is defined twice: at specs/a.yaml:2 and at specs/b.yaml:3"


# --- credentials --------------------------------------------------------------------------------


def test_a_literal_secret_is_refused_and_never_echoed(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("${env:SAPERX_STFC_TOKEN}", "s3cr3t-t0ken-value"))
    with pytest.raises(SpecError) as caught:
        load_specs(specs)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line) == ("specs/i.yaml", 6)
    assert "a literal secret in a spec is refused; use ${env:NAME} or ${file:PATH}" in issue.message
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in repr(caught.value.issues)


def test_a_secret_given_as_something_else_than_text_is_not_echoed_either(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("token: ${env:SAPERX_STFC_TOKEN}", "token: 987654321"))
    write(
        specs,
        "j.yaml",
        INTEGRATIONS.replace("stfc-sp", "stfc-rj").replace(
            "credentials:\n      token: ${env:SAPERX_STFC_TOKEN}", "credentials: 987654321"
        ),
    )
    with pytest.raises(SpecError) as caught:
        load_specs(specs)
    assert len(caught.value.issues) == 2
    assert "987654321" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${vault:x}", "unknown secret scheme 'vault'"),
        ("${env:1BAD}", "'1BAD' is not an environment variable name"),
        ("${env:X", "not a well-formed secret reference"),
        ("${file:}", "the file path is empty"),
    ],
)
def test_malformed_references_are_refused(specs: Path, value: str, message: str) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("${env:SAPERX_STFC_TOKEN}", f'"{value}"'))
    assert message in only_issue(specs).message


def test_credentials_must_be_exactly_the_platforms(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("token: ${env:SAPERX_STFC_TOKEN}", "username: isp"))
    found = issues(specs)
    assert [(i.line, i.message) for i in found] == [
        (5, "missing credential 'token'"),
        (6, "unknown credential 'username'"),
    ]
    assert found[1].hint == "saperx-stfc takes exactly: token"


def test_several_problems_in_several_files_are_reported_together(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("embedded", "nowhere").replace("burst: 10", "burst: 0"))
    write(specs, "c.yaml", CLIENTS.replace("247-25", "247-26").replace("status: suspended", "status: on"))
    found = issues(specs)
    assert [(i.file, i.line) for i in found] == [
        ("specs/c.yaml", 2),
        ("specs/c.yaml", 9),
        ("specs/i.yaml", 4),
        ("specs/i.yaml", 7),
    ]
    assert "4 problems in the specs:" in str(SpecError(found))


def test_a_missing_key_is_reported_at_its_parent(specs: Path) -> None:
    write(specs, "i.yaml", INTEGRATIONS.replace("    endpoint: embedded\n", ""))
    issue = only_issue(specs)
    assert (issue.line, issue.column, issue.message) == (2, 3, "missing required key 'endpoint'")


def test_an_unknown_yaml_tag_is_refused_with_its_location(specs: Path) -> None:
    write(specs, "x.yaml", "clients:\n  - !!python/object:os.system {}\n")
    issue = only_issue(specs)
    assert issue.line == 2 and issue.message.startswith(
        "YAML syntax error: could not determine a constructor"
    )


def test_a_date_where_text_is_expected_is_named_as_such(specs: Path) -> None:
    write(specs, "c.yaml", CLIENTS.replace("plan: STFC Ilimitado", "plan: 2024-01-31"))
    assert only_issue(specs).message == "'plan' must be text, not a date"


def test_non_secret_credentials_may_be_literal() -> None:
    assert credential_problem("username", "isp-api") is None
    assert credential_problem("client_id", "isp-123") is None
    assert credential_problem("api_key", "x") is not None
    assert credential_problem("password", 1234) is not None
