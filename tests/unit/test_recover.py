"""Resolving journal entries an interrupted apply left pending, against a fresh observation."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import Action, Change, Observed, Resource, index
from reconciler.runtime import recover
from reconciler.state import StateStore

KEY = "1001/livros-1001"


def sub(status: str) -> Resource:
    return Resource("campsoft", "subscription", KEY, {"status": status}, remote_id="sub-1")


@pytest.mark.parametrize(
    ("action", "platform", "verdict"),
    [(Action.CREATE, None, "not done"),
     (Action.CREATE, "cancelled", "not done"),   # the old record, not what was being created
     (Action.CREATE, "active", "found done"),
     (Action.DELETE, "active", "not done"),
     (Action.DELETE, "cancelled", "found done"),  # cancelled records stay listed
     (Action.DELETE, None, "found done")],
)
def test_a_pending_content_change_is_judged_by_whether_the_subscription_is_live(
    tmp_path: Path, action: Action, platform: str | None, verdict: str
) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    change = Change("campsoft", "subscription", action, (KEY,), None,
                    {"status": "active"} if action is Action.CREATE else None, "test")
    store.journal_intent(None, change)
    seen = [sub(platform)] if platform else []
    lines = recover(store, {"campsoft": Observed("campsoft", index(seen))})
    assert len(lines) == 1 and f": {verdict} on the platform" in lines[0]
    assert store.journal_pending() == []


def test_an_entry_of_an_integration_not_observed_stays_pending(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    store.journal_intent(None, Change("campsoft", "subscription", Action.DELETE, (KEY,), None,
                                      None, "test"))
    assert recover(store, {}) == []
    assert len(store.journal_pending()) == 1


# -- SaperX v2: lines (extensions) and number ranges ------------------------------------------

V2 = "voip"


def extension(code: str, *, active: bool = True) -> Resource:
    """A SIP line as the provider observes it: keyed by its account code."""
    return Resource(V2, "extension", code, {"service": 7001, "active": active,
                                            "dids": [{"number": "4830001000"}]}, remote_id=code)


def voip_range(name: str) -> Resource:
    return Resource(V2, "voip_range", name, {"area_code": 48, "first": "30001000",
                                             "last": "30001099"}, remote_id="1")


def judged(tmp_path: Path, change: Change, seen: list[Resource]) -> str:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    store.journal_intent(None, change)
    (line,) = recover(store, {V2: Observed(V2, index(seen))})
    assert store.journal_pending() == []
    return line.rsplit(": ", 1)[1]


@pytest.mark.parametrize(
    ("kind", "action", "key", "seen", "verdict"),
    [("extension", Action.CREATE, "710000", [], "not done on the platform"),
     ("extension", Action.CREATE, "710000", [extension("710000")], "found done on the platform"),
     ("extension", Action.DELETE, "710000", [extension("710000")], "not done on the platform"),
     ("voip_range", Action.CREATE, "floripa", [], "not done on the platform"),
     ("voip_range", Action.CREATE, "floripa", [voip_range("floripa")],
      "found done on the platform"),
     ("voip_range", Action.DELETE, "floripa", [voip_range("floripa")], "not done on the platform"),
     ("voip_range", Action.DELETE, "floripa", [], "found done on the platform")],
)
def test_a_pending_saperx_v2_change_keyed_by_account_code_or_range_name_is_judged_by_its_key(
    tmp_path: Path, kind: str, action: Action, key: str, seen: list[Resource], verdict: str
) -> None:
    after = None if action is Action.DELETE else {"service": 7001}
    change = Change(V2, kind, action, (key,), None, after, "test")
    assert judged(tmp_path, change, seen) == verdict


@pytest.mark.parametrize(
    ("key", "action", "seen"),
    [("7001/4830001000", Action.CREATE, [extension("100000")]),  # created, under its new code
     ("710000", Action.DELETE, [extension("710000", active=False)])],  # inactivated
)
def test_a_landed_saperx_v2_change_the_key_does_not_find_is_judged_done(
    tmp_path: Path, key: str, action: Action, seen: list[Resource]
) -> None:
    after = None if action is Action.DELETE else {"service": 7001}
    change = Change(V2, "extension", action, (key,), None, after, "test")
    assert judged(tmp_path, change, seen) == "found done on the platform"
