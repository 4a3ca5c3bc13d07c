"""Hostile spec sets: each named case of issue 18 ends in a located error, quickly and within
a memory bound proportional to the bytes read, never in a traceback, a hang or a MemoryError."""

from __future__ import annotations

import os
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.bounds import FILE_BYTES_ENV, TOTAL_BYTES_ENV
from reconciler.cli import main
from reconciler.errors import SpecError
from reconciler.specs import load_desired, load_specs

SPECS = Path(__file__).resolve().parents[2] / "specs"


def billion_laughs(levels: int = 9) -> str:
    """Nine anchors, each a list of nine aliases of the one before."""
    lines = ['laugh0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"laugh{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def nested_bomb(section: str) -> str:
    """The bomb under a known section, as a value the shape pass would walk."""
    body = billion_laughs().replace("\n", "\n    ")
    return f"{section}:\n  bomb:\n    {body}\n    value: *l8\n"


@pytest.fixture
def spec_set(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    shutil.copytree(SPECS, root)
    return root


def spec_problems(root: Path) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_specs(root)
    return [str(issue) for issue in caught.value.issues]


def bounded_run(root: Path, seconds: float = 5.0, peak_mb: float = 200.0) -> list[str]:
    """The problems of ``root``, asserting the time and memory they took."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        problems = spec_problems(root)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - started < seconds
    assert peak < peak_mb * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    return problems


@pytest.mark.parametrize("where", ["bomb.yaml", "clients/bomb.yaml"])
def test_an_alias_bomb_at_the_top_of_a_file_is_refused_at_its_place(spec_set: Path, where: str) -> None:
    (spec_set / where).write_text(billion_laughs())
    problems = bounded_run(spec_set)
    hit = [p for p in problems if "anchors and aliases" in p]
    assert len(hit) == 1 and f"{where}:1:" in hit[0], problems


@pytest.mark.parametrize("section", ["integrations", "number_ranges", "clients", "schedules"])
def test_an_alias_bomb_under_a_section_is_refused_by_validate_and_plan(
        spec_set: Path, tmp_path: Path, section: str) -> None:
    (spec_set / "bomb.yaml").write_text(nested_bomb(section))
    problems = bounded_run(spec_set)
    assert any("bomb.yaml:" in p and "anchors and aliases" in p for p in problems), problems
    with pytest.raises(SpecError):  # plan's path: the desired state (and the cache) too
        load_desired(spec_set, state_dir=tmp_path / "state")


def test_aliases_within_the_bound_still_work(spec_set: Path) -> None:
    limits = "".join(f"    stfc-sp-{i}: *limit\n" for i in range(50))
    (spec_set / "limits.yaml").write_text(
        "safety:\n  default: &limit {max_percent: 30}\n  integrations:\n" + limits)
    problems = spec_problems(spec_set)
    assert not any("anchors and aliases" in p for p in problems), problems
    assert any("limits.yaml:" in p for p in problems)  # judged on what the aliases expand to


def test_deep_nesting_is_refused_with_its_line(spec_set: Path) -> None:
    (spec_set / "deep.yaml").write_text("clients:\n  - " + "[" * 200 + "]" * 200 + "\n")
    problems = bounded_run(spec_set)
    assert any("deep.yaml:2:" in p and "nests more than 32 levels" in p for p in problems), problems


def test_a_long_time_zone_is_a_located_error_not_a_traceback(spec_set: Path) -> None:
    schedules = spec_set / "schedules.yaml"
    text = schedules.read_text()
    assert "timezone: America/Sao_Paulo" in text
    schedules.write_text(text.replace("timezone: America/Sao_Paulo", "timezone: " + "A" * 100_000, 1))
    problems = bounded_run(spec_set)
    assert any("schedules.yaml:" in p and "'timezone' must be at most 64 characters" in p
               for p in problems), problems
    assert all(len(p) < 1_500 for p in problems)


@pytest.mark.parametrize("zone", ["../../../etc/passwd", "/etc/localtime", "Foo/Bar" * 9])
def test_a_time_zone_never_reaches_the_filesystem_unchecked(spec_set: Path, zone: str) -> None:
    schedules = spec_set / "schedules.yaml"
    schedules.write_text(schedules.read_text().replace("America/Sao_Paulo", f'"{zone}"', 1))
    problems = spec_problems(spec_set)
    assert any("unknown time zone" in p or "at most 64" in p for p in problems), problems


def test_a_ten_megabyte_string_is_refused_and_not_echoed(spec_set: Path) -> None:
    residential = spec_set / "clients" / "residential.yaml"
    text = residential.read_text()
    residential.write_text(text.replace("name: ", "name: " + "x" * 10_000_000 + " ", 1))
    problems = bounded_run(spec_set, seconds=10, peak_mb=600)
    assert any("residential.yaml:" in p and "at most 1,000 characters" in p for p in problems), problems
    assert sum(len(p) for p in problems) < 20_000


def test_a_huge_key_is_refused_and_not_echoed(spec_set: Path) -> None:
    (spec_set / "key.yaml").write_text("integrations:\n  " + "k" * 1_000 + ":\n    platform: x\n")
    problems = bounded_run(spec_set)
    assert any("key.yaml:2:" in p and "is not a valid name" in p for p in problems), problems
    assert all(len(p) < 1_500 for p in problems)


def test_a_file_over_the_bound_is_not_read(spec_set: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FILE_BYTES_ENV, "1")
    (spec_set / "big.yaml").write_text("# " + "x" * (2 * 1024 * 1024) + "\n")
    problems = spec_problems(spec_set)
    assert any("big.yaml:1:1:" in p and FILE_BYTES_ENV in p and "over the bound of 1.0 MB" in p
               for p in problems), problems


def test_a_spec_set_over_its_total_bound_stops_reading(spec_set: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOTAL_BYTES_ENV, "1")
    for index in range(3):
        (spec_set / f"pad{index}.yaml").write_text("# " + "x" * 600_000 + "\n")
    problems = spec_problems(spec_set)
    assert sum(TOTAL_BYTES_ENV in p for p in problems) == 1, problems


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
def test_a_named_pipe_among_the_specs_does_not_hang(spec_set: Path) -> None:
    os.mkfifo(spec_set / "pipe.yaml")
    problems = bounded_run(spec_set)
    assert any("pipe.yaml:1:1:" in p and "not a regular file" in p for p in problems), problems


def test_the_cli_reports_a_bomb_without_a_traceback(spec_set: Path) -> None:
    (spec_set / "clients" / "bomb.yaml").write_text(billion_laughs())
    result = CliRunner().invoke(main, ["validate", "--specs", str(spec_set)])
    assert result.exit_code == 1, result.output
    assert "anchors and aliases" in result.output
    assert "Traceback" not in result.output
