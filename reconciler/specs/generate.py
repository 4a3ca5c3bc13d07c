"""Spec YAML for the remote objects an import found no declaration for (``import --generate``).

An ISP adopting the tool has thousands of objects its ERP created; writing their specs by hand
is the job this saves. From what the platform lists:

- STFC numbers become ``number_ranges`` (consecutive numbers of one area code coalesced);
- an STFC link becomes a client (document, name) with a service (the link's service id, its
  status from the block) holding the number, its plan and its parameters;
- a Qualifica user with its grants becomes a client with a service per ``id_cliente_servico``
  holding a package per product, so that the integration's ``user_field`` gives back the user;
- a Campsoft subscription becomes a client (name, document, e-mail, phone) with a service (the
  contract identifier) and login, holding the package of its product (and its label when it is
  not the default one).

Packages are reused when the specs have one of that product, else written with price 0 to fill
in. What the platform data cannot make valid (a service id it does not hold, a document whose
check digits fail, a client or service the specs already declare) is written as YAML comments
saying what to fill in, so the files always pass ``reconcile validate`` with the existing specs.
Passwords are never read from a platform, and nothing secret is written.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.errors import ReconcilerError
from reconciler.model import Resource
from reconciler.planner.core import runs
from reconciler.planner.imports import ImportPlan, digits
from reconciler.specs import brazil
from reconciler.specs.content import default_label
from reconciler.specs.models import EMAIL, SpecSet

SCHEMA = Path("docs") / "schema" / "reconcile-specs.schema.json"
SCHEMAS = (SCHEMA, Path("schema") / "reconcile-specs.schema.json")  # this repo's, `schema --out`
_SCHEMA_LINE = re.compile(r"#\s*yaml-language-server:\s*\$schema=(?P<target>\S+)")
FILES = ("imported-numbers.yaml", "imported-packages.yaml", "imported-clients.yaml")
_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Generated:
    """The files to write (name -> text) and how many remote objects went where."""

    files: dict[str, str]
    written: int  # remote objects written as specs
    commented: int  # remote objects written as comments, to complete by hand


@dataclass
class _Service:
    id: int
    login: str | None = None
    votes: set[str] = field(default_factory=set)  # "active" / "suspended" from each source
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    phone_numbers: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Client:
    document: str
    name: str
    email: str | None = None
    phone: str | None = None
    services: dict[int, _Service] = field(default_factory=dict)


class _Builder:
    """Collects ranges, packages and clients from the unmatched objects of every import."""

    def __init__(self, specs: SpecSet) -> None:
        self.specs = specs
        self.ranges: dict[str, dict[str, Any]] = {}
        self.packages: dict[str, dict[str, Any]] = {}
        self.clients: dict[str, _Client] = {}
        self.notes: dict[str, list[str]] = defaultdict(list)  # file -> comment blocks
        self.written = self.commented = 0
        self.declared_docs = {c.document: c for c in specs.clients}
        self.declared_services = {s.id: c for c in specs.clients for s in c.services}
        self.owner_of_service: dict[int, str] = {}

    # -- shared pieces ---------------------------------------------------------------------

    def note(self, file: str, text: str, data: Any = None) -> None:
        self.commented += 1
        block = [f"# {line}" if line else "#" for line in text.splitlines()]
        if data is not None:
            dumped = yaml.safe_dump(data, allow_unicode=True, sort_keys=False).rstrip()
            block += [f"#   {line}" for line in dumped.splitlines()]
        self.notes[file].append("\n".join(block))

    def package_for(self, integration: str, product: str) -> str:
        """An existing package of exactly that product, else a new one (price to fill in)."""
        for name, spec in sorted(self.specs.packages.items()):
            if spec.integration == integration and list(spec.products) == [product]:
                return name
        name = f"{integration}-{_SLUG.sub('-', product.lower()).strip('-') or 'product'}"
        self.packages.setdefault(name, {"integration": integration, "price": 0,
                                        "products": [product]})
        return name

    def client(self, document: str, name: str, what: str, plain: Mapping[str, Any]) -> _Client | None:
        """The generated client of this document, or None (with a note) when it cannot be."""
        clients = FILES[2]
        try:
            doc = brazil.normalise_document(document)
        except brazil.Invalid as exc:
            self.note(clients, f"{what}: the platform's document {document!r} is not valid "
                               f"({exc.message}): fill in the client's CPF/CNPJ", plain)
            return None
        if doc in self.declared_docs:
            where = self.declared_docs[doc].source
            self.note(clients, f"{what}: client {doc} is declared in {where}: add this to one of "
                               f"its services (or a new service of it)", plain)
            return None
        return self.clients.setdefault(doc, _Client(doc, name or doc))

    def service(self, client: _Client, service_id: Any, what: str,
                plain: Mapping[str, Any]) -> _Service | None:
        clients = FILES[2]
        text = str(service_id or "")
        if not text.isdigit() or int(text) <= 0:
            self.note(clients, f"{what}: the platform does not say which client service "
                               f"(id_cliente_servico) holds it: fill in `id` and add it to "
                               f"client {client.document} ({client.name})", plain)
            return None
        sid = int(text)
        if sid in self.declared_services:
            where = self.declared_services[sid].source
            self.note(clients, f"{what}: service {sid} is declared in {where} for client "
                               f"{self.declared_services[sid].document}: add it there", plain)
            return None
        owner = self.owner_of_service.setdefault(sid, client.document)
        if owner != client.document:
            self.note(clients, f"{what}: service {sid} holds objects of two documents on the "
                               f"platform ({owner} and {client.document}): decide whose it is",
                      plain)
            return None
        return client.services.setdefault(sid, _Service(sid))

    def holder(self, attrs: Mapping[str, Any], service_id: Any, what: str,
               plain: Mapping[str, Any], problem: str | None = None,
               ) -> tuple[_Client, _Service] | None:
        """The client (by the object's document and name) and service that hold an object;
        None, with a note saying what to fill in, when ``problem`` or they cannot be."""
        if problem is not None:
            self.note(FILES[2], f"{what}: {problem}", plain)
            return None
        client = self.client(str(attrs.get("document") or ""), str(attrs.get("name") or ""),
                             what, plain)
        service = self.service(client, service_id, what, plain) if client else None
        return (client, service) if client is not None and service is not None else None

    # -- SaperX STFC -----------------------------------------------------------------------

    def stfc(self, plan: ImportPlan) -> None:
        numbers = [r for r in plan.unmatched if r.kind == "number"]
        for res in numbers:
            try:
                brazil.normalise_fixed_line(res.key)
            except brazil.Invalid as exc:
                self.note(FILES[0], f"number {res.key} on {plan.integration}: {exc.message}; "
                                    f"the spec language cannot declare it")
        valid = [r for r in numbers if _fixed_line(r.key)]
        by_group: dict[tuple[str, Any], list[str]] = defaultdict(list)
        for res in valid:
            by_group[(res.key[:2], res.attrs.get("country_code", 55))].append(res.key)
        taken = set(self.specs.number_ranges) | set(self.ranges)
        for (ddd, country), keys in sorted(by_group.items(), key=lambda g: (g[0][0], str(g[0][1]))):
            for block in runs(keys):
                name = _unique(f"{plan.integration}-{block[0]}", taken)
                entry: dict[str, Any] = {"integration": plan.integration}
                if country not in (None, 55):
                    entry["country_code"] = country
                entry.update({"area_code": int(ddd), "first": int(block[0][2:])})
                if len(block) > 1:
                    entry["last"] = int(block[-1][2:])
                self.ranges[name] = entry
                self.written += len(block)
        block_on_suspend = bool(self.specs.integrations[plan.integration].options.get(
            "block_on_suspend", True))
        for res in (r for r in plan.unmatched if r.kind == "link"):
            self._link(plan.integration, res, block_on_suspend)

    def _link(self, integration: str, res: Resource, block_on_suspend: bool) -> None:
        attrs = res.attrs
        what = f"number {res.key} (linked on {integration})"
        phone: dict[str, Any] = {"integration": integration, "number": res.key,
                                 "plan": attrs.get("plan")}
        if attrs.get("params"):
            phone["params"] = {str(k): str(v) for k, v in dict(attrs["params"]).items()}
        plain = {"document": attrs.get("document"), "name": attrs.get("name"),
                 "service": attrs.get("service"), "phone_number": phone}
        problem = None
        if str(attrs.get("plan", "")).startswith("#"):
            problem = (f"plan id {attrs['plan'][1:]} is not in the platform's plan catalog: "
                       f"fill in the plan's name")
        held = self.holder(attrs, attrs.get("service"), what, plain, problem)
        if held is None:
            return
        service = held[1]
        service.phone_numbers.append(phone)
        blocked = bool(attrs.get("blocked"))
        service.votes.add("suspended" if blocked and block_on_suspend else "active")
        self.written += 1

    # -- Qualifica -------------------------------------------------------------------------

    def qualifica(self, plan: ImportPlan) -> None:
        field_name = str(self.specs.integrations[plan.integration].options.get(
            "user_field") or "login_autenticacao")
        grants: dict[str, list[Resource]] = defaultdict(list)
        for res in plan.unmatched:
            if res.kind == "subscription":
                grants[str(res.attrs.get("user"))].append(res)
        for user in (r for r in plan.unmatched if r.kind == "user"):
            self._user(plan.integration, user, grants.pop(user.key, []), field_name)
        for name, orphans in sorted(grants.items()):
            self.note(FILES[2], f"grants of Qualifica user {name} on {plan.integration}, whose "
                                f"user the specs declare: add the packages of products "
                                f"{', '.join(str(g.attrs.get('product')) for g in orphans)} "
                                f"to that client's service")

    def _user(self, integration: str, user: Resource, grants: list[Resource],
              field_name: str) -> None:
        what = f"Qualifica user {user.key} on {integration}"
        live = [g for g in grants if g.attrs.get("status") != "cancelled"]
        plain = {**dict(user.attrs), "products": [str(g.attrs.get("product")) for g in live]}
        if not live:
            self.note(FILES[2], f"{what} holds no live product: nothing to declare", plain)
            return
        problem = _user_field_problem(field_name, user)
        if problem:
            self.note(FILES[2], f"{what}: {problem}", plain)
            return
        client = self.client(str(user.attrs.get("document") or ""),
                             str(user.attrs.get("name") or ""), what, plain)
        if client is None:
            return
        if field_name == "email":
            client.email = user.key
        elif user.attrs.get("email") and _email_ok(user.attrs["email"]):
            client.email = client.email or str(user.attrs["email"])
        for grant in live:
            sid = user.key if field_name == "id_cliente_servico" else grant.attrs.get("service")
            service = self.service(client, sid, f"{what}, product {grant.attrs.get('product')}",
                                   plain)
            if service is None:
                continue
            if field_name == "login_autenticacao":
                service.login = user.key
            package = self.package_for(integration, str(grant.attrs.get("product")))
            service.packages.setdefault(package, {"package": package})
            service.votes.add(_vote(grant.attrs.get("status")))
            self.written += 1
        self.written += 1

    # -- Campsoft --------------------------------------------------------------------------

    def campsoft(self, plan: ImportPlan) -> None:
        for res in plan.unmatched:
            if res.kind == "subscription":
                self._subscription(plan.integration, res)

    def _subscription(self, integration: str, res: Resource) -> None:
        attrs = res.attrs
        what = f"Campsoft subscription {res.key} on {integration}"
        plain = {k: attrs.get(k) for k in ("contract", "label", "product", "status", "name",
                                            "document", "email", "phone", "login")}
        problems = []
        if not _email_ok(attrs.get("email")):
            problems.append(f"e-mail {attrs.get('email')!r} is not valid")
        try:
            brazil.normalise_phone(str(attrs.get("phone") or ""))
        except brazil.Invalid as exc:
            problems.append(f"phone {attrs.get('phone')!r}: {exc.message}")
        problem = (f"{'; '.join(problems)}: fill in the client's contact (Campsoft needs both)"
                   if problems else None)
        held = self.holder(attrs, attrs.get("contract"), what, plain, problem)
        if held is None:
            return
        client, service = held
        client.email = client.email or str(attrs["email"])
        client.phone = client.phone or str(attrs["phone"])
        if attrs.get("login") and service.login is None:
            service.login = str(attrs["login"])
        package = self.package_for(integration, str(attrs.get("product")))
        entry: dict[str, Any] = {"package": package}
        if attrs.get("label") != default_label(package, service.id):
            entry["params"] = {"label": str(attrs.get("label"))}
        service.packages[package] = entry
        service.votes.add(_vote(attrs.get("status")))
        self.written += 1

    # -- output ----------------------------------------------------------------------------

    def render(self, header: str) -> dict[str, str]:
        docs: dict[str, Any] = {
            FILES[0]: {"number_ranges": self.ranges} if self.ranges else None,
            FILES[1]: {"packages": self.packages} if self.packages else None,
            FILES[2]: {"clients": [self._client_data(c) for _, c in sorted(
                self.clients.items())]} if self.clients else None,
        }
        out: dict[str, str] = {}
        for name, data in docs.items():
            notes = self.notes.get(name, [])
            if data is None and not notes:
                continue
            parts = [header, _ABOUT[name]]
            if data is not None:
                parts.append(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).rstrip())
            if notes:
                parts.append("# --- not written as specs: complete these by hand ---\n"
                             + "\n\n".join(notes))
            out[name] = "\n".join(parts) + "\n"
        return out

    def _client_data(self, client: _Client) -> dict[str, Any]:
        data: dict[str, Any] = {"document": client.document, "name": client.name}
        if client.email:
            data["email"] = client.email
        if client.phone:
            data["phone"] = client.phone
        services = []
        for sid in sorted(client.services):
            service = client.services[sid]
            entry: dict[str, Any] = {"id": sid}
            if service.login:
                entry["login"] = service.login
            entry["status"] = "suspended" if "suspended" in service.votes else "active"
            if len(service.votes) > 1:
                self.notes[FILES[2]].append(
                    f"# service {sid}: one platform shows it suspended, another active; written "
                    f"suspended (the next plan blocks what is active): check it in the ERP")
            if service.packages:
                entry["packages"] = list(service.packages.values())
            if service.phone_numbers:
                entry["phone_numbers"] = service.phone_numbers
            services.append(entry)
        data["services"] = services
        return data


_ABOUT = {
    FILES[0]: "# Numbers the platform holds that no declared range covers, as ranges.",
    FILES[1]: "# Packages for products no declared package offers: fill in each `price` (the\n"
              "# monthly price in BRL the ERP bills; informative, never sent to the platform).",
    FILES[2]: "# Clients and services the platform holds that the specs do not declare.",
}


def _vote(status: Any) -> str:
    """A content subscription's say in its service's status: a suspended one keeps the service
    suspended, which leaves it as it is (or suspended, where the integration follows
    delinquency); an active one under an active service stays active."""
    return "suspended" if status == "suspended" else "active"


def _fixed_line(number: str) -> bool:
    try:
        brazil.normalise_fixed_line(number)
    except brazil.Invalid:
        return False
    return True


def _email_ok(value: Any) -> bool:
    return bool(value) and EMAIL.fullmatch(str(value)) is not None


def _user_field_problem(field_name: str, user: Resource) -> str | None:
    """Why the spec could not give back this user through the integration's user_field."""
    if field_name == "cpf_cnpj" and user.key != digits(user.key):
        return (f"user_field is cpf_cnpj but the user is {user.key!r}, not the document's "
                f"digits: import it under another user_field, or by hand")
    if field_name == "email" and not _email_ok(user.key):
        return f"user_field is email but the user {user.key!r} is not an e-mail address"
    if field_name == "id_cliente_servico" and not user.key.isdigit():
        return f"user_field is id_cliente_servico but the user {user.key!r} is not a service id"
    return None


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


_BY_PLATFORM = {"saperx-stfc": _Builder.stfc, "qualifica": _Builder.qualifica,
                "campsoft": _Builder.campsoft}


def generate(plans: Sequence[ImportPlan], specs: SpecSet, header: str) -> Generated:
    """The spec files for every unmatched object of ``plans``, checked against ``specs``."""
    builder = _Builder(specs)
    for plan in plans:
        _BY_PLATFORM[plan.platform](builder, plan)
    return Generated(builder.render(header), builder.written, builder.commented)


def header_for(directory: Path, command: str, specs_dir: Path | None = None) -> str:
    """The first lines of a generated file: the yaml-language-server schema comment, pointing
    where the existing spec files point (a URL as it is, a file relative to ``directory``), else
    at a schema kept in a checkout holding ``directory``; without either, how to get one."""
    about = f"# Written by `{command}`: review it, then move it into the specs."
    target = _schema_in_specs(specs_dir, directory) if specs_dir is not None else None
    if target is None:
        where = directory.resolve()
        for parent in (where, *where.parents):
            found = next((parent / s for s in SCHEMAS if (parent / s).is_file()), None)
            if found is not None:
                target = Path(os.path.relpath(found, where)).as_posix()
                break
    if target is not None:
        return f"# yaml-language-server: $schema={target}\n{about}"
    return (f"{about}\n# For completion and checks in an editor, `reconcile schema` writes the "
            f"JSON Schema of the spec language.")


def _schema_in_specs(specs_dir: Path, directory: Path) -> str | None:
    """The schema the first spec file with a yaml-language-server comment points at."""
    for path in sorted(specs_dir.rglob("*.y*ml")):
        try:
            with path.open(encoding="utf-8") as handle:
                first = handle.readline()
        except (OSError, UnicodeDecodeError):
            continue
        match = _SCHEMA_LINE.match(first)
        if match is None:
            continue
        value = match["target"]
        if "://" in value:
            return value
        schema = (path.parent / value).resolve()
        if schema.is_file():
            return Path(os.path.relpath(schema, directory.resolve())).as_posix()
    return None


def write(directory: Path, files: Mapping[str, str], *, force: bool) -> list[Path]:
    """Write the files under ``directory``; refuses to overwrite any without ``force``."""
    paths = [directory / name for name in sorted(files)]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not force:
        raise ReconcilerError(f"{', '.join(existing)} already exist(s): nothing was written; "
                              f"move them away or pass --force to overwrite")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path in paths:
            path.write_text(files[path.name], encoding="utf-8")
    except OSError as exc:
        raise ReconcilerError(f"cannot write the generated specs under {directory}: "
                              f"{exc.strerror or exc}") from None
    return paths
