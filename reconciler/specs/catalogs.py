"""Spec values checked against the catalogs a platform publishes (synced into the state).

``reconcile sync`` keeps each integration's catalogs in the state; ``validate`` then checks,
without reaching any platform, that every package's product is one its platform offers. Products
declared under ``products:`` take the place of a listing; an integration with neither is
checked at plan time, against what its platform lists then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import SpecIssue
from reconciler.model import Desired

Catalog = Callable[[str, str], list[dict[str, Any]] | None]


def product_codes(desired: Desired, integration: str, synced: Catalog) -> set[str] | None:
    """The product codes ``integration`` offers: declared in the specs, else last synced."""
    declared: Mapping[str, list[str]] = desired.settings.get("products", {})
    if integration in declared:
        return set(declared[integration])
    entries = synced(integration, "products")
    return {str(e.get("code")) for e in entries} if entries else None


def catalog_problems(desired: Desired, synced: Catalog) -> list[SpecIssue]:
    """One issue per subscription whose product its integration's catalog lacks."""
    issues: list[SpecIssue] = []
    codes: dict[str, set[str] | None] = {}
    reported: set[tuple[str, str, str]] = set()
    for res in desired.resources.values():
        if res.kind != "subscription":
            continue
        if res.integration not in codes:
            codes[res.integration] = product_codes(desired, res.integration, synced)
        valid = codes[res.integration]
        product = str(res.attrs.get("product"))
        if valid is None or product in valid or res.source is None:
            continue
        seen = (res.source.file, str(res.source.line), product)
        if seen in reported:
            continue
        reported.add(seen)
        issues.append(SpecIssue(
            res.source.file, res.source.line, res.source.column,
            f"package {res.attrs.get('package')}: product '{product}' is not in the catalog of "
            f"integration {res.integration}",
            f"valid codes: {', '.join(sorted(valid)) or 'none'} (run `reconcile sync "
            f"{res.integration}` if the platform's catalog changed)",
        ))
    return issues
