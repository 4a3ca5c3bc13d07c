"""A SIP line's password, from its rule, at the moment the provider sends it.

The rule is what the specs wrote (``password_from``): a ``${env:NAME}`` or ``${file:PATH}``
reference, resolved here (a relative PATH is relative to the directory of the spec file that
declares the line, as for credentials), or ``generate``: a new random password, written to the
line's ``password_file`` (created with mode 0600, never overwritten: an existing file's password
is the one sent, so a create retried after a crash sends the same one). Every value is masked in
what the tool prints from then on (:func:`reconciler.secrets.reveal`); none is ever returned to
the planner, recorded, or put in an error.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.errors import SecretError
from reconciler.model import Source
from reconciler.secrets import parse_reference, resolve, reveal
from reconciler.specs.models import GENERATE

LENGTH = 20  # characters of a generated password (letters and digits)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"


def password_for(after: Mapping[str, Any], source: Source | None, line: str) -> str | None:
    """The password to send for a change's target, or None (the rule is unset: leave it)."""
    rule = after.get("password_from")
    if not rule:
        return None
    base = str(Path(source.file).parent) if source is not None else "."
    if rule == GENERATE:
        return _generated(Path(base, str(after.get("password_file") or "")), line)
    ref = parse_reference(str(rule), base)
    if ref is None:  # validation refuses literals; a changed state or plan must not send one
        raise SecretError(f"SIP line {line}: its password rule is not a reference")
    return resolve(ref, field="password", integration=line)


def _generated(path: Path, line: str) -> str:
    if path.name == "":
        raise SecretError(f"SIP line {line}: password: generate needs password_file")
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    except OSError as exc:
        raise SecretError(f"SIP line {line}: cannot read {path}: {exc.strerror}") from None
    if existing:
        reveal(existing)
        return existing
    value = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    reveal(value)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(value + "\n")
    except OSError as exc:
        raise SecretError(f"SIP line {line}: cannot write the generated password to {path}: "
                          f"{exc.strerror}") from None
    return value
