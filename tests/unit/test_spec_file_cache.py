"""The per-file spec cache: a file that did not change gives its validated entries without a
parse, the rules across files still run over every file, a file with errors of its own is never
stored, and the folder stays bounded and whole under concurrent writers."""

from __future__ import annotations

import multiprocessing
import os
from dataclasses import astuple
from pathlib import Path

import pytest

import reconciler.specs as specs_pkg
from reconciler.errors import SpecError
from reconciler.specs import cache, file_cache, load_desired
from reconciler.specs.cache import read_entry
from reconciler.specs.file_parts import FilePart
from reconciler.specs.yaml_loader import Document
from tests.unit.spec_helpers import write

INTEGRATIONS = """\
integrations:
  stfc-sp:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:T}"}
number_ranges:
  sp: {integration: stfc-sp, area_code: 11, first: 30001000, last: 30001009}
"""
CLIENT = """\
clients:
  - document: {document}
    name: {name}
    services:
      - id: {sid}
        status: active
        phone_numbers: [{{integration: stfc-sp, number: "{number}", plan: P}}]
"""


def client(document: str = "529.982.247-25", name: str = "Maria", sid: int = 1001,
           number: str = "1130001001") -> str:
    return CLIENT.format(document=document, name=name, sid=sid, number=number)


@pytest.fixture
def shaped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The relative path of every file parsed and validated (not read from the cache)."""
    seen: list[str] = []
    real = specs_pkg.shape

    def counting(doc: Document) -> FilePart:
        seen.append(doc.rel)
        return real(doc)

    monkeypatch.setattr(specs_pkg, "shape", counting)
    return seen


def spec_set(specs: Path) -> None:
    write(specs, "integrations.yaml", INTEGRATIONS)
    write(specs, "clients/a.yaml", client())
    write(specs, "clients/b.yaml", client("083.016.613-05", "João", 1002, "1130001002"))


def outcome(specs: Path, state: Path | None) -> object:
    """What loading gives: the desired state's parts, or every problem with its place."""
    try:
        desired = load_desired(specs, state_dir=state)
    except SpecError as exc:
        return [astuple(issue) for issue in exc.issues]
    return desired.digest, desired.resources, desired.integrations, desired.settings


def test_only_the_changed_file_is_parsed(tmp_path: Path, shaped: list[str]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    load_desired(specs, state_dir=state)
    assert sorted(shaped) == ["clients/a.yaml", "clients/b.yaml", "integrations.yaml"]
    write(specs, "clients/b.yaml", client("083.016.613-05", "João", 1002, "1130001003"))
    shaped.clear()
    desired = load_desired(specs, state_dir=state)
    assert shaped == ["clients/b.yaml"]
    assert 'stfc-sp.link["1130001003"]' in desired.resources
    assert outcome(specs, state) == outcome(specs, None)


def test_the_run_logs_how_many_files_it_reused(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """`-v` says what the cache saved: the benchmark's one-file step reads it from the log."""
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    with caplog.at_level("INFO", logger=file_cache.__name__):
        load_desired(specs, state_dir=state)
        write(specs, "clients/a.yaml", client() + "# edited\n")
        load_desired(specs, state_dir=state)
    said = [r.getMessage() for r in caplog.records if r.name == file_cache.__name__]
    assert said == ["spec cache: 0 of 3 files reused, 3 parsed",
                    "spec cache: 2 of 3 files reused, 1 parsed"]


def test_rules_across_files_run_on_cached_entries(tmp_path: Path, shaped: list[str]) -> None:
    """Both files are clean on their own, so both are stored; the number used twice is found
    when their entries are joined, from the cache as from a fresh parse."""
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    load_desired(specs, state_dir=state)
    write(specs, "clients/b.yaml", client("083.016.613-05", "João", 1002, "1130001001"))
    cold = outcome(specs, None)
    assert isinstance(cold, list) and "already assigned to service 1001" in cold[0][3]
    shaped.clear()
    assert outcome(specs, state) == cold
    assert shaped == ["clients/b.yaml"]
    shaped.clear()
    assert outcome(specs, state) == cold  # an invalid set is not cached whole: joined again
    assert shaped == []


def test_a_name_defined_twice_across_cached_files(tmp_path: Path, shaped: list[str]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    write(specs, "more.yaml", INTEGRATIONS.replace("30001000", "30002000")
          .replace("30001009", "30002009"))
    cold = outcome(specs, None)
    assert outcome(specs, state) == cold
    shaped.clear()
    assert outcome(specs, state) == cold and shaped == []
    messages = [issue[3] for issue in cold] if isinstance(cold, list) else []
    assert any("integration 'stfc-sp' is defined twice" in m for m in messages)
    assert any("number range 'sp' is defined twice" in m for m in messages)


def test_a_file_with_errors_is_never_cached(tmp_path: Path, shaped: list[str]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    write(specs, "clients/b.yaml", client("083.016.613-05", "João", 1002, "1130001002")
          .replace("status: active", "status: paused"))
    first = outcome(specs, state)
    assert isinstance(first, list) and any("paused" in str(issue[4]) for issue in first)
    shaped.clear()
    assert outcome(specs, state) == first == outcome(specs, None)
    assert shaped == ["clients/b.yaml"]  # the others came from the cache
    assert len(list(file_cache.files_dir(state).glob("*.part"))) == 2


def test_an_unreadable_entry_is_rebuilt_silently(tmp_path: Path, shaped: list[str]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    expected = outcome(specs, state)
    entries = sorted(file_cache.files_dir(state).glob("*.part"))
    assert len(entries) == 3
    entries[0].write_bytes(b"not a pickle")
    entries[1].write_bytes(entries[1].read_bytes()[:-10])  # cut short
    for whole in cache.cache_dir(state).glob("*.pickle"):
        whole.unlink()
    shaped.clear()
    assert outcome(specs, state) == expected
    assert len(shaped) == 2
    for entry in entries:
        assert isinstance(read_entry(entry, entry.stem), FilePart)


def test_entries_no_recent_run_used_are_removed(tmp_path: Path) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    for n in range(file_cache.RUNS_KEPT + 3):
        write(specs, "clients/a.yaml", client(name=f"Maria {n}"))
        load_desired(specs, state_dir=state)
    entries = list(file_cache.files_dir(state).glob("*.part"))
    # the two unchanged files, and a.yaml as the last RUNS_KEPT runs wrote it
    assert len(entries) == 2 + file_cache.RUNS_KEPT
    stamps = {entry.stat().st_mtime_ns for entry in entries}
    assert len(stamps) == file_cache.RUNS_KEPT


def test_a_write_that_fails_leaves_no_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)

    def failing(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing)
    expected = outcome(specs, None)
    assert outcome(specs, state) == expected  # no error: the next run parses again
    assert not list(file_cache.files_dir(state).iterdir())  # no entry, no temporary


def _load_repeatedly(specs: Path, state: Path, rounds: int) -> None:
    for n in range(rounds):
        write(specs / f"own-{os.getpid()}", "c.yaml", client("186.091.390-34", f"Ana {n}",
                                                             1003, "1130001003"))
        for whole in cache.cache_dir(state).glob("*.pickle"):
            whole.unlink(missing_ok=True)
        load_desired(specs, state_dir=state)


def test_two_processes_writing_at_once_leave_whole_entries(tmp_path: Path) -> None:
    """Two processes load (and write) the same cache at once, a few rounds each; every entry
    left reads back whole, and no temporary file stays behind."""
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_load_repeatedly, args=(specs / f"w{i}", state, 4))
               for i in range(2)]
    for i in range(2):
        spec_set(specs / f"w{i}")
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    left = list(file_cache.files_dir(state).iterdir())
    assert left and all(path.suffix == ".part" for path in left)
    assert all(isinstance(read_entry(path, path.stem), FilePart) for path in left)


def test_the_entries_hold_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T", "super-secret-token-value")
    specs, state = tmp_path / "specs", tmp_path / "state"
    spec_set(specs)
    load_desired(specs, state_dir=state)
    for entry in file_cache.files_dir(state).glob("*.part"):
        assert b"super-secret-token-value" not in entry.read_bytes()
