"""`import --generate` (reconciler.specs.generate) from unmatched objects built here: what the
platform data makes valid is written as specs that `load_specs` accepts with the existing ones;
what it cannot (a bad document, a client or service already declared, no service id) is written
as comments saying what to fill in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import ReconcilerError
from reconciler.model import Resource
from reconciler.planner.imports import ImportPlan
from reconciler.specs import load_specs
from reconciler.specs.generate import generate, write
from tests.unit.spec_helpers import write as write_spec

SPECS = """\
    integrations:
      stfc:
        platform: saperx-stfc
        endpoint: embedded
        credentials: {token: "${env:T}"}
    number_ranges:
      sp: {integration: stfc, area_code: 11, first: 30001000, last: 30001009}
    clients:
      - document: 529.982.247-25
        name: Maria Silva
        services:
          - id: 1001
            status: active
            phone_numbers:
              - {integration: stfc, number: "1130001001", plan: STFC Ilimitado}
    """


def link(number: str, service: Any, document: str, name: str = "Cliente") -> Resource:
    return Resource("stfc", "link", number, {"service": service, "plan": "STFC Básico 100",
                                             "params": {}, "blocked": True,
                                             "document": document, "name": name})


def number(key: str) -> Resource:
    return Resource("stfc", "number", key, {"country_code": 55, "status": "free"})


def plan_of(*unmatched: Resource) -> ImportPlan:
    return ImportPlan("stfc", "saperx-stfc", (), 0, (), tuple(unmatched), 0, 0)


def test_generated_stfc_specs_validate_and_the_rest_are_comments(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, "all.yaml", SPECS)
    unmatched = plan_of(
        *(number(f"11300020{i:02d}") for i in (0, 1, 2, 5)), number("1199990000"),
        link("1130002001", 3001, "11144477735", "Loja"),  # valid: a new client
        link("1130002002", 3002, "52998224725"),  # Maria is declared: a comment
        link("1130002005", 1001, "39053344705"),  # service 1001 is Maria's: a comment
        link("1130002000", None, "39053344705"),  # no service id: a comment
        link("1130001009", 3003, "12345678900"),  # bad check digits: a comment
    )
    made = generate([unmatched], load_specs(specs), "# header")
    ranges = made.files["imported-numbers.yaml"]
    assert "stfc-1130002000:" in ranges and "last: 30002002" in ranges
    assert "stfc-1130002005:" in ranges and "1199990000" in ranges  # a mobile-like: a comment
    clients = made.files["imported-clients.yaml"]
    assert clients.startswith("# header\n")
    assert "status: suspended" in clients  # its line is blocked
    assert "client 52998224725 is declared in" in clients and "all.yaml:" in clients
    assert "service 1001 is declared in" in clients
    assert "does not say which client service" in clients
    assert "'12345678900' is not valid" in clients
    assert made.commented == 5

    written = write(specs, made.files, force=False)
    assert {p.name for p in written} == {"imported-numbers.yaml", "imported-clients.yaml"}
    loaded = load_specs(specs)  # the generated files validate with the existing ones
    assert {s.id for c in loaded.clients for s in c.services} == {1001, 3001}
    assert "stfc-1130002000" in loaded.number_ranges


def test_write_never_overwrites_without_force(tmp_path: Path) -> None:
    (tmp_path / "imported-clients.yaml").write_text("mine\n", encoding="utf-8")
    with pytest.raises(ReconcilerError, match="--force"):
        write(tmp_path, {"imported-clients.yaml": "new\n"}, force=False)
    assert (tmp_path / "imported-clients.yaml").read_text() == "mine\n"
    write(tmp_path, {"imported-clients.yaml": "new\n"}, force=True)
    assert (tmp_path / "imported-clients.yaml").read_text() == "new\n"
