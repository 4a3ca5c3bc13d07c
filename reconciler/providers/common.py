"""Small pieces every provider needs the same way: options, the base URL, bounded concurrency,
and the target attributes of a change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from reconciler import errors
from reconciler.model import Change, Integration

T = TypeVar("T")


def base_url(
    integration: Integration, transport: httpx.AsyncBaseTransport | None, embedded: str,
    example: str,
) -> str:
    """The endpoint when it is a URL; the ``embedded`` placeholder when a transport serves it.
    ``example`` shows what a real endpoint of the platform looks like, in the error."""
    if integration.endpoint.startswith(("http://", "https://")):
        return integration.endpoint
    if transport is not None:
        return embedded
    raise errors.ReconcilerError(
        f"integration {integration.name!r}: endpoint {integration.endpoint!r} needs an "
        f"in-process simulator (embedded) or an http(s):// URL such as {example}"
    )


def int_option(integration: Integration, name: str, default: int, low: int, high: int) -> int:
    """A whole-number option within [low, high], or a clear error naming the integration."""
    value = integration.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.ReconcilerError(
            f"integration {integration.name!r}: option {name} must be a whole number between "
            f"{low} and {high}, not {value!r}"
        )
    return value


async def bounded(calls: Sequence[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run ``calls`` at most ``limit`` at a time, results in order; the first failure cancels
    the rest and is raised as itself (callers expect the typed error, not a group)."""
    gate = asyncio.Semaphore(limit)

    async def run(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run(call)) for call in calls]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


def target(change: Change) -> Mapping[str, Any]:
    """The attributes a change must leave on the platform (a PlanError when it has none)."""
    if not change.after:
        raise errors.PlanError(f"{change.id}: the change carries no target attributes")
    return change.after
