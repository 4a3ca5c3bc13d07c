"""Helpers shared by the spec loader and rule tests: write spec files, collect their issues."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.errors import SpecError, SpecIssue
from reconciler.specs import load_specs


def write(specs: Path, name: str, text: str) -> Path:
    path = specs / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def issues(specs: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_specs(specs)
    return caught.value.issues


def only_issue(specs: Path) -> SpecIssue:
    found = issues(specs)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]
