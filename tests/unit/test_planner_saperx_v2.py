"""Planner tables for SaperX v2: desired x known x actual -> changes (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.model import Action, Desired, Integration, Known, Observed, Resource
from reconciler.planner import drift, plan
from reconciler.platforms import registry

V = "voip"
CATALOGS = {"plans": ({"id": 101, "name": "VoIP 100"}, {"id": 102, "name": "VoIP 500"}),
            "international_plans": ({"id": 901, "name": "Mundo"},)}


def did(number: str) -> dict[str, Any]:
    return {"number": number, "monthly_value": "0.00", "collect_calls": False, "city": None}


def line(key: str, service: int, *numbers: str, **attrs: Any) -> Resource:
    base = {"service": service, "line_type": "new", "active": True, "blocked": False,
            "call_limit": 2, "plan": "VoIP 100", "international_plan": None, "closing_day": 1,
            "billing": "postpaid", "route": "SCM", "caller_id": numbers[0],
            "permissions": {"LC": True, "LDN": True, "LDI": False, "VC1": True, "VC2": True,
                            "VC3": True},
            "dids": [did(n) for n in sorted(numbers)], "account_code": None,
            "password_from": None, "password_file": None}
    return Resource(V, "extension", key, {**base, **attrs})


def on_platform(code: str, service: int, *numbers: str, **attrs: Any) -> Resource:
    res = line(code, service, *numbers, **attrs)
    kept = {k: v for k, v in res.attrs.items()
            if k not in ("account_code", "password_from", "password_file")}
    return Resource(V, "extension", code, kept, remote_id=code)


def voip_range(name: str = "floripa", first: str = "30001000", last: str = "30001099") -> Resource:
    return Resource(V, "voip_range", name, {"country_code": 55, "area_code": 48, "first": first,
                                            "last": last}, remote_id="7")


def planned(want: list[Resource], known: list[Resource], actual: list[Resource]) -> Any:
    integration = Integration(V, "saperx-v2", "embedded", {})
    desired = Desired({V: integration}, {r.address: r for r in want}, "d",
                      {"services": {}, "ranges": {}})
    state = Known("l", 1, {r.address: r for r in known})
    observed = {V: Observed(V, {r.address: r for r in actual}, CATALOGS)}
    return plan(desired, state, observed), (state, observed, desired)


def test_a_new_line_is_created_after_its_range() -> None:
    made, _ = planned([voip_range(), line("1001/4830001000", 1001, "4830001000")], [], [])
    assert [(c.kind, c.action) for c in made.changes] == [
        ("voip_range", Action.CREATE), ("extension", Action.CREATE)]
    assert made.changes[1].after["service"] == 1001
    assert "create SIP line for service 1001" in registry.kind("extension").describe(made.changes[1])
    # changes of one integration run side by side: the line waits for its range explicitly
    assert made.changes[1].depends_on == (made.changes[0].id,)


def test_a_did_of_a_resized_range_waits_for_the_resize_and_others_wait_for_nothing() -> None:
    was = line("483920", 1001, "4830001000", account_code="483920")
    grown = line("483920", 1001, "4830001000", "4830001150", account_code="483920")
    other = line("483921", 1002, "4830001001", account_code="483921")
    made, _ = planned([voip_range(last="30001199"), grown, other], [was],
                      [voip_range(), on_platform("483920", 1001, "4830001000")])
    resize, update, create = made.changes
    assert (resize.kind, resize.action, update.action, create.action) == (
        "voip_range", Action.UPDATE, Action.UPDATE, Action.CREATE)
    assert update.depends_on == (resize.id,)
    assert create.depends_on == (resize.id,)  # 4830001001 lies in the resized range too
    made, _ = planned([voip_range(), other], [], [voip_range()])
    assert [c.depends_on for c in made.changes] == [()]


def test_a_line_is_found_by_the_account_code_the_state_recorded() -> None:
    want = line("1001/4830001000", 1001, "4830001000", call_limit=4)
    was = Resource(V, "extension", "1001/4830001000", dict(line("x", 1001, "4830001000").attrs),
                   remote_id="100001")
    made, _ = planned([want], [was], [on_platform("100001", 1001, "4830001000")])
    (change,) = made.changes
    assert (change.action, change.after["call_limit"], change.after["account_code"]) == (
        Action.UPDATE, 4, "100001")
    assert change.reason == "changed in the specs: call_limit"


def test_an_unchanged_line_is_adopted_with_its_account_code() -> None:
    made, _ = planned([line("483920", 1001, "4830001000", account_code="483920")], [],
                      [on_platform("483920", 1001, "4830001000")])
    assert made.changes == () and [r.remote_id for r in made.adopt] == ["483920"]


def test_suspension_blocks_and_reactivation_unblocks() -> None:
    blocked = line("483920", 1001, "4830001000", account_code="483920", blocked=True)
    made, _ = planned([blocked], [], [on_platform("483920", 1001, "4830001000")])
    assert [c.action for c in made.changes] == [Action.SUSPEND]
    free = line("483920", 1001, "4830001000", account_code="483920")
    made, _ = planned([free], [], [on_platform("483920", 1001, "4830001000", blocked=True)])
    assert [c.action for c in made.changes] == [Action.RESUME]


def test_a_block_that_comes_with_other_changes_stays_a_suspend_of_its_own() -> None:
    want = line("483920", 1001, "4830001000", account_code="483920", blocked=True, call_limit=4)
    made, _ = planned([want], [], [on_platform("483920", 1001, "4830001000")])
    update, block = made.changes
    assert (update.action, update.after["call_limit"], update.after["blocked"]) == (
        Action.UPDATE, 4, False)
    assert (block.action, block.after["blocked"], block.depends_on) == (
        Action.SUSPEND, True, (update.id,))
    free = line("483920", 1001, "4830001000", account_code="483920", call_limit=4)
    made, _ = planned([free], [], [on_platform("483920", 1001, "4830001000", blocked=True)])
    assert [c.action for c in made.changes] == [Action.UPDATE, Action.RESUME]


def test_cancelling_inactivates_and_a_line_never_made_is_left_absent() -> None:
    gone = line("483920", 1001, "4830001000", account_code="483920", active=False)
    made, _ = planned([gone], [], [on_platform("483920", 1001, "4830001000")])
    (change,) = made.changes
    assert change.action is Action.DELETE and "inactivated" in change.reason
    made, _ = planned([gone], [], [])
    assert made.changes == ()


def test_a_suspended_line_cancelled_keeps_its_block_and_then_plans_nothing() -> None:
    """Inactivating leaves the platform's block: the state records it, the next plan is empty
    (not an unblock of an inactive line) and drift finds nothing (the 100k benchmark's case)."""
    gone = line("483920", 1001, "4830001000", account_code="483920", active=False)
    blocked = on_platform("483920", 1001, "4830001000", blocked=True)
    made, _ = planned([gone], [], [blocked])
    (change,) = made.changes
    assert change.action is Action.DELETE and change.after["blocked"] is True
    inactive = on_platform("483920", 1001, "4830001000", blocked=True, active=False)
    recorded = Resource(V, "extension", "483920", dict(change.after), remote_id="483920")
    made, (state, observed, _) = planned([gone], [recorded], [inactive])
    assert made.changes == () and made.adopt == ()
    assert drift(state, observed, {V: "saperx-v2"}) == []


def test_a_managed_line_no_longer_declared_is_inactivated() -> None:
    was = line("483920", 1001, "4830001000", account_code="483920")
    made, _ = planned([], [was], [on_platform("483920", 1001, "4830001000")])
    assert [(c.action, c.address) for c in made.changes] == [
        (Action.DELETE, 'voip.extension["483920"]')]


def test_a_did_moved_between_lines_leaves_the_old_one_first() -> None:
    a_was = line("100001", 1001, "4830001000", "4830001001", account_code="100001")
    b_was = line("100002", 1002, "4830001002", account_code="100002")
    a_now = line("100001", 1001, "4830001000", account_code="100001")
    b_now = line("100002", 1002, "4830001001", "4830001002", account_code="100002",
                 caller_id="4830001002")
    made, _ = planned([a_now, b_now], [a_was, b_was],
                      [on_platform("100001", 1001, "4830001000", "4830001001"),
                       on_platform("100002", 1002, "4830001002")])
    by = {c.address: c for c in made.changes}
    take = by['voip.extension["100002"]']
    leave = by['voip.extension["100001"]']
    assert leave.action is Action.UNLINK and take.action is Action.UPDATE  # the DID leaves
    assert take.depends_on == (leave.id,)
    assert made.changes.index(leave) < made.changes.index(take)
    assert registry.kind("extension").describe(leave) == (
        "take DIDs 4830001001 off the SIP line of service 1001")


def test_taking_dids_off_many_lines_is_limited_as_unlinks() -> None:
    from reconciler.safety import check

    codes = [f"1000{i:02d}" for i in range(12)]
    was = [line(c, 1000 + i, f"48300010{i:02d}", f"47340020{i:02d}", account_code=c)
           for i, c in enumerate(codes)]
    now = [on_platform(c, 1000 + i, f"48300010{i:02d}", f"47340020{i:02d}")
           for i, c in enumerate(codes)]
    want = [line(c, 1000 + i, f"48300010{i:02d}", account_code=c) if i < 4 else was[i]
            for i, c in enumerate(codes)]
    made, (state, observed, desired) = planned(want, was, now)
    assert [c.action for c in made.changes] == [Action.UNLINK] * 4
    (refused,) = check(made, state, observed, desired, {})
    assert refused.message.startswith("this plan unlinks 4 SIP lines of 12 (33.3%) on "
                                      "integration voip; the limit is 10% and 200: pass "
                                      "--allow voip.unlink=4")
    assert check(made, state, observed, desired, {"voip.unlink": 4}) == []


def test_a_change_that_landed_unrecorded_is_adopted_and_an_inactive_undeclared_line_forgotten(
) -> None:
    # A run killed after the platform took these changes, before the state recorded them.
    want = [line("483920", 1001, "4830001000", account_code="483920", call_limit=4),
            line("483921", 1002, "4830001001", account_code="483921", active=False),
            voip_range(last="30001199")]
    was = [line("483920", 1001, "4830001000", account_code="483920"),
           line("483921", 1002, "4830001001", account_code="483921"),
           line("483922", 1003, "4830001002", account_code="483922"), voip_range()]
    now = [on_platform("483920", 1001, "4830001000", call_limit=4),
           on_platform("483921", 1002, "4830001001", active=False),
           on_platform("483922", 1003, "4830001002", active=False), voip_range(last="30001199")]
    made, (_, observed, _) = planned(want, was, now)
    assert made.changes == ()
    assert sorted(r.address for r in made.adopt) == [
        'voip.extension["483920"]', 'voip.extension["483921"]', 'voip.voip_range["floripa"]']
    assert made.forget == ('voip.extension["483922"]',)
    adopted = {r.key: r for r in made.adopt}
    assert adopted["483920"].attrs["call_limit"] == 4 and adopted["483921"].attrs["active"] is False
    settled = Known("l", 2, {r.address: r for r in made.adopt})  # what apply records
    assert drift(settled, observed, {V: "saperx-v2"}) == []
    again, _ = planned(want, list(settled.resources.values()), now)
    assert (again.changes, again.adopt, again.forget) == ((), (), ())


def test_a_did_held_by_a_line_nobody_manages_is_a_warning_not_taken() -> None:
    made, _ = planned([line("483920", 1001, "4830001000", account_code="483920")], [],
                      [on_platform("999999", 7, "4830001000")])
    assert [c.action for c in made.changes] == [Action.CREATE]
    assert [w.message for w in made.warnings] == [
        "DID 4830001000 is held on the platform by extension 999999, which the tool does not "
        "manage: not taken"]


def test_drift_finds_a_line_by_its_recorded_account_code_and_an_unmanaged_one_by_its_dids() -> None:
    was = Resource(V, "extension", "1001/4830001000", dict(line("x", 1001, "4830001000").attrs),
                   remote_id="100001")
    _, (state, observed, desired) = planned(
        [voip_range(), line("1001/4830001000", 1001, "4830001000")], [was],
        [on_platform("100001", 1001, "4830001000", call_limit=9),
         on_platform("555555", 8, "4830001050")])
    found = {d.address: d for d in drift(state, observed, {V: "saperx-v2"}, desired)}
    assert found['voip.extension["1001/4830001000"]'].kind == "changed"
    assert found['voip.extension["1001/4830001000"]'].fields == ("call_limit",)
    assert found['voip.extension["555555"]'].kind == "unmanaged"


def test_import_finds_a_line_without_account_code_by_its_caller_id_and_checks_the_service() -> None:
    from reconciler.planner.imports import match

    want = line("1001/4830001000", 1001, "4830001000")
    wrong = line("1002/4830001005", 1002, "4830001005")
    observed = Observed(V, {r.address: r for r in (
        on_platform("100001", 1001, "4830001000", call_limit=5),
        on_platform("100002", 7, "4830001005"), on_platform("100003", 9, "4830001090"))})
    made = match(V, "saperx-v2", {r.address: r for r in (want, wrong)}, Known("l", 0, {}),
                 observed, registry.get("saperx-v2").compared)
    (taken,) = made.record
    assert (taken.key, taken.remote_id, taken.attrs["call_limit"]) == ("1001/4830001000",
                                                                        "100001", 5)
    (held,) = made.ambiguous
    assert held.remote == ('voip.extension["100002"]',)
    assert "belongs to service 7, the specs' line to service 1002" in held.reason
    assert [r.key for r in made.unmatched] == ["100003"]


def test_a_changed_password_rule_is_sent_again_and_an_unchanged_one_never() -> None:
    was = line("483920", 1001, "4830001000", account_code="483920", password_from="${env:A}")
    same = line("483920", 1001, "4830001000", account_code="483920", password_from="${env:A}")
    platform = [on_platform("483920", 1001, "4830001000")]
    made, _ = planned([same], [was], platform)
    assert made.changes == ()
    moved = line("483920", 1001, "4830001000", account_code="483920", password_from="${env:B}")
    made, _ = planned([moved], [was], platform)
    (change,) = made.changes
    assert change.reason == "changed in the specs: password"
    assert change.after["password_from"] == "${env:B}"  # the reference, never its value


def test_a_plan_the_catalog_lacks_is_an_error_naming_the_valid_ones() -> None:
    from reconciler.errors import PlanError

    with pytest.raises(PlanError, match=r"plan 'VoIP 9' is not in the plans of voip; valid names: "
                                        r"VoIP 100, VoIP 500"):
        planned([line("483920", 1001, "4830001000", account_code="483920", plan="VoIP 9")], [], [])
    with pytest.raises(PlanError, match="international plan 'Lua' is not in the international"):
        planned([line("483920", 1001, "4830001000", international_plan="Lua")], [], [])
