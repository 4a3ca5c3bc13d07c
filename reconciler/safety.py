"""Safety limits: how much one run may destroy, in the operator's units, before it is refused.

A typo in a spec (a range's `last`, a status) or an emptied spec file can turn a plan into
"unlink every number of every customer". The plan is still correct for what the specs say, so
the planner cannot catch it; this module can, by comparing what the plan does with what exists.

Three checks, all pure (no I/O, no clock):

* **limits**: per integration and destructive action (delete, unlink, suspend), a plan touching
  more than ``max_count`` resources or more than ``max_percent`` of them is refused, unless the
  operator passes ``--allow <integration>.<action>=N`` with N the *exact* count. Exactness makes
  the operator read the number; a stale or guessed allowance does not pass.
* **emptied spec set**: an integration that is declared but for which the specs declare no
  resource at all, while the state still manages some, is the shape of an emptied or unreadable
  file; a plan that would delete or unlink there is refused unless
  ``--allow <integration>.empty=N`` (N = the resources managed).
* **protect**: deleting or unlinking a resource covered by ``protect: true`` is refused, and no
  ``--allow`` passes it: the flag must be removed from the spec, which leaves a trace in review.
* **linked numbers of a shrunk or removed range**: a plan that unlinks numbers from their
  client services because no declared range holds them any more (a ``last`` cut short, a
  range deleted) is refused, naming each number and its service, unless the range says
  ``on_remove: unlink`` or the operator passes ``--allow <integration>.range-unlink=N`` (N the
  exact count) for this run. Those unlinks count against the unlink limit as well.

Limits come from ``Desired.settings["safety"]`` and protection from
``Desired.settings["protected"]`` (see :mod:`reconciler.specs.desired`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.errors import UnsafePlanError
from reconciler.model import Action, Change, Desired, Known, Observed, Plan, Resource, address
from reconciler.platforms import registry
from reconciler.specs.models import DEFAULT_LIMIT

EXIT_UNSAFE = UnsafePlanError.exit_code  # 3
LIMITED = (Action.DELETE, Action.UNLINK, Action.SUSPEND)
PROTECT = "protect"  # the limit name of protection violations; never passable by --allow
RANGE_UNLINK = "range-unlink"  # <integration>.range-unlink: linked numbers a range let go
SHOWN = 10  # numbers named per range in a range-unlink refusal

# For each limited action: the verb in messages, and which resources the percentage is of.
_VERB = {Action.DELETE: "deletes", Action.UNLINK: "unlinks", Action.SUSPEND: "suspends"}
def _verb(action: Action, kind: str) -> str:
    cancels = action is Action.DELETE and registry.cancels(kind)
    return "cancels" if cancels else _VERB[action]


_BASE_SIDE = {Action.DELETE: "known", Action.UNLINK: "observed", Action.SUSPEND: "observed"}


@dataclass(frozen=True)
class Violation:
    """One reason to refuse a plan.

    ``limit`` is what the operator passes to ``--allow`` (``stfc-sp.unlink``, ``stfc-sp.empty``)
    or ``protect``; ``count`` is what the plan does, ``base`` what it is a share of.
    """

    limit: str
    integration: str
    action: str
    count: int
    base: int
    message: str

    @property
    def passable(self) -> bool:
        """Whether some ``--allow`` can pass it (protection never can)."""
        return self.limit != PROTECT

    def to_json(self) -> dict[str, Any]:
        return {"limit": self.limit, "integration": self.integration, "action": self.action,
                "count": self.count, "base": self.base, "message": self.message}


def check(
    plan: Plan,
    known: Known,
    observed: Mapping[str, Observed],
    desired: Desired,
    allow: Mapping[str, int],
) -> list[Violation]:
    """Every reason to refuse ``plan``, in a stable order; empty when it may go ahead.

    ``allow`` maps limit names to the counts the operator accepted (``--allow LIMIT=N``).
    """
    out: list[Violation] = []
    used = usage(plan, known, observed, desired, allow)
    for integration in _integrations(plan):
        out.extend(_violation(u) for u in used if u.integration == integration and u.refused)
        empty = _emptied(plan, known, desired, allow, integration)
        if empty is not None:
            out.append(empty)
        let_go = _range_unlinks(plan, known, desired, allow, integration)
        if let_go is not None:
            out.append(let_go)
    out.extend(_protected(plan, desired))
    return out


def _integrations(plan: Plan) -> list[str]:
    return sorted({change.integration for change in plan.changes})


# --- limits ------------------------------------------------------------------------------------


def _violation(use: Usage) -> Violation:
    message = _limit_message(use.limit, Action(use.action), use.kind, use.count, use.base,
                             use.limits, use.allowed)
    return Violation(use.limit, use.integration, use.action, use.count, use.base, message)


@dataclass(frozen=True)
class Usage:
    """How much of one limit a plan uses, over it or not: what a report shows next to the
    counts (the Markdown plan's safety table), computed by the same rules that refuse."""

    limit: str  # the name --allow takes: stfc-sp.unlink
    integration: str
    action: str
    kind: str  # the kind of resource counted (link, subscription...)
    count: int
    base: int
    max_percent: float
    max_count: int
    allowed: int | None  # what --allow gave for this limit, if anything

    @property
    def limits(self) -> dict[str, float | int]:
        return {"max_percent": self.max_percent, "max_count": self.max_count}

    @property
    def percent(self) -> float:
        return percent(self.count, self.base)

    @property
    def over(self) -> bool:
        return over(self.count, self.base, self.limits)

    @property
    def refused(self) -> bool:
        """Over the limit and not allowed by an exact ``--allow``."""
        return self.over and self.allowed != self.count

    @property
    def verb(self) -> str:
        """``unlinks``, ``deletes``, ``suspends`` or ``cancels``."""
        return _verb(Action(self.action), self.kind)

    @property
    def noun(self) -> str:
        """What is counted, plural: ``numbers``, ``subscriptions``."""
        return registry.counted_as(self.kind)


def usage(
    plan: Plan,
    known: Known,
    observed: Mapping[str, Observed],
    desired: Desired,
    allow: Mapping[str, int],
) -> list[Usage]:
    """Every limit the plan's destructive changes count against, per integration and action,
    in a stable order, whether over it or not."""
    out = []
    for integration, action in ((i, a) for i in _integrations(plan) for a in LIMITED):
        count = touched(plan.changes, integration, action)
        if count == 0:
            continue
        kind = next(c.kind for c in plan.changes
                    if c.integration == integration and c.action is action)
        limit = limit_of(desired, integration, action)
        name = f"{integration}.{action.value}"
        out.append(Usage(name, integration, action.value, kind, count,
                         base_of(action, integration, known, observed, kind),
                         float(limit["max_percent"]), int(limit["max_count"]), allow.get(name)))
    return out


def touched(changes: Iterable[Change], integration: str, action: Action) -> int:
    """Resources the changes of ``action`` touch on ``integration`` (a block counts every key)."""
    return sum(len(c.keys) for c in changes if c.integration == integration and c.action is action)


def base_of(
    action: Action, integration: str, known: Known, observed: Mapping[str, Observed], kind: str
) -> int:
    """What a percentage is of, counted among resources of the ``kind`` the changes touch: what
    is on the platform for unlink and suspend (what the customers have now: links,
    subscriptions), what we manage for delete (only those can be deleted or cancelled)."""
    if _BASE_SIDE[action] == "known":
        resources: Iterable[Any] = known.resources.values()
    else:
        seen = observed.get(integration)
        resources = seen.resources.values() if seen is not None else ()
    return sum(1 for r in resources if r.integration == integration and r.kind == kind
               and r.attrs.get("status") != "cancelled")  # a cancelled record is nobody's service


def limit_of(desired: Desired, integration: str, action: Action) -> Mapping[str, float | int]:
    """The limit from the specs, or the built-in default when the settings hold none."""
    safety = desired.settings.get("safety") or {}
    limit = safety.get(integration, {}).get(action.value)
    return {**DEFAULT_LIMIT, **(limit or {})}


def percent(count: int, base: int) -> float:
    """``count`` as a share of ``base``; of nothing, any count is all of it."""
    if base <= 0:
        return 100.0 if count > 0 else 0.0
    return count / base * 100


# Below this many resources a percentage says little (1 of 4 is 25%): only max_count holds
# there, as octoDNS only applies its percentage above 10 existing records.
MIN_BASE = 10


def over(count: int, base: int, limit: Mapping[str, float | int]) -> bool:
    if count > limit["max_count"]:
        return True
    return base >= MIN_BASE and percent(count, base) > limit["max_percent"]


def _limit_message(
    name: str, action: Action, kind: str, count: int, base: int, limit: Mapping[str, float | int],
    given: int | None,
) -> str:
    integration = name.split(".", 1)[0]
    text = (
        f"this plan {_verb(action, kind)} {count:,} {registry.counted_as(kind)} of {base:,} "
        f"({percent(count, base):.1f}%) "
        f"on integration {integration}; the limit is {limit['max_percent']:g}% and "
        f"{int(limit['max_count']):,}: pass --allow {name}={count} if this is intended"
    )
    return text + _wrong_allow(name, count, given)


def _wrong_allow(name: str, count: int, given: int | None) -> str:
    if given is None:
        return ""
    return f" (--allow {name}={given} was given, but the count is {count})"


# --- emptied spec set --------------------------------------------------------------------------


def _emptied(
    plan: Plan, known: Known, desired: Desired, allow: Mapping[str, int], integration: str
) -> Violation | None:
    """A declared integration with nothing declared under it, whose managed resources the plan
    would delete or unlink: more likely a lost file than a decision."""
    if integration not in desired.integrations:
        return None
    if any(r.integration == integration for r in desired.resources.values()):
        return None
    managed = sum(1 for r in known.resources.values() if r.integration == integration)
    destroys = sum(touched(plan.changes, integration, a) for a in (Action.DELETE, Action.UNLINK))
    name = f"{integration}.empty"
    if managed == 0 or destroys == 0 or allow.get(name) == managed:
        return None
    message = (
        f"the specs declare nothing for integration {integration}, which still manages "
        f"{managed:,} resources (an emptied or unreadable file?): pass --allow {name}={managed} "
        f"if this is intended"
    ) + _wrong_allow(name, managed, allow.get(name))
    return Violation(name, integration, "empty", managed, managed, message)


# --- linked numbers of a shrunk or removed range ----------------------------------------------


def _range_unlinks(
    plan: Plan, known: Known, desired: Desired, allow: Mapping[str, int], integration: str
) -> Violation | None:
    """The plan's unlinks on ``integration`` of numbers that no declared range holds any more,
    unless their range says ``on_remove: unlink`` or ``--allow`` names their exact count."""
    held: dict[str, list[str]] = {}  # range name -> "number (service, holder)"
    for change in plan.changes:
        if change.integration != integration or change.action is not Action.UNLINK:
            continue
        for key in change.keys:
            number = _let_go(change, key, known, desired)
            if number is None:
                continue
            name = str(number.attrs["range"])
            if _on_remove(desired, integration, name) != "unlink":
                held.setdefault(name, []).append(_holder(key, change.before or {}))
    count = sum(len(numbers) for numbers in held.values())
    name = f"{integration}.{RANGE_UNLINK}"
    if count == 0 or allow.get(name) == count:
        return None
    return Violation(name, integration, Action.UNLINK.value, count, count,
                     _range_unlink_message(desired, integration, held, count, allow.get(name)))


def _let_go(change: Change, key: str, known: Known, desired: Desired) -> Resource | None:
    """The managed object a change's object hangs on (a link's number), when a range held it
    (the ``range`` it was declared in) and the specs no longer declare it; else None."""
    kind = registry.kind(change.kind)
    for parent in kind.touches if kind is not None else ():
        where = address(change.integration, parent, key)
        was = known.resources.get(where)
        if was is not None and "range" in was.attrs and where not in desired.resources:
            return was
    return None


def _on_remove(desired: Desired, integration: str, name: str) -> str | None:
    """What the declared range ``name`` says to do with linked numbers it lets go (None: the
    range is not declared any more)."""
    for entry in (desired.settings.get("ranges") or {}).get(integration, ()):
        if entry.get("name") == name:
            return str(entry.get("on_remove") or "refuse")
    return None


def _holder(key: str, link: Mapping[str, Any]) -> str:
    holder = f", {link['name']}" if link.get("name") else ""
    return f"{key} (service {link.get('service')}{holder})"


def _range_unlink_message(desired: Desired, integration: str, held: Mapping[str, list[str]],
                          count: int, given: int | None) -> str:
    parts: list[str] = []
    declared: list[str] = []  # the ranges still declared (shrunk), where on_remove can go
    for name, numbers in sorted(held.items()):
        shrunk = _on_remove(desired, integration, name) is not None
        if shrunk:
            declared.append(name)
        state = "shrunk" if shrunk else "removed from the specs"
        more = f" and {len(numbers) - SHOWN} more" if len(numbers) > SHOWN else ""
        parts.append(f"range {name} ({state}): {', '.join(numbers[:SHOWN])}{more}")
    name = f"{integration}.{RANGE_UNLINK}"
    setting = (f"set `on_remove: unlink` on range {', '.join(declared)}, or "
               if declared else "")
    noun = "number" if count == 1 else "numbers"
    return (
        f"this plan unlinks {count:,} {noun} from their client services on integration "
        f"{integration} because no declared range holds them any more: {'; '.join(parts)}: "
        f"{setting}pass --allow {name}={count} to unlink them in this run, if this is intended"
    ) + _wrong_allow(name, count, given)


# --- protect -----------------------------------------------------------------------------------


def _protected(plan: Plan, desired: Desired) -> list[Violation]:
    """Each protected resource the plan would delete or unlink, one violation per resource."""
    protected = desired.settings.get("protected") or {}
    out = []
    for change in plan.changes:
        if change.action not in (Action.DELETE, Action.UNLINK):
            continue
        for addr in change.addresses():
            if addr in protected:
                out.append(_protect_violation(change, addr, protected))
    return out


def _protect_violation(change: Change, addr: str, protected: Any) -> Violation:
    source = protected.get(addr) if isinstance(protected, Mapping) else None
    where = f" (spec {source})" if source is not None else ""
    verb = {Action.DELETE: "delete", Action.UNLINK: "unlink"}[change.action]
    message = (
        f"this plan would {verb} {addr}, which is protected{where}: "
        f"remove `protect: true` first"
    )
    return Violation(PROTECT, change.integration, change.action.value, 1, 0, message)
