"""OZmap in the spec language: its options, and the ports its integrations' services hold
(the rules and resources of :mod:`reconciler.specs.ports`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reconciler.specs import ports
from reconciler.specs.models import NonEmpty
from reconciler.specs.ports import MappingOptions

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


HOOKS = ports.PortHooks(PLATFORM)  # check, build, catalog_problems: the shared port rules
