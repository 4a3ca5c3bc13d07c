"""Geosite in the spec language: its options, and the ports its integrations' services hold
(the rules and resources of :mod:`reconciler.specs.ports`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from reconciler.specs import ports
from reconciler.specs.ports import MappingOptions

PLATFORM = "geosite"


def _boxes() -> list[Literal["boxes", "poles"]]:
    return ["boxes"]


class GeositeOptions(MappingOptions):
    """Options of a Geosite integration. Its CTOs' ports are the customer ports, so no
    splitter is chosen; poles may be synced besides."""

    elements: list[Literal["boxes", "poles"]] = Field(  # type: ignore[assignment]
        default_factory=_boxes)


HOOKS = ports.PortHooks(PLATFORM)  # check, build, catalog_problems: the shared port rules
