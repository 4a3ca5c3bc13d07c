"""One spec file's validated entries (:class:`FilePart`), and how the parts of every file are
joined (:func:`join`) before the rules across entries run.

The shape pass validates each entry of a file on its own, so what a file yields depends on that
file alone, and can be cached by its content (:mod:`.file_cache`). Only three things of the
shape pass look across files, and :func:`join` decides them, in file order, exactly as one pass
over every file did: a named entry (integration, range, package, plan, schedule, ERP source,
a service's details) defined twice, the products of one integration declared twice, and a
second ``safety:`` section. Each is
*claimed* by its entry; a claim already taken by an earlier file is reported where the later
one is written, and that entry is dropped with its own problems (one message, not a cascade).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import SpecIssue
from reconciler.specs.collected import Collected, Issues
from reconciler.specs.yaml_loader import Document, Where

SAFETY = ("safety", "")  # the claim of the one safety section


@dataclass
class Entry:
    """What one entry of a file adds (a named entry, a file's clients, a top-level problem)."""

    adds: Collected
    issues: list[SpecIssue] = field(default_factory=list)
    claim: tuple[str, Any] | None = None  # (section, name), ("products", name) or SAFETY
    where: Where | None = None  # where the claim is written


@dataclass
class FilePart:
    """One file's outcome of parsing and the shape pass."""

    doc: Document
    parsed: bool  # False: a syntax error (in ``load_issues``); nothing else was read
    load_issues: list[SpecIssue] = field(default_factory=list)  # syntax errors, duplicate keys
    entries: list[Entry] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """No problem of the file's own: what may be cached (problems across files are not
        the file's, and are found again at every join)."""
        return self.parsed and not self.load_issues and not any(e.issues for e in self.entries)


def join(parts: list[FilePart], issues: Issues, complete: bool) -> Collected:
    """The entries of every part, in order, with the claims across files decided; problems
    go to ``issues``: first every file's parse problems, then the entries' (as reading every
    file before validating any gives them)."""
    for part in parts:
        issues.items.extend(part.load_issues)
    collected = Collected(complete=complete and all(part.parsed for part in parts))
    for part in parts:
        for entry in part.entries:
            if entry.claim is not None and entry.where is not None and _taken(entry, collected, issues):
                continue
            issues.items.extend(entry.issues)
            collected.absorb(entry.adds)
    return collected


def _taken(entry: Entry, collected: Collected, issues: Issues) -> bool:
    """True (and the problem reported) when an earlier entry holds ``entry``'s claim."""
    assert entry.claim is not None and entry.where is not None
    section, name = entry.claim
    where = entry.where
    if entry.claim == SAFETY:
        first = collected.safety_at
        message = f"the 'safety' section is defined twice: at {first} and at {where}"
        hint = "keep one 'safety' section across all spec files"
    elif section == "products":
        first = collected.products_at.get(name)
        message = f"the products of '{name}' are declared twice: at {first} and at {where}"
        hint = "declare them in one place"
    else:
        first = collected.declared.get((section, name))
        message = f"{SINGULAR[section]} '{name}' is defined twice: at {first} and at {where}"
        hint = "names must be unique across all spec files; rename or remove one of them"
    if first is None:
        return False
    issues.at(where, (), message, hint, True)
    return True


SINGULAR = {"integrations": "integration", "number_ranges": "number range",
            "packages": "package", "plans": "plan", "schedules": "schedule",
            "erp_sources": "ERP source", "service_details": "the service_details of service"}
