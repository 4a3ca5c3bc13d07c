"""Platforms: one package each (``saperx_stfc/``, ``qualifica/``, ``campsoft/``), each described
by one :class:`Platform` and registered once (:mod:`.registry`). See docs/architecture.md,
"Adding a platform"."""

from reconciler.platforms.descriptor import Kind, Platform
from reconciler.platforms.registry import every, find, get, kind, kinds, names

__all__ = ["Kind", "Platform", "every", "find", "get", "kind", "kinds", "names"]
