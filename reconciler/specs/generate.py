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
from reconciler.planner.imports import ImportPlan
from reconciler.platforms import registry
from reconciler.specs import brazil
from reconciler.specs.models import EMAIL, SpecSet

SCHEMA = Path("docs") / "schema" / "reconcile-specs.schema.json"
SCHEMAS = (SCHEMA, Path("schema") / "reconcile-specs.schema.json")  # this repo's, `schema --out`
_SCHEMA_LINE = re.compile(r"#\s*yaml-language-server:\s*\$schema=(?P<target>\S+)")
NUMBERS_FILE, PACKAGES_FILE, CLIENTS_FILE = FILES = (
    "imported-numbers.yaml", "imported-packages.yaml", "imported-clients.yaml")
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
    port: dict[str, Any] | None = None


@dataclass
class _Client:
    document: str
    name: str
    email: str | None = None
    phone: str | None = None
    services: dict[int, _Service] = field(default_factory=dict)


class Builder:
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
        clients = CLIENTS_FILE
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
        clients = CLIENTS_FILE
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
            self.note(CLIENTS_FILE, f"{what}: {problem}", plain)
            return None
        client = self.client(str(attrs.get("document") or ""), str(attrs.get("name") or ""),
                             what, plain)
        service = self.service(client, service_id, what, plain) if client else None
        return (client, service) if client is not None and service is not None else None

    # -- output ----------------------------------------------------------------------------

    def render(self, header: str) -> dict[str, str]:
        docs: dict[str, Any] = {
            NUMBERS_FILE: {"number_ranges": self.ranges} if self.ranges else None,
            PACKAGES_FILE: {"packages": self.packages} if self.packages else None,
            CLIENTS_FILE: {"clients": [self._client_data(c) for _, c in sorted(
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
                self.notes[CLIENTS_FILE].append(
                    f"# service {sid}: one platform shows it suspended, another active; written "
                    f"suspended (the next plan blocks what is active): check it in the ERP")
            if service.packages:
                entry["packages"] = list(service.packages.values())
            if service.phone_numbers:
                entry["phone_numbers"] = service.phone_numbers
            if service.port:
                entry["port"] = service.port
            services.append(entry)
        data["services"] = services
        return data


_ABOUT = {
    NUMBERS_FILE: "# Numbers the platform holds that no declared range covers, as ranges.",
    PACKAGES_FILE: "# Packages for products no declared package offers: fill in each `price` (the\n"
              "# monthly price in BRL the ERP bills; informative, never sent to the platform).",
    CLIENTS_FILE: "# Clients and services the platform holds that the specs do not declare.",
}


def vote(status: Any) -> str:
    """A content subscription's say in its service's status: a suspended one keeps the service
    suspended, which leaves it as it is (or suspended, where the integration follows
    delinquency); an active one under an active service stays active."""
    return "suspended" if status == "suspended" else "active"


def email_ok(value: Any) -> bool:
    return bool(value) and EMAIL.fullmatch(str(value)) is not None


def unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def generate(plans: Sequence[ImportPlan], specs: SpecSet, header: str) -> Generated:
    """The spec files for every unmatched object of ``plans``, checked against ``specs``."""
    builder = Builder(specs)
    for plan in plans:
        platform = registry.get(plan.platform)
        if platform.generate is not None:
            platform.generate(builder, plan)
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
