"""The registry of platforms: the built-in ones and those installed as plugins, found by name.

A built-in platform is a package under ``reconciler/platforms/`` whose ``PLATFORM`` is its
descriptor, listed in ``BUILTIN``. A third party ships one as a package of its own that names
its descriptor under the ``reconciler.providers`` entry-point group, as octoDNS providers are
shipped::

    [project.entry-points."reconciler.providers"]
    acme-tv = "acme_reconciler:PLATFORM"

Packages are imported when first asked for, so that importing this module costs nothing and a
command that never plans a platform never loads it. Entry points are read only when a name is
not built in, or when every platform is listed (validation messages, the schema, ``sim serve``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from importlib.metadata import entry_points

from reconciler.errors import ReconcilerError
from reconciler.platforms.descriptor import Kind, Platform

ENTRY_POINTS = "reconciler.providers"
BUILTIN = {
    "saperx-stfc": "reconciler.platforms.saperx_stfc",
    "qualifica": "reconciler.platforms.qualifica",
    "campsoft": "reconciler.platforms.campsoft",
    "saperx-v2": "reconciler.platforms.saperx_v2",
    "ozmap": "reconciler.platforms.ozmap",
    "geosite": "reconciler.platforms.geosite",
}


def get(name: str) -> Platform:
    """The platform called ``name`` (a ReconcilerError naming the known ones when none is)."""
    if name in BUILTIN:
        return _builtin(name)
    found = _plugins().get(name)
    if found is None:
        raise ReconcilerError(f"unknown platform {name!r}; known platforms: {', '.join(names())}")
    return found


def find(name: str) -> Platform | None:
    """The platform called ``name``, or None."""
    if name in BUILTIN:
        return _builtin(name)
    return _plugins().get(name)


def names() -> tuple[str, ...]:
    """Every registered platform's name: the built-in ones first, then plugins by name."""
    return (*BUILTIN, *sorted(_plugins()))


def every() -> tuple[Platform, ...]:
    """Every registered platform, in :func:`names` order."""
    return tuple(get(name) for name in names())


def kind(name: str) -> Kind | None:
    """The kind called ``name`` among every registered platform's kinds, or None."""
    return kinds().get(name)


def cancels(kind_name: str) -> bool:
    """Whether a DELETE of this kind cancels (the platform keeps the record as cancelled)."""
    found = kind(kind_name)
    return found is not None and found.cancels


def counted_as(kind_name: str) -> str:
    """How an operator counts objects of this kind ("numbers" for links)."""
    found = kind(kind_name)
    return found.counted_as if found is not None else f"{kind_name}s"


@cache
def kinds() -> Mapping[str, Kind]:
    """Every kind by name. Two platforms holding one kind must describe it alike."""
    out: dict[str, tuple[Kind, str]] = {}
    for platform in every():
        for each in platform.kinds:
            first = out.setdefault(each.name, (each, platform.name))
            if first[0] != each:
                raise ReconcilerError(
                    f"platforms {first[1]} and {platform.name} both hold kind {each.name!r} "
                    f"but describe it differently; a kind's name is global: share one Kind")
    return {name: entry[0] for name, entry in out.items()}


@cache
def _builtin(name: str) -> Platform:
    module = importlib.import_module(BUILTIN[name])
    platform: Platform = module.PLATFORM
    return platform


@cache
def _plugins() -> Mapping[str, Platform]:
    found: dict[str, Platform] = {}
    for ep in sorted(entry_points(group=ENTRY_POINTS), key=lambda e: e.name):
        try:
            platform = ep.load()
        except Exception as exc:  # a broken plugin must not take the tool down with a traceback
            raise ReconcilerError(f"the platform plugin {ep.name!r} ({ep.value}) cannot be "
                                  f"loaded: {type(exc).__name__}: {exc}") from None
        if not isinstance(platform, Platform):
            raise ReconcilerError(
                f"the entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINTS} is a "
                f"{type(platform).__name__}, not a reconciler.platforms.Platform descriptor")
        if platform.name != ep.name or platform.name in BUILTIN or platform.name in found:
            raise ReconcilerError(
                f"the platform plugin {ep.value} registers {platform.name!r} under the entry "
                f"point {ep.name!r}: the names must agree and not repeat a registered platform")
        found[platform.name] = platform
    return found


def reset() -> None:
    """Forget what was loaded (a test that installs a plugin calls it)."""
    for cached in (kinds, _builtin, _plugins):
        cached.cache_clear()
