"""SaperX v2 in the spec language: its options, the rules of SIP lines across entries, and the
resources its integrations get.

- a ``voip_range`` per ``number_ranges`` entry on the integration (key: the range's name), the
  numbers its DIDs are taken from;
- an ``extension`` per SIP line of a client service (key: its ``account_code`` when declared,
  else ``<service id>/<the number it presents>`` until the platform gives it one, which the
  state keeps as the line's remote id). Its status follows the service's: active -> as the line
  says; suspended -> blocked only where the integration's ``block_on_suspend`` says so;
  cancelled -> inactive, always (the seed's newer behaviour, whatever the block switch).

A password is never a value here: the line carries its rule (``password_from``: a
``${env:}``/``${file:}`` reference, or ``generate`` with ``password_file``), resolved by the
provider when it sends it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reconciler.errors import SpecIssue
from reconciler.model import Desired, Resource, address
from reconciler.schedule.cron import cadence
from reconciler.specs.models import ClientSpec, ServiceSpec, SipLineSpec, SpecModel

if TYPE_CHECKING:
    from reconciler.specs.collected import Collected, Issues
    from reconciler.specs.desired import DesiredBuild
    from reconciler.specs.validate import RangeIndex

PLATFORM = "saperx-v2"


class SaperxV2Options(SpecModel):
    """Options of a SaperX v2 integration (the seed's parameters)."""

    page_size: int = Field(100, ge=1, le=1000)
    concurrency: int = Field(4, ge=1, le=32)
    # A suspended client service blocks its lines only when this is on (the seed's "Bloquear e
    # desbloquear linhas junto com o contrato", off by default); cancelling always inactivates.
    block_on_suspend: bool = Field(False, strict=True)
    charge_active_extensions_only: bool = Field(False, strict=True)  # "Cobrar somente ramais ativos"
    cdr_import: Literal["daily", "monthly"] = "daily"  # "Período de importação de CDR"


def key_of(service: ServiceSpec, line: SipLineSpec) -> str:
    """The address key of a line: its account code, else service id and presented number."""
    return line.account_code or f"{service.id}/{line.presented}"


def check(collected: Collected, index: RangeIndex, issues: Issues) -> None:
    """Each DID lies in a declared range of the line's integration and is held once there; an
    account code is held once per integration. A cdr-import schedule that runs more or less
    often than the integration's ``cdr_import`` says is a warning."""
    mine = {n for n, s in collected.integrations.items() if s.platform == PLATFORM}
    _check_import_schedules(collected, mine, issues)
    dids: dict[tuple[str, str], tuple[Any, int]] = {}
    codes: dict[tuple[str, str], tuple[Any, int]] = {}
    for client in collected.clients:
        for service in client.services:
            for line in service.sip_lines:
                if line.integration not in mine:
                    continue
                if line.account_code is not None:
                    first = codes.setdefault((line.integration, line.account_code),
                                             (line.where, service.id))
                    if first[0] is not line.where:
                        issues.at(line.where, ("account_code",), f"account code "
                                  f"{line.account_code} is already held by service {first[1]} "
                                  f"at {first[0]}", "each account code appears once per "
                                  "integration; remove one, or let the platform choose")
                for i, did in enumerate(line.dids):
                    _check_did(collected, index, line, did.number, i, service.id, dids, issues)


def _check_import_schedules(collected: Collected, mine: set[str], issues: Issues) -> None:
    for schedule in collected.schedules.values():
        if schedule.run != "cdr-import":
            continue
        runs = cadence(schedule.cron)
        for name in sorted(mine if schedule.integration is None else
                           mine & set(schedule.integration)):
            wanted = collected.integrations[name].options.get("cdr_import", "daily")
            if runs == wanted:
                continue
            said = {"daily": "every day", "monthly": "once a month"}
            issues.warn(schedule.where, ("cron",), f"integration {name} imports call records "
                        f"{wanted} (options.cdr_import), but this schedule ({schedule.cron}) "
                        f"does not run {said[wanted]}",
                        'for a daily import run it every day ("30 7 * * *"); for a monthly one '
                        'on one day of the month ("30 7 1 * *"); or change options.cdr_import')


def _check_did(collected: Collected, index: RangeIndex, line: SipLineSpec, number: str, i: int,
               service: int, seen: dict[tuple[str, str], tuple[Any, int]], issues: Issues) -> None:
    integration = line.integration
    if collected.complete and integration not in collected.unsure \
            and index.find(integration, number) is None:
        issues.at(line.where, ("dids", i, "number"), f"DID {number} is in no range of "
                  f"integration {integration}; declared ranges: {index.describe(integration)}",
                  "declare a range holding it under number_ranges, or correct the number")
    first = seen.setdefault((integration, number), (line.where, service))
    if first[0] is not line.where:
        issues.at(line.where, ("dids", i, "number"), f"DID {number} is already held by the line "
                  f"of service {first[1]} at {first[0]}", "a DID belongs to one line: remove it "
                  "from one of them (moving it is one edit: take it off the old line)")


def catalog_problems(desired: Desired, synced: Any) -> list[SpecIssue]:
    """A line whose plan or international plan the last synced catalog does not list."""
    out: list[SpecIssue] = []
    names: dict[tuple[str, str], set[str]] = {}  # (integration, catalog) -> names; empty: unsynced
    for res in desired.resources.values():
        if res.kind != "extension" or desired.integrations[res.integration].platform != PLATFORM:
            continue
        for field, catalog in (("plan", "plans"), ("international_plan", "international_plans")):
            if (res.integration, catalog) not in names:
                entries = synced(res.integration, catalog) or ()
                names[res.integration, catalog] = {str(p.get("name")) for p in entries}
            valid, name = names[res.integration, catalog], res.attrs.get(field)
            if not valid or name is None or name in valid or res.source is None:
                continue
            out.append(SpecIssue(res.source.file, res.source.line, res.source.column,
                                 f"SIP line of service {res.attrs.get('service')}: "
                                 f"{field.replace('_', ' ')} {name!r} is not among the "
                                 f"{catalog.replace('_', ' ')} last synced from "
                                 f"{res.integration}",
                                 f"{catalog.replace('_', ' ')} that exist: "
                                 f"{', '.join(sorted(valid))} (run `reconcile sync "
                                 f"{res.integration}` if they changed)"))
    return out


def build(ctx: DesiredBuild) -> None:
    mine = ctx.mine()
    for name, spec in ctx.specs.number_ranges.items():
        if spec.integration in mine:
            attrs = {"country_code": spec.country_code, "area_code": spec.area_code,
                     "first": spec.first, "last": spec.last or spec.first}
            ctx.resources[address(spec.integration, "voip_range", name)] = Resource(
                spec.integration, "voip_range", name, attrs, spec.source)
    for client in ctx.specs.clients:
        for service in client.services:
            for line in service.sip_lines:
                if line.integration in mine:
                    options = ctx.integrations[line.integration].options
                    res = _extension(client, service, line, bool(options.get("block_on_suspend")))
                    ctx.resources[res.address] = res


def _extension(client: ClientSpec, service: ServiceSpec, line: SipLineSpec,
               block_on_suspend: bool) -> Resource:
    attrs: dict[str, Any] = {
        "service": service.id,
        "line_type": line.line_type,
        "active": line.active and service.status != "cancelled",
        "blocked": service.status == "suspended" and block_on_suspend,
        "call_limit": line.call_limit,
        "plan": line.plan,
        "international_plan": line.international_plan,
        "closing_day": line.closing_day,
        "billing": line.billing,
        "route": line.route,
        "caller_id": line.presented,
        "permissions": line.permissions.model_dump(),
        "dids": [{"number": d.number, "monthly_value": f"{d.monthly_value:.2f}",
                  "collect_calls": d.collect_calls, "city": d.city}
                 for d in sorted(line.dids, key=lambda d: d.number)],
        "account_code": line.account_code,
        "password_from": line.password,
        "password_file": line.password_file,
        "name": client.name,
        "document": client.document,
    }
    return Resource(line.integration, "extension", key_of(service, line), attrs, line.source)
