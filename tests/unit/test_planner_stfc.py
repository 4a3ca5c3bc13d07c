"""Planner tables for SaperX STFC: desired x known x actual -> changes (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import safety
from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Desired,
    Integration,
    Known,
    Observed,
    Resource,
    Source,
)
from reconciler.planner import drift, plan

SP = "stfc-sp"
PLANS = ({"id": 1, "nome": "STFC Ilimitado"}, {"id": 2, "nome": "STFC Básico 100"})
SRC = Source("specs/clients.yaml", 7, 11)


def number(key: str, **attrs: Any) -> Resource:
    return Resource(SP, "number", key, {"country_code": 55, **attrs}, SRC)


def link(key: str, service: int = 1001, **attrs: Any) -> Resource:
    base = {"service": service, "plan": "STFC Ilimitado", "params": {}, "blocked": False,
            "document": "52998224725", "name": "Maria Silva"}
    return Resource(SP, "link", key, {**base, **attrs}, SRC)


def on_platform(key: str, status: str = "free", transmission: str = "sent") -> Resource:
    return Resource(SP, "number", key, {"country_code": 55, "status": status,
                                       "transmission": transmission}, remote_id=key[-3:])


def desired(*resources: Resource, services: dict[int, str] | None = None,
            ranges: dict[str, str] | None = None, batch_size: int | None = None,
            safety: dict[str, Any] | None = None) -> Desired:
    """``ranges``: the ranges still declared, by name, with their on_remove."""
    options = {"batch_size": batch_size} if batch_size is not None else {}
    integration = Integration(SP, "saperx-stfc", "embedded", {}, options)
    svc = {sid: {"status": st, "client": "x", "source": SRC} for sid, st in (services or {}).items()}
    declared = [{"name": name, "on_remove": how} for name, how in (ranges or {}).items()]
    settings: dict[str, Any] = {"services": svc, "ranges": {SP: declared}}
    if safety is not None:
        settings["safety"] = {SP: safety}
    return Desired({SP: integration}, {r.address: r for r in resources}, "digest", settings)


def known(*resources: Resource) -> Known:
    return Known("lineage", 3, {r.address: r for r in resources})


def actual(*resources: Resource) -> dict[str, Observed]:
    return {SP: Observed(SP, {r.address: r for r in resources}, {"plans": PLANS})}


def rng(first: int, last: int, name: str = "sp-centro") -> list[Resource]:
    return [number(str(n), range=name) for n in range(first, last + 1)]


def actions(p: Any) -> list[tuple[str, str]]:
    return [(c.action.value, c.address) for c in p.changes]


def test_missing_numbers_are_registered_in_consecutive_blocks() -> None:
    want = rng(1130001000, 1130001004)
    have = [on_platform("1130001002")]
    p = plan(desired(*want), known(), actual(*have))
    assert actions(p) == [
        ("create", "stfc-sp.number[1130001000..1130001001]"),
        ("create", "stfc-sp.number[1130001003..1130001004]"),
    ]
    assert p.counts() == {"create": 4}
    assert [r.address for r in p.adopt] == ['stfc-sp.number["1130001002"]']
    assert p.fingerprint.serial == 3 and p.fingerprint.specs_digest == "digest"


def test_blocks_break_between_ranges() -> None:
    want = rng(1130001000, 1130001001, "a") + rng(1130001002, 1130001003, "b")
    p = plan(desired(*want), known(), actual())
    assert [c.keys for c in p.changes] == [("1130001000", "1130001001"), ("1130001002", "1130001003")]
    assert "range a" in p.changes[0].reason and "range b" in p.changes[1].reason


def test_link_of_a_new_number_depends_on_its_register_block() -> None:
    p = plan(desired(*rng(1130001000, 1130001001), link("1130001001")), known(), actual())
    create, do_link = p.changes
    assert do_link.action is Action.LINK and do_link.depends_on == (create.id,)
    assert do_link.source == SRC
    assert "service 1001" in do_link.reason


def test_converged_estate_plans_nothing() -> None:
    want = [number("1130001000"), link("1130001000")]
    have = [on_platform("1130001000", "linked"), link("1130001000")]
    p = plan(desired(*want), known(*want), actual(*have))
    assert p.empty and p.changes == () and p.adopt == ()


def test_matching_link_unknown_to_state_is_adopted_not_changed() -> None:
    want = [number("1130001000"), link("1130001000")]
    have = [on_platform("1130001000", "linked"), link("1130001000")]
    p = plan(desired(*want), known(), actual(*have))
    assert p.changes == ()
    assert sorted(r.kind for r in p.adopt) == ["link", "number"]


@pytest.mark.parametrize(
    ("want_blocked", "have_blocked", "status", "expected"),
    [(True, False, "suspended", Action.SUSPEND), (False, True, "active", Action.RESUME)],
)
def test_block_follows_service_status(want_blocked: bool, have_blocked: bool, status: str,
                                      expected: Action) -> None:
    want = [number("1130001000"), link("1130001000", blocked=want_blocked)]
    have = [on_platform("1130001000", "linked"), link("1130001000", blocked=have_blocked)]
    p = plan(desired(*want, services={1001: status}), known(*want), actual(*have))
    (change,) = p.changes
    assert change.action is expected
    assert change.after is not None and change.after["blocked"] is want_blocked
    assert f"service 1001 is {status}" in change.reason


def test_plan_and_params_change_is_an_update_then_suspend_depends_on_it() -> None:
    want = [number("1130001000"),
            link("1130001000", plan="STFC Básico 100", params={"numero_telefone_nf": "1"},
                 blocked=True)]
    have = [on_platform("1130001000", "linked"), link("1130001000")]
    p = plan(desired(*want, services={1001: "suspended"}), known(*have), actual(*have))
    update, suspend = p.changes
    assert (update.action, suspend.action) == (Action.UPDATE, Action.SUSPEND)
    assert update.before["plan"] == "STFC Ilimitado" and update.after["plan"] == "STFC Básico 100"
    assert "plan" in update.reason and "params" in update.reason
    assert suspend.depends_on == (update.id,)
    assert suspend.after["plan"] == "STFC Básico 100"  # cumulative: what the state will hold


def test_cancelled_service_unlinks_managed_link() -> None:
    have = [on_platform("1130001000", "linked"), link("1130001000")]
    p = plan(desired(number("1130001000"), services={1001: "cancelled"}), known(*have),
             actual(*have))
    (change,) = p.changes
    assert change.action is Action.UNLINK and change.reason == "service 1001 is cancelled"
    assert change.before["service"] == 1001 and change.after is None


def test_unmanaged_link_is_left_alone() -> None:
    have = [on_platform("1130001000", "linked"), link("1130001000", service=777)]
    p = plan(desired(number("1130001000")), known(number("1130001000")), actual(*have))
    assert p.changes == ()


def test_number_in_removal_queue_is_converging_not_planned() -> None:
    want = [number("1130001000"), link("1130001000", service=1002)]
    have = [on_platform("1130001000", "removing")]
    p = plan(desired(*want), known(number("1130001000")), actual(*have))
    assert p.changes == ()
    assert [n.address for n in p.converging] == ['stfc-sp.link["1130001000"]']


def test_number_moving_between_services_unlinks_first_when_managed() -> None:
    want = [number("1130001000"), link("1130001000", service=1002)]
    have = [on_platform("1130001000", "linked"), link("1130001000", service=1001)]
    p = plan(desired(*want), known(*have), actual(*have))
    assert actions(p) == [("unlink", 'stfc-sp.link["1130001000"]')]
    assert "moves from service 1001 to service 1002" in p.changes[0].reason
    assert p.converging and "once the removal queue frees it" in p.converging[0].message


def test_number_held_by_someone_else_is_a_warning() -> None:
    want = [number("1130001000"), link("1130001000", service=1002)]
    have = [on_platform("1130001000", "linked"), link("1130001000", service=999)]
    p = plan(desired(*want), known(number("1130001000")), actual(*have))
    assert p.changes == ()
    assert "service 999" in p.warnings[0].message


def test_shrunk_range_deletes_free_blocks_once_the_queue_frees_their_linked_numbers() -> None:
    managed = rng(1130001000, 1130001005)
    have = [on_platform("1130001000"), on_platform("1130001001"),
            on_platform("1130001002", "linked"), on_platform("1130001003"),
            on_platform("1130001004", "removing"), on_platform("1130001009")]
    p = plan(desired(number("1130001000"), ranges={"sp-centro": "refuse"}),
             known(*managed, link("1130001002", 1)), actual(*have, link("1130001002", 1)))
    assert 'stfc-sp.number["1130001005"]' in p.forget  # managed but gone from the platform
    # the linked one is unlinked first; its block (1001..1004) waits for the queue, whole
    assert actions(p) == [("unlink", 'stfc-sp.link["1130001002"]')]
    assert p.changes[0].reason == ("service 1 is no longer declared; range sp-centro no "
                                   "longer holds the number")
    notes = {n.address: n.message for n in p.converging}
    assert notes == {
        'stfc-sp.number["1130001002"]': "unlinked first; deleted once the queue frees it, with "
                                        "the 3 other numbers of stfc-sp.number[1130001001.."
                                        "1130001004] in one bulk call",
        'stfc-sp.number["1130001004"]': "in the removal queue; deleted once the queue frees it, "
                                        "with the 3 other numbers of stfc-sp.number[1130001001.."
                                        "1130001004] in one bulk call",
    }
    assert all("1130001009" not in c.keys for c in p.changes)  # never ours: left alone

    freed = [on_platform(k) for k in ("1130001000", "1130001001", "1130001002", "1130001003",
                                       "1130001004")]
    later = plan(desired(number("1130001000"), ranges={"sp-centro": "refuse"}),
                 known(*managed[:5]), actual(*freed))
    assert actions(later) == [("delete", "stfc-sp.number[1130001001..1130001004]")]
    assert later.converging == ()


def test_leaving_numbers_go_in_blocks_of_the_batch_size_and_only_held_blocks_wait() -> None:
    managed = rng(1130001000, 1130001009)
    have = [on_platform(r.key) for r in managed if r.key != "1130001005"]
    outsider = link("1130001005", service=555, name="Zé Ninguém")
    p = plan(desired(ranges={}, batch_size=4), known(*managed),
             actual(*have, on_platform("1130001005", "linked"), outsider))
    assert actions(p) == [  # unlinks come before deletes; the block 1004..1007 waits
        ("unlink", 'stfc-sp.link["1130001005"]'),
        ("delete", "stfc-sp.number[1130001000..1130001003]"),
        ("delete", "stfc-sp.number[1130001008..1130001009]"),
    ]
    unlink = next(c for c in p.changes if c.action is Action.UNLINK)
    assert unlink.reason == "range sp-centro was removed (linked outside this tool)"
    assert unlink.before is not None and unlink.before["service"] == 555
    assert [n.address for n in p.converging] == ['stfc-sp.number["1130001005"]']
    assert "stfc-sp.number[1130001004..1130001007]" in p.converging[0].message


def test_registration_blocks_follow_the_batch_size() -> None:
    p = plan(desired(*rng(1130001000, 1130001009), batch_size=4), known(), actual())
    assert [len(c.keys) for c in p.changes] == [4, 4, 2]


def test_a_number_still_assigned_to_a_service_but_in_no_range_is_an_error() -> None:
    have = [on_platform("1130001002", "linked"), link("1130001002", 1)]
    with pytest.raises(PlanError) as info:
        plan(desired(link("1130001002", 1), ranges={"sp-centro": "refuse"}),
             known(number("1130001002", range="sp-centro"), link("1130001002", 1)), actual(*have))
    assert ("number 1130001002 is assigned to service 1, but range sp-centro no longer holds "
            "the number: keep it in a range, or remove it from the service") in str(info.value)


# -- removing or shrinking a range that holds linked numbers (safety) -----------------------


def shrunk_range_plan(how: str | None, **kw: Any) -> tuple[Any, Desired, Known, dict[str, Observed]]:
    """sp-centro 1130001000..1130001009 cut to its first number (``how``: its on_remove; None:
    the range removed altogether); 1130001003 held by a managed service, 1130001007 by a
    service linked on the platform outside the tool."""
    ranges = {"sp-centro": how} if how is not None else {}
    keep = [number("1130001000", range="sp-centro")] if how is not None else []
    want = desired(*keep, ranges=ranges, **kw)
    managed = known(*rng(1130001000, 1130001009), link("1130001003", 1003, name="Ana Costa"))
    have = actual(*[on_platform(r.key) for r in rng(1130001000, 1130001009)
                    if r.key not in ("1130001003", "1130001007")],
                  on_platform("1130001003", "linked"), link("1130001003", 1003, name="Ana Costa"),
                  on_platform("1130001007", "linked"), link("1130001007", 555, name="Zé"))
    return plan(want, managed, have), want, managed, have


def test_shrinking_a_range_with_linked_numbers_is_refused_naming_them_and_their_services() -> None:
    p, want, managed, have = shrunk_range_plan("refuse")
    assert sorted(a for a in actions(p) if a[0] == "unlink") == [
        ("unlink", 'stfc-sp.link["1130001003"]'), ("unlink", 'stfc-sp.link["1130001007"]')]
    assert not [c for c in p.changes if c.action is Action.DELETE]  # both blocks wait
    [v] = safety.check(p, managed, have, want, {})
    assert (v.limit, v.count, v.passable) == ("stfc-sp.range-unlink", 2, True)
    assert v.message == (
        "this plan unlinks 2 numbers from their client services on integration stfc-sp because "
        "no declared range holds them any more: range sp-centro (shrunk): 1130001003 (service "
        "1003, Ana Costa), 1130001007 (service 555, Zé): set `on_remove: unlink` on range "
        "sp-centro, or pass --allow stfc-sp.range-unlink=2 to unlink them in this run, if this "
        "is intended")
    [wrong] = safety.check(p, managed, have, want, {"stfc-sp.range-unlink": 1})
    assert wrong.message.endswith("(--allow stfc-sp.range-unlink=1 was given, but the count is 2)")
    assert safety.check(p, managed, have, want, {"stfc-sp.range-unlink": 2}) == []


def test_on_remove_unlink_lets_the_plan_through_still_under_the_unlink_limit() -> None:
    p, want, managed, have = shrunk_range_plan("unlink")
    assert safety.check(p, managed, have, want, {}) == []
    tight = {"unlink": {"max_percent": 100, "max_count": 1},
             "delete": {"max_percent": 100, "max_count": 200}}
    p, want, managed, have = shrunk_range_plan("unlink", safety=tight)
    [v] = safety.check(p, managed, have, want, {})
    assert v.limit == "stfc-sp.unlink" and v.count == 2


def test_a_removed_range_can_only_be_confirmed_for_one_run() -> None:
    p, want, managed, have = shrunk_range_plan(None)
    violations = safety.check(p, managed, have, want, {})
    [v] = [v for v in violations if v.limit == "stfc-sp.range-unlink"]
    assert "range sp-centro (removed from the specs): 1130001003 (service 1003" in v.message
    assert "on_remove" not in v.message  # nowhere to write it: the range is gone
    assert "pass --allow stfc-sp.range-unlink=2 to unlink them in this run" in v.message


def test_deleting_the_freed_numbers_counts_against_the_delete_limit() -> None:
    want = desired(number("1130001000", range="sp-centro"), ranges={"sp-centro": "unlink"},
                   batch_size=4)
    managed = known(*rng(1130001000, 1130001009))
    have = actual(*[on_platform(r.key) for r in rng(1130001000, 1130001009)])
    p = plan(want, managed, have)
    assert [len(c.keys) for c in p.changes] == [4, 4, 1]  # ceil(9 / 4) bulk calls
    [v] = safety.check(p, managed, have, want, {})
    assert (v.limit, v.count) == ("stfc-sp.delete", 9)
    assert safety.check(p, managed, have, want, {"stfc-sp.delete": 9}) == []


def test_transmission_error_is_retransmitted() -> None:
    want = [number("1130001000")]
    p = plan(desired(*want), known(*want), actual(on_platform("1130001000", "free", "error")))
    (change,) = p.changes
    assert change.action is Action.UPDATE and "retransmit" in change.reason


def test_unknown_plan_name_is_an_error_with_location_and_valid_names() -> None:
    want = [number("1130001000"), link("1130001000", plan="STFC Nada")]
    with pytest.raises(PlanError) as info:
        plan(desired(*want), known(), actual(on_platform("1130001000")))
    message = str(info.value)
    assert "specs/clients.yaml:7" in message and "STFC Nada" in message
    assert "STFC Básico 100, STFC Ilimitado" in message


def test_order_is_deterministic_and_phased() -> None:
    want = rng(1130001000, 1130001002) + [link("1130001000"), link("1130001001", 1002)]
    have = [on_platform("1130001001", "linked"), link("1130001001", 1002, blocked=True),
            on_platform("1130001005"), ]
    k = known(number("1130001005"), link("1130001001", 1002, blocked=True))
    first = plan(desired(*want), k, actual(*have))
    second = plan(desired(*reversed(want)), k, actual(*reversed(have)))
    assert actions(first) == actions(second)
    assert [c.action.value for c in first.changes] == ["create", "create", "link", "resume",
                                                       "delete"]


def test_integration_dropped_from_specs_is_warned_not_deleted() -> None:
    orphan = Resource("old", "number", "1130001000", {})
    p = plan(desired(), known(orphan), actual())
    assert p.changes == () and "old" in p.warnings[0].message


def test_drift_reports_changed_and_missing() -> None:
    was = [number("1130001000"), link("1130001000"), link("1130001001")]
    now = [on_platform("1130001000", "linked"), link("1130001000", blocked=True)]
    items = drift(known(*was), actual(*now), {SP: "saperx-stfc"})
    assert [(d.kind, d.address) for d in items] == [
        ("changed", 'stfc-sp.link["1130001000"]'),
        ("missing", 'stfc-sp.link["1130001001"]'),
    ]
    assert items[0].fields == ("blocked",) and items[0].after == {"blocked": True}


def test_estimate_counts_reads_writes_and_time_at_the_rate_budget() -> None:
    want = rng(1130001000, 1130001004) + [link("1130001000"), link("1130001001"), link("1130001003")]
    spec = desired(*want)
    limited = Integration(SP, "saperx-stfc", "https://10.0.0.5:8443", {},
                          {"rate_limit": {"per_second": 0.5, "burst": 1}})
    spec = Desired({SP: limited}, spec.resources, spec.digest, spec.settings)
    observed = {SP: Observed(SP, {}, {"plans": PLANS}, reads=3)}
    (estimate,) = plan(spec, known(), observed).estimates
    assert (estimate.reads, estimate.writes, estimate.per_second) == (3, 4, 0.5)
    assert estimate.seconds == 6.0  # 4 calls, 1 in the burst, 3 more at 0.5/s
    (free,) = plan(desired(*want), known(), actual()).estimates
    assert free.per_second is None and free.seconds == 0.0
