"""The published JSON Schemas (docs/schema/plan.schema.json, drift.schema.json) against the
golden files, against real output of the pure planner, and against broken documents.

The schemas are written by hand from docs/json.md; these tests keep them and the output in step.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from reconciler.applier import DONE, ApplyResult, Outcome
from reconciler.cli.drift import FIXABLE, Fix, _put_back
from reconciler.model import Note
from reconciler.planner import drift as compute_drift
from reconciler.planner import plan as compute_plan
from reconciler.planner.targeting import PARTIAL_NOTE, exactly, narrow
from reconciler.render import jsonplan
from tests.golden import scenarios
from tests.golden.scenarios import CREATED_AT, NOW, PLATFORMS, SECRETS

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schema"
GOLDEN = ROOT / "tests" / "golden"
EXPIRES_AT = "2026-11-26T20:15:03+00:00"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema(name))


def errors(name: str, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator(name).iter_errors(doc)]


def assert_valid(name: str, doc: Any) -> None:
    problems = errors(name, doc)
    assert not problems, f"{name} schema rejects the document:\n" + "\n".join(problems)


def roundtrip(doc: dict[str, Any]) -> Any:
    """What a consumer parses: the document as the CLI prints it."""
    return json.loads(json.dumps(doc))


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Spec sources read tests/golden/specs/...:N, as in test_render_markdown.py."""
    monkeypatch.chdir(scenarios.ROOT)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    yield


# --- the schemas themselves --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["plan", "drift"])
def test_schema_is_valid_draft_2020_12(name: str) -> None:
    doc = schema(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(doc)
    assert doc["properties"]["format_version"] == {
        "const": 1, "description": doc["properties"]["format_version"]["description"]}
    assert "added" in doc["description"]  # consumers are told to tolerate new fields
    assert doc.get("additionalProperties", True) is True


def test_the_schema_apply_validates_plan_files_with_is_the_published_one() -> None:
    """`apply PLANFILE` reads the copy shipped in the package (reconciler/render/); the
    published one is docs/schema/. Edit both, byte for byte."""
    shipped = ROOT / "reconciler" / "render" / "plan.schema.json"
    assert shipped.read_bytes() == (SCHEMAS / "plan.schema.json").read_bytes()


# --- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("golden, name", [("plan_rollout.json", "plan"),
                                          ("plan_day_two.json", "plan"),
                                          ("drift.json", "drift")])
def test_golden_files_validate(golden: str, name: str) -> None:
    doc = json.loads((GOLDEN / golden).read_text(encoding="utf-8"))
    assert doc["tool_version"] == "<tool_version>"  # any string is a tool version
    assert_valid(name, doc)


def test_every_golden_json_file_is_covered() -> None:
    found = {p.name for p in GOLDEN.glob("*.json")}
    assert found == {"plan_rollout.json", "plan_day_two.json", "drift.json", "stfc_billing.json"}


# --- real output -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["rollout", "day_two"])
@pytest.mark.parametrize("expires_at", [EXPIRES_AT, None])  # a plan file; plan --format json
def test_real_plans_validate(scenario: str, expires_at: str | None) -> None:
    plan, *_ = scenarios.planned(scenario)
    doc = roundtrip(jsonplan.plan_to_json(plan, created_at=CREATED_AT, expires_at=expires_at))
    assert_valid("plan", doc)


def test_a_partial_plan_validates() -> None:
    plan, *_ = scenarios.planned("rollout")
    partial = narrow(plan, ["stfc-sp.link"], ["stfc-sp.link[\"1130001002\"]"])
    assert partial.partial and partial.changes
    doc = roundtrip(jsonplan.plan_to_json(partial, created_at=CREATED_AT, expires_at=EXPIRES_AT))
    assert doc["targets"] and doc["excludes"]
    assert any(w["address"] == PARTIAL_NOTE for w in doc["warnings"])
    assert_valid("plan", doc)


def test_real_drift_reports_validate_with_and_without_fix() -> None:
    """Drift as the pure planner finds it on day two, then a fix built the way `drift --fix`
    builds it (reconciler/cli/drift.py `_fix`), with an apply result standing in for the
    platforms: every change of the narrowed plan landed."""
    want, known, observed = scenarios.day_two()
    found = compute_drift(known, observed, PLATFORMS, want)
    assert found
    items = [dataclasses.replace(d, first_seen="2026-11-25T08:00:00+00:00") for d in found]
    items[0] = dataclasses.replace(items[0], first_seen=None)
    checked = sorted(observed)
    assert_valid("drift", roundtrip(jsonplan.drift_to_json(items, checked=checked,
                                                           created_at=NOW)))

    targets = sorted({d.address for d in items if d.kind in FIXABLE})
    assert targets
    plan = narrow(compute_plan(want, known, observed, only=frozenset(observed)),
                  [exactly(a) for a in targets], universe=targets)
    caveat = Note(PARTIAL_NOTE, "", "this plan only puts back the drifted resources")
    plan = dataclasses.replace(
        plan, warnings=(*(w for w in plan.warnings if w.address != PARTIAL_NOTE), caveat))
    result = ApplyResult([Outcome(c, DONE) for c in plan.changes], adopted=len(plan.adopt),
                         forgotten=len(plan.forget))
    fix = Fix(plan, result, _put_back(plan, result, targets))
    doc = roundtrip(jsonplan.drift_to_json(items, checked=checked, created_at=NOW,
                                           fix=fix.to_json(items)))
    assert isinstance(doc["fix"], dict) and doc["fix"]["applied"]["done"] == len(plan.changes)
    assert_valid("drift", doc)
    # the narrowed plan drift --fix applies is itself a valid plan
    assert_valid("plan", roundtrip(jsonplan.plan_to_json(plan, created_at=NOW)))


def test_an_empty_drift_report_validates() -> None:
    assert_valid("drift", roundtrip(jsonplan.drift_to_json([], checked=["stfc-sp"],
                                                           created_at=NOW)))


# --- broken documents --------------------------------------------------------------------------


def golden(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def test_new_fields_are_tolerated() -> None:
    doc = golden("plan_day_two.json")
    doc["some_future_field"] = {"x": 1}
    doc["changes"][0]["another_future_field"] = True
    doc["summary"]["future_count"] = 3
    assert_valid("plan", doc)
    report = golden("drift.json")
    report["drift"][0]["future"] = "x"
    assert_valid("drift", report)


def test_a_change_with_an_unknown_action_fails() -> None:
    doc = golden("plan_day_two.json")
    doc["changes"][0]["action"] = "replace"
    assert any("action" in e for e in errors("plan", doc))


@pytest.mark.parametrize("path", [("fingerprint",), ("changes",), ("changes", 0, "id"),
                                  ("summary", "changes"), ("estimates", 0, "per_second"),
                                  ("adopt", 0, "remote_id")])
def test_a_missing_required_plan_field_fails(path: tuple[Any, ...]) -> None:
    doc = golden("plan_rollout.json")
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    assert any("is a required property" in e for e in errors("plan", doc))


@pytest.mark.parametrize("field", ["drift", "fix", "summary", "created_at"])
def test_a_missing_required_drift_field_fails(field: str) -> None:
    doc = golden("drift.json")
    del doc[field]
    assert any("is a required property" in e for e in errors("drift", doc))


@pytest.mark.parametrize("name, golden_file", [("plan", "plan_rollout.json"),
                                               ("drift", "drift.json")])
@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_another_format_version_fails(name: str, golden_file: str, version: Any) -> None:
    doc = golden(golden_file)
    doc["format_version"] = version
    assert any(e.startswith("format_version") for e in errors(name, doc))


def test_a_drift_item_of_an_unknown_kind_fails() -> None:
    doc = golden("drift.json")
    doc["drift"][0]["kind"] = "vanished"
    assert any(e.startswith("drift/0/kind") for e in errors("drift", doc))


def test_wrong_types_fail() -> None:
    doc = golden("plan_day_two.json")
    bad = copy.deepcopy(doc)
    bad["changes"][0]["keys"] = "1130001004"
    assert errors("plan", bad)
    bad = copy.deepcopy(doc)
    bad["touched"][next(iter(bad["touched"]))] = "not-a-fingerprint"
    assert errors("plan", bad)
    bad = copy.deepcopy(doc)
    bad["changes"][0]["before"] = []
    assert errors("plan", bad)
    report = golden("drift.json")
    report["fix"] = {"changes": 1, "applied": {"done": 1}, "fixed": [], "not_fixed": []}
    assert any("is a required property" in e for e in errors("drift", report))
    report["fix"] = "done"
    assert errors("drift", report)


# --- billing -----------------------------------------------------------------------------------


def test_the_billing_golden_and_a_voip_bill_validate_and_a_float_amount_does_not() -> None:
    from reconciler.render.invoice import render_json
    from tests.unit.test_voip_billing import invoice

    golden = json.loads((GOLDEN / "stfc_billing.json").read_text(encoding="utf-8"))
    assert_valid("billing", golden)
    voip = json.loads(render_json(invoice()))
    assert_valid("billing", voip)
    broken = copy.deepcopy(voip)
    broken["lines"][0]["amount"] = 0.7
    assert any("lines/0/amount" in e for e in errors("billing", broken))
