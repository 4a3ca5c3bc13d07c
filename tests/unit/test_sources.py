"""Sources of the desired state: the spec files first, joined with any other read-only input
before planning (reconciler/sources)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.errors import ReconcilerError
from reconciler.model import Desired, Integration, Known, Observed, Resource
from reconciler.planner import plan
from reconciler.runtime import Workspace
from reconciler.sources.base import join

STFC = Integration("stfc-sp", "saperx-stfc", "embedded", {})


def link(key: str, service: int) -> Resource:
    return Resource("stfc-sp", "link", key, {"service": service, "plan": "STFC Ilimitado",
                                             "params": {}, "blocked": False,
                                             "document": "52998224725", "name": "Maria"})


def fragment(*resources: Resource, services: dict[int, dict[str, str]] | None = None,
             integrations: dict[str, Integration] | None = None, digest: str = "d") -> Desired:
    return Desired(integrations if integrations is not None else {"stfc-sp": STFC},
                   {r.address: r for r in resources}, digest,
                   {"services": services or {}, "ranges": {"stfc-sp": []}})


@dataclass
class Fixed:
    """A source that declares what it is given (an ERP's view, in a later issue)."""

    name: str
    value: Desired

    def desired(self) -> Desired:
        return self.value


def test_one_fragment_is_the_desired_state_itself() -> None:
    only = fragment(link("1130001001", 1001))
    assert join([("specs", only)]) is only


def test_fragments_are_joined_and_the_digest_names_every_one() -> None:
    a = fragment(link("1130001001", 1001), services={1001: {"status": "active"}}, digest="a")
    b = fragment(link("1130001002", 1002), services={1002: {"status": "suspended"}}, digest="b")
    joined = join([("specs", a), ("erp", b)])
    assert sorted(joined.resources) == [link("1130001001", 1).address,
                                        link("1130001002", 1).address]
    assert joined.settings["services"] == {1001: {"status": "active"},
                                           1002: {"status": "suspended"}}
    assert joined.digest not in ("a", "b")
    assert joined.digest == join([("specs", a), ("erp", b)]).digest
    assert joined.digest != join([("specs", a), ("erp", fragment(digest="c"))]).digest


def test_one_thing_declared_two_ways_by_two_sources_is_an_error_naming_both() -> None:
    a, b = fragment(link("1130001001", 1001)), fragment(link("1130001001", 2002))
    with pytest.raises(ReconcilerError, match=r'stfc-sp.link\["1130001001"\] is declared by '
                                              r"two sources, specs and erp"):
        join([("specs", a), ("erp", b)])
    other = Integration("stfc-sp", "saperx-stfc", "https://10.0.0.1", {})
    with pytest.raises(ReconcilerError, match="integration stfc-sp is declared by two sources"):
        join([("specs", fragment()), ("erp", fragment(integrations={"stfc-sp": other}))])


def test_the_same_declaration_twice_is_one(tmp_path: Path) -> None:
    a = fragment(link("1130001001", 1001))
    assert join([("specs", a), ("erp", a)]).resources == a.resources


def test_the_workspace_plans_the_spec_files_joined_with_another_source(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "all.yaml").write_text(textwrap.dedent("""\
        integrations:
          stfc-sp:
            platform: saperx-stfc
            endpoint: embedded
            credentials: {token: "${env:STFC_TOKEN}"}
        number_ranges:
          sp: {integration: stfc-sp, area_code: 11, first: 30001001, last: 30001002}
        """))
    erp = Fixed("erp", Desired({}, {link("1130001002", 1002).address: link("1130001002", 1002)},
                               "erp-1", {"services": {1002: {"status": "active"}}}))
    ws = Workspace.open(specs, f"sqlite:///{tmp_path / 'state.db'}", sources=[erp])
    try:
        assert sorted(r.kind for r in ws.desired.resources.values()) == ["link", "number", "number"]
        made = plan(ws.desired, Known("l", 0, {}),
                    {"stfc-sp": Observed("stfc-sp", {}, {"plans": ({"id": 1, "nome": "STFC Ilimitado"},)})})
    finally:
        ws.close()
    assert [c.id for c in made.changes] == ['create:stfc-sp.number[1130001001..1130001002]',
                                            'link:stfc-sp.link["1130001002"]']
