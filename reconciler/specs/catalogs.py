"""Spec values checked against the catalogs a platform publishes (synced into the state).

``reconcile sync`` keeps each integration's catalogs in the state; ``validate`` then checks,
without reaching any platform, that every package's product is one its platform offers, and
each platform checks what it declares against its own catalogs (its descriptor's
``catalog_problems``: STFC and SaperX v2 plans, the mapping platforms' networks). Products
declared under ``products:`` take the place of a listing; an integration with neither is
checked at plan time, against what its platform lists then.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import SpecIssue
from reconciler.model import Desired
from reconciler.platforms import registry

Catalog = Callable[[str, str], list[dict[str, Any]] | None]


def product_codes(desired: Desired, integration: str, synced: Catalog) -> set[str] | None:
    """The product codes ``integration`` offers: declared in the specs, else last synced."""
    declared: Mapping[str, list[str]] = desired.settings.get("products", {})
    if integration in declared:
        return set(declared[integration])
    entries = synced(integration, "products")
    return {str(e.get("code")) for e in entries} if entries else None


def catalog_problems(desired: Desired, synced: Catalog) -> list[SpecIssue]:
    """One issue per package product its integration's catalog lacks (every declared package,
    whether or not a service holds it yet), then what each declared platform's own
    ``catalog_problems`` finds (plans no longer synced, ports the network does not offer)."""
    issues: list[SpecIssue] = []
    for platform in sorted({i.platform for i in desired.integrations.values()}):
        check = registry.get(platform).catalog_problems
        if check is not None:
            issues += check(desired, synced)
    codes: dict[str, set[str] | None] = {}
    packages: Mapping[str, Mapping[str, Any]] = desired.settings.get("packages", {})
    for name, package in sorted(packages.items()):
        integration = package["integration"]
        if integration not in codes:
            codes[integration] = product_codes(desired, integration, synced)
        valid = codes[integration]
        for product, source in package["products"]:
            if valid is None or product in valid:
                continue
            issues.append(SpecIssue(
                source.file, source.line, source.column,
                f"package {name}: product '{product}' is not in the catalog of integration "
                f"{integration}",
                f"valid codes: {', '.join(sorted(valid)) or 'none'} (run `reconcile sync "
                f"{integration}` if the platform's catalog changed)",
            ))
    return issues
