"""The stable JSON form of plans, apply results and drift reports (documented in docs/json.md).

A plan file is this JSON written to disk: ``apply PLANFILE`` reads it back with
:func:`plan_from_json`. Nothing in it is secret: changes carry spec attributes only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler import __version__
from reconciler.errors import StalePlanError
from reconciler.model import (
    PLAN_FORMAT_VERSION,
    Change,
    Drift,
    Estimate,
    Fingerprint,
    Note,
    Plan,
    Resource,
    Source,
)


def summary(plan: Plan) -> dict[str, int]:
    counts = plan.counts()
    return {
        **counts,
        "changes": sum(counts.values()),
        "adopt": len(plan.adopt),
        "forget": len(plan.forget),
        "converging": len(plan.converging),
        "warnings": len(plan.warnings),
    }


def plan_to_json(plan: Plan, *, created_at: str, expires_at: str | None = None) -> dict[str, Any]:
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "tool_version": __version__,
        "created_at": created_at,
        "expires_at": expires_at,
        "fingerprint": plan.fingerprint.to_json(),
        "integrations": list(plan.integrations),
        "summary": summary(plan),
        "estimates": [e.to_json() for e in plan.estimates],
        "touched": dict(sorted(plan.touched.items())),
        "targets": list(plan.targets),  # a partial plan's --target/--exclude; [] when full
        "excludes": list(plan.excludes),
        "changes": [c.to_json() for c in plan.changes],
        "adopt": [resource_json(r) for r in plan.adopt],
        "forget": list(plan.forget),
        "converging": [n.to_json() for n in plan.converging],
        "warnings": [n.to_json() for n in plan.warnings],
    }


def require_format(data: Mapping[str, Any], *, path: str) -> None:
    """Refuse a plan document of another format version than this tool's."""
    version = data.get("format_version")
    if version != PLAN_FORMAT_VERSION:
        scalar = version is None or isinstance(version, int | float | str)
        shown = repr(version)[:40] if scalar else f"of type {type(version).__name__}"
        raise StalePlanError(
            f"{path}: plan format version {shown} is not this tool's {PLAN_FORMAT_VERSION}: "
            f"run `reconcile plan --out {path}` again"
        )


def plan_from_json(data: Mapping[str, Any], *, path: str) -> Plan:
    """A plan read back from a plan file; refuses another format version."""
    require_format(data, path=path)
    try:
        return Plan(
            changes=tuple(Change.from_json(c) for c in data["changes"]),
            fingerprint=Fingerprint(**data["fingerprint"]),
            adopt=tuple(_resource_from_json(r) for r in data.get("adopt", ())),
            forget=tuple(data.get("forget", ())),
            converging=tuple(Note(**n) for n in data.get("converging", ())),
            warnings=tuple(Note(**n) for n in data.get("warnings", ())),
            integrations=tuple(data.get("integrations", ())),
            estimates=tuple(Estimate(**e) for e in data.get("estimates", ())),
            touched=dict(data.get("touched", {})),
            targets=tuple(data.get("targets", ())),
            excludes=tuple(data.get("excludes", ())),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StalePlanError(f"{path}: not a plan file this tool wrote ({exc})") from None


def resource_json(res: Resource) -> dict[str, Any]:
    return {
        "address": res.address,
        "integration": res.integration,
        "kind": res.kind,
        "key": res.key,
        "attrs": dict(res.attrs),
        "remote_id": res.remote_id,
        "source": res.source.to_json() if res.source else None,
    }


def _resource_from_json(data: Mapping[str, Any]) -> Resource:
    src = data.get("source")
    return Resource(data["integration"], data["kind"], data["key"], data.get("attrs", {}),
                    Source(**src) if src else None, data.get("remote_id"))


def drift_to_json(items: Sequence[Drift], *, checked: Sequence[str], created_at: str,
                  fix: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A drift report; ``age_seconds`` of each item is counted at ``created_at``. ``fix`` is
    what `drift --fix` did (None without --fix)."""
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "tool_version": __version__,
        "created_at": created_at,
        "integrations": list(checked),
        "summary": {"drifted": sum(1 for d in items if d.real), **kinds},
        "drift": [{**d.to_json(), "age_seconds": d.age_seconds(created_at)} for d in items],
        "fix": dict(fix) if fix is not None else None,
    }
