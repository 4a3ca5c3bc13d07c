"""The ERPs that ``erp_sources:`` entries may name as their ``kind``, found by name.

Each is a package under ``reconciler/sources/`` whose ``SOURCE`` is its descriptor
(:class:`~reconciler.sources.erp.ErpDescriptor`). Packages are imported when first asked for;
the reader and simulator modules only when a run uses them (:func:`reader_class`,
:func:`simulator_module`).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.sources.erp import ErpDescriptor

BUILTIN = {
    "hubsoft": "reconciler.sources.hubsoft",
    "ixc": "reconciler.sources.ixc",
}

#: What an ERP status may be exported as: a spec status, or not exported (``skip``), or what
#: the last export said (``keep``).
TARGETS = ("active", "suspended", "cancelled", "skip", "keep")


def names() -> tuple[str, ...]:
    return tuple(BUILTIN)


def find(name: str) -> ErpDescriptor | None:
    return _load(name) if name in BUILTIN else None


def get(name: str) -> ErpDescriptor:
    """The ERP called ``name`` (a ReconcilerError naming the known ones when none is)."""
    found = find(name)
    if found is None:
        raise ReconcilerError(f"unknown ERP {name!r}; known ERPs: {', '.join(BUILTIN)}")
    return found


def reader_class(source: ErpDescriptor) -> Any:
    """The reader class its descriptor names (``module:Class``), imported now."""
    module, _, name = source.reader.partition(":")
    return getattr(importlib.import_module(module), name)


def simulator_module(source: ErpDescriptor) -> ModuleType:
    return importlib.import_module(source.simulator)


@cache
def _load(name: str) -> ErpDescriptor:
    descriptor: ErpDescriptor = importlib.import_module(BUILTIN[name]).SOURCE
    assert descriptor.name == name, f"{BUILTIN[name]} registers {descriptor.name!r}, not {name!r}"
    return descriptor
