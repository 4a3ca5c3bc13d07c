"""Planning rules for SaperX v2: number ranges, and SIP lines (extensions) with their DIDs.

Ranges (key: the name) are registered, resized or deleted as declared; the platform refuses to
shrink or delete one below a number in use, and the error says so.

A line is found on the platform by its account code: the declared one, else the one the
platform gave it, which the state keeps as its remote id.
- declared, not on the platform -> create (not when it should be inactive: a cancelled
  service's line that never existed is left absent);
- declared and present -> update what differs (an UNLINK when it takes DIDs off the line: what
  the safety limits count, as they count numbers unlinked from services); block or unblock to
  follow a suspended service (where the integration blocks); inactivate (a DELETE: the platform
  keeps it) when the service is cancelled or the line says ``active: false``, reactivate when it
  is active again; nothing to do but a state that recorded something else (a change that landed
  in a run killed before it recorded it) -> adopt, so the state holds what the platform holds;
- managed, no longer declared -> inactivate; found inactive already -> forget.
A password is never read back: its rule (a reference, or ``generate``) is compared with the one
the state recorded, and a changed rule sends it again.
A DID moved from one line to another is taken off the old line before the new one gets it: the
change that adds it depends on the one that removes it. A line that takes a DID of a range this
plan registers or resizes depends on that range change (the platform refuses a DID outside its
ranges, and changes of one integration run side by side). A DID another system's line holds is
a warning, never taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from reconciler.model import Action, Change, Drift, Note, Resource
from reconciler.planner.core import Partial, View, differing

PLATFORM = "saperx-v2"
RANGE_FIELDS = ("country_code", "area_code", "first", "last")
LINE_FIELDS = ("service", "line_type", "call_limit", "plan", "international_plan", "closing_day",
               "billing", "route", "caller_id", "permissions", "dids")
COMPARED = {"voip_range": RANGE_FIELDS, "extension": (*LINE_FIELDS, "active", "blocked")}


def plan_integration(view: View) -> Partial:
    out = Partial()
    _catalog_names(view, out)
    if out.errors:
        return out
    _ranges(view, out)
    _lines(view, out)
    return out


def _catalog_names(view: View, out: Partial) -> None:
    """Every plan and international plan a line names must be in the platform's catalog."""
    for field, catalog in (("plan", "plans"), ("international_plan", "international_plans")):
        names = sorted(str(p.get("name")) for p in view.catalogs.get(catalog, ()))
        for res in view.side("desired", "extension").values():
            name = res.attrs.get(field)
            if name is not None and name not in names:
                where = f" ({res.source})" if res.source else ""
                out.errors.append(f"{res.address}: {field.replace('_', ' ')} {name!r} is not in "
                                  f"the {catalog.replace('_', ' ')} of {view.integration}{where}; "
                                  f"valid names: {', '.join(names) or 'none'}")


def _ranges(view: View, out: Partial) -> None:
    want, have, known = (view.side(s, "voip_range") for s in ("desired", "actual", "known"))
    for key, res in sorted(want.items()):
        now = have.get(key)
        if now is None:
            out.changes.append(Change(view.integration, "voip_range", Action.CREATE, (key,), None,
                                      dict(res.attrs), "declared in number_ranges", res.source))
        elif moved := differing(res, now, RANGE_FIELDS):
            out.changes.append(Change(view.integration, "voip_range", Action.UPDATE, (key,),
                                      dict(now.attrs), {**now.attrs, **res.attrs},
                                      "range changed in the specs: " + ", ".join(moved),
                                      res.source))
        elif key not in known or differing(res, known[key], RANGE_FIELDS):
            # new to the state, or a change that landed without being recorded (a killed apply)
            out.adopt.append(replace(res, remote_id=now.remote_id))
    for key, was in sorted(known.items()):
        if key in want:
            continue
        if key in have:
            out.changes.append(Change(view.integration, "voip_range", Action.DELETE, (key,),
                                      dict(have[key].attrs), None,
                                      "no longer declared in number_ranges"))
        else:
            out.forget.append(was.address)


def code_of(view: View, key: str, res: Resource | None) -> str | None:
    """The account code a declared or managed line has on the platform, if any yet."""
    if res is not None and res.attrs.get("account_code"):
        return str(res.attrs["account_code"])
    was = view.side("known", "extension").get(key)
    return was.remote_id if was is not None else None


def _numbers(attrs: Mapping[str, Any] | None) -> set[str]:
    """The DID numbers of a line's attributes."""
    return {d["number"] for d in (attrs or {}).get("dids") or ()}


def _lines(view: View, out: Partial) -> None:
    want, have, known = (view.side(s, "extension") for s in ("desired", "actual", "known"))
    holder = {number: code for code, res in have.items() for number in _numbers(res.attrs)}
    codes = {key: code_of(view, key, res) for key, res in want.items()}
    ours = set(codes.values()) | {r.remote_id for r in known.values()}
    pending: list[Change] = []
    for key, res in sorted(want.items()):
        code = codes[key]
        pending += _line(view, out, key, res, have.get(code) if code else None, code)
    for key, was in sorted(known.items()):
        if key in want:
            continue
        now = have.get(was.remote_id or key)
        if now is not None and now.attrs.get("active"):
            out.changes.append(Change(
                view.integration, "extension", Action.DELETE, (key,),
                {**now.attrs, "account_code": now.key}, None,
                f"service {was.attrs.get('service')} no longer declares this SIP line: "
                f"inactivated (the platform keeps it)"))
        else:  # gone, or inactivated already (by a run killed before it forgot the line)
            out.forget.append(was.address)
    # DID -> the change that takes it off its old line
    releases = {number: change.id for change in pending
                for number in _numbers(change.before) - _numbers(change.after)}
    # the ranges this plan registers or resizes, by their new bounds
    growing = [(_bounds(c.after), c.id) for c in out.changes
               if c.kind == "voip_range" and c.action in (Action.CREATE, Action.UPDATE)]
    for change in pending:
        depends = set(change.depends_on)
        for number in sorted(_numbers(change.after) - _numbers(change.before)):
            depends.update(cid for bounds, cid in growing if _in(number, [bounds]))
            owner = holder.get(number)
            if owner is None:
                continue
            if number in releases:
                depends.add(releases[number])
            elif owner not in ours:
                out.warnings.append(Note(change.address, change.integration, f"DID {number} is "
                                         f"held on the platform by extension {owner}, which the "
                                         f"tool does not manage: not taken"))
        out.changes.append(replace(change, depends_on=tuple(sorted(depends))))


def _line(view: View, out: Partial, key: str, want: Resource, now: Resource | None,
          code: str | None) -> list[Change]:
    """The changes one declared line needs (none: after adopting it if the state needs it)."""
    service = want.attrs["service"]
    if now is None:
        if not want.attrs["active"]:
            return []  # a cancelled service's line that never existed: nothing to inactivate
        return [Change(view.integration, "extension", Action.CREATE, (key,), None,
                       dict(want.attrs), f"service {service} declares a SIP line", want.source)]
    if not want.attrs["active"]:
        # An inactive line is neither blocked nor unblocked: the block it had stays as the
        # platform holds it (inactivating leaves it), so the state records it, and neither a
        # plan nor drift finds a difference in it afterwards.
        want = replace(want, attrs={**want.attrs, "blocked": bool(now.attrs.get("blocked"))})
    target = {**now.attrs, **{f: want.attrs[f] for f in COMPARED["extension"]},
              "account_code": code}
    before = {**now.attrs, "account_code": code}
    if now.attrs.get("active") and not want.attrs["active"]:
        # Still declared: the state keeps it (the change has a target), inactive.
        return [Change(view.integration, "extension", Action.DELETE, (key,), before, target,
                       f"service {service} is cancelled (or its line inactive): inactivated",
                       want.source)]
    moved = changed_fields(want, now, LINE_FIELDS + ("active",))
    was = view.side("known", "extension").get(key)
    if was is not None and was.attrs.get("password_from") != want.attrs.get("password_from"):
        # The platform never shows a password: the rule is compared with what the state
        # recorded when it was last sent, and a changed rule sends it again.
        moved.append("password")
        # only a changed rule carries it: an update sends the password again only then
        target.update(password_from=want.attrs.get("password_from"),
                      password_file=want.attrs.get("password_file"))
    line_changes: list[Change] = []
    if moved:
        # Taking DIDs off a line is what the safety limits count as an unlink (a customer's
        # number stops reaching them); any other change is an update. Blocking or unblocking
        # stays a change of its own, after it, so the suspend limit counts it too.
        action = Action.UNLINK if _numbers(before) - _numbers(target) else Action.UPDATE
        update = {**target, "blocked": now.attrs.get("blocked")}
        line_changes.append(Change(view.integration, "extension", action, (key,), before, update,
                           "changed in the specs: " + ", ".join(moved), want.source))
        before = update
    if bool(now.attrs.get("blocked")) != bool(want.attrs["blocked"]):
        action = Action.SUSPEND if want.attrs["blocked"] else Action.RESUME
        why = "suspended" if want.attrs["blocked"] else "active again"
        line_changes.append(Change(view.integration, "extension", action, (key,), before, target,
                           f"service {service} is {why}", want.source,
                           tuple(c.id for c in line_changes)))
    if not line_changes and (was is None or changed_fields(want, was, COMPARED["extension"])):
        # new to the state, or a change that landed without being recorded (a killed apply):
        # the state takes what the platform now holds, so drift does not report it
        out.adopt.append(replace(want, remote_id=code))
    return line_changes


def changed_fields(ruler: Resource, other: Resource, fields: tuple[str, ...]) -> list[str]:
    """:func:`differing`, except that a DID whose city the ruler leaves out takes the one the
    platform filled in (it does, from the DDD), so an unset city never differs."""
    moved = differing(ruler, other, fields)
    if "dids" in moved and _dids(ruler.attrs.get("dids"), other.attrs.get("dids")):
        moved.remove("dids")
    return moved


def _dids(ruler: object, other: object) -> bool:
    """Whether two DID lists are the same, an unset city in ``ruler`` matching any."""
    if not isinstance(ruler, list) or not isinstance(other, list) or len(ruler) != len(other):
        return False
    return all(isinstance(mine, dict) and isinstance(theirs, dict)
               and {**mine, **{k: theirs.get(k) for k, v in mine.items() if v is None}} == theirs
               for mine, theirs in zip(ruler, other, strict=True))


def refine_drift(was: Resource, now: Resource | None, found: Drift | None,
                 actual: Mapping[str, Resource], managed: Mapping[str, Resource]) -> Drift | None:
    """No drift for a city the platform filled in where the specs gave none."""
    if found is None or found.kind != "changed" or now is None or was.kind != "extension":
        return found
    moved = changed_fields(was, now, found.fields)
    if not moved:
        return None
    return replace(found, fields=tuple(moved),
                   before={f: was.attrs.get(f) for f in moved},
                   after={f: now.attrs.get(f) for f in moved},
                   detail="changed outside the tool: " + ", ".join(moved))


def unmanaged(view: View) -> list[tuple[Resource, str]]:
    """Extensions neither managed nor declared holding a DID of a declared range."""
    known = {r.remote_id for r in view.side("known", "extension").values()}
    declared = {code_of(view, k, r) for k, r in view.side("desired", "extension").items()}
    ranges = [_bounds(r.attrs) for r in view.side("desired", "voip_range").values()]
    out = []
    for code, res in sorted(view.side("actual", "extension").items()):
        if code in known or code in declared:
            continue
        numbers = [d["number"] for d in res.attrs.get("dids") or ()]
        if any(_in(n, ranges) for n in numbers):
            out.append((res, f"a SIP line holding DIDs of a declared range ({', '.join(numbers)})"))
    return out


def _bounds(attrs: Mapping[str, Any] | None) -> tuple[int, str, str]:
    """A range's area code, first and last subscriber numbers."""
    attrs = attrs or {}
    return attrs["area_code"], str(attrs["first"]), str(attrs["last"])


def _in(number: str, ranges: list[tuple[int, str, str]]) -> bool:
    return any(number[:2] == str(ddd) and first <= number[2:] <= last
               for ddd, first, last in ranges)

