"""A toy third-party platform: a directory holding one entry per live client service.

Everything a plugin ships: the descriptor (below), its spec options, how the desired state is
built from the specs, its planning rules, a provider and a simulator. It is registered through
the ``reconciler.providers`` entry point only (see tests/plugin/test_plugin_platform.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from pydantic import Field

from reconciler.model import Action, Change, Resource, address
from reconciler.planner.core import Partial, View, differing
from reconciler.platforms import Kind, Platform
from reconciler.specs.models import SpecModel

if TYPE_CHECKING:
    from reconciler.specs.desired import DesiredBuild

NAME = "toy-directory"
FIELDS = ("name", "status")


class ToyOptions(SpecModel):
    page_size: int = Field(2, ge=1, le=100)
    prefix: str = "svc"


def build(ctx: DesiredBuild) -> None:
    """One ``entry`` per live client service, on every toy integration."""
    for name in sorted(ctx.mine()):
        prefix = ctx.integrations[name].options.get("prefix", "svc")
        for client in ctx.specs.clients:
            for service in client.services:
                if service.status == "cancelled":
                    continue
                key = f"{prefix}-{service.id}"
                attrs = {"name": client.name, "status": service.status, "service": service.id}
                ctx.resources[address(name, "entry", key)] = Resource(
                    name, "entry", key, attrs, service.source)


def rules(view: View) -> Partial:
    out = Partial()
    want, have, known = (view.side(s, "entry") for s in ("desired", "actual", "known"))
    for key, res in sorted(want.items()):
        now = have.get(key)
        if now is None:
            out.changes.append(Change(view.integration, "entry", Action.CREATE, (key,), None,
                                      dict(res.attrs), "declared, not in the directory",
                                      res.source))
        elif moved := differing(res, now, FIELDS):
            out.changes.append(Change(view.integration, "entry", Action.UPDATE, (key,),
                                      dict(now.attrs), dict(res.attrs),
                                      "changed: " + ", ".join(moved), res.source))
        elif key not in known:
            out.adopt.append(replace(res, remote_id=now.remote_id))
    for key, res in sorted(known.items()):
        if key in want:
            continue
        if key in have:
            out.changes.append(Change(view.integration, "entry", Action.DELETE, (key,),
                                      dict(res.attrs), None, "no longer declared"))
        else:
            out.forget.append(res.address)
    return out


ENTRY = Kind("entry", phases={Action.CREATE: 0, Action.UPDATE: 1, Action.DELETE: 2},
             describe=lambda c: f"{c.action.value} directory entry")

PLATFORM = Platform(
    name=NAME,
    options=ToyOptions,
    credentials=("api_key",),
    kinds=(ENTRY,),
    build=build,
    rules=rules,
    compared={"entry": FIELDS},
    provider="tests.plugin.toy_directory.provider:ToyProvider",
    simulator="tests.plugin.toy_directory.sim",
)
