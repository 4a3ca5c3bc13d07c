"""Plan files (`plan --out`, `apply PLANFILE`): written once, read back only as they were written.

A plan file is the plan's JSON (docs/json.md) as bytes on disk. Between `plan` and `apply` it
lives where others can reach it (a CI artifact), so apply trusts none of it until:

- it is at most :data:`MAX_BYTES` long, UTF-8 JSON, and valid against the published plan-file
  schema (docs/schema/plan.schema.json, shipped in the package as
  ``reconciler/render/plan.schema.json``) before any field is read: :func:`read`;
- the sha256 of its bytes (:func:`digest`) is one `plan --out` recorded in the state, which the
  CLI checks with the per-field digests (:func:`field_digests`) at hand to name what was edited;
- the plan made again at apply, from the same state, specs and platforms, equals it in every
  field that drives apply: :func:`differences`.

Nothing here does I/O but :func:`read`; every problem is a :class:`PlanFileError`, never a
traceback.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

from reconciler.bounds import MAX_PLAN_FILE_BYTES, TooLarge, read_bounded
from reconciler.bounds import clip as shorten
from reconciler.errors import PlanFileError
from reconciler.render.jsonplan import require_format
from reconciler.secrets import redact

MAX_BYTES = MAX_PLAN_FILE_BYTES  # docs/json.md, "Plan files"
SCHEMA = "plan.schema.json"  # beside reconciler/render/jsonplan.py; docs/schema/ holds the copy
# What apply compares with the plan it makes again: everything that decides what apply does.
# The times, versions and fingerprint are checked on their own before; notes, estimates and
# the summary are for people and are covered by the digest alone.
COMPARED = ("changes", "adopt", "forget", "integrations", "targets", "excludes", "touched")
SHOWN = 5  # differences a refusal names
_CLIP = 80  # characters of a value a message shows


def encode(document: Mapping[str, Any]) -> bytes:
    """The exact bytes `plan --out` writes for a plan document (secrets masked)."""
    return (redact(json.dumps(document, indent=2)) + "\n").encode("utf-8")


def digest(raw: bytes) -> str:
    """The sha256 of a plan file's bytes, as recorded in the state at `plan --out`."""
    return hashlib.sha256(raw).hexdigest()


def field_digests(document: Mapping[str, Any]) -> dict[str, str]:
    """A short digest of each top-level field, so that a file whose bytes were not recorded can
    be told apart from the one recorded: which fields were edited."""
    return {key: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]
            for key, value in document.items()}


@dataclass(frozen=True)
class PlanFile:
    """A plan file read and validated: its bytes, their digest, and the document."""

    path: Path
    raw: bytes
    data: dict[str, Any]

    @property
    def digest(self) -> str:
        return digest(self.raw)

    def time(self, key: str) -> datetime | None:
        """``created_at`` or ``expires_at``, checked by :func:`read` to be a time with an offset."""
        value = self.data.get(key)
        return datetime.fromisoformat(value) if value is not None else None


def read(path: Path) -> PlanFile:
    """The plan file at ``path``, refused with a :class:`PlanFileError` naming it unless it is a
    plan document of this format: bounded in size, UTF-8 JSON, valid against the schema."""
    try:
        raw = read_bounded(path, MAX_BYTES, "plan file")
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    except TooLarge as exc:
        raise PlanFileError(f"{exc}: not a plan file `reconcile plan --out` wrote") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise PlanFileError(f"plan file {path} is not UTF-8 text (byte {exc.start}): not a plan "
                            f"file `reconcile plan --out` wrote") from None
    except (ValueError, RecursionError) as exc:
        what = "nested too deeply" if isinstance(exc, RecursionError) else clip(str(exc))
        raise PlanFileError(f"plan file {path} is not JSON ({what}): not a plan file "
                            f"`reconcile plan --out` wrote") from None
    if isinstance(data, dict):
        require_format(data, path=str(path))
    problems = schema_problems(data)
    if problems:
        more = " (and more)" if len(problems) > 1 else ""
        raise PlanFileError(f"plan file {path} is not a plan file of format 1: {problems[0]}{more}; "
                            f"see docs/schema/plan.schema.json")
    for key in ("created_at", "expires_at"):
        _check_time(path, key, data[key])
    return PlanFile(path, raw, data)


def schema_problems(document: Any, *, first: int = 20) -> list[str]:
    """What makes ``document`` invalid against the plan-file schema: of the ``first`` problems
    found, the most relevant first, each as ``at PATH: message`` with values clipped; empty
    when it is valid. Looking no further bounds the time a file of many wrong items takes."""
    from jsonschema.exceptions import relevance  # lazily: a tenth of a second to import

    try:
        found = sorted(islice(_validator().iter_errors(document), first), key=relevance,
                       reverse=True)
    except RecursionError:
        return ["at (top level): nested too deeply"]
    return [f"at {'/'.join(map(str, e.absolute_path)) or '(top level)'}: {clip(e.message)}"
            for e in found]


@cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    text = resources.files("reconciler.render").joinpath(SCHEMA).read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


def _check_time(path: Path, key: str, value: str | None) -> None:
    if value is None:
        return
    try:
        aware = datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        aware = False
    if not aware:
        raise PlanFileError(f"plan file {path}: {key} {clip(json.dumps(value))} is not an ISO 8601 "
                            f"time with an offset: not a plan file `reconcile plan --out` wrote")


def differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """How a saved plan document differs from one made now, in the :data:`COMPARED` fields,
    first difference first; each names where (a change by its id) and both values."""
    return [line for key in COMPARED for line in _walk(key, saved.get(key), now.get(key))]


def _walk(where: str, saved: Any, now: Any) -> Iterator[str]:
    if saved == now and type(saved) is type(now):
        return
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in [*now, *(k for k in saved if k not in now)]:
            at = f"{where}.{key}" if str(key).isidentifier() else f"{where}[{json.dumps(key)}]"
            if key not in saved:
                yield f"{at}: absent in the file, {_show(now[key])} in a plan made now"
            elif key not in now:
                yield f"{at}: {_show(saved[key])} in the file, absent in a plan made now"
            else:
                yield from _walk(at, saved[key], now[key])
    elif isinstance(saved, list) and isinstance(now, list):
        for i, (one, other) in enumerate(zip(saved, now, strict=False)):
            yield from _walk(f"{where}[{i}]{_label(other)}", one, other)
        if len(saved) != len(now):
            longer, which = (now, "in a plan made now") if len(now) > len(saved) else (saved, "in the file")
            beyond = longer[min(len(saved), len(now)):][:3]
            extra = ", ".join(_label(x).strip(" ()") or _show(x) for x in beyond)
            yield (f"{where}: {len(saved)} in the file, {len(now)} in a plan made now (only "
                   f"{which}: {extra}{', ...' if abs(len(now) - len(saved)) > 3 else ''})")
    else:
        yield f"{where}: {_show(saved)} in the file, {_show(now)} in a plan made now"


def _label(item: Any) -> str:
    """`` (ID)`` for a change, `` (ADDRESS)`` for a resource; empty for anything else."""
    if isinstance(item, dict):
        name = item.get("id", item.get("address"))
        if isinstance(name, str):
            return f" ({clip(name)})"
    return ""


def _show(value: Any) -> str:
    try:
        return clip(json.dumps(value, sort_keys=True, default=str))
    except RecursionError:
        return "(nested too deeply to show)"


def clip(text: str) -> str:
    return shorten(text, _CLIP)
