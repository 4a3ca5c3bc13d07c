"""The per-file spec cache gives what a cold parse gives: random sequences of edits to a spec
set of several files (a field changed, an entry moved to another file, a file added or
deleted, an error brought in or taken out, a number used twice across files), each loaded once
through the cache and once cold, give the same desired state or the same errors, in order."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.spec_helpers import write
from tests.unit.test_spec_file_cache import INTEGRATIONS, client, outcome

# valid CPFs, one per client slot; numbers inside the range 30001000-30001009
DOCUMENTS = ("529.982.247-25", "083.016.613-05", "186.091.390-34", "111.444.777-35")
NAMES = ("Maria", "João", "Ana", "Pedro")
FILES = ("clients/a.yaml", "clients/b.yaml", "clients/c.yaml")

edit = st.one_of(
    st.tuples(st.just("number"), st.integers(0, 3), st.integers(0, 9)),  # may collide
    st.tuples(st.just("status"), st.integers(0, 3), st.sampled_from(
        ("active", "suspended", "cancelled", "paused"))),  # "paused" is an error
    st.tuples(st.just("move"), st.integers(0, 3), st.integers(0, len(FILES) - 1)),
    st.tuples(st.just("drop"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("name"), st.integers(0, 3), st.integers(0, 3)),
)


def render(specs: Path, slots: dict[int, dict[str, object]]) -> None:
    """Write every file from the slots: each client in the file it lives in."""
    for name in FILES:
        held = [s for s in sorted(slots) if slots[s]["file"] == name]
        path = specs / name
        if not held:
            path.unlink(missing_ok=True)
            continue
        texts = [client(DOCUMENTS[s], str(slots[s]["name"]), 1001 + s,
                        f"11300010{slots[s]['number']:02d}")
                 .replace("status: active", f"status: {slots[s]['status']}")
                 for s in held]
        body = "clients:\n" + "".join(t.split("clients:\n", 1)[1] for t in texts)
        write(specs, name, body)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit, min_size=1, max_size=6))
def test_cached_loading_equals_a_cold_parse_after_every_edit(edits: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        specs, state = Path(tmp) / "specs", Path(tmp) / "state"
        write(specs, "integrations.yaml", INTEGRATIONS)
        slots: dict[int, dict[str, object]] = {
            s: {"file": FILES[s % len(FILES)], "number": s, "status": "active",
                "name": NAMES[s]} for s in range(4)}
        render(specs, slots)
        assert outcome(specs, state) == outcome(specs, None)
        for op, slot, value in edits:
            if op == "drop":
                slots.pop(slot, None)
            elif slot in slots:
                field = {"number": "number", "status": "status", "move": "file",
                         "name": "name"}[op]
                slots[slot][field] = (FILES[value] if op == "move" else
                                      NAMES[value] if op == "name" else value)
            render(specs, slots)
            assert outcome(specs, state) == outcome(specs, None), (op, slot, value)
