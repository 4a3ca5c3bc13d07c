"""2,000 seeded mutations of the spec sets in specs/ and examples/: each ends in a located
error or in success, within a time bound, never in a traceback, a hang or a MemoryError.

In process (a subprocess per case would cost more than the cases), with the same loader and
validator `reconcile validate` and `plan` run; a sample goes through the CLI as well. An input
that once failed is kept under regressions/ and run first.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import main
from reconciler.errors import SpecError
from reconciler.specs import load_specs
from reconciler.specs.desired import build_desired
from reconciler.specs.yaml_loader import find_spec_files
from tests.fuzz.mutations import pick

ROOT = Path(__file__).resolve().parents[2]
SETS = [ROOT / "specs", ROOT / "examples" / "content-combos", ROOT / "examples" / "telephony-only"]
REGRESSIONS = Path(__file__).resolve().parent / "regressions"
CASES = 2_000
CLI_EVERY = 40  # one case in this many also runs `reconcile validate` through the CLI
SECONDS_PER_CASE = 10.0  # a generous bound: a case that takes this long is a hang
SUITE_SECONDS = 240.0


def spec_texts(root: Path) -> dict[str, str]:
    return {rel: path.read_text(encoding="utf-8") for rel, path in find_spec_files(root)}


def judge(root: Path) -> str:
    """'ok' or 'error', or raises: anything but a SpecError is a bug."""
    try:
        build_desired(load_specs(root))
    except SpecError as exc:
        assert exc.issues, "a SpecError names its problems"
        for issue in exc.issues:
            assert issue.file and issue.line >= 1 and issue.column >= 1, issue
            assert len(issue.message) <= 2_100, issue.message[:200]
        return "error"
    return "ok"


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


@pytest.mark.parametrize(
    "case", sorted(p.name for p in REGRESSIONS.iterdir()) if REGRESSIONS.exists() else [])
def test_inputs_that_once_failed(tmp_path: Path, case: str) -> None:
    root = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", root)
    shutil.copytree(REGRESSIONS / case, root, dirs_exist_ok=True)
    started = time.monotonic()
    assert judge(root) == "error"
    assert time.monotonic() - started < SECONDS_PER_CASE


def test_mutated_spec_sets_end_in_located_errors_or_success(tmp_path: Path) -> None:
    rng = random.Random(18)
    originals = [(source, spec_texts(source)) for source in SETS]
    roots = []
    for index, (source, _) in enumerate(originals):
        roots.append(tmp_path / f"set{index}")
        shutil.copytree(source, roots[-1])
    outcomes: dict[str, dict[str, int]] = {}
    suite_started = time.monotonic()
    for case in range(CASES):
        which = case % len(originals)
        root, (source, texts) = roots[which], originals[which]
        name, mutation = pick(rng)
        files = mutation(texts, rng)
        write(root, files)
        started = time.monotonic()
        try:
            outcome = judge(root)
        except Exception as exc:  # the failing input is printed, to keep as a regression
            raise AssertionError(f"case {case} ({name} of {source.name}: {sorted(files)}) "
                                 f"raised {type(exc).__name__}: {exc}") from exc
        took = time.monotonic() - started
        assert took < SECONDS_PER_CASE, f"case {case} ({name}) took {took:.1f} s"
        if case % CLI_EVERY == 0:
            result = CliRunner().invoke(main, ["validate", "--specs", str(root)])
            assert result.exit_code == (0 if outcome == "ok" else 1), (case, name, result.output[-2000:])
            assert "Traceback" not in result.output
        tally = outcomes.setdefault(name, {"ok": 0, "error": 0})
        tally[outcome] += 1
        for rel in files:  # put the set back as it was
            (root / rel).unlink()
            if rel in texts:
                (root / rel).write_text(texts[rel], encoding="utf-8")
        assert time.monotonic() - suite_started < SUITE_SECONDS, f"stopped at case {case}"
    # Every kind of mutation ran, and most produced an error (the rules notice what changed).
    assert set(outcomes) >= {"delete", "retype", "alias-bomb", "deep", "binary"}, outcomes
    assert all(t["error"] for n, t in outcomes.items() if n in ("alias-bomb", "deep")), outcomes
    assert sum(t["error"] for t in outcomes.values()) > CASES // 2, outcomes
