"""The cache of validated spec sets: used when nothing changed, never trusted when a file, the
tool version or the spec language changed, and never a reason to fail."""

from __future__ import annotations

from pathlib import Path

import pytest

import reconciler.specs as specs_pkg
from reconciler.errors import SpecError
from reconciler.specs import cache, load_desired
from tests.unit.spec_helpers import write

SPEC = """\
integrations:
  stfc-sp:
    platform: saperx-stfc
    endpoint: embedded
    credentials: {token: "${env:T}"}
number_ranges:
  sp: {integration: stfc-sp, area_code: 11, first: 30001000, last: 30001009}
clients:
  - document: 529.982.247-25
    name: Maria Silva
    services:
      - id: 1001
        status: active
        phone_numbers: [{integration: stfc-sp, number: "1130001001", plan: P}]
"""


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every full parse and validation load_desired runs."""
    seen: list[Path] = []
    real = specs_pkg.load_specs

    def counting(specs_dir: Path, **options: object) -> object:
        seen.append(Path(specs_dir))
        return real(specs_dir, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(specs_pkg, "load_specs", counting)
    return seen


def test_an_unchanged_spec_set_is_read_from_the_cache(tmp_path: Path, parses: list[Path]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    write(specs, "isp.yaml", SPEC)
    first = load_desired(specs, state_dir=state)
    second = load_desired(specs, state_dir=state)
    assert len(parses) == 1
    assert second.digest == first.digest and second.resources == first.resources
    assert second.settings["services"] == first.settings["services"]
    assert len(list(cache.cache_dir(state).glob("*.pickle"))) == 1


@pytest.mark.parametrize("edit", ["content", "new file", "removed file", "renamed file"])
def test_any_change_to_the_files_parses_again(tmp_path: Path, parses: list[Path],
                                              edit: str) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    write(specs, "isp.yaml", SPEC)
    write(specs, "extra.yaml", "# nothing yet\n")
    load_desired(specs, state_dir=state)
    if edit == "content":
        write(specs, "isp.yaml", SPEC.replace("status: active", "status: suspended"))
    elif edit == "new file":
        write(specs, "more.yaml", "# another\n")
    elif edit == "removed file":
        (specs / "extra.yaml").unlink()
    else:
        (specs / "extra.yaml").rename(specs / "other.yaml")
    desired = load_desired(specs, state_dir=state)
    assert len(parses) == 2
    if edit == "content":
        assert desired.settings["services"][1001]["status"] == "suspended"


def test_a_new_tool_version_or_spec_language_is_not_trusted(
        tmp_path: Path, parses: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    write(specs, "isp.yaml", SPEC)
    load_desired(specs, state_dir=state)
    monkeypatch.setattr(cache, "__version__", "99.0.0")
    load_desired(specs, state_dir=state)
    assert len(parses) == 2
    monkeypatch.setattr(cache, "_language", lambda: "another language")
    load_desired(specs, state_dir=state)
    assert len(parses) == 3


def test_an_unreadable_entry_is_rebuilt(tmp_path: Path, parses: list[Path]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    write(specs, "isp.yaml", SPEC)
    load_desired(specs, state_dir=state)
    (entry,) = cache.cache_dir(state).glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    desired = load_desired(specs, state_dir=state)
    assert len(parses) == 2 and len(desired.resources) == 11
    assert entry.read_bytes() != b"not a pickle"


def test_an_invalid_spec_set_is_never_cached(tmp_path: Path, parses: list[Path]) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    write(specs, "isp.yaml", SPEC.replace("529.982.247-25", "529.982.247-26"))
    for _ in range(2):
        with pytest.raises(SpecError):
            load_desired(specs, state_dir=state)
    assert len(parses) == 2
    assert not list(cache.cache_dir(state).glob("*.pickle"))


def test_old_entries_are_pruned(tmp_path: Path) -> None:
    specs, state = tmp_path / "specs", tmp_path / "state"
    for n in range(cache.KEEP + 3):
        write(specs, "isp.yaml", SPEC.replace("Maria Silva", f"Maria {n}"))
        load_desired(specs, state_dir=state)
    assert len(list(cache.cache_dir(state).glob("*.pickle"))) == cache.KEEP


def test_the_cache_holds_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T", "super-secret-token-value")
    specs, state = tmp_path / "specs", tmp_path / "state"
    write(specs, "isp.yaml", SPEC)
    load_desired(specs, state_dir=state)
    (entry,) = cache.cache_dir(state).glob("*.pickle")
    assert b"super-secret-token-value" not in entry.read_bytes()
