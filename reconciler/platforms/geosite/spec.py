"""Geosite in the spec language: its options, and the ports its integrations' services hold
(the rules and resources of :mod:`reconciler.specs.ports`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reconciler.specs import ports
from reconciler.specs.ports import MappingOptions

if TYPE_CHECKING:
    from reconciler.errors import SpecIssue
    from reconciler.model import Desired
    from reconciler.specs.collected import Collected, Issues
    from reconciler.specs.desired import DesiredBuild
    from reconciler.specs.validate import RangeIndex

PLATFORM = "geosite"


def _boxes() -> list[Literal["boxes", "poles"]]:
    return ["boxes"]


class GeositeOptions(MappingOptions):
    """Options of a Geosite integration. Its CTOs' ports are the customer ports, so no
    splitter is chosen; poles may be synced besides."""

    elements: list[Literal["boxes", "poles"]] = Field(  # type: ignore[assignment]
        default_factory=_boxes)


def check(collected: Collected, index: RangeIndex, issues: Issues) -> None:
    ports.check(collected, PLATFORM, issues)


def build(ctx: DesiredBuild) -> None:
    ports.build(ctx)


def catalog_problems(desired: Desired, synced: Any) -> list[SpecIssue]:
    return ports.problems(desired, synced, PLATFORM)
