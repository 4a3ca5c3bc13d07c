"""Planning rules every content platform shares: subscriptions that follow client services.

A subscription is one product of one package on one client service (see
:mod:`reconciler.specs.desired` for the keys). For each one:

- declared, missing on the platform (or cancelled there) -> subscribe (create), suspended at
  once when the service is suspended and the integration follows delinquency;
- declared and present -> update what differs (product, customer data, expiry), then suspend or
  resume to match the service's status (only on integrations with ``suspend_on_delinquency``);
- managed (in the state), no longer declared: the service was cancelled, changed its plan
  bundle, or dropped the package -> cancel (a DELETE on the platform, which keeps the record);
- present but neither declared nor managed -> left alone (another system's subscription).

A product code missing from the platform's catalog is an error naming the valid codes.
Reasons name the client service and the package, so that a plan reads per service.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from reconciler.model import Action, Change, Resource, address
from reconciler.planner.core import Partial, View, differing
from reconciler.platforms.descriptor import Kind

KIND = "subscription"
EXPLAINS = ("package", "origin")  # kept in the state to explain later changes; never compared


@dataclass(frozen=True)
class Remembered:
    """What a platform takes but never shows back (Campsoft's password), so that it is compared
    with what the state recorded when it was last sent rather than with the platform.

    ``shown`` are the state's attributes an update's ``before`` takes (the platform has none to
    show: the password rule in force); ``moved(want, was)`` says why the declared value differs
    from the recorded one, or "" when it does not (an update then sends it again)."""

    shown: tuple[str, ...]
    moved: Callable[[Resource, Resource], str]


def plan_subscriptions(
    view: View, out: Partial, compared: tuple[str, ...], creates: Mapping[str, str] | None = None,
    remembered: Remembered | None = None,
) -> None:
    """Plan one integration's subscriptions. ``compared`` are the attributes an update fixes;
    ``creates`` maps a subscription key to the id of a change it must wait for (its user);
    ``remembered`` is what the platform never shows back (see :class:`Remembered`)."""
    desired, known = view.side("desired", KIND), view.side("known", KIND)
    actual = view.side("actual", KIND)
    catalog = {str(p.get("code")) for p in view.catalogs.get("products", ())} or set(
        view.settings.get("products", {}).get(view.integration, ()))
    for key, want in desired.items():
        if catalog and want.attrs["product"] not in catalog:
            out.errors.append(_unknown_product(want, catalog))
            continue
        have = actual.get(key)
        deps = (creates[key],) if creates and key in creates else ()
        if have is None or have.attrs.get("status") == "cancelled":
            out.changes.append(_subscribe(view, want, have, known.get(key), deps))
        else:
            _present(view, out, want, have, known.get(key), compared, remembered)
    for key, have in actual.items():
        if key in desired or key not in known:
            continue
        if have.attrs.get("status") == "cancelled":
            out.forget.append(have.address)
        else:
            out.changes.append(_cancel(view, known[key], have))
    for key in known:
        if key not in actual and key not in desired:
            out.forget.append(address(view.integration, KIND, key))


def _subscribe(
    view: View, want: Resource, have: Resource | None, was: Resource | None, deps: tuple[str, ...]
) -> Change:
    reason = _why_held(view, want, was)
    if have is not None:
        reason += " (cancelled on the platform: subscribe again)"
    elif was is not None:
        reason += " (missing on the platform: removed outside the tool)"
    after = {**want.attrs, "status": want.attrs.get("status") or "active"}
    return Change(view.integration, KIND, Action.CREATE, (want.key,), None, after, reason,
                  want.source, deps)


def _present(
    view: View, out: Partial, want: Resource, have: Resource, was: Resource | None,
    compared: tuple[str, ...], remembered: Remembered | None,
) -> None:
    kept = {f: was.attrs[f] for f in remembered.shown if f in was.attrs} \
        if remembered is not None and was is not None else {}
    current: dict[str, Any] = {**_context(want), **have.attrs, **kept}
    deps: tuple[str, ...] = ()
    changed = differing(want, have, compared)
    why = [f"changed in the specs: {', '.join(changed)}"] if changed else []
    moved = remembered.moved(want, was) if remembered is not None and was is not None else ""
    if moved:
        why.append(moved)
    if why:
        after = {**current, **{f: want.attrs[f] for f in changed},
                 **{k: v for k, v in want.attrs.items()
                    if (k not in current or k in kept) and k != "status"}}
        update = Change(view.integration, KIND, Action.UPDATE, (want.key,), current, after,
                        f"service {want.attrs['service']}, package {want.attrs['package']}: "
                        f"{'; '.join(why)}", want.source)
        out.changes.append(update)
        current, deps = after, (update.id,)
    status = want.attrs.get("status")
    if status is not None and status != have.attrs.get("status"):
        action = Action.SUSPEND if status == "suspended" else Action.RESUME
        state = "suspended" if status == "suspended" else "active again"
        out.changes.append(Change(view.integration, KIND, action, (want.key,), current,
                                  {**current, "status": status},
                                  f"service {want.attrs['service']} is {state}"
                                  f" (package {want.attrs['package']})", want.source, deps))
    elif not why and (was is None or _explained(was) != _explained(want)):
        out.adopt.append(replace(want, remote_id=have.remote_id))


def _cancel(view: View, was: Resource, have: Resource) -> Change:
    entry = view.service(was.attrs.get("service"))
    return Change(view.integration, KIND, Action.DELETE, (have.key,),
                  {**_context(was), **have.attrs}, None, _why_dropped(was, entry),
                  entry.get("source"))


def _context(resource: Resource) -> dict[str, Any]:
    """The service and package a subscription belongs to, for the plan to show it per service
    (Campsoft keeps no service id of its own)."""
    return {k: resource.attrs.get(k) for k in ("service", *EXPLAINS)}


def _why_held(view: View, want: Resource, was: Resource | None) -> str:
    """Why a service holds the package: added to it, or brought by its (new) plan bundle."""
    service, package = want.attrs["service"], want.attrs["package"]
    origin = str(want.attrs.get("origin") or "")
    entry = view.service(service)
    who = f" ({entry['client']})" if entry.get("client") else ""
    if origin.startswith("plan "):
        before = str(was.attrs.get("origin") or "") if was is not None else ""
        moved = f", changed from {before}" if before.startswith("plan ") and before != origin \
            else ""
        return f"package {package} comes with {origin}{moved} of service {service}{who}"
    return f"package {package} added to service {service}{who}"


def _why_dropped(was: Resource, entry: Mapping[str, Any]) -> str:
    service, package = was.attrs.get("service"), was.attrs.get("package")
    status = entry.get("status")
    if not entry:
        return f"service {service} is no longer declared (package {package})"
    if status == "cancelled":
        return f"service {service} is cancelled (package {package})"
    origin = str(was.attrs.get("origin") or "")
    plan = entry.get("plan")
    if origin.startswith("plan ") and origin != f"plan {plan}":
        now = f"plan {plan}" if plan else "no plan"
        return f"service {service} changed from {origin} to {now}, without package {package}"
    return f"package {package} removed from service {service}"


def _explained(resource: Resource) -> tuple[Any, ...]:
    return tuple(resource.attrs.get(k) for k in EXPLAINS)


def _unknown_product(want: Resource, catalog: set[str]) -> str:
    where = f"{want.source}: " if want.source else ""
    return (f"{where}{want.address}: product {want.attrs['product']!r} of package "
            f"{want.attrs['package']} is not in the catalog of integration {want.integration} "
            f"(active products only); valid codes: {', '.join(sorted(catalog))}")


def _describe(change: Change) -> str | None:
    after, before = change.after or {}, change.before or {}
    match change.action:
        case Action.CREATE:
            suspended = ", suspended" if after.get("status") == "suspended" else ""
            return f"subscribe to product {after.get('product')}{suspended}"
        case Action.SUSPEND:
            return "suspend"
        case Action.RESUME:
            return "resume"
        case Action.DELETE:
            return f"cancel product {before.get('product')}"
    return None


# The kind every platform that sells packages holds: a DELETE cancels (the record stays).
SUBSCRIPTION = Kind(
    KIND,
    phases={Action.UPDATE: 2, Action.CREATE: 3, Action.SUSPEND: 4, Action.RESUME: 4,
            Action.DELETE: 5},
    cancels=True,
    describe=_describe,
    summary=lambda res: (f"product {res.attrs.get('product')}, {res.attrs.get('status')}, "
                         f"{res.attrs.get('name') or res.attrs.get('user')}"),
)
