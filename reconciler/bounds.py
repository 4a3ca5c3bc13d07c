"""Bounds on everything the tool reads from outside: spec files, plan files, allowance files,
secret files, the spec cache and the simulators' request bodies.

Specs arrive by pull request and CI validates them before anyone has read them, so no input may
make the tool hang or take memory out of proportion to its size. Every reader checks the size
of what it reads *before* reading it, and the YAML loader bounds nesting and the entries that
aliases expand to while it builds the data (see :mod:`reconciler.specs.yaml_loader`).

Two of the bounds are settings, because a very large ISP may need more; the others hold for
any honest input and are fixed. docs/specs.md lists them all.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

MIB = 1024 * 1024

FILE_BYTES_ENV = "RECONCILE_MAX_SPEC_FILE_MB"
TOTAL_BYTES_ENV = "RECONCILE_MAX_SPECS_MB"
DEFAULT_FILE_MB = 32  # a file of 1,000 client services is about 0.4 MB
DEFAULT_TOTAL_MB = 1024  # 1,000,000 client services are about 400 MB

MAX_DEPTH = 32  # the deepest spec path (clients > services > packages > params) is under 10
ALIAS_SLACK = 10_000  # entries aliases may add beyond one per byte of the file
MAX_PLAN_FILE_BYTES = 256 * MIB  # a plan of 1,000,000 changes is about 200 MB of JSON
MAX_ALLOW_FILE_BYTES = 64 * 1024  # one LIMIT=N a line
MAX_SECRET_FILE_BYTES = 64 * 1024  # a token, a key, a password
MAX_REQUEST_BYTES = 8 * MIB  # a simulator's request body (a bulk call of 10,000 numbers is ~0.5 MB)

# Lengths of string values in the specs, checked before a value reaches another library.
MAX_TEXT = 1_000  # any string value not bounded more closely below
MAX_NAME = 63  # integration, range, package, plan and schedule names: parts of addresses
MAX_ZONE = 64  # the longest IANA zone name is 32 characters
MAX_EMAIL = 254  # RFC 5321
MAX_SHOWN = 300  # of a message quoting what the user wrote


class TooLarge(Exception):
    """An input over its bound; ``str()`` says which bound and how to change it."""


@dataclass(frozen=True)
class SpecBounds:
    """The size bounds of a spec set, read from the environment (in MiB)."""

    file_bytes: int
    total_bytes: int

    @classmethod
    def current(cls) -> SpecBounds:
        return cls(_mib_setting(FILE_BYTES_ENV, DEFAULT_FILE_MB),
                   _mib_setting(TOTAL_BYTES_ENV, DEFAULT_TOTAL_MB))

    def file_problem(self, size: int) -> str | None:
        if size <= self.file_bytes:
            return None
        return (f"the file is {_mb(size)}, over the bound of {_mb(self.file_bytes)} per spec file; "
                f"split it (clients can span many files), or raise {FILE_BYTES_ENV}")

    def total_problem(self, total: int) -> str | None:
        if total <= self.total_bytes:
            return None
        return (f"the spec set is over {_mb(self.total_bytes)} in all; raise {TOTAL_BYTES_ENV} "
                f"if it really is this large")


def _mib_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if raw.isdigit() and 0 < int(raw) <= 1024 * 1024:
        return int(raw) * MIB
    return default * MIB  # an unusable value keeps the default rather than removing the bound


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB" if size >= MIB else f"{size:,} bytes"


def read_bounded(path: Path, limit: int, what: str) -> bytes:
    """The bytes of the regular file ``path``, refused before reading when over ``limit``.

    A FIFO, a device (``/dev/zero``) or a directory is refused too: reading one could block or
    never end. Raises OSError as ``open`` would, and :class:`TooLarge`.
    """
    # O_NONBLOCK: opening a named pipe with no writer would otherwise wait forever.
    with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise TooLarge(f"{path} is not a regular file; a {what} must be one")
        if info.st_size > limit:
            raise TooLarge(f"{path} is {_mb(info.st_size)}, over the bound of {_mb(limit)} for a {what}")
        data = handle.read(limit + 1)  # the file may grow while read
    if len(data) > limit:
        raise TooLarge(f"{path} grew past the bound of {_mb(limit)} for a {what} while it was read")
    return data


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut in the middle to at most about ``limit`` characters, for a message."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}…[{len(text) - 2 * half:,} characters]…{text[-half:]}"

