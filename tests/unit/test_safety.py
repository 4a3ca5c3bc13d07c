"""Safety limits on a plan: counts, percentages, --allow with the exact count, emptied specs, protect.

Pure: plans, state and observations are built by hand.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import (
    Action,
    Change,
    Desired,
    Fingerprint,
    Integration,
    Known,
    Observed,
    Plan,
    Resource,
    Source,
)
from reconciler.safety import EXIT_UNSAFE, Violation, check, over, percent

SP = "stfc-sp"
SRC = Source("specs/numbers.yaml", 4, 3)


def keys(n: int, start: int = 1130001000) -> tuple[str, ...]:
    return tuple(str(start + i) for i in range(n))


def change(action: Action, ks: tuple[str, ...], kind: str | None = None, integration: str = SP) -> Change:
    kind = kind or ("number" if action is Action.DELETE else "link")
    return Change(integration, kind, action, ks, None, None, "test")


def the_plan(*changes: Change) -> Plan:
    return Plan(tuple(changes), Fingerprint("lineage", 1, "digest"), integrations=(SP,))


def resources(kind: str, n: int, integration: str = SP) -> dict[str, Resource]:
    out = [Resource(integration, kind, k) for k in keys(n)]
    return {r.address: r for r in out}


def known(numbers: int = 0, links: int = 0) -> Known:
    return Known("lineage", 1, {**resources("number", numbers), **resources("link", links)})


def observed(links: int) -> dict[str, Observed]:
    return {SP: Observed(SP, resources("link", links))}


def desired(safety: dict[str, Any] | None = None, protected: dict[str, Source] | None = None,
            declared: int = 1) -> Desired:
    settings: dict[str, Any] = {"services": {}, "ranges": {}}
    if safety is not None:
        settings["safety"] = safety
    if protected is not None:
        settings["protected"] = protected
    return Desired({SP: Integration(SP, "saperx-stfc", "embedded", {})},
                   resources("number", declared), "digest", settings)


def limits(**per_action: dict[str, float | int]) -> dict[str, Any]:
    base = {"max_percent": 10.0, "max_count": 200}
    return {SP: {a: {**base, **per_action.get(a, {})} for a in ("delete", "unlink", "suspend")}}


def test_exit_code_is_three() -> None:
    assert EXIT_UNSAFE == 3


def test_within_the_default_limits_nothing_is_refused() -> None:
    p = the_plan(change(Action.UNLINK, keys(10)), change(Action.SUSPEND, keys(10)))
    assert check(p, known(links=100), observed(100), desired(), {}) == []


def test_unlinking_over_the_percentage_is_refused_in_the_operators_words() -> None:
    p = the_plan(change(Action.UNLINK, keys(400)), change(Action.UNLINK, keys(12, 1130009000)))
    [v] = check(p, known(links=1030), observed(1030), desired(), {})
    assert v == Violation(
        "stfc-sp.unlink", SP, "unlink", 412, 1030,
        "this plan unlinks 412 numbers of 1,030 (40.0%) on integration stfc-sp; the limit is 10% "
        "and 200: pass --allow stfc-sp.unlink=412 if this is intended",
    )
    assert v.passable


def test_the_exact_count_passes_and_another_count_does_not() -> None:
    p = the_plan(change(Action.UNLINK, keys(412)))
    args = (p, known(links=1030), observed(1030), desired())
    assert check(*args, {"stfc-sp.unlink": 412}) == []
    [v] = check(*args, {"stfc-sp.unlink": 400})
    assert v.count == 412
    assert "pass --allow stfc-sp.unlink=412" in v.message
    assert "(--allow stfc-sp.unlink=400 was given, but the count is 412)" in v.message
    [v] = check(*args, {"stfc-sp.delete": 412})  # the right count for another limit
    assert v.limit == "stfc-sp.unlink"


def test_over_the_count_is_refused_even_under_the_percentage() -> None:
    p = the_plan(change(Action.SUSPEND, keys(201)))
    [v] = check(p, known(), observed(100_000), desired(), {})
    assert (v.limit, v.count, v.base) == ("stfc-sp.suspend", 201, 100_000)
    assert "suspends 201 numbers of 100,000 (0.2%)" in v.message
    assert check(p, known(), observed(100_000), desired(), {"stfc-sp.suspend": 201}) == []


def test_delete_is_a_share_of_the_managed_numbers_counting_every_key_of_a_block() -> None:
    p = the_plan(change(Action.DELETE, keys(11)))
    [v] = check(p, known(numbers=100), observed(0), desired(), {})
    assert (v.limit, v.action, v.count, v.base) == ("stfc-sp.delete", "delete", 11, 100)
    assert "deletes 11 numbers of 100 (11.0%)" in v.message
    assert check(the_plan(change(Action.DELETE, keys(10))), known(numbers=100), observed(0),
                 desired(), {}) == []


def test_limits_from_the_specs_replace_the_defaults() -> None:
    p = the_plan(change(Action.UNLINK, keys(6)), change(Action.DELETE, keys(15)))
    safety = limits(unlink={"max_percent": 5.0, "max_count": 50}, delete={"max_percent": 20.0})
    found = check(p, known(numbers=100, links=100), observed(100), desired(safety), {})
    assert [(v.limit, v.count) for v in found] == [("stfc-sp.unlink", 6)]
    assert "the limit is 5% and 50" in found[0].message


def test_a_zero_count_limit_refuses_any_change() -> None:
    p = the_plan(change(Action.SUSPEND, keys(1)))
    [v] = check(p, known(), observed(1000), desired(limits(suspend={"max_count": 0})), {})
    assert v.limit == "stfc-sp.suspend"


def test_small_estates_are_held_by_the_count_not_the_percentage() -> None:
    p = the_plan(change(Action.UNLINK, keys(1)))
    assert check(p, known(), observed(0), desired(), {}) == []  # 1 of 0: no base to judge by
    assert check(p, known(links=4), observed(4), desired(), {}) == []  # 25% of 4, under MIN_BASE
    assert percent(1, 0) == 100.0 and over(1, 0, {"max_count": 0, "max_percent": 100})


def test_every_limited_action_is_checked_separately() -> None:
    p = the_plan(change(Action.SUSPEND, keys(50)), change(Action.UNLINK, keys(50)),
                 change(Action.DELETE, keys(50)), change(Action.CREATE, keys(500), "number"))
    found = check(p, known(numbers=100, links=100), observed(100), desired(), {})
    assert [v.limit for v in found] == ["stfc-sp.delete", "stfc-sp.unlink", "stfc-sp.suspend"]
    allow = {"stfc-sp.delete": 50, "stfc-sp.unlink": 50, "stfc-sp.suspend": 50}
    assert check(p, known(numbers=100, links=100), observed(100), desired(), allow) == []


def test_an_emptied_spec_set_is_refused_until_allowed_with_the_managed_count() -> None:
    p = the_plan(change(Action.UNLINK, keys(2)), change(Action.DELETE, keys(3)))
    state = known(numbers=30, links=20)
    everything = {"stfc-sp.unlink": 2, "stfc-sp.delete": 3}
    found = check(p, state, observed(20), desired(declared=0), everything)
    assert found == [Violation(
        "stfc-sp.empty", SP, "empty", 50, 50,
        "the specs declare nothing for integration stfc-sp, which still manages 50 resources "
        "(an emptied or unreadable file?): pass --allow stfc-sp.empty=50 if this is intended",
    )]
    assert check(p, state, observed(20), desired(declared=0), {**everything, "stfc-sp.empty": 50}) == []
    [v] = check(p, state, observed(20), desired(declared=0), {**everything, "stfc-sp.empty": 5})
    assert v.limit == "stfc-sp.empty"


def test_an_integration_with_declared_resources_is_not_emptied() -> None:
    p = the_plan(change(Action.DELETE, keys(3)))
    assert check(p, known(numbers=30), observed(0), desired(declared=1), {"stfc-sp.delete": 3}) == []


def test_an_empty_integration_whose_plan_destroys_nothing_is_not_refused() -> None:
    p = the_plan(change(Action.SUSPEND, keys(1)))
    assert check(p, known(numbers=30), observed(100), desired(declared=0), {}) == []


def test_deleting_or_unlinking_a_protected_resource_is_refused_whatever_is_allowed() -> None:
    protected = {'stfc-sp.number["1130001001"]': SRC, 'stfc-sp.link["1130001000"]': SRC}
    p = the_plan(change(Action.DELETE, keys(3)), change(Action.UNLINK, keys(1)),
                 change(Action.SUSPEND, keys(2)))
    allow = {"stfc-sp.delete": 3, "stfc-sp.unlink": 1, "stfc-sp.suspend": 2, "protect": 1}
    found = check(p, known(numbers=3, links=2), observed(2), desired(protected=protected), allow)
    assert [(v.limit, v.action) for v in found] == [("protect", "delete"), ("protect", "unlink")]
    assert found[0].message == (
        'this plan would delete stfc-sp.number["1130001001"], which is protected '
        "(spec specs/numbers.yaml:4): remove `protect: true` first"
    )
    assert not found[0].passable


def test_protection_does_not_stop_other_actions() -> None:
    protected = {'stfc-sp.link["1130001000"]': SRC}
    p = the_plan(change(Action.SUSPEND, keys(1)), change(Action.UPDATE, keys(1)))
    assert check(p, known(), observed(100), desired(protected=protected), {}) == []


def test_other_integrations_are_limited_on_their_own_counts() -> None:
    other = "stfc-rj"
    p = the_plan(change(Action.UNLINK, keys(5), integration=other))
    seen = {**observed(5), other: Observed(other, resources("link", 100, other))}
    assert check(p, known(), seen, desired(), {}) == []
    [v] = check(p, known(), {**observed(5), other: Observed(other, resources("link", 10, other))},
                desired(), {})
    assert v.limit == "stfc-rj.unlink" and v.base == 10


@pytest.mark.xfail(strict=True, reason=(
    "usage() counts every change of one action on an integration but words and bases the count "
    "on the first change's kind: a SaperX v2 plan inactivating 2 lines and deleting 1 number "
    "range says 'cancels 3 SIP lines of 12'. Conservative (it refuses, and the --allow it names "
    "passes), but misworded; the fix is in the core"))
def test_two_kinds_deleted_on_one_integration_are_each_counted_in_their_own_units() -> None:
    voip = "voip"
    lines = tuple(f"7100{i:02d}" for i in range(12))
    managed = {**{r.address: r for r in (Resource(voip, "extension", k) for k in lines)},
               **resources("voip_range", 3, voip)}
    p = Plan((Change(voip, "extension", Action.DELETE, lines[:2], None, None, "test"),
              Change(voip, "voip_range", Action.DELETE, ("1130001000",), None, None, "test")),
             Fingerprint("lineage", 1, "digest"), integrations=(voip,))
    wanted = Desired({voip: Integration(voip, "saperx-v2", "embedded", {})},
                     {r.address: r for r in (Resource(voip, "extension", k) for k in lines[2:])},
                     "digest", {"safety": {voip: {"delete": {"max_count": 1}}}})
    messages = [v.message for v in check(p, Known("lineage", 1, managed), {}, wanted, {})]
    assert any("cancels 2 SIP lines of 12" in m for m in messages), messages
