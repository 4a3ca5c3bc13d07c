"""apply(): carries a plan out, in dependency order, and records each change as it lands.

- Every change waits for the changes it depends on; a change whose dependency failed is skipped
  (for a block dependency, only when the key it needs is among the block's failures).
- Changes of one integration run at most ``concurrency[integration]`` at a time; integrations run
  side by side.
- Retries of temporary platform errors (429, 5xx, timeouts) happen in the providers' HTTP layer,
  with backoff and jitter, honouring Retry-After; what still fails is reported here. After
  ``BREAKER`` changes of one integration in a row fail that way, its circuit opens: its remaining
  changes are skipped and reported, and the other integrations finish.
- The state is written as changes land, never at the end: what landed changes applied, their
  journal outcomes and the intents of the changes next in line are committed together, in
  short transactions within milliseconds (:mod:`reconciler.state.group_commit`).
- Each change is journaled: its intent before the remote call, its outcome after. An entry left
  pending by a crash is resolved by the next run, which reads the platform again before it plans:
  what landed is found there (and adopted into the state), what did not is planned again. Since
  every provider treats "already done" answers as success, nothing is done twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.errors import ReconcilerError, TemporaryError
from reconciler.model import Action, Change, Plan, Resource
from reconciler.platforms import registry
from reconciler.providers.base import Applied, Provider
from reconciler.secrets import redact
from reconciler.state import StateStore
from reconciler.state.group_commit import GroupCommit

log = logging.getLogger(__name__)

DONE, PARTIAL, FAILED, SKIPPED = "done", "partial", "failed", "skipped"
BREAKER = 3  # changes in a row failing with temporary errors that stop an integration


_JOURNAL = {DONE: "confirmed", PARTIAL: "partial", FAILED: "failed"}


@dataclass(frozen=True)
class Outcome:
    change: Change
    status: str  # done | partial | failed | skipped
    message: str = ""
    failed_keys: frozenset[str] = frozenset()
    temporary: bool = False  # failed with a temporary platform error, after the retries


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    adopted: int = 0
    forgotten: int = 0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        return all(o.status == DONE for o in self.outcomes)

    def summary(self) -> dict[str, int]:
        return {
            "done": self.count(DONE),
            "partial": self.count(PARTIAL),
            "failed": self.count(FAILED),
            "skipped": self.count(SKIPPED),
            "adopted": self.adopted,
            "forgotten": self.forgotten,
        }


async def apply(
    plan: Plan,
    providers: Mapping[str, Provider],
    store: StateStore,
    *,
    concurrency: Mapping[str, int],
    on_outcome: Callable[[Outcome], None] | None = None,
    run_id: int | None = None,
) -> ApplyResult:
    """Carry out ``plan`` and record it; returns what happened to each change."""
    result = ApplyResult()
    if plan.adopt:
        store.record(plan.adopt)
        result.adopted = len(plan.adopt)
    if plan.forget:
        store.remove(plan.forget)
        result.forgotten = len(plan.forget)
    writer = GroupCommit(store, run_id)
    runner = _Runner(providers, writer, concurrency, result, on_outcome)
    try:
        await asyncio.gather(*[runner.start(change) for change in plan.changes])
    finally:
        writer.flush()  # what landed last, also when the apply is interrupted
    writer.check()
    position = {change.id: i for i, change in enumerate(plan.changes)}
    result.outcomes.sort(key=lambda o: position[o.change.id])
    return result


class _Runner:
    def __init__(
        self,
        providers: Mapping[str, Provider],
        writer: GroupCommit,
        concurrency: Mapping[str, int],
        result: ApplyResult,
        on_outcome: Callable[[Outcome], None] | None,
    ) -> None:
        self.providers = providers
        self.writer = writer
        self.result = result
        self.on_outcome = on_outcome
        width = {name: max(1, n) for name, n in concurrency.items()}
        self.limits = {name: asyncio.Semaphore(n) for name, n in width.items()}
        # twice as many may be journaled, the next in line waiting for a slot to send
        self.ahead = {name: asyncio.Semaphore(2 * n) for name, n in width.items()}
        self.finished: dict[str, asyncio.Future[Outcome]] = {}
        self.strikes: dict[str, int] = {}
        self.broken: dict[str, str] = {}  # integration -> why its circuit is open

    def start(self, change: Change) -> asyncio.Future[Outcome]:
        future = asyncio.ensure_future(self._run(change))
        self.finished[change.id] = future
        return future

    async def _run(self, change: Change) -> Outcome:
        blocked = await self._blocked_by(change)
        if blocked:
            return self._report(Outcome(change, SKIPPED, blocked))
        limit = self.limits.setdefault(change.integration, asyncio.Semaphore(1))
        ahead = self.ahead.setdefault(change.integration, asyncio.Semaphore(2))
        async with ahead:  # next in line: journal the intent now, commit it with others
            if change.integration in self.broken:
                return self._report(Outcome(change, SKIPPED, self.broken[change.integration]))
            ticket = self.writer.intent(change)
            async with limit:
                entry = await self.writer.committed(ticket)
                if change.integration in self.broken:
                    self.writer.landed(entry, "skipped", self.broken[change.integration])
                    return self._report(
                        Outcome(change, SKIPPED, self.broken[change.integration]))
                outcome = await self._execute(change)
                verdict = "unknown" if outcome.temporary else _JOURNAL[outcome.status]
                self.writer.landed(entry, verdict, outcome.message)
        self._trip(change.integration, outcome)
        return self._report(outcome)

    def _trip(self, integration: str, outcome: Outcome) -> None:
        """Open the integration's circuit after BREAKER changes in a row failed for good with
        temporary errors: the platform is down or throttling hard, and hammering it helps no one."""
        if outcome.status != FAILED or not outcome.temporary:
            self.strikes[integration] = 0
            return
        self.strikes[integration] = self.strikes.get(integration, 0) + 1
        if self.strikes[integration] >= BREAKER and integration not in self.broken:
            self.broken[integration] = (
                f"skipped: integration {integration} stopped after {BREAKER} changes in a row "
                f"failed with temporary platform errors (429/5xx/timeouts); run apply again later")
            log.warning("apply: %s", self.broken[integration])

    async def _blocked_by(self, change: Change) -> str:
        for dep in change.depends_on:
            future = self.finished.get(dep)
            if future is None:
                continue  # not in this plan (a targeted or partial plan): nothing to wait for
            outcome = await asyncio.shield(future)
            needed = set(change.keys) & outcome.failed_keys
            if outcome.status in (FAILED, SKIPPED) or needed:
                return f"skipped: {dep} did not succeed"
        return ""

    async def _execute(self, change: Change) -> Outcome:
        provider = self.providers[change.integration]
        try:
            applied = await provider.execute(change)
        except TemporaryError as exc:
            return Outcome(change, FAILED, redact(str(exc)), frozenset(change.keys), temporary=True)
        except ReconcilerError as exc:
            return Outcome(change, FAILED, redact(str(exc)), frozenset(change.keys))
        except Exception as exc:  # one broken change must not stop the others
            log.debug("apply: %s raised", change.id, exc_info=True)
            message = redact(f"unexpected {exc.__class__.__name__}: {exc}")
            return Outcome(change, FAILED, message, frozenset(change.keys))
        self._record(change, applied)
        if applied.failed:
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(applied.failed.items())[:5])
            return Outcome(change, PARTIAL, redact(detail), frozenset(applied.failed))
        return Outcome(change, DONE)

    def _record(self, change: Change, applied: Applied) -> None:
        landed = [k for k in change.keys if k not in applied.failed]
        if not landed:
            return
        if change.after is None:
            self.writer.remove(
                [a for a, k in zip(change.addresses(), change.keys, strict=True) if k in landed]
            )
            return
        # Platform-side facts (a number's status) are observed, never recorded as applied; what
        # the change carried for its provider (a port's resolved ids) is not the object's.
        kind = registry.kind(change.kind)
        skip = kind.observed_only | kind.carried if kind is not None else frozenset()
        attrs = {k: v for k, v in change.after.items() if k not in skip}
        merge = change.action not in (Action.CREATE, Action.LINK)
        self.writer.record(
            [
                Resource(change.integration, change.kind, key, attrs,
                         remote_id=applied.remote_ids.get(key))
                for key in landed
            ],
            merge=merge,
        )

    def _report(self, outcome: Outcome) -> Outcome:
        self.result.outcomes.append(outcome)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome
