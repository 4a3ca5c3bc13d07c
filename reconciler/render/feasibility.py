"""A :class:`~reconciler.feasibility.Feasibility` as text, JSON or Markdown. Pure."""

from __future__ import annotations

import json

from reconciler.feasibility import Candidate, Feasibility
from reconciler.render.markdown import escape

FORMAT_VERSION = 1


def _where(result: Feasibility) -> str:
    radius = f"{result.radius_m:g} m" if result.radius_m is not None else "the platform's radius"
    return f"({result.lat:.6f}, {result.lng:.6f}) within {radius}"


def _verdict(result: Feasibility) -> str:
    viable = [c for c in result.candidates if c.viable]
    if not viable:
        return "not viable: no implanted box with a free customer port"
    best = viable[0]
    return (f"viable: {len(viable)} boxes with free customer ports, the nearest {best.box} at "
            f"{best.distance_m:.0f} m ({best.free_ports} free)")


def _line(c: Candidate) -> str:
    state = f"{c.free_ports} free ports" if c.viable else f"not viable: {c.reason}"
    return f"{c.box:<24} {c.distance_m:>8.0f} m  {state}"


def render_text(result: Feasibility) -> str:
    lines = [f"{result.integration}: {_where(result)}: {_verdict(result)}."]
    lines += ["  " + _line(c) for c in result.candidates]
    return "\n".join(lines) + "\n"


def render_json(result: Feasibility) -> str:
    return json.dumps({
        "format_version": FORMAT_VERSION, "integration": result.integration,
        "lat": result.lat, "lng": result.lng, "radius_m": result.radius_m,
        "viable": result.viable,
        "boxes": [{"box": c.box, "distance_m": round(c.distance_m, 1), "free_ports": c.free_ports,
                   "lat": c.lat, "lng": c.lng, "viable": c.viable, "reason": c.reason or None}
                  for c in result.candidates],
    }, indent=2, ensure_ascii=False) + "\n"


def render_markdown(result: Feasibility) -> str:
    out = [f"## Feasibility on {escape(result.integration)}", "",
           f"{escape(_where(result))}: **{escape(_verdict(result))}**.", ""]
    if result.candidates:
        out += ["| box | distance (m) | free ports | viable |", "| --- | ---: | ---: | --- |"]
        out += [f"| {escape(c.box)} | {c.distance_m:.0f} | {c.free_ports} | "
                f"{'yes' if c.viable else 'no: ' + escape(c.reason)} |" for c in result.candidates]
        out.append("")
    return "\n".join(out)


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
