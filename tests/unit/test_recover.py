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
