"""The per-file spec cache: each spec file's validated entries, so that a spec set where one
file of a hundred changed parses and validates that one file only.

An entry is one file's :class:`~reconciler.specs.file_parts.FilePart` (its entries validated
on their own, with their positions), pickled under ``<state dir>/cache/specs/files/``, keyed
by a digest of the file's content and its path under the specs directory, with the context
every spec cache entry has (:func:`.cache.context`: tool version, the spec language's source,
Python version, where the specs are). The rules across entries (uniqueness, overlaps,
references, catalogs) are not cached: they run again over every file's entries each time.

- Only *clean* files are stored (no problem of their own): a file with an error is parsed and
  validated every time, so its errors are always those of a fresh parse. A clean file that
  takes part in a problem across files (a name defined twice) is stored: the problem is found
  again when the entries are joined.
- An entry that cannot be read, or is not a file's part, is ignored and replaced.
- Entries are written to a temporary file and renamed into place: two processes writing at
  once leave one whole entry or the other.
- Every run stamps the entries it used with its own start time; entries whose stamp is none of
  the last :data:`RUNS_KEPT` runs' are removed, so the folder holds about that many versions of
  the spec set at most.

The entries are pickles: see :mod:`.cache` on who may write the state directory.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from contextlib import suppress
from pathlib import Path

from reconciler.specs.cache import add, cache_dir, context, read_entry, write_entry
from reconciler.specs.file_parts import FilePart
from reconciler.specs.yaml_loader import Document

RUNS_KEPT = 4  # runs whose entries are kept: a few branches' spec sets
SUFFIX = ".part"

log = logging.getLogger(__name__)


def files_dir(state_dir: Path) -> Path:
    return cache_dir(state_dir) / "files"


class FileCache:
    """The per-file entries of one specs directory, for one run."""

    def __init__(self, state_dir: Path, specs_dir: Path) -> None:
        self.folder = files_dir(state_dir)
        base = hashlib.sha256()
        for part in context(Path(specs_dir)):
            add(base, part.encode())
        self._base = base
        self._stamp = time.time_ns()
        self._used: list[Path] = []
        self.reused = self.missed = 0

    def key(self, doc: Document) -> str:
        digest = self._base.copy()
        add(digest, doc.rel.encode())
        add(digest, doc.digest.encode())
        return digest.hexdigest()

    def get(self, doc: Document) -> FilePart | None:
        """The cached part of ``doc`` as read now, or None."""
        key = self.key(doc)
        path = self.folder / f"{key}{SUFFIX}"
        part = read_entry(path, key)
        if not isinstance(part, FilePart) or part.doc.rel != doc.rel or not part.clean:
            self.missed += 1
            return None
        self.reused += 1
        part.doc.adopt(doc)  # every position in the part points at this document
        self._used.append(path)
        return part

    def put(self, part: FilePart) -> None:
        """Store ``part`` if it is clean; a cache that cannot be written is no error."""
        if not part.clean:
            return
        key = self.key(part.doc)
        path = self.folder / f"{key}{SUFFIX}"
        if write_entry(path, key, part):
            self._used.append(path)

    def finish(self) -> None:
        """Stamp the entries this run used, and remove those no recent run used."""
        log.info("spec cache: %d of %d files reused, %d parsed", self.reused,
                 self.reused + self.missed, self.missed)
        for path in self._used:
            with suppress(OSError):
                os.utime(path, ns=(self._stamp, self._stamp))
        try:
            stamps = {path: path.stat().st_mtime_ns for path in self.folder.glob(f"*{SUFFIX}")}
        except OSError:
            return
        recent = sorted(set(stamps.values()), reverse=True)[:RUNS_KEPT]
        for path, stamp in stamps.items():
            if stamp < min(recent):
                with suppress(OSError):
                    path.unlink()
