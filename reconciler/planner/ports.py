"""Planning rules for client services on customer ports (OZmap, Geosite), shared by both.

A ``port_link`` (key: the service id, the client's code on the platform) is resolved on the
network the platform listed (its ``elements`` catalog, see :mod:`reconciler.specs.ports`): a box
or splitter that is not there, a port out of range, reserved or in a box still in design, is an
error naming the nearest free ports.

- declared, not on the platform -> link (client and premises created on the port);
- declared, on the platform under the service's code but with another client's document, and
  not managed yet -> an error: a code collision is someone else's client, never taken over;
- declared, elsewhere or described otherwise -> update (a migration moves the premises);
- managed, no longer declared (or its service cancelled) -> unlink (the integration's
  ``on_cancel`` says whether the premises stay, disconnected, or go with the client);
- on no port (``port`` None: a client an interrupted apply left half removed, which a platform
  shows only when asked for it by key) -> moved onto its port when declared, else unlinked,
  managed or not: the removal that was under way is finished.

A port is never written while another client holds it. The change that needs it waits for the
change that takes the other client off (its own move, or its unlink); a client the tool neither
manages nor has declared is unlinked first, the port being given to a declared service. Moves in a
ring (two services swapping ports) cannot all wait: the first of the ring (lowest service id)
takes its port displacing the client there (``after["displace"]``, the platform's forced
connection), and that client's own move follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.model import Action, Change, Resource
from reconciler.planner.core import Partial, View, differing
from reconciler.platforms.descriptor import Kind
from reconciler.specs.ports import ELEMENTS, KIND, Spot, boxes_of, resolve
from reconciler.specs.ports_import import owner_problem

FIELDS = ("box", "splitter", "port", "document", "name")
COMPARED = {KIND: FIELDS}
Place = tuple[str, str, int]  # box, splitter, port, as the platform names them


def _describe(change: Change) -> str | None:
    after, before = change.after or {}, change.before or {}
    match change.action:
        case Action.LINK:
            return f"connect service {after.get('service')} to {_shown(after)}"
        case Action.UPDATE if _place(before) != _place(after):
            return f"move service {after.get('service')} from {_shown(before)} to {_shown(after)}"
        case Action.UNLINK if not before.get("port"):
            return f"remove client {change.keys[0]} (on no port)"
        case Action.UNLINK:
            return f"free {_shown(before)} (client {change.keys[0]})"
    return None


# A port is freed (unlink) before it is given again (a move, then a link); depends_on orders
# the changes that need a port another client holds.
PORT_LINK = Kind(
    KIND,
    phases={Action.UNLINK: 0, Action.UPDATE: 1, Action.LINK: 2},
    noun="ports",
    carried=frozenset({"box_id", "splitter_id", "displace"}),
    describe=_describe,
    summary=lambda res: f"service {res.attrs.get('service')} on {_shown(res.attrs)}",
)


def plan_ports(view: View) -> Partial:
    out = Partial()
    boxes = boxes_of(view.catalogs.get(ELEMENTS))
    want, have, known = (view.side(s, KIND) for s in ("desired", "actual", "known"))
    holder = {_place(res.attrs): code for code, res in have.items()}
    changes: dict[str, Change] = {}
    places: dict[str, Place] = {}
    for key, res in sorted(want.items(), key=lambda item: _numeric(item[0])):
        spot = resolve(res.attrs, boxes, key)
        if isinstance(spot, str):
            where = f" ({res.source})" if res.source else ""
            out.errors.append(f"{res.address}: {spot}{where}")
            continue
        target = _target(res, spot)
        places[key] = _place(target)
        now = have.get(key)
        service = res.attrs["service"]
        if now is not None and key not in known and (other := owner_problem(res, now)):
            out.errors.append(f"{res.address}: {other}")  # someone else's client: never taken
            continue
        if now is None:
            changes[key] = Change(view.integration, KIND, Action.LINK, (key,), None, target,
                                  f"service {service} declares this port", res.source)
        elif moved := differing(Resource(view.integration, KIND, key, target), now, FIELDS):
            changes[key] = Change(view.integration, KIND, Action.UPDATE, (key,), dict(now.attrs),
                                  {**now.attrs, **target},
                                  f"service {service} changed in the specs: " + ", ".join(moved),
                                  res.source)
        elif key not in known:
            out.adopt.append(replace(res, attrs=target, remote_id=now.remote_id))
    for key, was in sorted(known.items()):
        if key in want:
            continue
        if key in have:
            status = view.service(int(key)).get("status") if key.isdigit() else None
            why = "is cancelled" if status == "cancelled" else "no longer declares a port"
            changes[key] = _unlink(view, have[key], f"service {key} {why}: its port is freed")
        else:
            out.forget.append(was.address)
    for key, res in sorted(have.items()):
        if key not in want and key not in known and not res.attrs.get("port"):
            changes[key] = _unlink(view, res, f"the client {key} is on no port, left so by an "
                                   f"interrupted apply: its removal is finished")
    _order(view, out, changes, places, holder, want, known)
    return out


plan_integration = plan_ports  # the descriptor hook's name


def _target(res: Resource, spot: Spot) -> dict[str, Any]:
    return {**res.attrs, "splitter": spot.splitter.get("name"), "box_id": spot.box.get("id"),
            "splitter_id": spot.splitter.get("id")}


def _place(attrs: Mapping[str, Any]) -> Place:
    return (str(attrs.get("box")), str(attrs.get("splitter")), int(attrs.get("port") or 0))


def _shown(attrs: Mapping[str, Any]) -> str:
    if not attrs.get("port"):
        return "no port"
    splitter = f", splitter {attrs['splitter']}" if attrs.get("splitter") else ""
    return f"box {attrs['box']}{splitter}, port {attrs['port']}"


def _unlink(view: View, now: Resource, reason: str) -> Change:
    return Change(view.integration, KIND, Action.UNLINK, (now.key,), dict(now.attrs), None,
                  reason)


def _order(view: View, out: Partial, changes: dict[str, Change], places: Mapping[str, Place],
           holder: Mapping[Place, str], want: Mapping[str, Resource],
           known: Mapping[str, Resource]) -> None:
    """Each change that needs a port another client holds waits for that client's change; a
    client nobody declares is unlinked first; a ring of moves is broken by one displacement."""
    waits: dict[str, str] = {}
    for key, place in places.items():
        other = holder.get(place)
        if key not in changes or other is None or other == key:
            continue
        if other not in changes:
            if other in want:  # declared on this port too: validation reports it
                out.errors.append(f"{changes[key].address}: the port is held by service "
                                  f"{other}, which is declared there too")
                continue
            service = want[key].attrs["service"]
            managed = "" if other in known else " (not managed by the tool)"
            changes[other] = _unlink(view, view.side("actual", KIND)[other],
                                     f"the client {other}{managed} leaves the port, given to "
                                     f"service {service}")
        waits[key] = other
    for ring in _rings(waits):
        first = min(ring, key=_numeric)
        displaced = waits.pop(first)
        changes[first] = replace(changes[first],
                                 after={**(changes[first].after or {}), "displace": displaced})
    for key, other in waits.items():
        changes[key] = replace(changes[key], depends_on=(changes[other].id,))
    out.changes.extend(changes[key] for key in sorted(changes, key=_numeric))


def _numeric(key: str) -> tuple[int, str]:
    """Service ids in numeric order; a platform's other client codes after them."""
    return (int(key), "") if key.isdigit() else (1 << 62, key)


def _rings(waits: Mapping[str, str]) -> list[list[str]]:
    """The cycles of the waits-for map (each key waits for at most one other)."""
    rings, seen = [], set()
    for start in sorted(waits):
        path: list[str] = []
        node = start
        while node in waits and node not in seen and node not in path:
            path.append(node)
            node = waits[node]
        if node in path:
            rings.append(path[path.index(node):])
        seen.update(path)
    return rings


def unmanaged(view: View) -> list[tuple[Resource, str]]:
    """Clients on ports of the project that the tool neither manages nor has declared."""
    known, declared = view.side("known", KIND), view.side("desired", KIND)
    return [(res, f"a client on {_shown(res.attrs)} that no service declares")
            for key, res in sorted(view.side("actual", KIND).items())
            if key not in known and key not in declared]
