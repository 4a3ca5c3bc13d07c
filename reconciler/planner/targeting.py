"""Targeting: narrow a plan to the changes some address patterns select (``--target``,
``--exclude``), keeping what they depend on.

Pure (no I/O, no clock): a Plan and some patterns in, a smaller Plan out. The full plan is
always computed first and then narrowed, so a partial plan can never hold a change the full plan
would not (and a saved partial plan binds the same state and specs as a full one).

Patterns, as an operator types them after reading a plan:

- ``stfc-sp``: a whole integration; ``stfc-sp.link``: one kind of one integration;
- ``stfc-sp.link["1130001001"]``: one address (quotes optional), or a block address as the plan
  prints it, ``stfc-sp.number[1130001000..1130001019]``, which matches any key in that range;
- ``*`` anywhere is a glob (``*.link``, ``qualifica.subscription["*/premium"]``);
- ``service:1001``: one client service across integrations: every change whose before or after
  attributes name that service, and the resources that belong to it without saying so (the
  Qualifica user of its subscriptions; see :func:`service_index`).

A block change (a range of numbers registered at once) matches when any of its keys does.

Dependencies follow ``Change.depends_on``: a kept change brings the changes it depends on even
when no ``--target`` selects them, and a change left out (excluded, or depending on one that is)
leaves out what depends on it. Both are said in the plan's warnings, with a last warning that the
plan is partial: Terraform's ``-target`` caveat, since the other changes the specs call for wait.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from reconciler.errors import PlanError
from reconciler.model import Change, Estimate, Note, Plan, Resource, address
from reconciler.planner import touched as touched_by
from reconciler.specs.models import did_you_mean

PARTIAL_NOTE = "(partial plan)"  # the address of the warning every narrowed plan carries
SERVICE_PREFIX = "service:"
SYNTAX = ('INTEGRATION, INTEGRATION.KIND, INTEGRATION.KIND["KEY"] (with * as a glob) or '
          'service:ID')
_PATTERN = re.compile(r'^(?P<integration>[^.\[\]]+)(?:\.(?P<kind>[^.\[\]]+))?'
                      r'(?:\[(?P<key>[^\[\]]*)\])?$')
_RANGE = re.compile(r"^(?P<first>\d+)\.\.(?P<last>\d+)$")
_ADDRESS = re.compile(r'^(?P<integration>[^.\[\]]+)\.(?P<kind>[^.\[\]]+)\["(?P<key>.*)"\]$')


class TargetError(PlanError):
    """A --target/--exclude pattern that is malformed or selects nothing."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """One parsed pattern. ``service`` is set for ``service:ID``; the other parts are compiled
    globs (None: any), ``span`` a numeric key range from a block address."""

    text: str
    option: str  # "--target" or "--exclude", for messages
    service: re.Pattern[str] | None = None
    integration: re.Pattern[str] | None = None
    kind: re.Pattern[str] | None = None
    key: re.Pattern[str] | None = None
    span: tuple[int, int] | None = None

    def matches(self, integration: str, kind: str | None, keys: Sequence[str],
                services: Collection[str]) -> bool:
        """Whether a plan entry (one integration, kind and keys, naming some services) matches.
        ``kind`` None is an entry about a whole integration (an integration-wide note)."""
        if self.service is not None:
            return any(self.service.fullmatch(s) for s in services)
        if self.integration is not None and not self.integration.fullmatch(integration):
            return False
        if self.kind is None:
            return True
        if kind is None or not self.kind.fullmatch(kind):
            return False
        return (self.key is None and self.span is None) or any(self._key(k) for k in keys)

    def _key(self, key: str) -> bool:
        if self.span is not None:
            return key.isdigit() and self.span[0] <= int(key) <= self.span[1]
        return self.key is not None and self.key.fullmatch(key) is not None

    @property
    def whole_integrations(self) -> bool:
        """Whether the pattern selects whole integrations (``stfc-sp``, ``*``): an exclude of
        that form means those integrations need not be read at all."""
        return self.service is None and self.kind is None


def parse(text: str, option: str = "--target") -> Pattern:
    """One pattern, or TargetError saying what the forms are."""
    raw = text.strip()
    if raw.startswith(SERVICE_PREFIX):
        service = raw[len(SERVICE_PREFIX):].strip()
        if not service:
            raise TargetError(f"{option} {text!r}: service: needs a client service id, e.g. "
                              f"service:1001")
        return Pattern(text, option, service=_glob(service))
    found = _PATTERN.match(raw)
    if not raw or found is None:
        raise TargetError(f"{option} {text!r} is not an address pattern: use {SYNTAX}")
    key = found["key"]
    if key is not None:
        key = key.strip()
        if len(key) >= 2 and key[0] == key[-1] == '"':
            key = key[1:-1]
        elif '"' in key:
            raise TargetError(f"{option} {text!r}: unbalanced quotes in the key; use {SYNTAX}")
        if found["kind"] is None:
            raise TargetError(f"{option} {text!r}: a key needs a kind before it, e.g. "
                              f'{found["integration"]}.link["{key}"]')
    span = _RANGE.match(key) if key is not None else None
    return Pattern(
        text, option,
        integration=_glob(found["integration"]),
        kind=_glob(found["kind"]) if found["kind"] is not None else None,
        key=_glob(key) if key is not None and span is None else None,
        span=(int(span["first"]), int(span["last"])) if span is not None else None,
    )


def as_options(targets: Iterable[str], excludes: Iterable[str]) -> str:
    """The patterns as typed on the command line: "--target stfc-sp --exclude ..."."""
    return " ".join([*(f"--target {t}" for t in targets), *(f"--exclude {e}" for e in excludes)])


def exactly(addr: str) -> Pattern:
    """A pattern that matches one resource address and nothing else, whatever its key holds
    (a ``*`` in an e-mail or a label is not a glob here): for `drift --fix`."""
    found = _ADDRESS.match(addr)
    if found is None:
        raise TargetError(f"{addr!r} is not a resource address")
    return Pattern(addr, "--target", integration=re.compile(re.escape(found["integration"])),
                   kind=re.compile(re.escape(found["kind"])),
                   key=re.compile(re.escape(found["key"])))


def _glob(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")))


def service_index(resources: Iterable[Resource]) -> dict[str, frozenset[str]]:
    """Address -> the client services a resource belongs to: the service its attributes name
    and, for a Qualifica user, the services of the subscriptions held under that user (a user
    names no service itself). Built from the specs and the state by the caller, so that
    ``service:ID`` also finds a user update with no subscription change beside it."""
    out: dict[str, set[str]] = {}
    for res in resources:
        _index_attrs(out, res.integration, res.address, res.attrs)
    return {addr: frozenset(services) for addr, services in out.items()}


def _index_attrs(out: dict[str, set[str]], integration: str, addr: str,
                 attrs: Mapping[str, object] | None) -> None:
    if not attrs or attrs.get("service") is None:
        return
    service = str(attrs["service"])
    out.setdefault(addr, set()).add(service)
    if attrs.get("user") is not None:
        out.setdefault(address(integration, "user", str(attrs["user"])), set()).add(service)


def integrations_for(
    targets: Sequence[str],
    excludes: Sequence[str],
    declared: Iterable[str],
    services: Mapping[str, Collection[str]] | None = None,
) -> frozenset[str] | None:
    """The declared integrations a targeted plan needs to read (None: all of them).

    An address pattern reads the integrations its first part matches; ``service:ID`` reads
    those holding a resource of that service (in the specs or the state: ``services``, from
    :func:`service_index`); an exclude of whole integrations spares reading them. Patterns that
    select nothing read nothing here and are reported by :func:`narrow`.
    """
    names = sorted(declared)
    if not targets and not any(parse(e, "--exclude").whole_integrations for e in excludes):
        return None
    chosen: set[str] = set()
    for text in targets:
        pattern = parse(text)
        if pattern.service is not None:
            chosen.update(addr.split(".", 1)[0] for addr, held in (services or {}).items()
                          if any(pattern.service.fullmatch(s) for s in held))
        else:
            chosen.update(n for n in names if pattern.integration is None
                          or pattern.integration.fullmatch(n))
    if not targets:
        chosen.update(names)
    for text in excludes:
        pattern = parse(text, "--exclude")
        if pattern.whole_integrations:
            chosen.difference_update(n for n in names if pattern.matches(n, None, (), ()))
    return frozenset(chosen & set(names))


def narrow(
    plan: Plan,
    targets: Sequence[str | Pattern] = (),
    excludes: Sequence[str] = (),
    *,
    services: Mapping[str, Collection[str]] | None = None,
    universe: Collection[str] | None = None,
) -> Plan:
    """The part of ``plan`` the patterns select, with the changes it depends on.

    ``targets`` empty selects everything; ``excludes`` then leaves out what they match, and
    every change depending on a change left out. Adopt and forget entries, converging notes and
    warnings follow the same patterns. ``services`` (address -> services, see
    :func:`service_index`) lets ``service:ID`` find resources that do not name their service.

    A pattern that matches nothing in the plan raises TargetError naming it, unless it matches
    an address of ``universe`` (what the specs, state and platforms hold): then that resource
    simply needs no change, and a warning says so. Without ``universe`` every pattern must
    match something in the plan.
    """
    if not targets and not excludes:
        return plan
    include = [t if isinstance(t, Pattern) else parse(t, "--target") for t in targets]
    exclude = [parse(e, "--exclude") for e in excludes]
    owners = _owners(plan, services)
    entries = _Entries(owners)
    notes = _unmatched(include + exclude, plan, entries, universe)

    kept_ids, brought = _closure(plan, include, entries)
    changes, dropped = _drop(plan, kept_ids, exclude, entries)
    kept = {c.id for c in changes}
    notes.extend(Note(c.address, c.integration,
                      f"included although no --target selects it: {why} depends on it")
                 for c in plan.changes if c.id in kept and (why := brought.get(c.id)))
    notes.extend(Note(c.address, c.integration, f"left out: {why}")
                 for c in plan.changes if (why := dropped.get(c.id)))

    def selected(integration: str, kind: str | None, keys: Sequence[str],
                 held: Collection[str]) -> bool:
        chosen = not include or any(p.matches(integration, kind, keys, held) for p in include)
        return chosen and not any(p.matches(integration, kind, keys, held) for p in exclude)

    adopt = tuple(r for r in plan.adopt if selected(*entries.of_resource(r)))
    forget = tuple(a for a in plan.forget if selected(*entries.of_address(a)))
    converging = tuple(n for n in plan.converging if selected(*entries.of_address(n.address)))
    warnings = [n for n in plan.warnings if selected(*entries.of_address(n.address))]
    options = as_options([p.text for p in include], [p.text for p in exclude])
    warnings.extend(notes)
    warnings.append(Note(PARTIAL_NOTE, "", (
        f"this plan is partial ({options}): other changes the specs call for are not included, "
        f"and the platforms may not match the specs after it is applied; run plan without "
        f"--target/--exclude to see everything and converge")))
    return replace(
        plan,
        changes=changes,
        adopt=adopt,
        forget=forget,
        converging=converging,
        warnings=tuple(warnings),
        estimates=_estimates(plan.estimates, changes),
        touched=_touched(plan.touched, changes),
        targets=(*plan.targets, *(p.text for p in include)),
        excludes=(*plan.excludes, *(p.text for p in exclude)),
    )


def _owners(plan: Plan, services: Mapping[str, Collection[str]] | None) -> dict[str, set[str]]:
    """Address -> services, from the caller's index and from the plan itself (a subscription
    created for a service names the user it is created under)."""
    out: dict[str, set[str]] = {a: set(s) for a, s in (services or {}).items()}
    for change in plan.changes:
        for attrs in (change.before, change.after):
            for addr in change.addresses():
                _index_attrs(out, change.integration, addr, attrs)
    for res in plan.adopt:
        _index_attrs(out, res.integration, res.address, res.attrs)
    return out



class _Entries:
    """How each kind of plan entry presents itself to a pattern: (integration, kind, keys,
    services)."""

    def __init__(self, owners: Mapping[str, Collection[str]]) -> None:
        self.owners = owners

    def of_change(self, change: Change) -> tuple[str, str | None, Sequence[str], set[str]]:
        held: set[str] = set()
        for addr in change.addresses():
            held.update(self.owners.get(addr, ()))
        return change.integration, change.kind, change.keys, held

    def of_resource(self, res: Resource) -> tuple[str, str | None, Sequence[str], set[str]]:
        return res.integration, res.kind, (res.key,), set(self.owners.get(res.address, ()))

    def of_address(self, addr: str) -> tuple[str, str | None, Sequence[str], set[str]]:
        """An address as the plan prints it (a resource's, or a bare integration name)."""
        found = _ADDRESS.match(addr)
        held = set(self.owners.get(addr, ()))
        if found is None:
            return addr.split(".", 1)[0], None, (), held
        return found["integration"], found["kind"], (found["key"],), held


def _unmatched(patterns: Sequence[Pattern], plan: Plan, entries: _Entries,
               universe: Collection[str] | None) -> list[Note]:
    """Raise TargetError naming every pattern that selects nothing at all; a note for each
    that names only resources of ``universe`` needing no change."""
    present = [
        *(entries.of_change(c) for c in plan.changes),
        *(entries.of_resource(r) for r in plan.adopt),
        *(entries.of_address(a) for a in plan.forget),
        *(entries.of_address(n.address) for n in (*plan.converging, *plan.warnings)),
    ]
    notes: list[Note] = []
    problems: list[str] = []
    elsewhere: list[tuple[str, str | None, Sequence[str], set[str]]] = []
    for pattern in patterns:
        if any(pattern.matches(*entry) for entry in present):
            continue
        if universe and not elsewhere:  # read only when needed: it can be every resource
            elsewhere = [entries.of_address(a) for a in universe]
        if any(pattern.matches(*entry) for entry in elsewhere):
            if pattern.option == "--exclude" and pattern.whole_integrations:
                continue  # those integrations were not even read: nothing to say of them
            verb = "to change" if pattern.option == "--target" else "to leave out"
            notes.append(Note(pattern.text, "", f"{pattern.option} {pattern.text}: nothing "
                              f"{verb}: what it names already matches the specs"))
            continue
        hint = did_you_mean(pattern.text, _candidates(pattern, [*present, *elsewhere]))
        where = "the plan" if universe is None else "the plan, the specs or the state"
        problems.append(f"{pattern.option} {pattern.text} matches nothing in {where}; "
                        f"{hint}patterns are {SYNTAX}")
    if problems:
        raise TargetError("\n".join(problems))
    return notes


def _candidates(pattern: Pattern,
                entries: Iterable[tuple[str, str | None, Sequence[str], set[str]]]) -> set[str]:
    """What the operator may have meant, in the same form as the pattern they typed."""
    out: set[str] = set()
    for integration, kind, keys, held in entries:
        if pattern.service is not None:
            out.update(f"{SERVICE_PREFIX}{s}" for s in held)
        elif pattern.kind is None:
            out.add(integration)
        elif pattern.key is None and pattern.span is None:
            out.update(f"{integration}.{kind}" for _ in (1,) if kind is not None)
        elif kind is not None:
            out.update(address(integration, kind, k) for k in keys)
    return out


def _closure(plan: Plan, include: Sequence[Pattern],
             entries: _Entries) -> tuple[set[str], dict[str, str]]:
    """Ids of the changes the targets select plus, transitively, those they depend on; and,
    for each change brought only as a dependency, the id of a change that needs it."""
    if not include:
        return {c.id for c in plan.changes}, {}
    by_id = {c.id: c for c in plan.changes}
    kept = {c.id for c in plan.changes
            if any(p.matches(*entries.of_change(c)) for p in include)}
    brought: dict[str, str] = {}
    todo = sorted(kept)
    while todo:
        change = by_id[todo.pop()]
        for dep in change.depends_on:
            if dep in by_id and dep not in kept:
                kept.add(dep)
                brought[dep] = change.id
                todo.append(dep)
    return kept, brought


def _drop(plan: Plan, kept: set[str], exclude: Sequence[Pattern],
          entries: _Entries) -> tuple[tuple[Change, ...], dict[str, str]]:
    """The kept changes in plan order, less the excluded ones and everything depending on a
    change left out; and why each change that was otherwise kept was left out."""
    left_out = {c.id for c in plan.changes
                if c.id in kept and any(p.matches(*entries.of_change(c)) for p in exclude)}
    why: dict[str, str] = {}
    in_plan = {c.id for c in plan.changes}
    moved = True
    while moved:  # at most one pass per link of the longest dependency chain
        moved = False
        for change in plan.changes:
            if change.id not in kept or change.id in left_out:
                continue
            missing = [d for d in change.depends_on
                       if d in in_plan and (d in left_out or d not in kept)]
            if missing:
                left_out.add(change.id)
                why[change.id] = f"it depends on {missing[0]}, which is left out"
                moved = True
    return tuple(c for c in plan.changes if c.id in kept and c.id not in left_out), why


def _estimates(estimates: Sequence[Estimate], changes: Sequence[Change]) -> tuple[Estimate, ...]:
    """The cost of what is left: one write per change, and the time at the same rate budget.
    The budget's burst is recovered from the full plan's figures (seconds = (writes - burst) /
    rate when over the burst; nothing waits when the full plan fitted in it)."""
    writes: dict[str, int] = {}
    for change in changes:
        writes[change.integration] = writes.get(change.integration, 0) + 1
    out = []
    for est in estimates:
        n = writes.get(est.integration, 0)
        seconds = 0.0
        if est.per_second and est.seconds > 0:
            burst = est.writes - est.seconds * est.per_second
            seconds = max(0.0, n - burst) / est.per_second
        out.append(replace(est, writes=n, seconds=seconds))
    return tuple(out)


def _touched(touched: Mapping[str, str], changes: Sequence[Change]) -> dict[str, str]:
    """The fingerprints of the remote objects the kept changes touch (the planner's own rule
    of what a change touches, asked with no observation so it only lists addresses)."""
    return {addr: touched[addr] for addr in touched_by(changes, {}) if addr in touched}
