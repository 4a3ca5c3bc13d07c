"""In-process simulators whose data persists under the state directory.

An integration declared with ``endpoint: embedded`` talks to a simulator mounted through an
httpx transport instead of a network address. Its data is saved as JSON under
``<state_dir>/embedded/<platform>/<integration>.json`` and loaded by the next open, so successive
CLI commands (plan, apply, a later plan) see one platform that remembers what was done to it.

Usage::

    platform = open_embedded("saperx-stfc", "stfc-sp", state_dir, credentials)
    try:
        provider = build_provider(integration, credentials, transport=platform.transport)
        ...
    finally:
        await platform.close()   # saves

Two processes opening the same embedded platform at once are not coordinated: the last to save
wins. The CLI holds the state lock while it runs, which serialises them in practice.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from starlette.applications import Starlette

from reconciler.errors import StateError
from reconciler.sim import simulator
from reconciler.sim.faults import SimTransport


class EmbeddedPlatform:
    """One simulated platform mounted in process, bound to the file that persists it."""

    def __init__(self, app: Starlette, path: Path) -> None:
        self.app = app
        self.path = path
        self.transport = SimTransport(app=app)

    def save(self) -> None:
        """Write the platform's data atomically (temp file + rename), so a crash mid-write
        leaves the previous version intact."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = json.dumps(self.app.state.store.to_json(), ensure_ascii=False, separators=(",", ":"))
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def close(self) -> None:
        """Save and release the transport."""
        self.save()
        await self.transport.aclose()

    async def __aenter__(self) -> EmbeddedPlatform:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def embedded_path(platform: str, integration_name: str, state_dir: Path) -> Path:
    """Where an embedded platform's data lives."""
    return Path(state_dir) / "embedded" / platform / f"{integration_name}.json"


def open_embedded(
    platform: str,
    integration_name: str,
    state_dir: Path,
    credentials: Mapping[str, str],
) -> EmbeddedPlatform:
    """Mount the platform's simulator in process, resuming its saved data if there is any.

    The simulator accepts the integration's own credentials, so a wrong token fails as it
    would against the real platform.
    """
    path = embedded_path(platform, integration_name, state_dir)
    data = _load(path)
    try:
        app = simulator(platform).embedded_app(credentials, data)
    except (KeyError, TypeError, ValueError) as exc:
        raise _unreadable(path, f"unexpected content: {exc!r}") from None
    return EmbeddedPlatform(app, path)


def _load(path: Path) -> Mapping[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _unreadable(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _unreadable(path, "not a JSON object")
    return data


def _unreadable(path: Path, why: str) -> StateError:
    return StateError(
        f"embedded platform data {path} cannot be loaded ({why}); delete the file to start "
        f"that platform afresh"
    )
