"""What the validator's passes share: the problems found so far (:class:`Issues`) and the
entries that passed the shape pass (:class:`Collected`), which the rules across entries read
(:mod:`.validate` for numbers and clients, :mod:`.content_rules` for packages)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from reconciler.errors import SpecIssue
from reconciler.specs.models import (
    ClientSpec,
    ErpSourceSpec,
    IntegrationSpec,
    PackageSpec,
    PlanSpec,
    ProductSpec,
    RangeSpec,
    ScheduleSpec,
    ServiceDetailsSpec,
    ServiceSpec,
    explain,
)
from reconciler.specs.yaml_loader import Document, Where, YamlPath


class Issues:
    """The problems found so far, each resolved to a file, line and column."""

    def __init__(self, initial: Iterable[SpecIssue] = ()) -> None:
        self.items = list(initial)
        self.warnings: list[SpecIssue] = []  # worth saying, but the specs are valid

    def warn(self, where: Where, sub: YamlPath, message: str, hint: str = "",
             at_key: bool = False) -> None:
        """A doubt about a validated entry, at ``sub`` below it: reported, never fatal."""
        line, column = where.doc.position(where.path + sub, at_key)
        self.warnings.append(SpecIssue(where.doc.file, line, column, message, hint))

    def add(self, doc: Document, path: YamlPath, message: str, hint: str = "", at_key: bool = False) -> None:
        line, column = doc.position(path, at_key)
        self.items.append(SpecIssue(doc.file, line, column, message, hint))

    def at(self, where: Where, sub: YamlPath, message: str, hint: str = "", at_key: bool = False) -> None:
        """A problem in a validated entry, at ``sub`` below it."""
        self.add(where.doc, where.path + sub, message, hint, at_key)

    def pydantic(self, doc: Document, prefix: YamlPath, model: type[BaseModel], exc: ValidationError) -> None:
        for error in exc.errors(include_url=False):
            said = explain(error, model)
            self.add(doc, prefix + said.path, said.message, said.hint, said.at_key)


@dataclass
class Collected:
    """The entries that passed the shape pass, and what is known about those that did not."""

    integrations: dict[str, IntegrationSpec] = field(default_factory=dict)
    ranges: dict[str, RangeSpec] = field(default_factory=dict)
    products: dict[str, list[ProductSpec]] = field(default_factory=dict)
    products_at: dict[str, Where] = field(default_factory=dict)  # integration -> its key
    packages: dict[str, PackageSpec] = field(default_factory=dict)
    plans: dict[str, PlanSpec] = field(default_factory=dict)
    clients: list[ClientSpec] = field(default_factory=list)
    salvaged: list[ServiceSpec] = field(default_factory=list)  # valid services of invalid clients
    declared: dict[tuple[str, str], Where] = field(default_factory=dict)  # (section, name)
    unsure: set[str] = field(default_factory=set)  # integrations whose ranges are not all known
    complete: bool = True  # every file was parsed: a missing name is really missing
    safety_at: Where | None = None  # where the one `safety:` section was declared
    safety_default: dict[str, float | int] = field(default_factory=dict)
    safety: dict[str, dict[str, dict[str, float | int]]] = field(default_factory=dict)
    safety_names: dict[str, Where] = field(default_factory=dict)  # integration -> its key
    schedules: dict[str, ScheduleSpec] = field(default_factory=dict)
    erp_sources: dict[str, ErpSourceSpec] = field(default_factory=dict)
    details: dict[int, ServiceDetailsSpec] = field(default_factory=dict)  # service id -> details

    def absorb(self, other: Collected) -> None:
        """Add what one entry (or one file's clients) collected on its own, after the entries
        before it: the spec cache keeps each file's entries apart, and this joins them in the
        order the files and entries come in, as one pass over every file would have."""
        self.integrations.update(other.integrations)
        self.ranges.update(other.ranges)
        self.products.update(other.products)
        self.products_at.update(other.products_at)
        self.packages.update(other.packages)
        self.plans.update(other.plans)
        self.clients.extend(other.clients)
        self.salvaged.extend(other.salvaged)
        for key, where in other.declared.items():
            self.declared.setdefault(key, where)
        self.unsure |= other.unsure
        self.complete = self.complete and other.complete
        if other.safety_at is not None:  # the one safety section: it brings all of its limits
            self.safety_at, self.safety_default = other.safety_at, other.safety_default
        self.safety.update(other.safety)
        self.safety_names.update(other.safety_names)
        self.schedules.update(other.schedules)
        self.erp_sources.update(other.erp_sources)
        self.details.update(other.details)
