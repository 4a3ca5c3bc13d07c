"""The spec files as a source: YAML under a directory, validated, cached by content."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.model import Desired
from reconciler.specs import load_desired


@dataclass(frozen=True)
class SpecFiles:
    """Every spec file under ``directory``; with ``state_dir``, an unchanged spec set is read
    back from the spec cache there (see reconciler/specs/cache.py)."""

    directory: Path
    state_dir: Path | None = None
    name: str = "specs"

    def desired(self) -> Desired:
        return load_desired(self.directory, state_dir=self.state_dir)
