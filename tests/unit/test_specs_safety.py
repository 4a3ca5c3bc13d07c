"""The `safety:` section and `protect:` flags: parsing, errors with file:line, and Desired settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import Source
from reconciler.specs import load_desired
from tests.unit.spec_helpers import issues, only_issue, write

INTEGRATIONS = """\
integrations:
  stfc-sp:
    platform: saperx-stfc
    endpoint: embedded
    credentials:
      token: ${env:SAPERX_STFC_TOKEN}
  stfc-rj:
    platform: saperx-stfc
    endpoint: embedded
    credentials:
      token: ${env:SAPERX_STFC_TOKEN}
"""
NUMBERS = """\
number_ranges:
  sp-centro:
    integration: stfc-sp
    area_code: 11
    first: 30001000
    last: 30001002
    protect: true
  sp-sul:
    integration: stfc-sp
    area_code: 11
    first: 30002000
"""
CLIENTS = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    services:
      - id: 1001
        status: cancelled
        phone_numbers:
          - integration: stfc-sp
            number: "1130001001"
            plan: STFC Ilimitado
            protect: true
          - integration: stfc-sp
            number: "1130001002"
            plan: STFC Ilimitado
"""
SAFETY = """\
safety:
  default: {max_percent: 15, max_count: 100}
  stfc-sp:
    unlink: {max_percent: 5, max_count: 50}
    delete: {max_percent: 20}
"""
DEFAULTS = {"max_percent": 10.0, "max_count": 200}


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    write(Path("specs"), "integrations.yaml", INTEGRATIONS)
    return Path("specs")


def test_without_a_safety_section_every_integration_gets_the_defaults(specs: Path) -> None:
    safety = load_desired(specs).settings["safety"]
    assert safety == {name: dict.fromkeys(("delete", "unlink", "suspend"), DEFAULTS)
                      for name in ("stfc-rj", "stfc-sp")}


def test_limits_fall_back_field_by_field_to_default_then_builtin(specs: Path) -> None:
    write(specs, "safety.yaml", SAFETY)
    safety = load_desired(specs).settings["safety"]
    base = {"max_percent": 15.0, "max_count": 100}
    assert safety["stfc-sp"] == {
        "unlink": {"max_percent": 5.0, "max_count": 50},
        "delete": {"max_percent": 20.0, "max_count": 100},
        "suspend": base,
    }
    assert safety["stfc-rj"] == dict.fromkeys(("delete", "unlink", "suspend"), base)
    limit = safety["stfc-sp"]["unlink"]
    assert type(limit) is dict and type(limit["max_percent"]) is float and type(limit["max_count"]) is int


def test_a_partial_default_keeps_the_builtin_for_the_other_field(specs: Path) -> None:
    write(specs, "safety.yaml", "safety:\n  default: {max_count: 7}\n")
    assert load_desired(specs).settings["safety"]["stfc-sp"]["suspend"] == {
        "max_percent": 10.0, "max_count": 7}


def test_protected_numbers_and_links_are_listed_with_their_source(specs: Path) -> None:
    write(specs, "numbers.yaml", NUMBERS)
    write(specs, "clients.yaml", CLIENTS)
    desired = load_desired(specs)
    protected = desired.settings["protected"]
    assert protected == {
        'stfc-sp.number["1130001000"]': Source("specs/numbers.yaml", 2, 3),
        'stfc-sp.number["1130001001"]': Source("specs/numbers.yaml", 2, 3),
        'stfc-sp.number["1130001002"]': Source("specs/numbers.yaml", 2, 3),
        'stfc-sp.link["1130001001"]': Source("specs/clients.yaml", 8, 13),
    }
    assert all("protect" not in r.attrs for r in desired.resources.values())


def test_an_unknown_action_is_refused_listing_the_limited_ones(specs: Path) -> None:
    write(specs, "safety.yaml", "safety:\n  stfc-sp:\n    create: {max_count: 5}\n")
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.column) == ("specs/safety.yaml", 3, 5)
    assert issue.message == "unknown action 'create' in the safety limits of integration 'stfc-sp'"
    assert issue.hint == "limits apply to these actions: delete, unlink, suspend"


def test_a_close_action_is_suggested(specs: Path) -> None:
    write(specs, "safety.yaml", "safety:\n  stfc-sp:\n    unlnk: {max_count: 5}\n")
    assert only_issue(specs).hint.startswith("did you mean 'unlink'? ")


def test_an_unknown_integration_is_refused_at_its_line(specs: Path) -> None:
    write(specs, "safety.yaml",
          "safety:\n  default: {max_count: 5}\n  stfc-sq:\n    delete: {max_count: 5}\n")
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.column) == ("specs/safety.yaml", 3, 3)
    assert issue.message == "safety limits for unknown integration 'stfc-sq'"
    assert issue.hint == "did you mean 'stfc-sp'? declared integrations: stfc-rj, stfc-sp"


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("{max_percent: 150}", "'max_percent' must be at most 100"),
        ("{max_percent: -1}", "'max_percent' must be at least 0"),
        ("{max_percent: ten}", "'max_percent' must be a number, not text"),
        ("{max_count: 2.5}", "'max_count' must be a whole number, not a number"),
        ("{max_count: -3}", "'max_count' must be at least 0"),
        ('{max_count: "5"}', "'max_count' must be a whole number, not text"),
        ("{max_count: true}", "'max_count' must be a whole number, not true/false"),
        ("{max_cuont: 5}", "unknown key 'max_cuont'"),
        ("5", "this entry must be a mapping of keys to values, not a number"),
    ],
)
def test_a_bad_limit_is_refused_at_its_line(specs: Path, limit: str, message: str) -> None:
    write(specs, "safety.yaml", f"safety:\n  stfc-sp:\n    unlink: {limit}\n")
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/safety.yaml", 3)
    assert issue.message == message


def test_the_section_and_an_integration_entry_must_be_mappings(specs: Path) -> None:
    write(specs, "safety.yaml", "safety: [1, 2]\n")
    assert only_issue(specs).message.startswith("'safety' must be a mapping")
    write(specs, "safety.yaml", "safety:\n  stfc-sp: 5\n")
    issue = only_issue(specs)
    assert issue.line == 2
    assert issue.message == "the limits of integration 'stfc-sp' must be a mapping of actions to limits"


def test_a_second_safety_section_in_another_file_is_refused(specs: Path) -> None:
    write(specs, "a.yaml", "safety:\n  default: {max_count: 5}\n")
    write(specs, "b.yaml", "clients: []\n\nsafety:\n  default: {max_count: 6}\n")
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/b.yaml", 3)
    assert issue.message == (
        "the 'safety' section is defined twice: at specs/a.yaml:1 and at specs/b.yaml:3"
    )


def test_protect_must_be_true_or_false(specs: Path) -> None:
    write(specs, "numbers.yaml", NUMBERS.replace("protect: true", 'protect: "yes"'))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/numbers.yaml", 7)
    assert issue.message == "'protect' must be true or false, not text"


def test_safety_errors_are_reported_with_the_others(specs: Path) -> None:
    write(specs, "safety.yaml", "safety:\n  stfc-xx: {}\n  stfc-sp:\n    resume: {}\n")
    assert [i.line for i in issues(specs)] == [2, 4]
