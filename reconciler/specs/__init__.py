"""The spec language: YAML files in, a validated :class:`SpecSet` or a :class:`Desired` out.

``load_specs`` is what ``reconcile validate`` runs; ``load_desired`` is what planning starts
from. Both raise :class:`reconciler.errors.SpecError` listing every problem found, each with its
file, line and column; neither lets a traceback through for a mistake in the specs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.model import Desired
from reconciler.specs import cache
from reconciler.specs.desired import build_desired
from reconciler.specs.file_cache import FileCache
from reconciler.specs.models import SpecSet
from reconciler.specs.validate import shape, validate
from reconciler.specs.yaml_loader import read_documents

__all__ = ["SpecSet", "load_desired", "load_specs"]


def load_specs(specs_dir: Path, *, state_dir: Path | None = None) -> SpecSet:
    """Read, parse and validate every spec file under ``specs_dir``.

    With ``state_dir``, a file unchanged since it was last read there gives its validated
    entries from the per-file cache (:mod:`.file_cache`) instead of being parsed again; the
    rules across files run over every file's entries either way.
    """
    with _bulk_allocation():
        loaded = read_documents(Path(specs_dir))
        if state_dir is None:
            return validate(loaded)
        files = FileCache(state_dir, Path(specs_dir))
        parts = []
        for doc in loaded.documents:
            part = files.get(doc)
            if part is None:
                part = shape(doc)
                files.put(part)
            parts.append(part)
        files.finish()
        return validate(loaded, parts)


def load_desired(specs_dir: Path, *, state_dir: Path | None = None) -> Desired:
    """The desired state declared under ``specs_dir``.

    With ``state_dir``, a spec set unchanged since it was last loaded there is read back whole
    from the cache (:mod:`.cache`); otherwise the files that did not change give their entries
    from the per-file cache (see :func:`load_specs`).
    """
    key = cache.key_of(Path(specs_dir)) if state_dir is not None else None
    with _bulk_allocation():
        cached = cache.load(state_dir, key) if state_dir is not None and key else None
        desired = cached or build_desired(load_specs(specs_dir, state_dir=state_dir))
    if state_dir is not None and key and cached is None:
        cache.save(state_dir, key, desired)
    return desired


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while building the spec data.

    Loading allocates millions of objects and frees almost none, so each collection rescans all
    that was built so far: on 100,000 services that tripled the time. The data holds no cycles
    the collector would need to break; it runs again, as before, on the way out.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
