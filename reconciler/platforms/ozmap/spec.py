"""OZmap in the spec language: its options, and the ports its integrations' services hold
(the rules and resources of :mod:`reconciler.specs.ports`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from reconciler.specs import ports
from reconciler.specs.models import NonEmpty
from reconciler.specs.ports import MappingOptions

if TYPE_CHECKING:
    from reconciler.errors import SpecIssue
    from reconciler.model import Desired
    from reconciler.specs.collected import Collected, Issues
    from reconciler.specs.desired import DesiredBuild
    from reconciler.specs.validate import RangeIndex

PLATFORM = "ozmap"


def _boxes_and_splitters() -> list[Literal["boxes", "splitters"]]:
    return ["boxes", "splitters"]


class OzmapOptions(MappingOptions):
    """Options of an OZmap integration. Ports live on the boxes' splitters, so both are always
    read. A splitter serves customers when OZmap flags it ``isDrop``; ``customer_splitters``
    names more, for a network drawn without the flag."""

    elements: list[Literal["boxes", "splitters"]] = Field(  # type: ignore[assignment]
        default_factory=_boxes_and_splitters)
    customer_splitters: list[NonEmpty] = Field(default_factory=list)


def check(collected: Collected, index: RangeIndex, issues: Issues) -> None:
    ports.check(collected, PLATFORM, issues)


def build(ctx: DesiredBuild) -> None:
    ports.build(ctx)


def catalog_problems(desired: Desired, synced: Any) -> list[SpecIssue]:
    return ports.problems(desired, synced, PLATFORM)
