"""Plan files read back by `apply PLANFILE` (reconciler/planfile.py): 200 seeded mutations of a
real plan file, each a clear error naming the file and never a traceback; the digest recorded
at `plan --out` (a table existing states get too, a record that leaves the serial alone); and
the differences a plan made again at apply names.

The CLI runs in process (click's CliRunner) against the golden specs and a fresh state: every
mutated file is refused while loading, before any platform is read.
"""

from __future__ import annotations

import copy
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconciler import planfile
from reconciler.cli import main
from reconciler.model import Fingerprint
from reconciler.render import jsonplan
from reconciler.specs import load_desired
from reconciler.state import StateStore
from tests.golden import scenarios
from tests.golden.scenarios import SECRETS, SPECS

ROOT = Path(__file__).resolve().parents[2]
FUZZED = 200
SEED = 20
PER_FILE_SECONDS = 5.0  # a refusal is quick whatever the file holds


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def bound(tmp_path: Path, at_root: None) -> Iterator[tuple[str, dict[str, Any], bytes]]:
    """A state, and a real plan file of the golden rollout bound to it and recorded in it as
    `plan --out` records: (state URL, document, bytes)."""
    url = f"sqlite:///{tmp_path / 'state' / 'reconciler.db'}"
    store = StateStore(url)
    plan, *_ = scenarios.planned("rollout")
    plan = replace(plan, fingerprint=Fingerprint(store.lineage, store.serial,
                                                 load_desired(SPECS).digest))
    doc = json.loads(json.dumps(jsonplan.plan_to_json(
        plan, created_at="2026-11-25T20:15:03+00:00", expires_at="2099-11-26T20:15:03+00:00")))
    raw = planfile.encode(doc)
    store.record_plan_file(planfile.digest(raw), serial=store.serial, created_at=doc["created_at"],
                           expires_at=None, fields=planfile.field_digests(doc))
    store.close()
    yield url, doc, raw


def apply(path: Path, url: str) -> Any:
    return CliRunner().invoke(main, ["apply", str(path), "--specs", str(SPECS), "--state", url,
                                     "--auto-approve"])


# --- mutations -------------------------------------------------------------------------------

Mutation = Callable[[random.Random, dict[str, Any], bytes], bytes]
WRONG = [None, True, 0, -1, 1.5, float("nan"), "", "x", [], {}, [1, "a"], {"k": None}]


def as_json(doc: Any) -> bytes:
    return json.dumps(doc, indent=2).encode()


def nodes(doc: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every value in ``doc``, the document itself excluded."""
    children = (doc.items() if isinstance(doc, dict)
                else enumerate(doc) if isinstance(doc, list) else ())
    for key, value in children:
        yield (*at, key)
        yield from nodes(value, (*at, key))


def put(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        doc = doc[step]
    doc[path[-1]] = value


def pick(rnd: random.Random, doc: dict[str, Any]) -> tuple[Any, ...]:
    return rnd.choice(list(nodes(doc)))


def wrong_shape(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    return as_json(rnd.choice([*WRONG, [doc], {"plan": doc}]))


def wrong_type(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    path = pick(rnd, doc)
    put(doc, path, rnd.choice(WRONG))
    return as_json(doc)


def dropped(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    path = pick(rnd, doc)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return as_json(doc)


def huge_string(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    put(doc, pick(rnd, doc), rnd.choice("xé\u202e\x00") * rnd.randint(10_000, 1_000_000))
    return as_json(doc)


def huge_list(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    """A list of many items: valid ones repeated (each is validated: a thousand), or
    100,000 wrong ones (refused at the first problems found)."""
    key = rnd.choice(["changes", "forget", "integrations", "targets", "adopt", "warnings"])
    if rnd.random() < 0.5 and doc[key]:
        doc[key] = doc[key] * (1_000 // len(doc[key]))
    else:
        doc[key] = [rnd.choice(WRONG)] * 100_000
    return as_json(doc)


def deep(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    depth = rnd.choice([50, 500, 5_000, 200_000])
    opener, closer = rnd.choice([("[", "]"), ('{"a":', "}")])
    nested = opener * depth + "1" + closer * depth
    text = json.dumps({**doc, "changes": "__HERE__"}) if rnd.random() < 0.5 else '"__HERE__"'
    return text.replace('"__HERE__"', nested).encode()


def binary(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    data = bytearray(raw)
    for _ in range(rnd.randint(1, 20)):
        data[rnd.randrange(len(data))] = rnd.choice([0x00, 0xff, 0xc3, 0x80, rnd.randrange(256)])
    if rnd.random() < 0.2:
        return bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 4096)))
    return bytes(data)


def truncated(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    return raw[: rnd.randrange(len(raw))]


def bad_value(rnd: random.Random, doc: dict[str, Any], raw: bytes) -> bytes:
    """Values of the right JSON type that are still wrong: times, numbers, versions, ids."""
    choice = rnd.randrange(9)
    if choice == 0:
        doc[rnd.choice(["created_at", "expires_at"])] = rnd.choice(
            ["2026-13-45T00:00:00+00:00", "yesterday", "2026-11-25T20:15:03", "", "9" * 5000])
    elif choice == 1:
        doc["fingerprint"]["serial"] = rnd.choice([-1, 10**30, 2**63])
    elif choice == 2:
        doc["format_version"] = rnd.choice([2, 0, "1", None, [1], {"v": 1}, 1.0000001])
    elif choice == 3:
        doc["tool_version"] = rnd.choice(["0.0.1", "", "x" * 100_000])
    elif choice == 4:
        doc["changes"][rnd.randrange(len(doc["changes"]))]["action"] = rnd.choice(
            ["replace", "UNLINK", "unlink", "delete"])
    elif choice == 5:
        doc["fingerprint"]["lineage"] = "another-state"
    elif choice == 6:
        doc["touched"][rnd.choice(list(doc["touched"]))] = "not-a-fingerprint"
    elif choice == 7:
        return raw.replace(b'"serial": 0', b'"serial": ' + b"9" * 5000)  # past int digits
    else:
        doc["changes"][rnd.randrange(len(doc["changes"]))]["reason"] += " (edited)"
    return as_json(doc)


MUTATIONS: list[Mutation] = [wrong_shape, wrong_type, dropped, huge_string, huge_list, deep,
                             binary, truncated, bad_value]


def fuzzed(doc: dict[str, Any], raw: bytes) -> Iterator[tuple[str, bytes]]:
    rnd = random.Random(SEED)
    for i in range(FUZZED):
        mutation = MUTATIONS[i % len(MUTATIONS)]
        yield f"{i:03d}-{mutation.__name__}", mutation(rnd, copy.deepcopy(doc), raw)


def test_the_unmutated_plan_file_passes_every_check_of_the_loader(
        tmp_path: Path, bound: tuple[str, dict[str, Any], bytes]) -> None:
    """The base the fuzz mutates is itself accepted: each refusal below is the mutation's."""
    url, doc, raw = bound
    assert planfile.read(_write(tmp_path / "plan.json", raw)).data == doc
    from reconciler.cli.plan import _check_planfile, _read_planfile
    from reconciler.runtime import Workspace

    ws = Workspace.open(SPECS, url)
    try:
        plan, saved = _read_planfile(tmp_path / "plan.json")
        _check_planfile(plan, saved, ws)
    finally:
        ws.close()
    assert saved.digest == planfile.digest(raw) and plan.changes


def test_200_fuzzed_plan_files_each_end_in_a_clear_error(
        tmp_path: Path, bound: tuple[str, dict[str, Any], bytes]) -> None:
    url, doc, raw = bound
    seen: dict[str, int] = {}
    for name, data in fuzzed(doc, raw):
        assert data != raw, name
        path = _write(tmp_path / f"{name}.json", data)
        started = time.monotonic()
        result = apply(path, url)
        took = time.monotonic() - started
        assert result.exit_code == 1, f"{name}: exit {result.exit_code}\n{result.output}"
        assert isinstance(result.exception, SystemExit), f"{name}: {result.exception!r}"
        assert "Traceback" not in result.output, name
        head = result.output.splitlines()[0]
        assert head.startswith("Error: ") and path.name in head, f"{name}: {head}"
        assert len(result.output) < 2_000, f"{name}: the message shows too much of the file"
        assert took < PER_FILE_SECONDS, f"{name} took {took:.1f} s"
        seen[name.split("-", 1)[1]] = seen.get(name.split("-", 1)[1], 0) + 1
    assert sum(seen.values()) == FUZZED and set(seen) == {m.__name__ for m in MUTATIONS}


def test_a_plan_file_over_the_size_limit_is_refused_unread(
        tmp_path: Path, bound: tuple[str, dict[str, Any], bytes]) -> None:
    url, _, _ = bound
    path = tmp_path / "big.json"
    with path.open("wb") as file:
        file.truncate(planfile.MAX_BYTES + 1)  # sparse: no disk spent
    result = apply(path, url)
    assert result.exit_code == 1
    assert "plan file" in result.output
    assert "big.json is 256.0 MB, over the bound of 256.0 MB for a plan file" in result.output


@pytest.mark.parametrize("target", ["missing.json", "."])
def test_a_plan_file_that_cannot_be_read_is_a_clear_error(
        tmp_path: Path, bound: tuple[str, dict[str, Any], bytes], target: str) -> None:
    url, _, _ = bound
    result = apply(tmp_path / target, url)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: cannot read plan file ")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the record in the state -----------------------------------------------------------------


def test_recording_a_plan_file_leaves_the_serial_alone_and_prunes_expired_ones(
        tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        past = datetime.now(UTC) - timedelta(hours=1)
        store.record_plan_file("a" * 64, serial=0, created_at="t1", expires_at=past, fields={})
        store.record_plan_file("b" * 64, serial=0, created_at="t2",
                               expires_at=datetime.now(UTC) + timedelta(hours=1), fields={"x": "1"})
        assert store.serial == 0
        assert store.plan_file("a" * 64) is None  # expired: pruned by the next record
        row = store.plan_file("b" * 64)
        assert row is not None and row.fields == {"x": "1"} and row.lineage == store.lineage
        assert [r.digest for r in store.plan_files_made_at("t2")] == ["b" * 64]
    finally:
        store.close()


def test_a_state_made_before_plan_files_were_recorded_gets_the_table(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    StateStore(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE plan_files")  # as a state written by an earlier release,
        conn.execute("DROP TABLE alembic_version")  # before the migrations
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    store = StateStore(f"sqlite:///{db}")
    try:
        store.record_plan_file("c" * 64, serial=0, created_at="t", expires_at=None, fields={})
        assert store.plan_file("c" * 64) is not None
    finally:
        store.close()


# --- what a plan made again is compared on ---------------------------------------------------


def rollout_doc() -> dict[str, Any]:
    plan, *_ = scenarios.planned("rollout")
    return json.loads(planfile.encode(jsonplan.plan_to_json(plan, created_at="t")))


def test_equal_plans_have_no_differences_whatever_their_times_notes_and_estimates(
        at_root: None) -> None:
    saved, now = rollout_doc(), rollout_doc()
    now.update(created_at="later", expires_at=None, warnings=[], converging=[], estimates=[])
    assert planfile.differences(saved, now) == []


def test_differences_name_the_change_the_field_and_both_values(at_root: None) -> None:
    saved, now = rollout_doc(), rollout_doc()
    first = now["changes"][0]
    saved["changes"][0]["after"] = {**(first["after"] or {}), "blocked": "yes"}
    saved["forget"] = ["stfc-sp.number[\"1\"]"]
    found = planfile.differences(saved, now)
    assert found[0] == (f"changes[0] ({first['id']}).after.blocked: \"yes\" in the file, "
                        "absent in a plan made now")
    assert any(line.startswith("forget: 1 in the file, 0 in a plan made now") for line in found)
    saved["changes"][0]["keys"] = [1]  # a type the JSON compares unequal
    assert any(".keys[0]: 1 in the file" in line for line in planfile.differences(saved, now))


def test_a_value_shown_in_a_difference_is_clipped() -> None:
    found = planfile.differences({"changes": [{"reason": "x" * 10_000}]},
                                 {"changes": [{"reason": "y"}]})
    assert len(found) == 1 and len(found[0]) < 250


def test_jsonschema_is_imported_only_to_read_a_plan_file() -> None:
    """Start-up time: every command imports the CLI; only `apply PLANFILE` needs jsonschema."""
    import subprocess
    import sys

    code = "import sys, reconciler.cli; print('jsonschema' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, check=True)
    assert shown.stdout.strip() == "False"
