"""Planner tables for client services on customer ports (pure): link, migrate, swap, give a
port held by another client, free it on cancel, and every network problem named with the free
ports nearest to hand."""

from __future__ import annotations

from typing import Any

from reconciler.model import Action, Resource
from reconciler.planner.core import View
from reconciler.planner.ports import PORT_LINK, plan_ports, unmanaged
from reconciler.specs.ports import KIND, free_ports, resolve

M = "ozmap"


def box(name: str, *splitters: dict[str, Any], implanted: bool = True) -> dict[str, Any]:
    return {"name": name, "id": f"id-{name}", "implanted": implanted, "lat": -27.6,
            "lng": -48.5, "splitters": list(splitters)}


def splitter(name: str | None, ports: int = 8, customer: bool = True,
             reserved: tuple[int, ...] = (), occupied: dict[str, str] | None = None
             ) -> dict[str, Any]:
    return {"name": name, "id": f"id-{name}", "customer": customer, "ports": ports,
            "reserved": list(reserved), "occupied": occupied or {}}


NETWORK = (box("CTO-1", splitter("S1", reserved=(8,), occupied={"1": "1001", "2": "1002"}),
               splitter("D1", customer=False)),
           box("CTO-2", splitter("S2", occupied={"5": "9999"})),
           box("CTO-3", splitter("S3"), implanted=False))


def want(service: int, box_name: str, port: int, splitter_name: str | None = None) -> Resource:
    return Resource(M, KIND, str(service), {"service": service, "box": box_name,
                                            "splitter": splitter_name, "port": port,
                                            "document": f"{service:011d}",
                                            "name": f"Client {service}"})


def there(service: int, box_name: str, splitter_name: str, port: int, code: str = "") -> Resource:
    attrs = {"service": service, "box": box_name, "splitter": splitter_name, "port": port,
             "document": f"{service:011d}", "name": f"Client {service}"}
    return Resource(M, KIND, code or str(service), attrs, remote_id=f"client-{service}")


def view(desired: list[Resource], known: list[Resource], actual: list[Resource],
         statuses: dict[int, str] | None = None) -> View:
    side = lambda rs: {KIND: {r.key: r for r in rs}}  # noqa: E731
    return View(M, side(desired), side(known), side(actual), {"elements": NETWORK},
                {"services": {s: {"status": st} for s, st in (statuses or {}).items()}})


def summary(out: Any) -> list[tuple[str, Action, tuple[Any, ...], tuple[str, ...]]]:
    return [(c.keys[0], c.action, (c.after or {}).get("port"), c.depends_on) for c in out.changes]


def test_a_declared_port_is_linked_with_the_box_and_splitter_the_platform_names() -> None:
    out = plan_ports(view([want(1003, "CTO-1", 3)], [], []))
    assert summary(out) == [("1003", Action.LINK, 3, ())]
    after = out.changes[0].after
    assert (after["splitter"], after["box_id"], after["splitter_id"]) == ("S1", "id-CTO-1", "id-S1")
    assert out.changes[0].reason == "service 1003 declares this port"
    assert PORT_LINK.describe is not None and PORT_LINK.describe(out.changes[0]) == \
        "connect service 1003 to box CTO-1, splitter S1, port 3"


def test_unchanged_is_nothing_and_a_new_one_to_the_state_is_adopted() -> None:
    now = there(1001, "CTO-1", "S1", 1)
    out = plan_ports(view([want(1001, "CTO-1", 1)], [], [now]))
    assert out.changes == [] and [r.key for r in out.adopt] == ["1001"]
    assert out.adopt[0].attrs["splitter"] == "S1" and out.adopt[0].remote_id == "client-1001"


def test_a_migration_is_an_update_and_a_cancel_an_unlink() -> None:
    moved = want(1001, "CTO-2", 1)
    out = plan_ports(view([moved], [there(1001, "CTO-1", "S1", 1), there(1002, "CTO-1", "S1", 2)],
                          [there(1001, "CTO-1", "S1", 1), there(1002, "CTO-1", "S1", 2)],
                          statuses={1002: "cancelled"}))
    assert summary(out) == [("1001", Action.UPDATE, 1, ()), ("1002", Action.UNLINK, None, ())]
    assert out.changes[0].reason == "service 1001 changed in the specs: box, splitter"
    assert PORT_LINK.describe is not None and PORT_LINK.describe(out.changes[0]) == \
        "move service 1001 from box CTO-1, splitter S1, port 1 to box CTO-2, splitter S2, port 1"
    assert out.changes[1].reason == "service 1002 is cancelled: its port is freed"


def test_a_port_given_to_another_service_waits_for_the_old_one_to_leave() -> None:
    # 1002 is cancelled (no longer desired) and 1003 takes its port 2
    known = [there(1001, "CTO-1", "S1", 1), there(1002, "CTO-1", "S1", 2)]
    out = plan_ports(view([want(1001, "CTO-1", 1), want(1003, "CTO-1", 2)], known, known))
    unlink = next(c for c in out.changes if c.action is Action.UNLINK)
    link = next(c for c in out.changes if c.action is Action.LINK)
    assert unlink.keys == ("1002",) and link.depends_on == (unlink.id,)


def test_a_port_held_by_an_unmanaged_client_is_freed_first_counting_as_an_unlink() -> None:
    stranger = there(9999, "CTO-2", "S2", 5)
    out = plan_ports(view([want(1004, "CTO-2", 5)], [], [stranger]))
    assert [(c.keys[0], c.action) for c in out.changes] == [
        ("1004", Action.LINK), ("9999", Action.UNLINK)]
    assert "not managed by the tool" in out.changes[1].reason
    assert out.changes[0].depends_on == (out.changes[1].id,)


def off_port(service: int, code: str = "") -> Resource:
    """A client on no port: what OZmap answers, asked by code, for one an interrupted unlink
    left without its premises."""
    now = there(service, "CTO-1", "S1", 1, code)
    return Resource(M, KIND, now.key, {**now.attrs, "box": None, "splitter": None, "port": None},
                    remote_id=now.remote_id)


def test_a_client_left_on_no_port_is_put_back_when_declared_and_removed_when_not() -> None:
    known = [there(1001, "CTO-1", "S1", 1), there(1002, "CTO-1", "S1", 2)]
    left = [off_port(1001), off_port(1002), off_port(0, "9001")]  # 9001: nobody's
    out = plan_ports(view([want(1001, "CTO-1", 1)], known, left, statuses={1002: "cancelled"}))
    assert summary(out) == [("1001", Action.UPDATE, 1, ()), ("1002", Action.UNLINK, None, ()),
                            ("9001", Action.UNLINK, None, ())]
    assert PORT_LINK.describe is not None
    assert [PORT_LINK.describe(c) for c in out.changes] == [
        "move service 1001 from no port to box CTO-1, splitter S1, port 1",
        "remove client 1002 (on no port)", "remove client 9001 (on no port)"]
    assert out.changes[2].reason == ("the client 9001 is on no port, left so by an interrupted "
                                     "apply: its removal is finished")


def test_two_services_swapping_ports_break_the_ring_with_one_displacement() -> None:
    known = [there(1001, "CTO-1", "S1", 1), there(1002, "CTO-1", "S1", 2)]
    out = plan_ports(view([want(1001, "CTO-1", 2), want(1002, "CTO-1", 1)], known, known))
    first, second = out.changes
    assert (first.keys, first.after["displace"], first.depends_on) == (("1001",), "1002", ())
    assert second.keys == ("1002",) and second.depends_on == (first.id,)
    assert "displace" not in second.after


def test_a_three_way_rotation_and_a_chain_are_ordered() -> None:
    ports = {1001: 1, 1002: 2, 1003: 3}
    known = [there(s, "CTO-1", "S1", p) for s, p in ports.items()]
    rotate = [want(1001, "CTO-1", 2), want(1002, "CTO-1", 3), want(1003, "CTO-1", 1)]
    out = plan_ports(view(rotate, known, known))
    ids = {c.keys[0]: c for c in out.changes}
    assert ids["1001"].after["displace"] == "1002" and ids["1001"].depends_on == ()
    assert ids["1003"].depends_on == (ids["1001"].id,)  # 1003 takes port 1, which 1001 leaves
    assert ids["1002"].depends_on == (ids["1003"].id,)  # 1002 takes port 3, which 1003 leaves
    chain = [want(1001, "CTO-1", 2), want(1002, "CTO-1", 3), want(1003, "CTO-1", 4)]
    out = plan_ports(view(chain, known, known))
    ids = {c.keys[0]: c for c in out.changes}
    assert all("displace" not in c.after for c in out.changes)
    assert ids["1001"].depends_on == (ids["1002"].id,) and ids["1002"].depends_on == (
        ids["1003"].id,) and ids["1003"].depends_on == ()


def test_network_problems_are_errors_naming_the_free_ports() -> None:
    cases = [
        (want(1, "CTO-9", 1), "box 'CTO-9' is not in the synced network; did you mean 'CTO-"),
        (want(2, "CTO-1", 9, "S1"), "box CTO-1, splitter S1 has ports 1 to 8, not 9; free ports "
                                    "of box CTO-1: S1/3, S1/4, S1/5 (and 2 more)"),
        (want(3, "CTO-1", 8, "S1"), "port 8 of box CTO-1, splitter S1 is reserved"),
        (want(4, "CTO-1", 2, "D1"), "splitter D1 of box CTO-1 does not serve customers"),
        (want(5, "CTO-1", 2, "X"), "box CTO-1 has no splitter 'X'; its splitters: S1, D1"),
        (want(6, "CTO-3", 1), "box CTO-3, splitter S3 is still in design"),
    ]
    out = plan_ports(view([res for res, _ in cases], [], []))
    assert out.changes == [] and len(out.errors) == len(cases)
    for res, expected in cases:
        assert any(e.startswith(f'{M}.{KIND}["{res.key}"]: ') and expected in e
                   for e in out.errors), (expected, out.errors)


def test_two_customer_splitters_need_the_splitter_named() -> None:
    boxes = {"B": box("B", splitter("A1"), splitter("A2"))}
    assert resolve(want(1, "B", 1).attrs, boxes, "1") == \
        "box B has 2 customer splitters (A1, A2): name the splitter of port 1"
    assert free_ports(boxes["B"], boxes["B"]["splitters"])[:2] == ["A1/1", "A1/2"]


def test_clients_nobody_declares_are_unmanaged() -> None:
    mine, stranger = there(1001, "CTO-1", "S1", 1), there(9999, "CTO-2", "S2", 5)
    found = unmanaged(view([want(1001, "CTO-1", 1)], [], [mine, stranger]))
    assert [(r.key, why) for r, why in found] == [
        ("9999", "a client on box CTO-2, splitter S2, port 5 that no service declares")]


def test_a_client_of_another_document_under_the_services_code_is_never_taken_over() -> None:
    stranger = Resource(M, KIND, "1001", {**there(1001, "CTO-1", "S1", 1).attrs,
                                          "document": "86288366757"}, remote_id="client-x")
    out = plan_ports(view([want(1001, "CTO-1", 1)], [], [stranger]))
    assert out.changes == [] and out.adopt == []
    assert len(out.errors) == 1 and "has document 86288366757" in out.errors[0]
    managed = plan_ports(view([want(1001, "CTO-1", 1)], [stranger], [stranger]))
    assert [c.action for c in managed.changes] == [Action.UPDATE]  # ours: the specs rule
