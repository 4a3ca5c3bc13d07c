"""From parsed spec files to one validated :class:`SpecSet`, reporting every problem at once.

Two passes. The *shape* pass validates each entry (one integration, one range, one client) on
its own through the pydantic models, so one bad entry does not hide the others, and records
where each entry came from; an integration's credentials and options are checked there too,
against its platform. The *rules* pass checks what relates entries to each other: references,
overlapping ranges, numbers outside every range, numbers or documents or service ids used twice.

An entry that fails the shape pass is still *declared*: a reference to it is not reported as
unresolved, so that one typo yields one message rather than a cascade. For the same reason,
when a file could not be parsed at all, references and range membership are not checked.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from reconciler.billing import billing_command
from reconciler.bounds import clip
from reconciler.errors import SpecError, SpecIssue
from reconciler.platforms import registry
from reconciler.sources import registry as erps
from reconciler.specs import content_rules, erp_rules
from reconciler.specs.collected import Collected, Issues
from reconciler.specs.file_parts import SAFETY, Entry, FilePart, join
from reconciler.specs.models import (
    ENV_NAME,
    NAME_HINT,
    SAFETY_ACTIONS,
    SAFETY_DEFAULT,
    SECRET_REF,
    SECTIONS,
    ClientSpec,
    ErpSourceSpec,
    IntegrationSpec,
    PackageSpec,
    PhoneNumberSpec,
    PlanSpec,
    ProductSpec,
    RangeSpec,
    SafetyLimit,
    ScheduleSpec,
    ServiceDetailsSpec,
    ServiceSpec,
    SpecModel,
    SpecSet,
    choices_hint,
    did_you_mean,
    is_secret_field,
    name_problem,
)
from reconciler.specs.yaml_loader import Document, Loaded, Where, YamlPath, parse

MAX_RANGE_SIZE = 100_000  # a typo in `last` must not register millions of numbers
REF_HINT = "write ${env:NAME} (an environment variable) or ${file:PATH} (a file holding the value)"


def validate(loaded: Loaded, parts: list[FilePart] | None = None) -> SpecSet:
    """The validated, merged spec set; raises SpecError listing every problem.

    ``parts`` are the files' own outcomes (:func:`shape`, or the spec cache's), one per
    document read, in order; without them every document is parsed and shaped here.
    """
    if parts is None:
        parts = [shape(doc) for doc in loaded.documents]
    issues = Issues(loaded.issues)
    collected = join(parts, issues, loaded.complete)
    erp_rules.merge_details(collected, issues)
    index = _check_ranges(collected, issues)
    _check_clients(collected, index, issues)
    for platform in sorted({s.platform for s in collected.integrations.values()}):
        check = registry.get(platform).check
        if check is not None:
            check(collected, index, issues)
    content_rules.check(collected, issues)
    erp_rules.check_sources(collected, issues)
    _check_safety_names(collected, issues)
    _check_schedules(collected, issues)
    if issues.items:
        raise SpecError(issues.items)
    return SpecSet.model_construct(
        integrations=collected.integrations,
        number_ranges=collected.ranges,
        clients=collected.clients,
        products=collected.products,
        packages=collected.packages,
        plans=collected.plans,
        safety_default=collected.safety_default,
        safety=collected.safety,
        schedules=collected.schedules,
        erp_sources=collected.erp_sources,
        files=[part.doc.file for part in parts if part.parsed],
        digest=loaded.digest,
        warnings=sorted(issues.warnings, key=lambda i: (i.file, i.line, i.column, i.message)),
    )


# --- shape pass --------------------------------------------------------------------------------


def shape(doc: Document) -> FilePart:
    """Parse one file and validate each of its entries on its own (see :mod:`.file_parts`)."""
    load_issues: list[SpecIssue] = []
    part = FilePart(doc, parse(doc, load_issues), load_issues)
    if part.parsed:
        _collect_document(doc, part.entries)
    doc.release()
    return part


def _entry(entries: list[Entry], claim: tuple[str, Any] | None = None,
           where: Where | None = None) -> tuple[Collected, Issues]:
    """A new entry of the file: what it collects, and its problems."""
    issues = Issues()
    entry = Entry(Collected(), issues.items, claim, where)
    entries.append(entry)
    return entry.adds, issues


def _collect_document(doc: Document, entries: list[Entry]) -> None:
    """Validate each entry of one file, each into an entry of its own."""
    if doc.data is None:
        return
    if not isinstance(doc.data, dict):
        _entry(entries)[1].add(doc, (), "a spec file must be a mapping of top-level keys", _TOP_HINT)
        return
    for key, value in doc.data.items():
        if key not in SECTIONS:
            hint = did_you_mean(key, SECTIONS) + _TOP_HINT
            _entry(entries)[1].add(doc, (key,), f"unknown top-level key '{key}'", hint, True)
        elif key == "clients":
            _collect_clients(doc, value, *_entry(entries))
        elif key == "safety":
            here = Where(doc, ("safety",), *doc.key_position("", "safety"))
            _collect_safety(doc, value, here, *_entry(entries, SAFETY, here))
        elif key == "products":
            _collect_products(doc, value, entries)
        elif key == "service_details":
            _collect_details(doc, value, entries)
        elif value is not None:
            _collect_named(doc, key, value, entries)


_TOP_HINT = f"allowed top-level keys: {', '.join(SECTIONS)}"



def _collect_named(doc: Document, section: str, raws: Any, entries: list[Entry]) -> None:
    """Integrations or number ranges: a mapping of names to entries. Each name is claimed,
    to be unique across files (:func:`.file_parts.join`)."""
    if not isinstance(raws, dict):
        _entry(entries)[1].add(
            doc, (section,), f"'{section}' must be a mapping of names to entries", _NAMED_HINT[section]
        )
        return
    for name, raw in raws.items():
        where = Where(doc, (section, name), *doc.key_position(section, str(name)))
        problem = name_problem(name)
        if problem is not None:
            _entry(entries)[1].at(where, (), problem, NAME_HINT, at_key=True)
            continue
        collected, issues = _entry(entries, (section, name), where)
        collected.declared[(section, name)] = where
        _collect_entry(section, name, raw, where, collected, issues)


_NAMED_HINT = {
    "integrations": "write integrations:\n      stfc-sp:\n        platform: saperx-stfc ...",
    "number_ranges": "write number_ranges:\n      sp-centro:\n        integration: stfc-sp ...",
    "packages": "write packages:\n      livros:\n        integration: campsoft ...",
    "plans": "write plans:\n      fibra-500-combo:\n        packages: [...]",
    "schedules": 'write schedules:\n      nightly-drift: {cron: "0 3 * * *", run: drift}',
    "erp_sources": "write erp_sources:\n      hubsoft-main:\n        kind: hubsoft ...",
}


def _collect_entry(
    section: str, name: str, raw: Any, where: Where, collected: Collected, issues: Issues
) -> None:
    if section == "integrations":
        _collect_integration(name, raw, where, collected, issues)
        return
    if section == "schedules":
        schedule = _validated(ScheduleSpec, raw, where, issues)
        if schedule is not None:
            collected.schedules[name] = schedule
        return
    if section == "erp_sources":
        erp_source = _validated(ErpSourceSpec, raw, where, issues)
        _check_erp_source(raw, where, issues)
        if erp_source is not None:
            collected.erp_sources[name] = erp_source
        return
    if section in ("packages", "plans"):
        model = PackageSpec if section == "packages" else PlanSpec
        entry = _validated(model, raw, where, issues)
        if entry is not None:
            getattr(collected, section)[name] = entry
            if section == "plans":
                _place_list(entry, raw, "packages")
        return
    spec = _validated(RangeSpec, raw, where, issues)
    if spec is not None:
        collected.ranges[name] = spec
    else:
        _range_unsure(raw, collected)


def _range_unsure(raw: Any, collected: Collected) -> None:
    """A broken range: numbers of its integration cannot be said to lie in no range."""
    integration = raw.get("integration") if isinstance(raw, dict) else None
    if isinstance(integration, str):
        collected.unsure.add(integration)
    else:
        collected.complete = False


def _validated(model: type[SpecModel], raw: Any, where: Where, issues: Issues) -> Any:
    """``raw`` validated as ``model`` with its position attached, or None (and issues)."""
    try:
        spec = model.model_validate(raw)
    except ValidationError as exc:
        issues.pydantic(where.doc, where.path, model, exc)
        return None
    spec.place(where)
    return spec


def _collect_clients(doc: Document, entries: Any, collected: Collected, issues: Issues) -> None:
    if entries is None:
        return
    if not isinstance(entries, list):
        issues.add(doc, ("clients",), "'clients' must be a list", "write clients:\n      - document: ...")
        return
    for i, raw in enumerate(entries):
        where = Where(doc, ("clients", i), *doc.mark_of(raw))
        client = _validated(ClientSpec, raw, where, issues)
        if client is not None:
            _place_services(client.services, raw.get("services") or [], where)
            collected.clients.append(client)
        elif isinstance(raw, dict) and isinstance(raw.get("services"), list):
            collected.salvaged.extend(_salvage_services(raw["services"], where))


def _place_services(services: list[ServiceSpec], raws: list[Any], client: Where) -> None:
    """Give each service of a valid client, and its phone number entries, their positions."""
    for j, (service, raw) in enumerate(zip(services, raws, strict=True)):
        _place_service(service, raw, _service_at(client, j, raw))


def _service_at(client: Where, j: int, raw: Any) -> Where:
    return Where(client.doc, client.path + ("services", j), *client.doc.mark_of(raw))


def _place_service(service: ServiceSpec | ServiceDetailsSpec, raw: dict[str, Any],
                   where: Where) -> None:
    doc, path = where.doc, where.path
    service.place(where)
    _place_list(service, raw, "phone_numbers")
    _place_list(service, raw, "sip_lines")
    for line, raw_line in zip(service.sip_lines, raw.get("sip_lines") or (), strict=True):
        _place_list(line, raw_line, "dids")
    _place_list(service, raw, "packages")
    if service.port is not None:
        service.port.place(Where(doc, path + ("port",), *doc.mark_of(raw.get("port"))))


def _place_list(owner: SpecModel, raw: Any, key: str) -> None:
    """Give the entries of ``owner``'s list ``key`` their positions."""
    doc, path = owner.where.doc, owner.where.path
    for k, (entry, raw_entry) in enumerate(zip(getattr(owner, key), raw.get(key) or (), strict=True)):
        entry.place(Where(doc, path + (key, k), *doc.mark_of(raw_entry)))


def _collect_products(doc: Document, value: Any, parts: list[Entry]) -> None:
    """`products:` maps an integration to the products it offers (where it cannot list them);
    each integration's products are claimed, to be declared once across files."""
    if value is None:
        return
    if not isinstance(value, dict):
        _entry(parts)[1].add(doc, ("products",), "'products' must map integration names to lists "
                             "of products",
                             "write products:\n      qualifica:\n        - {code: premium, name: Premium}")
        return
    for name, entries in value.items():
        where = Where(doc, ("products", name), *doc.key_position("products", str(name)))
        collected, issues = _entry(parts, ("products", name), where)
        collected.products_at[name] = where
        if not isinstance(entries, list):
            issues.at(where, (), f"the products of '{name}' must be a list",
                      "write - {code: premium, name: Premium}")
            continue
        kept = []
        for i, raw in enumerate(entries):
            spec = _validated(ProductSpec, raw, Where(doc, where.path + (i,), *doc.mark_of(raw)),
                              issues)
            if spec is not None:
                kept.append(spec)
        collected.products[str(name)] = kept


def _collect_details(doc: Document, value: Any, parts: list[Entry]) -> None:
    """`service_details:` maps a service id to what is declared by hand of it; each id is
    claimed, to be detailed once across files."""
    if value is None:
        return
    if not isinstance(value, dict):
        _entry(parts)[1].add(doc, ("service_details",), "'service_details' must map service ids "
                             "to what is declared of them", _DETAILS_HINT)
        return
    for key, raw in value.items():
        where = Where(doc, ("service_details", key), *doc.key_position("service_details", str(key)))
        if isinstance(key, bool) or not isinstance(key, int) or key <= 0:
            _entry(parts)[1].at(where, (), f"'{clip(str(key), 40)}' is not a service id",
                                "key each entry by the service's id_cliente_servico (a whole "
                                "number)", at_key=True)
            continue
        collected, issues = _entry(parts, ("service_details", str(key)), where)
        collected.declared[("service_details", str(key))] = where
        details = _validated(ServiceDetailsSpec, raw, where, issues)
        if details is not None:
            _place_service(details, raw, where)
            collected.details[key] = details


_DETAILS_HINT = ("write service_details:\n      1001:\n        phone_numbers:\n"
                 "          - {integration: stfc-sp, number: ..., plan: ...}")


def _salvage_services(raws: list[Any], client: Where) -> list[ServiceSpec]:
    """The valid services of an invalid client, so that the rules across entries still run.

    Their own errors were reported while validating the client, so they are not repeated.
    """
    kept: list[ServiceSpec] = []
    for j, raw in enumerate(raws):
        try:
            service = ServiceSpec.model_validate(raw)
        except ValidationError:
            continue
        _place_service(service, raw, _service_at(client, j, raw))
        kept.append(service)
    return kept


# --- safety limits -----------------------------------------------------------------------------


_SAFETY_HINT = (
    "write safety:\n      default: {max_percent: 10, max_count: 200}\n"
    "      stfc-sp:\n        unlink: {max_percent: 5}"
)
_ACTIONS_HINT = f"limits apply to these actions: {', '.join(SAFETY_ACTIONS)}"


def _collect_safety(doc: Document, value: Any, here: Where, collected: Collected,
                    issues: Issues) -> None:
    """The one `safety:` section: a default limit and limits per integration and action.

    Only one file may hold it, as with a named entry (the section is claimed): two partial
    sections merged silently would make the effective limit depend on file order.
    """
    collected.safety_at = here
    if value is None:
        return
    if not isinstance(value, dict):
        issues.add(doc, ("safety",), "'safety' must be a mapping of integration names (or default) "
                   "to limits", _SAFETY_HINT)
        return
    for name, raw in value.items():
        if name == SAFETY_DEFAULT:
            limit = _safety_limit(doc, ("safety", name), raw, issues)
            collected.safety_default = limit if limit is not None else {}
        else:
            _collect_safety_integration(doc, name, raw, collected, issues)


def _collect_safety_integration(
    doc: Document, name: Any, raw: Any, collected: Collected, issues: Issues
) -> None:
    """The limits of one integration, action by action."""
    path: YamlPath = ("safety", name)
    if name_problem(name) is not None:
        issues.add(doc, path, f"'{name}' is not a valid integration name", NAME_HINT, True)
        return
    collected.safety_names[name] = Where(doc, path, *doc.key_position("safety", str(name)))
    if not isinstance(raw, dict):
        issues.add(doc, path, f"the limits of integration '{name}' must be a mapping of actions "
                   "to limits", _ACTIONS_HINT + "; e.g. unlink: {max_percent: 5, max_count: 50}")
        return
    limits: dict[str, dict[str, float | int]] = {}
    for action, body in raw.items():
        if action not in SAFETY_ACTIONS:
            message = f"unknown action '{action}' in the safety limits of integration '{name}'"
            hint = did_you_mean(action, SAFETY_ACTIONS) + _ACTIONS_HINT
            issues.add(doc, path + (action,), message, hint, True)
            continue
        limit = _safety_limit(doc, path + (action,), body, issues)
        if limit is not None:
            limits[action] = limit
    collected.safety[name] = limits


def _safety_limit(doc: Document, path: YamlPath, raw: Any, issues: Issues) -> dict[str, float | int] | None:
    """One limit (``{max_percent, max_count}``) as plain numbers, or None (and issues)."""
    where = Where(doc, path, *doc.mark_of(raw))
    spec = _validated(SafetyLimit, raw if raw is not None else {}, where, issues)
    return spec.given() if spec is not None else None


def _check_safety_names(collected: Collected, issues: Issues) -> None:
    """Limits of an integration nobody declared are a typo: the limit would silently not apply."""
    if not collected.complete:
        return
    declared = sorted(n for (section, n) in collected.declared if section == "integrations")
    for name, where in collected.safety_names.items():
        if ("integrations", name) not in collected.declared:
            hint = choices_hint(name, declared, "declared integrations")
            issues.at(where, (), f"safety limits for unknown integration '{name}'", hint, True)


def _check_schedules(collected: Collected, issues: Issues) -> None:
    """A schedule's integrations must be declared (every job works on the named ones only); a
    cdr-import works on integrations whose platform keeps call records; a billing job on one
    integration whose platform bills (call records or its own charges)."""
    declared = sorted(n for (section, n) in collected.declared if section == "integrations")
    with_calls = sorted(name for name, spec in collected.integrations.items()
                        if registry.get(spec.platform).bill_calls is not None)
    for schedule in collected.schedules.values():
        if not collected.complete:
            continue
        if schedule.run == "billing" and len(schedule.integration or ()) != 1:
            billed = sorted(name for name, spec in collected.integrations.items()
                            if billing_command(registry.get(spec.platform)))
            issues.at(schedule.where, ("run",), "a billing job bills one integration: name it "
                      "with integration:", "integrations that bill: "
                      f"{', '.join(billed) or 'none'}; one job per integration")
        if schedule.run == "cdr-import" and schedule.integration is None and not with_calls:
            issues.at(schedule.where, ("run",), "a cdr-import job needs an integration with call "
                      "records, and none is declared", "declare a saperx-v2 integration, or "
                      "remove the job")
        for i, name in enumerate(schedule.integration or ()):
            if ("integrations", name) not in collected.declared:
                hint = choices_hint(name, declared, "declared integrations")
                # a single name points at its own line too: the walk stops at the scalar
                issues.at(schedule.where, ("integration", i), f"unknown integration '{name}'", hint)
            elif (schedule.run == "billing" and name in collected.integrations
                  and not billing_command(registry.get(collected.integrations[name].platform))):
                issues.at(schedule.where, ("integration", i), f"integration '{name}' has nothing "
                          "to bill", "billing works on integrations with call records (saperx-v2) "
                          "or charges of their own (saperx-stfc)")
            elif (schedule.run == "cdr-import" and name in collected.integrations
                  and name not in with_calls):
                issues.at(schedule.where, ("integration", i), f"integration '{name}' has no call "
                          f"records to import", "integrations with call records: "
                          f"{', '.join(with_calls) or 'none'}")


# --- per-platform checks of an integration ----------------------------------------------------


def _collect_integration(name: str, raw: Any, where: Where, collected: Collected, issues: Issues) -> None:
    """Validate one integration; credentials and options are checked even if other keys fail."""
    spec = _validated(IntegrationSpec, raw, where, issues)
    options = _platform_checks(raw, where, issues)
    if spec is not None and options is not None:
        collected.integrations[name] = spec.model_copy(update={"options": options})


def _platform_checks(raw: Any, where: Where, issues: Issues) -> dict[str, Any] | None:
    """Credentials and options per platform; the options with defaults, or None if wrong."""
    platform = raw.get("platform") if isinstance(raw, dict) else None
    if not isinstance(platform, str) or registry.find(platform) is None:
        return None  # the model reports it
    credentials, options = raw.get("credentials"), raw.get("options") or {}
    if isinstance(credentials, dict):
        _check_credentials(where, platform, credentials, issues)
    if not isinstance(options, dict):
        return None
    model = registry.get(platform).options
    try:
        return model.model_validate(options).model_dump()
    except ValidationError as exc:
        issues.pydantic(where.doc, where.path + ("options",), model, exc)
        return None


def _check_credentials(where: Where, platform: str, credentials: dict[Any, Any], issues: Issues) -> None:
    descriptor = registry.get(platform)
    _check_credential_set(where, platform, descriptor.credentials, descriptor.credential_choices,
                          credentials, issues)


def _check_credential_set(where: Where, owner: str, allowed: tuple[str, ...],
                          choices: tuple[tuple[str, ...], ...], credentials: dict[Any, Any],
                          issues: Issues) -> None:
    """Credentials of a platform or ERP (``owner``): known names, references, all given (or
    exactly one of the ``choices``)."""
    path = ("credentials",)
    for key, value in credentials.items():
        if key not in allowed:
            hint = choices_hint(key, allowed, f"{owner} takes exactly")
            issues.at(where, path + (key,), f"unknown credential '{key}'", hint, at_key=True)
            continue
        problem = credential_problem(str(key), value)
        if problem is not None:
            issues.at(where, path + (key,), problem, REF_HINT)
    if choices:
        given = {key for key in credentials if key in allowed}
        if not any(given == set(choice) for choice in choices):
            ways = " or ".join(" and ".join(choice) for choice in choices)
            issues.at(where, path, f"{owner} takes {ways}", "give exactly one of these sets, "
                      "each as ${env:NAME} or ${file:PATH}", True)
        return
    for key in allowed:
        if key not in credentials:
            issues.at(where, path, f"missing credential '{key}'", f"add {key}: ${{env:NAME}}", True)


def _check_erp_source(raw: Any, where: Where, issues: Issues) -> None:
    """What depends on the ERP's kind: its credentials, and statuses the mapping may name
    (checked even when other keys are wrong, as an integration's are)."""
    kind = raw.get("kind") if isinstance(raw, dict) else None
    erp = erps.find(kind) if isinstance(kind, str) else None
    if erp is None:
        return  # the model reports it
    credentials, mapping = raw.get("credentials"), raw.get("status_mapping")
    if isinstance(credentials, dict):
        _check_credential_set(where, erp.name, erp.credentials, (), credentials, issues)
    for status in mapping if isinstance(mapping, dict) else ():
        if status not in erp.statuses:
            hint = choices_hint(status, tuple(erp.statuses), f"{erp.title} statuses are")
            issues.at(where, ("status_mapping", status), f"'{clip(str(status), 40)}' is not a "
                      f"{erp.title} status", hint, at_key=True)


def credential_problem(key: str, value: object) -> str | None:
    """What is wrong with one credential value, never quoting the value itself."""
    if isinstance(value, str) and value.startswith("${"):
        return _reference_problem(key, value)
    if is_secret_field(key):
        return (
            f"credential '{key}': a literal secret in a spec is refused; use ${{env:NAME}} or ${{file:PATH}}"
        )
    if not isinstance(value, str):
        return f"credential '{key}' must be text or a secret reference"
    return None


def _reference_problem(key: str, value: str) -> str | None:
    match = SECRET_REF.fullmatch(value)
    if match is None:
        return f"credential '{key}' is not a well-formed secret reference"
    scheme, name = match["scheme"], match["name"]
    if scheme not in ("env", "file"):
        return f"credential '{key}': unknown secret scheme '{scheme}'"
    if scheme == "env" and not ENV_NAME.fullmatch(name):
        return f"credential '{key}': '{name}' is not an environment variable name"
    if scheme == "file" and not name.strip():
        return f"credential '{key}': the file path is empty"
    return None


_TAKES = {"number_ranges": "number ranges", "phone_numbers": "phone numbers",
          "sip_lines": "SIP lines", "customer_ports": "customer ports"}


def _integration_for(collected: Collected, name: str, where: Where, issues: Issues,
                     section: str) -> IntegrationSpec | None:
    """The integration a range or phone number points to, which must take ``section``
    (``number_ranges`` or ``phone_numbers``, as its platform's descriptor says), or None."""
    spec = collected.integrations.get(name)
    if spec is None:
        if collected.complete and ("integrations", name) not in collected.declared:
            hint = choices_hint(name, _taking(collected, section))
            issues.at(where, ("integration",), f"unknown integration '{name}'", hint)
        return None
    if not getattr(registry.get(spec.platform), section):
        message = f"integration '{name}' is a {spec.platform} integration, which holds no {_TAKES[section]}"
        holding = " or ".join(p.name for p in registry.every() if getattr(p, section))
        issues.at(where, ("integration",), message, f"point to a {holding} integration")
        return None
    return spec


def _taking(collected: Collected, section: str) -> list[str]:
    return sorted(n for n, s in collected.integrations.items()
                  if getattr(registry.get(s.platform), section))


# --- rules: number ranges ----------------------------------------------------------------------


class RangeIndex:
    """Declared ranges per integration, for membership tests by bisection."""

    def __init__(self, ranges: Iterable[tuple[str, RangeSpec]]) -> None:
        self.by_integration: dict[str, list[tuple[int, int, str]]] = {}
        for name, spec in ranges:
            bounds = (int(spec.first_number), int(spec.last_number), name)
            self.by_integration.setdefault(spec.integration, []).append(bounds)
        for entries in self.by_integration.values():
            entries.sort()

    def find(self, integration: str, number: str) -> str | None:
        """The name of the range of ``integration`` that holds ``number``, if any."""
        entries = self.by_integration.get(integration, [])
        i = bisect.bisect_right(entries, (int(number), float("inf"), ""))
        if i and entries[i - 1][1] >= int(number):
            return entries[i - 1][2]
        return None

    def elsewhere(self, number: str) -> tuple[str, str] | None:
        """(integration, range) of another integration holding ``number``."""
        for integration in self.by_integration:
            name = self.find(integration, number)
            if name is not None:
                return integration, name
        return None

    def describe(self, integration: str, limit: int = 5) -> str:
        entries = self.by_integration.get(integration, [])
        shown = [f"{name} {first:010d}..{last:010d}" for first, last, name in entries[:limit]]
        more = f" and {len(entries) - limit} more" if len(entries) > limit else ""
        return ", ".join(shown) + more if shown else "none"


def _check_ranges(collected: Collected, issues: Issues) -> RangeIndex:
    """Each range on its own, then overlaps within each integration; the index of sound ranges."""
    sound: list[tuple[str, RangeSpec]] = []
    for name, spec in collected.ranges.items():
        integration = _integration_for(collected, spec.integration, spec.where, issues,
                                       "number_ranges")
        if integration is not None and spec.on_remove != "refuse":
            _check_on_remove(spec, integration, issues)
        if _range_bounds_ok(spec, issues):
            sound.append((name, spec))
        else:
            collected.unsure.add(spec.integration)
    index = RangeIndex(sound)
    ranges = dict(sound)
    for entries in index.by_integration.values():
        _check_overlaps(entries, ranges, issues)
    return index


def _check_on_remove(spec: RangeSpec, integration: IntegrationSpec, issues: Issues) -> None:
    """``on_remove`` speaks of numbers linked to client services one by one: a range of a
    platform whose numbers no ``phone_numbers`` entry takes has none to unlink."""
    if registry.get(integration.platform).phone_numbers:
        return
    message = (f"on_remove applies to ranges whose numbers are linked to client services; "
               f"integration '{spec.integration}' is a {integration.platform} integration")
    issues.at(spec.where, ("on_remove",), message, "remove on_remove from this range")


def _range_bounds_ok(spec: RangeSpec, issues: Issues) -> bool:
    if spec.last is not None and spec.last < spec.first:
        message = f"last {spec.last} comes before first {spec.first}"
        issues.at(spec.where, ("last",), message, "swap first and last, or correct one of them")
        return False
    size = int(spec.last_number) - int(spec.first_number) + 1
    if size > MAX_RANGE_SIZE:
        message = f"this range holds {size} numbers, more than the {MAX_RANGE_SIZE} allowed in one range"
        issues.at(spec.where, ("last",), message, "check last for a typo, or split the range")
    return True


def _check_overlaps(
    entries: list[tuple[int, int, str]], ranges: dict[str, RangeSpec], issues: Issues
) -> None:
    """Report each range that starts inside an earlier one (entries sorted by first number)."""
    reach: tuple[int, int, str] | None = None
    for entry in entries:
        if reach is not None and entry[0] <= reach[1]:
            this, other = ranges[entry[2]], ranges[reach[2]]
            message = (
                f"number range '{entry[2]}' ({this.first_number}..{this.last_number}, at {this.where}) "
                f"overlaps '{reach[2]}' ({other.first_number}..{other.last_number}, at {other.where})"
            )
            issues.at(this.where, (), message, "ranges of one integration must not share numbers", True)
        if reach is None or entry[1] > reach[1]:
            reach = entry


# --- rules: clients ----------------------------------------------------------------------------


@dataclass
class _Seen:
    """First place of each document, service id and assigned number."""

    documents: dict[str, Where] = field(default_factory=dict)
    services: dict[int, Where] = field(default_factory=dict)
    numbers: dict[str, tuple[Where, int]] = field(default_factory=dict)


def _check_clients(collected: Collected, index: RangeIndex, issues: Issues) -> None:
    seen = _Seen()
    for client in collected.clients:
        first = seen.documents.setdefault(client.document, client.where)
        if first is not client.where:
            message = f"document {client.document} is already used by the client at {first}"
            issues.at(client.where, ("document",), message, "merge the two clients, or correct the document")
        for service in client.services:
            _check_service(collected, index, seen, service, issues)
    for service in collected.salvaged:
        _check_service(collected, index, seen, service, issues)


def _check_service(
    collected: Collected, index: RangeIndex, seen: _Seen, service: ServiceSpec, issues: Issues
) -> None:
    first = seen.services.setdefault(service.id, service.where)
    if first is not service.where:
        message = f"service id {service.id} is already used at {first}"
        issues.at(service.where, ("id",), message, "each id_cliente_servico appears once")
    for phone in service.phone_numbers:
        _check_phone(collected, index, seen, service, phone, issues)
    for line in service.sip_lines:
        _integration_for(collected, line.integration, line.where, issues, "sip_lines")
    if service.port is not None:
        _integration_for(collected, service.port.integration, service.port.where, issues,
                         "customer_ports")


def _check_phone(
    collected: Collected,
    index: RangeIndex,
    seen: _Seen,
    service: ServiceSpec,
    phone: PhoneNumberSpec,
    issues: Issues,
) -> None:
    """A number assigned to a live service must lie in a range of its integration, once."""
    integration = _integration_for(collected, phone.integration, phone.where, issues, "phone_numbers")
    if integration is None or service.status == "cancelled":
        return  # a cancelled service's numbers are being released
    if collected.complete and phone.integration not in collected.unsure:
        _check_in_range(index, phone, service.id, issues)
    first = seen.numbers.setdefault(phone.number, (phone.where, service.id))
    if first[0] is not phone.where:
        message = f"number {phone.number} is already assigned to service {first[1]} at {first[0]}"
        hint = "a number belongs to one service; cancel the other service or choose another number"
        issues.at(phone.where, ("number",), message, hint)


def _check_in_range(index: RangeIndex, phone: PhoneNumberSpec, service_id: int,
                    issues: Issues) -> None:
    if index.find(phone.integration, phone.number) is not None:
        return
    message = (
        f"number {phone.number} of service {service_id} is in no range of integration "
        f"{phone.integration}; declared ranges: {index.describe(phone.integration)}"
    )
    other = index.elsewhere(phone.number)
    hint = ("declare a range holding it under number_ranges, correct the number, or remove it "
            "from the service to unlink it")
    if other is not None:
        hint = f"it lies in range '{other[1]}' of integration '{other[0]}': use that integration, or {hint}"
    issues.at(phone.where, ("number",), message, hint)
