"""Planner tables for SaperX STFC: desired x known x actual -> changes (pure, no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

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


def desired(*resources: Resource, services: dict[int, str] | None = None) -> Desired:
    integration = Integration(SP, "saperx-stfc", "embedded", {})
    svc = {sid: {"status": st, "client": "x", "source": SRC} for sid, st in (services or {}).items()}
    return Desired({SP: integration}, {r.address: r for r in resources}, "digest",
                   {"services": svc, "ranges": {}})


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


def test_shrunk_range_deletes_only_free_managed_numbers() -> None:
    managed = rng(1130001000, 1130001005)
    have = [on_platform("1130001000"), on_platform("1130001001"),
            on_platform("1130001002", "linked"), on_platform("1130001003"),
            on_platform("1130001004", "removing"), on_platform("1130001009")]
    p = plan(desired(number("1130001000")), known(*managed, link("1130001002", 1)),
             actual(*have, link("1130001002", 1)))
    deletes = [c for c in p.changes if c.action is Action.DELETE]
    assert [c.keys for c in deletes] == [("1130001001",), ("1130001003",)]
    assert 'stfc-sp.number["1130001005"]' in p.forget  # managed but gone from the platform
    assert any(n.address == 'stfc-sp.number["1130001004"]' for n in p.converging)
    # the linked one is unlinked first; it is deleted on a later run once free
    assert ("unlink", 'stfc-sp.link["1130001002"]') in actions(p)
    assert all("1130001009" not in c.keys for c in p.changes)  # never ours: left alone


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
