"""Plain dict views of the simulators' dataclass records, cheap enough for stores of 100,000+.

:func:`dataclasses.asdict` deep-copies every value and costs tens of microseconds a record: a
store persisting 100,000 numbers would spend seconds in it. :func:`fields_of` is the shallow
form, for records whose wire or persisted form is their fields in declaration order.
"""

from __future__ import annotations

import dataclasses
from typing import Any

_NAMES: dict[type, tuple[str, ...]] = {}  # a record class -> its field names, in order


def fields_of(record: Any) -> dict[str, Any]:
    """``record``'s fields in declaration order, values as they are (not copied)."""
    names = _NAMES.get(type(record))
    if names is None:
        names = _NAMES[type(record)] = tuple(f.name for f in dataclasses.fields(record))
    return {name: getattr(record, name) for name in names}
