"""The kinds SaperX STFC holds: ``number`` (registered in blocks) and ``link`` (a number held
by a client service), their order in a plan and what their changes say."""

from __future__ import annotations

from reconciler.model import Action, Change
from reconciler.platforms.descriptor import Kind


def _number(change: Change) -> str | None:
    n = len(change.keys)
    plural = "s" if n != 1 else ""
    match change.action:
        case Action.CREATE:
            return f"register {n} number{plural}"
        case Action.DELETE:
            return f"delete {n} free number{plural}"
        case Action.UPDATE:
            return "retransmit"
    return None


def _link(change: Change) -> str | None:
    after, before = change.after or {}, change.before or {}
    match change.action:
        case Action.LINK:
            blocked = ", blocked" if after.get("blocked") else ""
            return f"link to service {after.get('service')}, plan {after.get('plan')}{blocked}"
        case Action.UNLINK:
            return f"unlink from service {before.get('service')} (to the removal queue)"
        case Action.SUSPEND:
            return "block"
        case Action.RESUME:
            return "unblock"
    return None


NUMBER = Kind(
    "number",
    phases={Action.CREATE: 0, Action.UPDATE: 1, Action.DELETE: 6},
    observed_only=frozenset({"status", "transmission", "transmission_error"}),
    describe=_number,
    summary=lambda res: str(res.attrs.get("status") or ""),
)
LINK = Kind(
    "link",
    phases={Action.UPDATE: 2, Action.LINK: 3, Action.SUSPEND: 4, Action.RESUME: 4,
            Action.UNLINK: 5},
    noun="numbers",  # a link is a number held by a client service, to an operator
    touches=("number",),  # a link hangs on its number: a change to it touches both
    describe=_link,
    summary=lambda res: (f"service {res.attrs.get('service')}, plan {res.attrs.get('plan')}, "
                         f"{res.attrs.get('name')}"),
)
