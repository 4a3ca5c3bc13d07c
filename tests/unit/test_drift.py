"""Drift: the pure classification (changed, missing, unmanaged near managed neighbours,
converging), first seen kept in a real SQLite state, and how reports say it."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from reconciler.applier import DONE, FAILED, PARTIAL, ApplyResult, Outcome
from reconciler.cli.drift import Fix, Report, _put_back, stamp
from reconciler.model import (
    Action,
    Change,
    Desired,
    Drift,
    Fingerprint,
    Integration,
    Known,
    Observed,
    Plan,
    Resource,
)
from reconciler.planner import drift
from reconciler.render import jsonplan, text
from reconciler.state import StateStore

S, Q, C = "stfc-sp", "qualifica", "campsoft"
PLATFORMS = {S: "saperx-stfc", Q: "qualifica", C: "campsoft"}
RANGE = {"name": "sp-centro", "first": "1130001000", "last": "1130001009", "country_code": 55}


# --- builders -------------------------------------------------------------------------------


def number(key: str, status: str | None = None) -> Resource:
    attrs: dict[str, Any] = {"country_code": 55, "range": "sp-centro"}
    if status is not None:  # as the provider reads it
        attrs = {"country_code": 55, "status": status, "transmission": "sent"}
    return Resource(S, "number", key, attrs)


def link(key: str, service: int = 1001, **attrs: Any) -> Resource:
    base = {"service": service, "plan": "STFC Ilimitado", "params": {}, "blocked": False,
            "document": "52998224725", "name": "Maria Silva"}
    return Resource(S, "link", key, {**base, **attrs})


def q_user(user: str = "maria") -> Resource:
    return Resource(Q, "user", user, {"name": "Maria", "email": "m@example.com.br",
                                      "document": "52998224725"})


def q_sub(user: str = "maria", product: str = "premium", service: int = 1001,
          **attrs: Any) -> Resource:
    base = {"user": user, "product": product, "service": service, "status": "active",
            "expires": None}
    return Resource(Q, "subscription", f"{user}/{product}", {**base, **attrs})


def c_sub(contract: str = "1001", label: str = "livros-1001", **attrs: Any) -> Resource:
    base = {"contract": contract, "label": label, "product": "1234567", "status": "active",
            "name": "Maria Silva", "phone": "11987654321"}
    return Resource(C, "subscription", f"{contract}/{label}", {**base, **attrs})


def desired(*resources: Resource, services: tuple[int, ...] = (1001,)) -> Desired:
    integrations = {name: Integration(name, platform, "embedded", {})
                    for name, platform in PLATFORMS.items()}
    svc = {sid: {"status": "active", "client": "x", "source": None, "plan": None}
           for sid in services}
    return Desired(integrations, {r.address: r for r in resources}, "digest",
                   {"services": svc, "ranges": {S: [RANGE]}})


def known(*resources: Resource) -> Known:
    return Known("lineage", 1, {r.address: r for r in resources})


def seen(*resources: Resource) -> dict[str, Observed]:
    return {name: Observed(name, {r.address: r for r in resources if r.integration == name})
            for name in PLATFORMS}


def kinds(items: list[Drift]) -> list[tuple[str, str]]:
    return [(d.kind, d.address) for d in items]


# --- classification -------------------------------------------------------------------------


def test_a_managed_field_moved_on_the_platform_is_changed_with_before_and_after() -> None:
    items = drift(known(link("1130001001")), seen(link("1130001001", blocked=True)), PLATFORMS,
                  desired(link("1130001001")))
    assert kinds(items) == [("changed", 'stfc-sp.link["1130001001"]')]
    assert items[0].fields == ("blocked",)
    assert (items[0].before, items[0].after) == ({"blocked": False}, {"blocked": True})
    assert items[0].real


def test_gone_from_the_platform_is_missing_and_a_cancelled_subscription_counts_as_gone() -> None:
    was = [link("1130001002"), q_sub(), c_sub()]
    now = [number("1130001002", "free"), q_sub(status="cancelled")]
    items = drift(known(*was), seen(*now), PLATFORMS, desired(*was))
    assert kinds(items) == [("missing", 'campsoft.subscription["1001/livros-1001"]'),
                            ("missing", 'qualifica.subscription["maria/premium"]'),
                            ("missing", 'stfc-sp.link["1130001002"]')]
    cancelled = items[1]
    assert cancelled.after == {"status": "cancelled"} and cancelled.fields == ("status",)
    assert "cancelled on the platform" in cancelled.detail
    assert items[2].detail == "unlinked on the platform outside the tool"


def test_a_link_in_a_declared_range_that_nobody_declared_is_unmanaged() -> None:
    strangers = [link("1130001005", 9001), link("1130009999", 9002)]  # in, and out of, the range
    items = drift(known(number("1130001001")), seen(number("1130001001", "free"), *strangers),
                  PLATFORMS, desired(number("1130001001")))
    assert kinds(items) == [("unmanaged", 'stfc-sp.link["1130001005"]')]
    assert items[0].before is None and items[0].after is not None
    assert items[0].after["service"] == 9001
    assert "in declared range sp-centro" in items[0].detail


def test_a_link_held_by_another_service_than_declared_is_unmanaged_and_says_so() -> None:
    items = drift(known(), seen(link("1130001003", 9001)), PLATFORMS,
                  desired(link("1130001003", 1001)))
    assert kinds(items) == [("unmanaged", 'stfc-sp.link["1130001003"]')]
    assert "declare it for service 1001" in items[0].detail


def test_what_the_specs_declare_exactly_is_not_unmanaged_the_next_apply_adopts_it() -> None:
    assert drift(known(), seen(link("1130001003")), PLATFORMS, desired(link("1130001003"))) == []


def test_a_link_on_a_managed_number_outside_the_ranges_is_unmanaged() -> None:
    items = drift(known(number("1130009000")),
                  seen(number("1130009000", "linked"), link("1130009000", 9001)),
                  PLATFORMS, desired())
    assert kinds(items) == [("unmanaged", 'stfc-sp.link["1130009000"]')]
    assert "on a number this tool manages" in items[0].detail


def test_content_objects_are_unmanaged_only_near_a_managed_service_user_or_contract() -> None:
    mine = [q_user(), q_sub(), c_sub()]
    platform = [
        *mine,
        q_sub(product="pro"),  # declared service 1001, product not declared: unmanaged
        q_sub(user="maria", product="kids", service=7777),  # managed user: unmanaged
        q_sub(user="joao", product="pro", service=1001), q_user("joao"),  # user of service 1001
        q_sub(user="zeca", product="pro", service=7777), q_user("zeca"),  # nobody we know
        q_sub(user="rita", product="pro", service=1001, status="cancelled"),  # gone: not shown
        c_sub(label="kids-1001", product="2468013"),  # contract 1001: unmanaged
        c_sub(contract="5555", label="livros-5555"),  # another ISP's client: not shown
    ]
    items = drift(known(*mine), seen(*platform), PLATFORMS, desired(*mine))
    assert kinds(items) == [
        ("unmanaged", 'campsoft.subscription["1001/kids-1001"]'),
        ("unmanaged", 'qualifica.subscription["joao/pro"]'),
        ("unmanaged", 'qualifica.subscription["maria/kids"]'),
        ("unmanaged", 'qualifica.subscription["maria/pro"]'),
        ("unmanaged", 'qualifica.user["joao"]'),
    ]
    assert "client service 1001" in items[4].detail
    assert "user maria, whom this tool manages" in items[2].detail


def test_a_declared_service_with_no_managed_subscription_yet_is_a_neighbour_too() -> None:
    items = drift(known(), seen(c_sub(contract="1002", label="x")), PLATFORMS,
                  desired(services=(1002,)))
    assert kinds(items) == [("unmanaged", 'campsoft.subscription["1002/x"]')]
    assert drift(known(), seen(c_sub(contract="1002", label="x")), PLATFORMS,
                 desired(services=(1003,))) == []


def test_a_managed_number_in_the_removal_queue_is_converging_not_drift() -> None:
    items = drift(known(number("1130001004")), seen(number("1130001004", "removing")),
                  PLATFORMS, desired(number("1130001004")))
    assert kinds(items) == [("converging", 'stfc-sp.number["1130001004"]')]
    assert not items[0].real and "removal queue" in items[0].detail
    report = Report(items, [S], "2026-11-26T00:00:00+00:00")
    assert report.exit_code == 0 and report.counts["drifted"] == 0


def test_a_link_unlinked_behind_the_tools_back_is_missing_once_not_also_converging() -> None:
    was = [number("1130001002"), link("1130001002")]
    items = drift(known(*was), seen(number("1130001002", "removing")), PLATFORMS, desired(*was))
    assert kinds(items) == [("missing", 'stfc-sp.link["1130001002"]')]
    assert "removal queue" in items[0].detail
    assert Report(items, [S], "2026-11-26T00:00:00+00:00").exit_code == 2


def test_without_the_specs_nothing_is_called_unmanaged() -> None:
    assert drift(known(), seen(link("1130001005", 9001)), PLATFORMS) == []


def test_integrations_not_observed_are_not_reported() -> None:
    only_stfc = {S: seen()[S]}
    assert drift(known(q_sub()), only_stfc, PLATFORMS, desired(q_sub())) == []


# --- first seen, in a real SQLite state ------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    s = StateStore(f"sqlite:///{tmp_path / 'state' / 'reconciler.db'}")
    yield s
    s.close()


T0 = datetime(2026, 11, 20, 8, 0, 0)


def test_first_seen_is_kept_while_the_drift_persists_and_cleared_when_it_is_gone(
        store: StateStore) -> None:
    a = ('stfc-sp.link["1130001001"]', "changed", S)
    b = ('qualifica.subscription["maria/pro"]', "unmanaged", Q)
    assert store.drift_seen([a, b], [S, Q], now=T0) == {a[:2]: T0, b[:2]: T0}
    later = T0 + timedelta(days=2)
    assert store.drift_seen([a, b], [S, Q], now=later) == {a[:2]: T0, b[:2]: T0}
    assert store.drift_seen([b], [S, Q], now=later) == {b[:2]: T0}  # a was fixed
    again = later + timedelta(hours=1)
    assert store.drift_seen([a, b], [S, Q], now=again)[a[:2]] == again  # a new episode


def test_an_integration_not_checked_keeps_its_first_seen(store: StateStore) -> None:
    a = ('stfc-sp.link["1130001001"]', "missing", S)
    store.drift_seen([a], [S], now=T0)
    store.drift_seen([], [Q], now=T0 + timedelta(days=1))  # only qualifica was read
    assert store.drift_seen([a], [S], now=T0 + timedelta(days=3)) == {a[:2]: T0}


def test_the_same_address_drifting_another_way_is_a_new_drift(store: StateStore) -> None:
    addr = 'stfc-sp.link["1130001001"]'
    store.drift_seen([(addr, "changed", S)], [S], now=T0)
    later = T0 + timedelta(minutes=5)
    assert store.drift_seen([(addr, "missing", S)], [S], now=later) == {(addr, "missing"): later}


def test_the_table_is_created_on_a_state_made_before_it_existed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = StateStore(url)
    with first.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE drift_seen")  # and the version table: a 0.1 state
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    first.close()
    reopened = StateStore(url)
    try:
        found = reopened.drift_seen([("x.link[\"1\"]", "missing", "x")], ["x"], now=T0)
        assert found == {("x.link[\"1\"]", "missing"): T0}
    finally:
        reopened.close()


def test_stamp_fills_first_seen_and_reports_say_how_old_it_is(store: StateStore) -> None:
    items = [Drift('stfc-sp.link["1130001001"]', S, "changed", {"blocked": False},
                   {"blocked": True}, ("blocked",), detail="changed outside the tool: blocked"),
             Drift('stfc-sp.number["1130001004"]', S, "converging", None, {"status": "removing"},
                   detail="in the platform's removal queue")]
    first = stamp(store, items, [S], "2026-11-24T09:30:00+00:00")
    assert [d.first_seen for d in first] == ["2026-11-24T09:30:00+00:00"] * 2
    now = "2026-11-26T10:00:00+00:00"
    kept = stamp(store, items, [S], now)
    assert kept[0].first_seen == "2026-11-24T09:30:00+00:00"
    assert kept[0].age_seconds(now) == 2 * 86_400 + 1800

    buffer = io.StringIO()
    text.render_drift(kept, [S], Console(file=buffer, width=100, no_color=True, soft_wrap=True), now=now)
    report = buffer.getvalue()
    assert 'changed    stfc-sp.link["1130001001"]  changed outside the tool: blocked  ' \
           '(first seen 2 days ago)' in report
    assert "blocked: False (applied) -> True (on the platform)" in report
    assert "Drift: 1 on stfc-sp (1 changed), the oldest first seen 2 days ago." in report
    assert "1 converging (a platform queue still working; not drift)" in report

    data = json.loads(json.dumps(jsonplan.drift_to_json(kept, checked=[S], created_at=now)))
    assert data["summary"] == {"drifted": 1, "changed": 1, "converging": 1}
    assert [d["age_seconds"] for d in data["drift"]] == [2 * 86_400 + 1800] * 2
    assert data["drift"][0]["first_seen"] == "2026-11-24T09:30:00+00:00"
    assert data["fix"] is None


@pytest.mark.parametrize(("seconds", "said"), [
    (0, "first seen now"), (59, "first seen now"), (60, "first seen 1 minute ago"),
    (7200, "first seen 2 hours ago"), (86_399, "first seen 23 hours ago"),
    (86_400, "first seen 1 day ago"), (9 * 86_400 + 5, "first seen 9 days ago")])
def test_ages_read_at_a_glance(seconds: int, said: str) -> None:
    assert text.seen_ago(seconds) == said


# --- what --fix put back ---------------------------------------------------------------------


def test_fixed_means_touched_by_a_change_that_landed_adopted_or_forgotten() -> None:
    block = Change(S, "number", Action.CREATE, ("1130001001", "1130001002"), None, {}, "r")
    relink = Change(S, "link", Action.LINK, ("1130001001",), None, {}, "r")
    resume = Change(Q, "subscription", Action.RESUME, ("maria/pro",), {}, {}, "r")
    plan = Plan((block, relink, resume), Fingerprint("l", 1, "d"),
                forget=('campsoft.subscription["9/x"]',))
    result = ApplyResult([Outcome(block, PARTIAL, failed_keys=frozenset({"1130001002"})),
                          Outcome(relink, DONE), Outcome(resume, FAILED, "HTTP 500")])
    targets = ['campsoft.subscription["9/x"]', 'qualifica.subscription["maria/pro"]',
               'stfc-sp.link["1130001001"]', 'stfc-sp.number["1130001001"]',
               'stfc-sp.number["1130001002"]']
    fixed = _put_back(plan, result, targets)
    assert fixed == ['campsoft.subscription["9/x"]', 'stfc-sp.link["1130001001"]',
                     'stfc-sp.number["1130001001"]']
    items = [Drift(t, t.split(".")[0], "missing", {}, None) for t in targets]
    report = Report(items, [S, Q, C], "2026-11-26T00:00:00+00:00", Fix(plan, result, fixed))
    assert report.exit_code == 1 and report.outcome == "failed"  # a change failed
    assert [d.address for d in report.left] == [targets[1], targets[4]]


def test_the_summary_reads_as_sentences_whatever_kinds_it_holds() -> None:
    stray = Drift('stfc-sp.link["1130001009"]', "stfc-sp", "unmanaged", None, {"service": 9})
    gone = Drift('stfc-sp.link["1130001001"]', "stfc-sp", "missing", {"service": 1}, None)
    only_stray = text.drift_summary([stray], ["stfc-sp"])
    assert only_stray.endswith("(1 unmanaged). Unmanaged objects are only reported.")
    both = text.drift_summary([gone, stray], ["stfc-sp"])
    assert "drift --fix" in both and both.endswith("; unmanaged objects are only reported.")
    assert ".;" not in only_stray + both
