"""The monthly charges a platform billed itself, fetched once into the state: the I/O edge
between a :class:`~reconciler.providers.base.ChargeSource` and :mod:`reconciler.state.charges`.

A month is asked of the platform when the state has no whole fetch of it, when the one it has
was made before the month was over (the platform said ``fechado: false``: charges still grow),
when call detail is wanted and the one it has has none, or when a refresh is asked for.
Otherwise billing reads the state alone. Each page is committed as it arrives; the new fetch
replaces the old only once its last page is in, so a fetch killed half-way leaves the month as
it was. A refresh of a *closed* month compares the two fetches and says what changed (the
platform corrected a charge).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from reconciler.billing.invoice import Changed
from reconciler.providers.base import ChargeSource
from reconciler.state import StateStore
from reconciler.state import charges as stored


@dataclass(frozen=True)
class Fetched:
    """The month's charges in the state, and how this run came by them."""

    fetch: stored.Fetch
    called: bool  # the platform was asked this run
    why: str  # why it was asked ("" when it was not)
    changes: tuple[Changed, ...] = ()  # of a closed month, against the fetch replaced


def why_fetch(held: stored.Fetch | None, detailed: bool, refresh: bool) -> str:
    """Why the month must be asked of the platform, or "" when the state's fetch serves."""
    if held is None:
        return "not fetched yet"
    if refresh:
        return "--refresh"
    if not held.closed:
        return "the month was not over when last fetched"
    if detailed and not held.detailed:
        return "call detail asked for, and the last fetch has none"
    return ""


async def month_charges(store: StateStore, integration: str, month: date, detailed: bool,
                        refresh: bool,
                        source: Callable[[], Awaitable[ChargeSource]]) -> Fetched:
    """The charges of ``month`` (its first day): the state's, or fetched from ``source()``
    (opened only when the platform must be asked)."""
    text = month.strftime("%Y-%m")
    held = stored.current(store, integration, text)
    why = why_fetch(held, detailed, refresh)
    if not why:
        assert held is not None
        return Fetched(held, False, "")
    stored.prune(store, integration, text, held.id if held else None)  # a dead run's pages
    fetch = await _fetch(store, integration, text, month, detailed, await source())
    changed: tuple[Changed, ...] = ()
    if held is not None and held.closed:
        changed = tuple(stored.changes(store, integration, held.id, fetch.id))
    stored.prune(store, integration, text, fetch.id)
    return Fetched(fetch, True, why, changed)


async def _fetch(store: StateStore, integration: str, text: str, month: date, detailed: bool,
                 source: ChargeSource) -> stored.Fetch:
    fetch = stored.begin(store, integration, text, detailed)
    closed = False
    async for said, page in source.charges(month, detailed):
        stored.add_page(store, fetch, page)
        closed = said
    numbers, total = stored.count(store, fetch)
    stored.finish(store, fetch, closed=closed, numbers=numbers, total=total)
    found = stored.current(store, integration, text)
    assert found is not None and found.id == fetch
    return found
