"""Compare an output with its golden file under tests/golden/; `UPDATE_GOLDEN=1 pytest ...`
rewrites the files instead, for a reviewer to read in the diff."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def assert_golden(name: str, actual: str) -> None:
    path = HERE / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        changed = not path.exists() or path.read_text(encoding="utf-8") != actual
        path.write_text(actual, encoding="utf-8")
        if changed:  # never a silent pass: the new text is for a reviewer to read in the diff
            raise AssertionError(f"rewrote {path.name}: review the diff, then run without "
                                 f"UPDATE_GOLDEN")
        return
    assert path.exists(), f"{path} is missing: run `UPDATE_GOLDEN=1 pytest {_tests()}` and review it"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                            f"golden/{name}", "actual", n=2))
        raise AssertionError(f"{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites "
                             f"it after review):\n{diff}")


def as_json(data: dict[str, Any]) -> str:
    """A JSON document as the CLI prints it, with the tool version (which moves with every
    release, not with the format) replaced by a placeholder."""
    return json.dumps({**data, "tool_version": "<tool_version>"}, indent=2) + "\n"


def _tests() -> str:
    return "tests/unit/test_render_markdown.py"
