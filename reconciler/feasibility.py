"""What a feasibility (viabilidade) search answers: the boxes near a point that can take a new
client, by distance. Plain values, filled by a mapping provider
(:class:`reconciler.providers.base.FeasibilitySource`) and written by
:mod:`reconciler.render.feasibility`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """One box within the radius."""

    box: str
    distance_m: float
    free_ports: int  # free customer ports
    lat: float
    lng: float
    viable: bool
    reason: str = ""  # why a box is not viable: in design, no free customer port


@dataclass(frozen=True)
class Feasibility:
    integration: str
    lat: float
    lng: float
    radius_m: float | None  # None: the platform's own default
    candidates: tuple[Candidate, ...]  # viable first, each group by distance

    @property
    def viable(self) -> bool:
        return any(c.viable for c in self.candidates)
