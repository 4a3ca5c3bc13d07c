"""Group commit of an apply's state writes: many landed changes, one short transaction.

A transaction costs about a millisecond however little it writes, and each change used to take
three (its intent, its rows, its outcome): on a loopback platform that, not the platform, set an
initial apply's pace. Here the writes of many changes are gathered and committed together:

- A change *queues* its intent when it comes within a window of the changes about to be sent
  (twice its integration's concurrency), and *waits* for it to be committed only when its turn
  to be sent comes: an intent is always committed before its change is sent, as the journal
  requires, and the intents of the changes next in line ride along with what is committed for
  the first of them.
- What a landed change applied (its rows) and its outcome are queued without waiting; they are
  committed with the next intent someone waits for, when ``BATCH`` writes are queued, or
  ``LINGER`` seconds after the first of them, whichever comes first, and at the apply's end.

A crash loses what was queued and not committed: the entries of changes that landed (or were
journaled but not sent) in the last moments stay ``pending``, and the next run resolves them
against the platform, as it resolves a change in flight. At most ``2 x concurrency`` entries per
integration are journaled ahead of their send.
"""

from __future__ import annotations

import asyncio

from reconciler.model import Change, Resource
from reconciler.state.store import StateStore, Writes

BATCH = 512  # queued writes that trigger a commit
LINGER = 0.05  # seconds a landed change's writes may wait for company


class GroupCommit:
    def __init__(self, store: StateStore, run_id: int | None) -> None:
        self.store = store
        self.run_id = run_id
        self.writes = Writes()
        self.tickets: list[asyncio.Future[int]] = []
        self.urgent = False
        self.timer: asyncio.TimerHandle | None = None
        self.error: Exception | None = None

    def intent(self, change: Change) -> asyncio.Future[int]:
        """Queue the intent of a change that will be sent soon; the future is its journal id."""
        self.check()
        ticket: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.writes.intents.append(change)
        self.tickets.append(ticket)
        self._queued()
        return ticket

    async def committed(self, ticket: asyncio.Future[int]) -> int:
        """The journal id, once the intent is committed (at once if it is, else next turn)."""
        if not ticket.done() and not self.urgent:
            self.urgent = True
            asyncio.get_running_loop().call_soon(self.flush)
        return await ticket

    def landed(self, entry: int, verdict: str, detail: str) -> None:
        self.writes.outcomes.append((entry, verdict, detail))
        self._queued()

    def record(self, resources: list[Resource], *, merge: bool) -> None:
        self.writes.records.append((resources, merge))

    def remove(self, addresses: list[str]) -> None:
        self.writes.removals.extend(addresses)

    def _queued(self) -> None:
        queued = len(self.writes.intents) + len(self.writes.outcomes)
        if queued >= BATCH:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(LINGER, self.flush)

    def flush(self) -> None:
        """Commit what is queued (also called directly, at the end and on interruption)."""
        self.urgent = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        writes, tickets = self.writes, self.tickets
        self.writes, self.tickets = Writes(), []
        if not writes:
            return
        try:
            entries = self.store.commit(writes, self.run_id)
        except Exception as exc:  # the state went away: no change may be sent any more
            self.error = self.error or exc
            for ticket in tickets:
                if not ticket.done():
                    ticket.set_exception(exc)
            return
        for ticket, entry in zip(tickets, entries, strict=True):
            if not ticket.done():
                ticket.set_result(entry)

    def check(self) -> None:
        """Raise the error a commit met, if any (the apply stops sending at once)."""
        if self.error is not None:
            raise self.error
