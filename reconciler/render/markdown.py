"""Plans and drift reports as Markdown, to post as a pull/merge request comment (GitHub, GitLab).

A reviewer reads a comment top-down and stops early, so the counts come first (per integration
and per action, the safety limits the plan uses, the cost estimate), then one collapsed
``<details>`` section per integration with its changes in a ``diff`` code block (coloured by
both GitHub and GitLab: ``+`` green, ``-``/``<`` red), then converging notes and warnings.

The lines inside a section are the text plan's own lines (:func:`text.change_line`, made plain),
so a terminal and a PR comment never tell a change differently. User-controlled text (client
names, reasons, notes) is escaped wherever Markdown or HTML would interpret it; inside a code
block nothing is interpreted, so it is only kept on one line there.

GitHub refuses comments over 65,536 characters: a document longer than ``max_chars`` (default
60,000) is cut between whole lines, never inside one, with every open code block and
``<details>`` closed, and a note that says how many changes of which integrations were left out.
Pure: no I/O and no clock (``now`` is given).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby

from rich.text import Text

from reconciler.model import Action, Change, Drift, Note, Plan
from reconciler.render.text import (
    CANCEL,
    SHOWN,
    by_service,
    change_details,
    change_line,
    cost,
    counts,
    plan_summary,
    seen_ago,
    show_value,
)
from reconciler.safety import MIN_BASE, PROTECT, RANGE_UNLINK, Usage, Violation

MAX_CHARS = 60_000  # under GitHub's 65,536-character comment limit, with room for a CI header
MIN_CHARS = 2_000  # below this even the counts may not fit: refused by the CLI option
_RESERVE = 1_500  # kept free when cutting: closing lines and the note of what was left out
_NAMED = 5  # integrations named in that note; the others are counted
PLAN_MARKER = "<!-- reconcile:plan -->"  # lets a CI job find and update its earlier comment
DRIFT_MARKER = "<!-- reconcile:drift -->"
_DRIFT_KINDS = {"changed": "~", "missing": "-", "unmanaged": "+", "converging": "="}
_DRIFT_WORDS = {
    "changed": "changed outside reconcile",
    "missing": "missing on the platform",
    "unmanaged": "unmanaged: on the platform, not managed by reconcile",
    "converging": "converging: a platform queue is still working on it (not drift)",
}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")


# --- escaping ----------------------------------------------------------------------------------


def escape(text: object) -> str:
    """``text`` as literal Markdown: no emphasis, link, HTML tag, table cell break or heading,
    and on one line."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(str(text)))


def _html(text: object) -> str:
    """``text`` inside an HTML element (a ``<summary>``), where Markdown escapes do not apply."""
    return html.escape(_one_line(str(text)), quote=False)


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    text = _one_line(text)
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


def _plain(markup: str) -> str:
    """A line of the text renderer (rich markup) as plain text."""
    return Text.from_markup(markup).plain


# --- a document under a character budget -------------------------------------------------------


@dataclass
class _Left:
    """What a cut document left out, for the note that says so."""

    entries: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (left, of)
    sections: list[str] = field(default_factory=list)

    def skip(self, name: str, left: int, total: int) -> None:
        if left:
            self.entries[name] = (left, total)


class _Doc:
    """Lines that must stay under ``limit`` characters, joined with newlines. Once a line does
    not fit, nothing more is added but what :meth:`force` adds (the closing lines and the
    note, for which the caller kept room)."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.size = 0
        self.limit = limit
        self.cut = False

    def add(self, *lines: str) -> bool:
        """Add all of ``lines`` or, if they do not fit, none (and stop adding)."""
        size = sum(len(line) + 1 for line in lines)
        if self.cut or self.size + size > self.limit:
            self.cut = True
            return False
        self.force(*lines)
        return True

    def force(self, *lines: str) -> None:
        self.lines.extend(lines)
        self.size += sum(len(line) + 1 for line in lines)

    def text(self) -> str:
        return "\n".join(self.lines).rstrip("\n") + "\n"


@dataclass(frozen=True)
class _Entry:
    """Lines that go together (a change and its field details), and how many items they are."""

    lines: tuple[str, ...]
    items: int = 1


def fence_for(lines: Iterable[str]) -> str:
    """A code fence no line can close: longer than any run of backticks in them, at least 3."""
    return "`" * max(3, max((_longest_run(line, "`") for line in lines), default=0) + 1)


def fenced(text: str) -> str:
    """``text`` in a code block that nothing in it can close."""
    fence = fence_for(text.splitlines())
    return f"{fence}\n{text}\n{fence}"


def _section(doc: _Doc, left: _Left, name: str, summary: str, entries: Sequence[_Entry]) -> None:
    """A collapsed ``<details>`` section with ``entries`` in a diff code block, cut between
    entries when the budget runs out, and always closed."""
    total = sum(e.items for e in entries)
    body = [line for e in entries for line in e.lines]
    fence = fence_for(body)
    first = entries[0].lines if entries else ()
    if not doc.add(f"<details><summary>{summary}</summary>", "", fence + "diff", *first):
        left.skip(name, total, total)
        return
    shown = entries[0].items if entries else 0
    for entry in entries[1:]:
        if not doc.add(*entry.lines):
            break
        shown += entry.items
    doc.force(fence, "", "</details>", "")
    left.skip(name, total - shown, total)


def _cut_note(left: _Left, noun: str, total: int, full: str) -> list[str]:
    """The note of a cut document: how many ``noun`` of which integrations were left out."""
    missing = sum(n for n, _ in left.entries.values())
    parts = [f"{name}: {'all ' + format(of, ',') if n == of else f'{n:,} of {of:,}'}"
             for name, (n, of) in left.entries.items()]
    if len(parts) > _NAMED:
        parts = parts[:_NAMED] + [f"and {len(parts) - _NAMED} more integrations"]
    lines = [f"> **Truncated to fit a comment:** {missing:,} of {total:,} {noun} not shown"
             + (f" ({escape('; '.join(parts))})" if parts else "") + "."]
    if left.sections:
        lines.append(f"> Also left out: {escape(', '.join(left.sections))}.")
    lines.append(f"> {full}")
    return lines


def _fit(build: Callable[[_Doc, _Left], list[str]], max_chars: int) -> str:
    """The whole document if it fits in ``max_chars``, else the document cut to fit."""
    doc = _Doc(max_chars)
    build(doc, _Left())
    if not doc.cut and doc.size <= max_chars:
        return doc.text()
    doc, left = _Doc(max_chars - _RESERVE), _Left()
    note = build(doc, left)
    doc.force(*([""] if doc.lines and doc.lines[-1] else []), *note)
    return doc.text()


# --- plans -------------------------------------------------------------------------------------


_COLUMNS = [a.value for a in Action] + [CANCEL]
_HEADS = {**{a.value: f"{a.symbol} {a.value}" for a in Action}, CANCEL: "- cancel"}
_VERBS = {**{a.value: a.verb for a in Action}, CANCEL: "to cancel"}


def _integration_of(addr: str) -> str:
    return addr.split(".", 1)[0]  # integration names hold no dot


def render_plan(
    plan: Plan,
    *,
    platforms: Mapping[str, str],
    limits: Sequence[Usage] = (),
    refused: Sequence[Violation] = (),
    max_chars: int = MAX_CHARS,
) -> str:
    """The plan as a Markdown comment of at most ``max_chars`` characters.

    ``limits`` is what :func:`reconciler.safety.usage` says the plan uses; ``refused`` what
    :func:`reconciler.safety.check` refuses (protection and emptied spec sets are not limits
    with a share, so they are listed apart).
    """
    names = list(dict.fromkeys([*plan.integrations, *(c.integration for c in plan.changes)]))
    by_name = {name: [c for c in plan.changes if c.integration == name] for name in names}

    def build(doc: _Doc, left: _Left) -> list[str]:
        kind = "partial plan" if plan.partial else "plan"
        doc.add(PLAN_MARKER, f"### reconcile {kind}: {escape(_title(plan))}", "")
        if plan.partial:
            doc.add(_partial(plan), "")
        if plan.empty:
            doc.add("The platforms match the specs: apply has nothing to do.", "")
        else:
            _plan_counts(doc, plan, names, by_name, platforms)
            _safety(doc, limits, refused)
            for name in names:
                if by_name[name]:
                    _plan_section(doc, left, name, platforms.get(name, "?"), by_name[name])
            _bookkeeping(doc, left, plan)
        _notes(doc, left, "Converging (not planned again)", "=", plan.converging)
        _notes(doc, left, "Warnings", "!", plan.warnings)
        return _cut_note(left, "changes", len(plan.changes),
                         "Run `reconcile plan` for the full plan, or read the plan file "
                         "(`--out FILE`, JSON).")

    return _fit(build, max_chars)


def _title(plan: Plan) -> str:
    """The text plan's summary line, as a title: '36 to create, 7 to link; 1 converging'."""
    if plan.empty:
        where = " in the targeted part" if plan.partial else ""
        return f"no changes{where}" + (f" ({len(plan.converging)} converging)"
                                       if plan.converging else "")
    return _plain(plan_summary(plan)).split(": ", 1)[1].rstrip(".")


def _partial(plan: Plan) -> str:
    narrowed = [_code(f"--target {t}") for t in plan.targets]
    narrowed += [_code(f"--exclude {e}") for e in plan.excludes]
    return (f"**Partial plan** ({', '.join(narrowed)}): "
            "the rest of the specs was not planned, so applying it may leave other changes "
            "pending.")


def _plan_counts(doc: _Doc, plan: Plan, names: Sequence[str],
                 by_name: Mapping[str, Sequence[Change]], platforms: Mapping[str, str]) -> None:
    per = {name: counts(by_name[name]) for name in names}
    for res in plan.adopt:
        per.setdefault(res.integration, {})["adopt"] = per[res.integration].get("adopt", 0) + 1
    for addr in plan.forget:
        name = _integration_of(addr)
        per.setdefault(name, {})["forget"] = per[name].get("forget", 0) + 1
    used = [c for c in [*_COLUMNS, "adopt", "forget"] if any(p.get(c) for p in per.values())]
    heads = {**_HEADS, "adopt": "record as managed", "forget": "forget"}
    estimates = {e.integration: cost(e).removeprefix(f"{e.integration}: ") for e in plan.estimates}
    doc.add("| integration | platform | " + " | ".join(heads[c] for c in used) + " | cost |",
            "| --- | --- | " + " | ".join("---:" for _ in used) + " | --- |")
    for name, row in per.items():
        cells = [str(row.get(c, 0)) for c in used]
        doc.add(f"| {escape(name)} | {escape(platforms.get(name, '?'))} | "
                + " | ".join(cells) + f" | {escape(estimates.get(name, ''))} |")
    if len(per) > 1:
        totals = [f"**{sum(p.get(c, 0) for p in per.values())}**" for c in used]
        doc.add("| **total** | | " + " | ".join(totals) + " | |")
    doc.add("")


# How a refusal that is not a limit is labelled, by the end of its name (stfc-sp.range-unlink).
_APART = {PROTECT: "**protected**", RANGE_UNLINK: "**linked numbers**"}


def _safety(doc: _Doc, limits: Sequence[Usage], refused: Sequence[Violation]) -> None:
    """The limits the plan counts against, how much of each it uses, and what is refused."""
    named = {u.limit for u in limits}
    apart = [v for v in refused if v.limit not in named]
    if not limits and not apart:
        return
    over = sum(1 for u in limits if u.refused) + len(apart)
    if over:
        doc.add(f"**Safety: apply refuses this plan** (exit 3): {over} "
                f"{'limit' if over == 1 else 'limits'} exceeded.", "")
    else:
        doc.add("**Safety:** within every limit.", "")
    if limits:
        doc.add("| limit | this plan | share | allowed | |", "| --- | --- | ---: | --- | --- |")
        for u in limits:
            noun = u.noun.removesuffix("s") if u.count == 1 else u.noun
            doc.add(f"| `{u.limit}` | {u.verb} {u.count:,} {noun} of {u.base:,} | "
                    f"{u.percent:.1f}% | {u.max_percent:g}% and {u.max_count:,} | "
                    f"{_verdict(u)} |")
        doc.add("")
    for v in apart:
        doc.add(f"- {_APART.get(v.limit.rpartition('.')[2], '**emptied specs**')}: "
                f"{escape(v.message)}")
    if apart:
        doc.add("")


def _verdict(u: Usage) -> str:
    if u.refused:
        return f"**over**: pass `--allow {u.limit}={u.count}` if intended"
    if u.over:
        return f"over, allowed by `--allow {u.limit}={u.count}`"
    if u.base < MIN_BASE and u.percent > u.max_percent:
        return f"ok (under {MIN_BASE} in all: only the count limit applies)"
    return "ok"


def _plan_section(doc: _Doc, left: _Left, name: str, platform: str,
                  changes: Sequence[Change]) -> None:
    c = counts(changes)
    said = ", ".join(f"{c[col]:,} {_VERBS[col]}" for col in _COLUMNS if c.get(col))
    summary = f"<b>{_html(name)}</b> ({_html(platform)}): {_html(said)}"
    entries: list[_Entry] = []
    for service, group in by_service(list(changes)):
        if service is not None:
            entries.append(_Entry((f"@@ service {_one_line(str(service))} @@",), 0))
        for change in group:
            lines = [_one_line(_plain(change_line(change)).strip())]
            lines += [f"    {_one_line(d)}" for d in change_details(change)]
            entries.append(_Entry(tuple(lines)))
    _section(doc, left, name, summary, entries)


def _bookkeeping(doc: _Doc, left: _Left, plan: Plan) -> None:
    """What apply records or drops in the state with no platform call: first SHOWN of each."""
    for title, addresses in (
        ("Record as managed (already on the platform as declared)",
         [r.address for r in plan.adopt]),
        ("Forget (gone from the platform, or no longer declared where nothing is deleted)",
         list(plan.forget)),
    ):
        if not addresses:
            continue
        lines = [f"**{title}:** {len(addresses):,}", ""]
        lines += [f"- {_code(a)}" for a in addresses[:SHOWN]]
        if len(addresses) > SHOWN:
            lines.append(f"- ... and {len(addresses) - SHOWN:,} more")
        if not doc.add(*lines, ""):
            left.sections.append(f"{len(addresses):,} to {title.split(' (')[0].lower()}")


def _notes(doc: _Doc, left: _Left, title: str, symbol: str, notes: Sequence[Note]) -> None:
    if not notes:
        return
    if not doc.add(f"**{title}:** {len(notes):,}", ""):
        left.sections.append(f"{len(notes):,} {title.split(' (')[0].lower()}")
        return
    for shown, note in enumerate(notes):
        if not doc.add(f"- {symbol} {_code(note.address)} {escape(note.message)}"):
            left.sections.append(f"{len(notes) - shown:,} of {len(notes):,} "
                                 f"{title.split(' (')[0].lower()}")
            return
    doc.add("")


# --- drift -------------------------------------------------------------------------------------


def age(item: Drift, now: str) -> str:
    """'first seen 3 days ago' at ``now`` (ISO 8601); a drift never seen before is new."""
    return seen_ago(item.age_seconds(now)) or "first seen now"


def render_drift(items: Sequence[Drift], checked: Sequence[str], *, now: str,
                 max_chars: int = MAX_CHARS) -> str:
    """A drift report as a Markdown comment or issue body of at most ``max_chars`` characters:
    counts per integration and kind, the oldest drift, then a section per integration."""
    names = list(dict.fromkeys([*checked, *(d.integration for d in items)]))
    real = [d for d in items if d.real]
    where = ", ".join(checked) or "no integration"

    def build(doc: _Doc, left: _Left) -> list[str]:
        title = (f"{len(real):,} {'difference' if len(real) == 1 else 'differences'}"
                 if real else "no drift")
        doc.add(DRIFT_MARKER, f"### reconcile drift: {title} on {escape(where)}", "")
        if items:
            _drift_counts(doc, items, names)
        if real:
            oldest = max(real, key=lambda d: d.age_seconds(now) or 0)
            doc.add(f"Oldest: {_code(oldest.address)}, {age(oldest, now)}. "
                    "`reconcile drift --fix` puts back what changed or went missing "
                    "(`reconcile plan` shows how); unmanaged objects are only reported.", "")
        for name in names:
            mine = [d for d in items if d.integration == name]
            if mine:
                _drift_section(doc, left, name, mine, now)
        return _cut_note(left, "differences", len(items),
                         "Run `reconcile drift` for the full report, or `--format json`.")

    return _fit(build, max_chars)


def _drift_counts(doc: _Doc, items: Sequence[Drift], names: Sequence[str]) -> None:
    kinds = [k for k in _DRIFT_KINDS if any(d.kind == k for d in items)]
    kinds += sorted({d.kind for d in items} - set(kinds))
    doc.add("| integration | " + " | ".join(f"{_DRIFT_KINDS.get(k, '?')} {k}" for k in kinds)
            + " |", "| --- | " + " | ".join("---:" for _ in kinds) + " |")
    for name in names:
        row = [sum(1 for d in items if d.integration == name and d.kind == k) for k in kinds]
        doc.add(f"| {escape(name)} | " + " | ".join(map(str, row)) + " |")
    doc.add("")


def _drift_section(doc: _Doc, left: _Left, name: str, items: Sequence[Drift], now: str) -> None:
    tally = [f"{len(list(g))} {kind}" for kind, g in groupby(sorted(i.kind for i in items))]
    summary = f"<b>{_html(name)}</b>: {_html(', '.join(tally))}"
    entries = [_Entry(tuple(_drift_lines(item, now))) for item in items]
    _section(doc, left, name, summary, entries)


def _drift_lines(item: Drift, now: str) -> list[str]:
    symbol = _DRIFT_KINDS.get(item.kind, "?")
    since = f" ({_when(item.first_seen)})" if item.first_seen else ""
    lines = [(f"{symbol} {item.address}  {_DRIFT_WORDS.get(item.kind, item.kind)}, "
              f"{age(item, now)}{since}")]
    before, after = item.before or {}, item.after or {}
    if item.kind == "changed":
        lines += [f"    {f}: {show_value(before.get(f))} (applied) -> {show_value(after.get(f))} "
                  f"(on the platform)" for f in item.fields]
    elif item.kind == "unmanaged" and after:
        lines.append(f"    on the platform: {show_value(dict(after))}")
    elif item.kind == "missing" and before:
        lines.append(f"    applied: {show_value(dict(before))}")
    if item.detail and item.kind != "changed":  # a change's detail names the fields listed above
        lines.append(f"    {item.detail}")
    return [_one_line(line) for line in lines]


def _when(iso: str) -> str:
    """'2026-11-23 07:12 UTC' from an ISO 8601 UTC time."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
