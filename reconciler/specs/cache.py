"""A cache of the validated desired state, so that unchanged spec files are not parsed again.

Parsing and validating 100,000 client services takes seconds; reading back what they built
takes a fraction of that. The cache holds the ``Desired`` built from one exact spec set, under
``<state dir>/cache/specs/``, keyed by a digest of:

- every spec file's path and content (the loader's own digest: any edit, rename, addition or
  removal is a different key);
- the tool version and a digest of the spec language's source (``reconciler/specs/`` and
  ``reconciler/model.py``), so that a new release or a changed rule never trusts an old entry;
- the Python version (the cache is a pickle) and where the specs are, as paths in error
  locations and ``${file:...}`` references are relative to them.

Only valid spec sets are cached: an invalid one is parsed, and its errors reported, every time.
A cache entry that cannot be read, or whose header does not name its key with the exact length
and digest of what follows, is ignored and rebuilt. Entries hold no secret: the desired state
keeps secret *references*, resolved only when a platform is reached.

The entries are pickles, and unpickling runs code: the state directory must not be writable by
anyone who cannot already run the tool (whoever can write there can change the state itself).
The header check guards against a damaged or misplaced entry, not against such a writer.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import sys
import tempfile
from contextlib import suppress
from functools import cache
from pathlib import Path

from reconciler import __version__
from reconciler.bounds import SpecBounds, TooLarge
from reconciler.model import Desired
from reconciler.platforms import registry
from reconciler.specs.yaml_loader import display_path, find_spec_files, read_spec_bytes

KEEP = 4  # entries kept: a few spec sets (branches) without growing without bound
_SOURCES = Path(__file__).resolve().parent


def cache_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "cache" / "specs"


def key_of(specs_dir: Path) -> str | None:
    """The cache key of the spec set under ``specs_dir`` as it is now (None: nothing to read)."""
    files = find_spec_files(Path(specs_dir))
    if not files:
        return None
    bounds = SpecBounds.current()
    digest = hashlib.sha256()
    for part in context(Path(specs_dir)):
        add(digest, part.encode())
    for rel, path in files:
        try:
            raw = read_spec_bytes(path, bounds)
        except (OSError, TooLarge):
            return None  # the loader reports it
        add(digest, rel.encode())
        add(digest, raw)
    return digest.hexdigest()


def context(specs_dir: Path) -> tuple[str, ...]:
    """What every entry's key covers besides the files: the tool, the spec language's source,
    the Python version (entries are pickles) and where the specs are (paths in error locations
    and ``${file:...}`` references are relative to them)."""
    return (__version__, _language(), sys.version, display_path(specs_dir),
            os.path.abspath(specs_dir))


def load(state_dir: Path, key: str) -> Desired | None:
    """The cached desired state for ``key``, or None (absent, unreadable, or not a Desired)."""
    path = cache_dir(state_dir) / f"{key}.pickle"
    value = read_entry(path, key)
    if not isinstance(value, Desired):
        return None
    with suppress(OSError):
        os.utime(path)  # recently used: kept by the pruning below
    return value


def save(state_dir: Path, key: str, desired: Desired) -> None:
    """Store ``desired`` under ``key`` (atomically), and prune the oldest entries. A cache
    that cannot be written is no error: the next run parses again."""
    folder = cache_dir(state_dir)
    if not write_entry(folder / f"{key}.pickle", key, desired):
        return
    try:
        entries = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        return


def read_entry(path: Path, key: str) -> object | None:
    """The value stored at ``path`` under ``key``, or None (absent or unreadable).

    An entry is unpickled only when its header names ``key`` and the payload has exactly the
    length and digest the header records: a truncated, renamed or swapped file is refused
    before pickle reads a byte of it.
    """
    try:
        with path.open("rb") as source:
            header = source.read(_HEADER.size)
            if len(header) != _HEADER.size:
                return None
            magic, entry_key, size, digest = _HEADER.unpack(header)
            if magic != _MAGIC or entry_key != bytes.fromhex(key) or size > _MAX_ENTRY:
                return None
            payload = source.read(size + 1)
        if len(payload) != size or hashlib.sha256(payload).digest() != digest:
            return None
        return pickle.loads(payload)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError,
            TypeError, ValueError, struct.error):
        return None


def write_entry(path: Path, key: str, value: object) -> bool:
    """Store ``value`` at ``path`` under ``key``: written to a temporary file of the same
    folder, then renamed over ``path``, so that a reader (another process) sees the old entry
    or the new one, never half of one. False when it could not be written."""
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if len(payload) > _MAX_ENTRY:
        return False
    header = _HEADER.pack(_MAGIC, bytes.fromhex(key), len(payload), hashlib.sha256(payload).digest())
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".specs.", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(header)
            out.write(payload)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with suppress(OSError):
                os.unlink(tmp)
        return False
    return True


# An entry: magic, the key it was saved under, the payload's length and sha256, the payload.
_MAGIC = b"RCSPEC01"
_HEADER = struct.Struct(">8s32sQ32s")
_MAX_ENTRY = 4 * 1024 * 1024 * 1024


def add(digest: hashlib._Hash, part: bytes) -> None:
    """Add one length-prefixed field to ``digest`` (no two different sequences hash alike)."""
    digest.update(f"{len(part)}:".encode())
    digest.update(part)


@cache
def _language() -> str:
    """A digest of the spec language's source: the rules and shapes that built an entry, the
    core's and every registered platform's (its package builds the resources)."""
    digest = hashlib.sha256()
    platforms = [_package_of(p.build) for p in registry.every()]
    paths = [*_SOURCES.glob("*.py"), _SOURCES.parent / "model.py",
             *(path for folder in platforms if folder for path in folder.glob("*.py"))]
    for path in sorted(set(paths)):
        add(digest, str(path.relative_to(path.parent.parent)).encode())
        add(digest, path.read_bytes())
    return digest.hexdigest()


def _package_of(function: object) -> Path | None:
    """The folder of the module a platform's function is defined in."""
    module = sys.modules.get(getattr(function, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    return Path(file).parent if file else None
