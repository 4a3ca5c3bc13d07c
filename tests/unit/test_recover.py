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
    backend_url: str, action: Action, platform: str | None, verdict: str
) -> None:
    store = StateStore(backend_url)
    change = Change("campsoft", "subscription", action, (KEY,), None,
                    {"status": "active"} if action is Action.CREATE else None, "test")
    store.journal_intent(None, change)
    seen = [sub(platform)] if platform else []
    lines = recover(store, {"campsoft": Observed("campsoft", index(seen))})
    assert len(lines) == 1 and f": {verdict} on the platform" in lines[0]
    assert store.journal_pending() == []


def test_an_entry_of_an_integration_not_observed_stays_pending(backend_url: str) -> None:
    store = StateStore(backend_url)
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


# -- mapping platforms (OZmap, Geosite): client services on customer ports -----------------------

MAP = "map"


def on_port(code: str, port: int | None = 3, box: str | None = "CTO-1") -> Resource:
    """A client on a port as a mapping provider observes it (keyed by its code, the service id);
    ``port`` None: on no port, as OZmap answers for a client its listing cannot show."""
    return Resource(MAP, "port_link", code, {"service": int(code) if code.isdigit() else None,
                                             "box": box if port else None, "splitter": None,
                                             "port": port, "document": "52998224725",
                                             "name": "Maria"}, remote_id="client-" + code)


def judged_on_map(tmp_path: Path, action: Action, key: str, seen: list[Resource]) -> str:
    store = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    after = None if action is Action.UNLINK else {"service": 7001, "box": "CTO-2", "port": 1}
    store.journal_intent(None, Change(MAP, "port_link", action, (key,), None, after, "test"))
    (line,) = recover(store, {MAP: Observed(MAP, index(seen))})
    assert store.journal_pending() == []
    return line.rsplit(": ", 1)[1]


@pytest.mark.parametrize(
    ("action", "key", "seen", "verdict"),
    [(Action.LINK, "7001", [], "not done on the platform"),
     (Action.LINK, "7001", [on_port("7002")], "not done on the platform"),  # another client
     (Action.LINK, "7001", [on_port("7001")], "found done on the platform"),
     (Action.UNLINK, "7001", [on_port("7001")], "not done on the platform"),
     (Action.UNLINK, "7001", [on_port("7002")], "found done on the platform"),
     (Action.UNLINK, "7001", [], "found done on the platform"),
     # an unlink killed halfway: the premises gone, the client not yet (OZmap answers it on no
     # port when asked by code): not done, so the plan that follows finishes it
     (Action.UNLINK, "7001", [on_port("7001", port=None)], "not done on the platform"),
     # a client no service declares, taken off a port given to a service: its code is its key
     (Action.UNLINK, "L-9001", [on_port("L-9001")], "not done on the platform"),
     (Action.UNLINK, "L-9001", [], "found done on the platform")],
)
def test_a_pending_port_link_is_judged_by_whether_the_client_code_is_on_the_platform(
    tmp_path: Path, action: Action, key: str, seen: list[Resource], verdict: str
) -> None:
    assert judged_on_map(tmp_path, action, key, seen) == verdict


@pytest.mark.xfail(strict=True, reason=(
    "recover() judges an update by whether its object is live, and the journal keeps no target: "
    "a move killed before it was sent finds the client on its old port, live, and is judged "
    "found done. Only the message is wrong: the plan that follows is made from the platform and "
    "moves it (tests/e2e/test_mapping_safety.py). A fix needs the change's target in the journal "
    "(a schema change) or a per-kind judge in the core"))
def test_a_pending_move_the_platform_has_not_made_is_judged_not_done(tmp_path: Path) -> None:
    still_there = on_port("7001", port=3, box="CTO-1")  # the move was to CTO-2, port 1
    assert judged_on_map(tmp_path, Action.UPDATE, "7001", [still_there]) == \
        "not done on the platform"


def test_an_ozmap_client_an_interrupted_unlink_left_on_no_port_is_found_and_removed(
    tmp_path: Path,
) -> None:
    """An unlink killed between deleting the premises and the client leaves a client the
    project's listing cannot show (it reaches clients through their properties). Looked up by
    its key, it is judged not done, and the plan that follows removes it."""
    import asyncio

    from reconciler.model import Integration, address
    from reconciler.planner.core import View
    from reconciler.planner.ports import PORT_LINK, plan_ports
    from reconciler.platforms.ozmap.provider import OzmapProvider
    from reconciler.platforms.ozmap.sim import create_app
    from reconciler.runtime import observe_unlisted
    from reconciler.sim.faults import SimTransport

    app = create_app("key", network={"generate": {"project": "P", "boxes": 1, "ports": 8}})
    platform = app.state.store
    provider = OzmapProvider(Integration(MAP, "ozmap", "embedded", {}, {"project": "P"}),
                             {"api_key": "key"}, SimTransport(app=app))
    state = StateStore(f"sqlite:///{tmp_path}/reconciler.db")
    at = address(MAP, "port_link", "7001")

    async def scenario() -> None:
        box = (await provider.observe()).catalogs["elements"][0]
        target = {**on_port("7001", box=box["name"]).attrs, "splitter": "Splitter 1"}
        await provider.execute(Change(MAP, "port_link", Action.LINK, ("7001",), None,
                                      target, "test"))
        state.record([Resource(MAP, "port_link", "7001", target)])
        converged = await provider.observe()
        asked = sum(platform.requests.values())
        assert await observe_unlisted({MAP: provider}, {MAP: converged}, state,
                                      state.known()) == {MAP: converged}
        assert sum(platform.requests.values()) == asked  # converged: nothing asked by key

        # the unlink, killed after DELETE /properties/{id}, before DELETE /ftth-clients/{id}
        state.journal_intent(None, Change(MAP, "port_link", Action.UNLINK, ("7001",), target,
                                          None, "test"))
        (premises,) = list(platform.tables["properties"])
        platform.delete("properties", premises)
        listed = await provider.observe()
        assert at not in listed.resources  # the listing cannot show it
        seen = await observe_unlisted({MAP: provider}, {MAP: listed}, state, state.known())
        assert seen[MAP].resources[at].attrs["port"] is None
        (line,) = recover(state, seen)
        assert line.endswith(": not done on the platform")

        side = {"port_link": {"7001": seen[MAP].resources[at]}}
        out = plan_ports(View(MAP, {}, {"port_link": {"7001": state.known().resources[at]}},
                              side, seen[MAP].catalogs, {"services": {}}))
        (unlink,) = out.changes
        assert PORT_LINK.describe is not None and unlink.action is Action.UNLINK
        assert PORT_LINK.describe(unlink) == "remove client 7001 (on no port)"
        await provider.execute(unlink)
        assert platform.tables["ftth-clients"] == {} and platform.tables["properties"] == {}
        await provider.aclose()

    asyncio.run(scenario())
