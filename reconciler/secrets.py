"""Secret references: resolved only when a provider is built, and masked everywhere else.

Specs hold references (``${env:NAME}``, ``${file:PATH}``), never values. A resolved value is
registered here so that :func:`redact` can mask it in any text the tool prints, logs or writes:
error messages, plan files, state. The value itself only travels to the provider that needs it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from reconciler.bounds import MAX_SECRET_FILE_BYTES, TooLarge, read_bounded
from reconciler.errors import SecretError
from reconciler.model import Integration, SecretRef

MASK = "********"
_REVEALED: set[str] = set()
REFERENCE = re.compile(r"^\$\{(env|file):([^}]+)\}$")


def parse_reference(text: str, base_dir: str = ".") -> SecretRef | None:
    """The reference written in ``text``, or None when it is not a reference."""
    match = REFERENCE.match(text.strip())
    if not match:
        return None
    return SecretRef(scheme=match.group(1), name=match.group(2).strip(), base_dir=base_dir)


def resolve(ref: SecretRef, *, field: str = "", integration: str = "") -> str:
    """The secret's value. Raises SecretError naming the reference, never a value."""
    where = f"integration {integration!r} credential {field!r}" if integration else str(ref)
    if ref.scheme == "env":
        value = os.environ.get(ref.name)
        if not value:
            raise SecretError(
                f"{where}: environment variable {ref.name} is not set (referenced as {ref}); "
                f"export it before running"
            )
    else:
        path = Path(ref.base_dir, ref.name).expanduser()
        try:
            value = read_bounded(path, MAX_SECRET_FILE_BYTES, "secret file").decode("utf-8").strip()
        except OSError as exc:
            raise SecretError(
                f"{where}: cannot read secret file {path} (referenced as {ref}): {exc.strerror}"
            ) from None
        except (TooLarge, UnicodeDecodeError) as exc:
            reason = str(exc) if isinstance(exc, TooLarge) else "it is not UTF-8 text"
            raise SecretError(f"{where}: secret file {path} (referenced as {ref}): {reason}") from None
        if not value:
            raise SecretError(f"{where}: secret file {path} is empty (referenced as {ref})")
    _REVEALED.add(value)
    return value


def resolve_credentials(integration: Integration) -> dict[str, str]:
    """Every credential of an integration, references resolved and literals passed through."""
    out: dict[str, str] = {}
    for field, value in integration.credentials.items():
        if isinstance(value, SecretRef):
            out[field] = resolve(value, field=field, integration=integration.name)
        else:
            out[field] = value
    return out


def reveal(value: str) -> None:
    """Mask ``value`` in everything this process prints from now on (a secret the tool was
    handed some other way than a reference, such as the password in the state's URL)."""
    _REVEALED.add(value)


def redact(text: str) -> str:
    """``text`` with every secret value this process has resolved replaced by a mask."""
    for value in sorted(_REVEALED, key=len, reverse=True):
        if len(value) >= 4 and value in text:
            text = text.replace(value, MASK)
    return text

