"""Human-readable plans, apply results and drift reports, coloured when on a terminal.

One line per change: a symbol per action (see ``Action.symbol``), the address, what it does,
why, and the spec line that caused it; grouped by integration; a summary line of counts last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from typing import Any

from rich.console import Console
from rich.markup import escape

from reconciler.applier import DONE, ApplyResult, Outcome
from reconciler.model import (
    FINGERPRINTS,
    Action,
    Change,
    Drift,
    Estimate,
    Note,
    Plan,
)
from reconciler.platforms import registry

STYLE = {
    Action.CREATE: "green",
    Action.LINK: "green",
    Action.UPDATE: "yellow",
    Action.RESUME: "cyan",
    Action.SUSPEND: "magenta",
    Action.UNLINK: "red",
    Action.DELETE: "red",
}
LEGEND = "+ create  ~ update  - delete  > link  < unlink  ! suspend  ^ resume  = converging"


def render_plan(plan: Plan, console: Console, *, platforms: Mapping[str, str]) -> None:
    if plan.changes:
        console.print(f"[dim]{LEGEND}[/dim]\n")
    for name, changes in groupby(plan.changes, key=lambda c: c.integration):
        console.print(f"[bold]{name}[/bold] [dim]({platforms.get(name, '?')})[/dim]")
        for service, group in by_service(list(changes)):
            indent = "  " if service is not None else ""
            if service is not None:
                console.print(f"  [bold]service {escape(str(service))}[/bold]")
            for change in group:
                console.print(indent + change_line(change))
                for detail in change_details(change):
                    console.print(f"{indent}      [dim]{escape(detail)}[/dim]")
        console.print()
    _bookkeeping(console, plan)
    _notes(console, "converging (not planned again)", "=", "blue", plan.converging)
    _notes(console, "warnings", "!", "yellow", plan.warnings)
    console.print(plan_summary(plan))
    if not plan.empty:
        console.print("[dim]Cost: " + "; ".join(cost(e) for e in plan.estimates) + "[/dim]")


def by_service(changes: list[Change]) -> list[tuple[Any, list[Change]]]:
    """Content changes grouped under their client service, services in id order, after the
    other changes (which stay in plan order, under no service: None). A user goes with the
    first service whose subscription it is created for."""
    service_of_user: dict[str, Any] = {}
    for change in changes:
        attrs = change.after or change.before or {}
        if change.kind == "subscription" and "user" in attrs:
            service_of_user.setdefault(str(attrs["user"]), attrs.get("service"))
    loose: list[Change] = []
    groups: dict[Any, list[Change]] = {}
    for change in changes:
        if change.kind == "subscription":
            service = (change.after or change.before or {}).get("service")
            groups.setdefault(service, []).append(change)
        elif change.kind == "user" and change.keys[0] in service_of_user:
            groups.setdefault(service_of_user[change.keys[0]], []).append(change)
        else:
            loose.append(change)
    ordered = sorted(groups.items(), key=lambda item: (str(type(item[0])), item[0] or 0))
    return ([(None, loose)] if loose else []) + ordered


def cost(estimate: Estimate) -> str:
    """'stfc-sp: 3 reads, 412 writes, about 1 min 20 s at 5 req/s'."""
    text = f"{estimate.integration}: {estimate.reads} reads, {estimate.writes} writes"
    if estimate.per_second is None:
        return text + " (not rate limited)"
    took = duration(estimate.seconds)
    about = "" if took.startswith("under") else "about "
    return f"{text}, {about}{took} at {estimate.per_second:g} req/s"


def duration(seconds: float) -> str:
    if seconds < 1:
        return "under 1 s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def change_line(change: Change) -> str:
    style = STYLE[change.action]
    where = f"  [dim]{escape(str(change.source))}[/dim]" if change.source else ""
    return (
        f"  [{style}]{change.action.symbol} {escape(change.address)}[/{style}]  "
        f"{escape(describe(change))}: {escape(change.reason)}{where}"
    )


def describe(change: Change) -> str:
    """What a change does, in the operator's words."""
    kind = registry.kind(change.kind)
    said = kind.describe(change) if kind is not None and kind.describe is not None else None
    if said is not None:
        return said
    n = len(change.keys)
    plural = "s" if n != 1 else ""
    return f"{change.action.value} {n} {change.kind}{plural}"


def change_details(change: Change) -> list[str]:
    """Before -> after of each field an update moves (never a fingerprint: the reason says
    what it stands for)."""
    if change.action is not Action.UPDATE or change.before is None or change.after is None:
        return []
    kind = registry.kind(change.kind)
    carried = kind.carried if kind is not None else frozenset()
    fields = sorted((set(change.before) | set(change.after)) - FINGERPRINTS - carried)
    return [
        f"{f}: {show_value(change.before.get(f))} -> {show_value(change.after.get(f))}"
        for f in fields
        if change.before.get(f) != change.after.get(f)
    ]


def show_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in sorted(value.items())) + "}"
    return repr(value) if isinstance(value, str) else str(value)


SHOWN = 10  # addresses listed per bookkeeping section; the rest are counted


def _bookkeeping(console: Console, plan: Plan) -> None:
    """What the state will record or drop without any call to a platform."""
    sections = (
        ("to record as managed (already on the platform as declared)",
         [r.address for r in plan.adopt]),
        ("to forget (gone from the platform, or no longer declared where nothing is deleted)",
         list(plan.forget)),
    )
    for title, addresses in sections:
        if not addresses:
            continue
        console.print(f"[bold]{title}[/bold]")
        for addr in addresses[:SHOWN]:
            console.print(f"  [dim]{escape(addr)}[/dim]")
        if len(addresses) > SHOWN:
            console.print(f"  [dim]... and {len(addresses) - SHOWN:,} more[/dim]")
        console.print()


def _notes(console: Console, title: str, symbol: str, style: str, notes: Sequence[Note]) -> None:
    if not notes:
        return
    console.print(f"[bold]{title}[/bold]")
    for note in notes:
        console.print(f"  [{style}]{symbol} {escape(note.address)}[/{style}]  {escape(note.message)}")
    console.print()


CANCEL = "cancel"  # the column of a DELETE that cancels (content subscriptions)


def column(change: Change) -> str:
    """Which count a change adds to: its action, or ``cancel`` for a cancelling delete."""
    if change.action is Action.DELETE and registry.cancels(change.kind):
        return CANCEL
    return change.action.value


def counts(changes: Sequence[Change]) -> dict[str, int]:
    """Resources touched per column (a block change counts every key), as the text plan's
    summary counts them."""
    out: dict[str, int] = {}
    for change in changes:
        out[column(change)] = out.get(column(change), 0) + len(change.keys)
    return out


def plan_summary(plan: Plan) -> str:
    if plan.empty:
        extra = f" ({len(plan.converging)} converging)" if plan.converging else ""
        if plan.partial:  # the rest of the specs may still call for changes
            return f"[bold]No changes[/bold] in the targeted part of the plan{extra}."
        return f"[bold]No changes.[/bold] The platforms match the specs{extra}."
    counted = counts(plan.changes)
    parts = [f"{counted[a.value]} {a.verb}" for a in Action if counted.get(a.value)]
    if counted.get(CANCEL):
        parts.append(f"{counted[CANCEL]} to cancel")
    if plan.adopt:
        parts.append(f"{len(plan.adopt)} to record as managed (already on the platform)")
    if plan.forget:
        parts.append(f"{len(plan.forget)} to forget (no longer managed)")
    tail = f"; {len(plan.converging)} converging" if plan.converging else ""
    title = "Partial plan" if plan.partial else "Plan"  # see the warning of what is left out
    return f"[bold]{title}:[/bold] {', '.join(parts)}{tail}."


OUTCOME_MARK = {"done": ("ok", "green"), "partial": ("partial", "yellow"),
                "failed": ("failed", "red"), "skipped": ("skipped", "yellow")}


def outcome_line(outcome: Outcome, *, markup: bool = True) -> str:
    """One change's outcome: rich markup, or (``markup=False``) the plain text it prints as
    where there is no terminal, made without rich's parser (one line per change of a long
    apply: the parser cost more than the change's HTTP call)."""
    change = outcome.change
    word, style = OUTCOME_MARK[outcome.status]
    parts = [change.action.symbol, change.address, describe(change)]
    if not markup:
        return " ".join([word, *parts]) + (f": {outcome.message}" if outcome.message else "")
    text = " ".join([f"[{style}]{word}[/{style}]", *(escape(p) for p in parts)])
    return text + (f": {escape(outcome.message)}" if outcome.message else "")


def render_apply_result(result: ApplyResult, console: Console) -> None:
    problems = [o for o in result.outcomes if o.status != DONE]
    if problems:
        console.print("\n[bold]Not applied[/bold]")
        for outcome in problems:
            console.print("  " + outcome_line(outcome))
    s = result.summary()
    console.print(
        f"\n[bold]Apply complete:[/bold] {s['done']} done, {s['partial']} partial, "
        f"{s['failed']} failed, {s['skipped']} skipped; {s['adopted']} recorded as managed, "
        f"{s['forgotten']} forgotten."
    )


DRIFT_STYLE = {"changed": "yellow", "missing": "red", "unmanaged": "magenta",
               "converging": "blue"}
DRIFT_KINDS = tuple(DRIFT_STYLE)  # the order kinds are counted in


def render_drift(items: Sequence[Drift], checked: Iterable[str], console: Console, *,
                 now: str | None = None) -> None:
    """The drift report: per integration, one line per item (kind, address, why, and how long
    ago it was first seen, at ``now``), the moved fields below; a summary line last."""
    checked = list(checked)
    for name, group in groupby(items, key=lambda d: d.integration):
        console.print(f"[bold]{escape(name)}[/bold]")
        for item in group:
            style = DRIFT_STYLE.get(item.kind, "white")
            age = seen_ago(item.age_seconds(now)) if now else None
            tail = f"  [dim]({age})[/dim]" if age else ""
            detail = f"  {escape(item.detail)}" if item.detail else ""
            console.print(f"  [{style}]{item.kind:<10} {escape(item.address)}[/{style}]"
                          f"{detail}{tail}")
            for f in item.fields:
                before = show_value((item.before or {}).get(f))
                after = show_value((item.after or {}).get(f))
                console.print(f"      [dim]{escape(f)}: {escape(before)} (applied) -> "
                              f"{escape(after)} (on the platform)[/dim]")
        console.print()
    console.print(drift_summary(items, checked, now=now))


def drift_summary(items: Sequence[Drift], checked: Sequence[str], *, now: str | None = None) -> str:
    """'Drift: 3 on stfc-sp (1 changed, 1 missing, 1 unmanaged), the oldest first seen 2 days
    ago; ...', or 'No drift on stfc-sp.' with the converging count."""
    where = ", ".join(checked) or "no integration"
    counts = {kind: sum(1 for d in items if d.kind == kind) for kind in DRIFT_KINDS}
    real = [d for d in items if d.real]
    queue = (f" {counts['converging']} converging (a platform queue still working; not drift)."
             if counts["converging"] else "")
    if not real:
        return f"[bold]No drift[/bold] on {where}.{queue}"
    parts = ", ".join(f"{counts[k]} {k}" for k in DRIFT_KINDS[:3] if counts[k])
    ages = [a for a in (d.age_seconds(now) for d in real) if a is not None] if now else []
    oldest = f", the oldest {seen_ago(max(ages))}" if ages and max(ages) >= 60 else ""
    fixable = counts["changed"] + counts["missing"]
    hint = (" `reconcile drift --fix` puts back what changed or went missing (`reconcile plan` "
            "shows how)" if fixable else "")
    unmanaged = ""
    if counts["unmanaged"]:
        unmanaged = ("; unmanaged objects are only reported" if hint
                     else " Unmanaged objects are only reported")
    return (f"[bold]Drift:[/bold] {len(real)} on {where} ({parts}){oldest}.{hint}{unmanaged}"
            f"{'.' if hint or unmanaged else ''}{queue}")


def seen_ago(seconds: int | None) -> str | None:
    """'first seen now', '... 5 minutes ago', '... 3 hours ago', '... 2 days ago' (None when
    the age is unknown). The largest whole unit only: an age is read at a glance."""
    if seconds is None:
        return None
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"first seen {n} {unit}{'s' if n != 1 else ''} ago"
    return "first seen now"
