"""Helpers shared by the simulator tests that drive an app through httpx."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import httpx


async def ok(response: Awaitable[httpx.Response], status: int = 200) -> Any:
    """The JSON body of a response that must have ``status``."""
    done = await response
    assert done.status_code == status, done.text
    return done.json()
