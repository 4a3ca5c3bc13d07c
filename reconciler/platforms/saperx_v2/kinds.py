"""The kinds SaperX v2 holds: ``voip_range`` (a block of numbers DIDs are taken from) and
``extension`` (a SIP line with its DIDs), their order in a plan and what their changes say."""

from __future__ import annotations

from collections.abc import Mapping

from reconciler.model import Action, Change, Resource
from reconciler.platforms.descriptor import Kind


def _range(change: Change) -> str | None:
    after = change.after or {}
    span = f"{after.get('area_code')} {after.get('first')}..{after.get('last')}"
    return {Action.CREATE: f"register range {span}", Action.UPDATE: f"resize range to {span}",
            Action.DELETE: "delete range"}.get(change.action)


def _extension(change: Change) -> str | None:
    after, before = change.after or {}, change.before or {}
    dids = ", ".join(d["number"] for d in after.get("dids") or ())
    match change.action:
        case Action.CREATE:
            return (f"create SIP line for service {after.get('service')}, plan "
                    f"{after.get('plan')}, DIDs {dids}")
        case Action.DELETE:
            return f"inactivate the SIP line of service {before.get('service')}"
        case Action.UNLINK:
            off = sorted({d["number"] for d in before.get("dids") or ()}
                         - {d["number"] for d in after.get("dids") or ()})
            return f"take DIDs {', '.join(off)} off the SIP line of service {after.get('service')}"
        case Action.SUSPEND:
            return "block"
        case Action.RESUME:
            return "unblock"
    return None


def _line_landed(action: Action, keys: tuple[str, ...],
                 observed: Mapping[str, Resource]) -> bool | None:
    """A SIP line as the platform shows it: under its account code, or, for a line keyed by
    ``<service>/<presented number>``, the extension of that service holding that number; an
    inactivated line stays listed, inactive."""
    lines = [r for r in observed.values() if r.kind == "extension"]

    def find(key: str) -> Resource | None:
        if "/" not in key:
            return next((r for r in lines if r.key == key), None)
        service, number = key.split("/", 1)
        return next((r for r in lines if str(r.attrs.get("service")) == service and (
            r.attrs.get("caller_id") == number
            or number in {d.get("number") for d in r.attrs.get("dids") or ()})), None)

    found = [find(key) for key in keys]
    if action is Action.DELETE:
        return all(r is None or not r.attrs.get("active") for r in found)
    if action is Action.CREATE:
        return all(r is not None and bool(r.attrs.get("active", True)) for r in found)
    return None


VOIP_RANGE = Kind(
    "voip_range",
    phases={Action.CREATE: 0, Action.UPDATE: 1, Action.DELETE: 6},
    observed_only=frozenset({"status"}),
    noun="number ranges",
    describe=_range,
    summary=lambda res: f"{res.attrs.get('area_code')} {res.attrs.get('first')}..{res.attrs.get('last')}",
)
EXTENSION = Kind(
    "extension",
    # DIDs leave one line (an unlink: an update that takes DIDs off) before another takes them
    # (create or update, ordered by depends_on); a deactivation comes last.
    phases={Action.UNLINK: 2, Action.UPDATE: 2, Action.CREATE: 3, Action.SUSPEND: 4,
            Action.RESUME: 4, Action.DELETE: 5},
    cancels=True,  # inactivated, never deleted: the platform keeps the extension
    noun="SIP lines",
    describe=_extension,
    landed=_line_landed,
    summary=lambda res: (f"service {res.attrs.get('service')}, plan {res.attrs.get('plan')}, "
                         f"caller id {res.attrs.get('caller_id')}"),
)
