"""Planning rules for OZmap: the shared rules of customer ports (:mod:`reconciler.planner.ports`)."""

from reconciler.planner.ports import COMPARED, plan_ports, unmanaged

plan_integration = plan_ports

__all__ = ["COMPARED", "plan_integration", "unmanaged"]
