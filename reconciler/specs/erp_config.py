"""An ERP source's settings as ``reconcile erp export`` reads them from the spec files.

Only the sections the export needs are judged (``erp_sources:``, ``plans:``, ``packages:``),
and the export's own output directory is not read: a client the last export wrote that fails a
rule (a Campsoft client with no phone) must not stop the next export, which may fix it.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import SpecError, SpecIssue
from reconciler.specs.collected import Collected, Issues
from reconciler.specs.erp_rules import check_sources
from reconciler.specs.file_parts import FilePart, join
from reconciler.specs.models import ErpSourceSpec, choices_hint
from reconciler.specs.validate import shape
from reconciler.specs.yaml_loader import read_documents

NEEDED = ("erp_sources", "plans", "packages")


def erp_source(specs_dir: Path, name: str, *, out: Path) -> tuple[ErpSourceSpec, Collected]:
    """The ``erp_sources:`` entry ``name`` and what it maps to (the declared plans and
    packages); SpecError naming every problem of those sections."""
    loaded = read_documents(specs_dir, skip=out)
    parts = []
    for doc in loaded.documents:
        part = shape(doc)
        entries = [e for e in part.entries if e.claim is not None and e.claim[0] in NEEDED]
        parts.append(FilePart(part.doc, part.parsed, part.load_issues, entries))
    issues = Issues(loaded.issues)
    collected = join(parts, issues, loaded.complete)
    check_sources(collected, issues)
    if issues.items:
        raise SpecError(issues.items)
    found = collected.erp_sources.get(name)
    if found is None:
        hint = choices_hint(name, sorted(collected.erp_sources), "declared ERP sources")
        raise SpecError([SpecIssue(str(specs_dir), 1, 1, f"no ERP source '{name}' in the specs",
                                   hint + "; declare it under erp_sources: (docs/erp.md)")])
    return found, collected
