"""Import of OZmap: the shared import of customer ports (:mod:`reconciler.specs.ports_import`)."""

from reconciler.specs.ports_import import generate, owner_problem

__all__ = ["generate", "owner_problem"]
