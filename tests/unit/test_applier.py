"""The applier's orchestration: dependency order, skips, partial blocks, state as changes land."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event

from reconciler.applier import apply
from reconciler.errors import ConflictError, StateError, TemporaryError
from reconciler.model import Action, Change, Fingerprint, Plan, Resource
from reconciler.providers.base import Applied
from reconciler.state import StateStore

SP = "stfc-sp"


class RecordingProvider:
    """Fails the changes whose keys it is told to, records the order of the others."""

    platform = "saperx-stfc"

    def __init__(self, fail: set[str] = frozenset(), partial: dict[str, str] | None = None,
                 delay: float = 0.0) -> None:
        self.fail, self.partial, self.delay = fail, partial or {}, delay
        self.calls: list[str] = []
        self.running = self.peak = 0

    async def execute(self, change: Change) -> Applied:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(self.delay)
        self.running -= 1
        self.calls.append(change.id)
        if set(change.keys) & self.fail:
            raise ConflictError("refused", integration=SP, status=409)
        failed = {k: v for k, v in self.partial.items() if k in change.keys}
        return Applied(remote_ids={k: f"id-{k}" for k in change.keys}, failed=failed)


def register(*keys: str) -> Change:
    return Change(SP, "number", Action.CREATE, keys, None, {"country_code": 55, "range": "r"}, "new")


def link(key: str, after: Change | None = None) -> Change:
    deps = (after.id,) if after else ()
    attrs = {"service": 1, "plan": "p", "params": {}, "blocked": False, "document": "d", "name": "n"}
    return Change(SP, "link", Action.LINK, (key,), None, attrs, "assigned", depends_on=deps)


def run(plan_changes: list[Change], provider: RecordingProvider, store: StateStore,
        **kwargs: object) -> object:
    plan = Plan(tuple(plan_changes), Fingerprint("l", 0, "d"), **kwargs)  # type: ignore[arg-type]
    return asyncio.run(apply(plan, {SP: provider}, store, concurrency={SP: 2}))


@pytest.fixture
def store(backend_url: str) -> StateStore:
    return StateStore(backend_url)


def test_dependants_wait_for_and_follow_their_dependency(store: StateStore) -> None:
    block = register("1", "2")
    provider = RecordingProvider(delay=0.01)
    result = run([block, link("2", block), link("1", block)], provider, store)
    assert provider.calls[0] == block.id
    assert result.ok  # type: ignore[attr-defined]
    rows = store.known().resources
    assert rows['stfc-sp.number["1"]'].remote_id == "id-1"
    assert rows['stfc-sp.link["2"]'].attrs["service"] == 1
    # the block's write, then the two links' (one shared write when they land in one turn)
    assert store.serial in (2, 3)


def test_failed_change_skips_its_dependants_not_independent_ones(store: StateStore) -> None:
    block, other = register("1", "2"), register("5")
    provider = RecordingProvider(fail={"1"})
    result = run([block, other, link("1", block), link("5", other)], provider, store)
    statuses = {o.change.id: o.status for o in result.outcomes}  # type: ignore[attr-defined]
    assert statuses == {block.id: "failed", other.id: "done",
                        link("1", block).id: "skipped", link("5", other).id: "done"}
    assert set(store.known().resources) == {'stfc-sp.number["5"]', 'stfc-sp.link["5"]'}
    skipped = next(o for o in result.outcomes if o.status == "skipped")  # type: ignore[attr-defined]
    assert block.id in skipped.message


def test_partial_block_skips_only_changes_needing_the_failed_keys(store: StateStore) -> None:
    block = register("1", "2", "3")
    provider = RecordingProvider(partial={"2": "duplicado noutro cliente"})
    result = run([block, link("1", block), link("2", block)], provider, store)
    statuses = [o.status for o in result.outcomes]  # type: ignore[attr-defined]
    assert statuses == ["partial", "done", "skipped"]
    assert 'stfc-sp.number["2"]' not in store.known().resources
    assert 'stfc-sp.number["3"]' in store.known().resources


def test_concurrency_per_integration_is_bounded(store: StateStore) -> None:
    provider = RecordingProvider(delay=0.02)
    run([register(str(n)) for n in range(10)], provider, store)
    assert provider.peak == 2


def test_unlink_and_delete_remove_state_rows_and_adopt_records(store: StateStore) -> None:
    store.record([Resource(SP, "link", "7", {"service": 1}), Resource(SP, "number", "8", {})])
    unlink = Change(SP, "link", Action.UNLINK, ("7",), {"service": 1}, None, "cancelled")
    delete = Change(SP, "number", Action.DELETE, ("8",), {"status": "free"}, None, "no range")
    adopted = Resource(SP, "number", "9", {"country_code": 55}, remote_id="r9")
    result = run([unlink, delete], RecordingProvider(), store, adopt=(adopted,))
    assert result.summary()["adopted"] == 1  # type: ignore[attr-defined]
    assert set(store.known().resources) == {'stfc-sp.number["9"]'}


def test_update_merges_and_never_records_observed_facts(store: StateStore) -> None:
    store.record([Resource(SP, "number", "8", {"country_code": 55, "range": "r"})])
    retransmit = Change(SP, "number", Action.UPDATE, ("8",), {"transmission": "error"},
                        {"transmission": "sent"}, "retransmit")
    run([retransmit], RecordingProvider(), store)
    assert store.known().resources['stfc-sp.number["8"]'].attrs == {"country_code": 55, "range": "r"}


class DownProvider(RecordingProvider):
    """A platform that answers 503 to everything, even after the HTTP layer's retries."""

    async def execute(self, change: Change) -> Applied:
        self.calls.append(change.id)
        raise TemporaryError("still failing after 5 attempts", integration=change.integration,
                             status=503)


def test_sustained_temporary_errors_stop_one_integration_and_let_others_finish(
        store: StateStore) -> None:
    down, up = DownProvider(), RecordingProvider()
    bad = [Change("down", "number", Action.CREATE, (str(n),), None, {}, "new") for n in range(8)]
    good = [register(str(n)) for n in range(8)]
    plan = Plan(tuple(bad + good), Fingerprint("l", 0, "d"))
    result = asyncio.run(apply(plan, {"down": down, SP: up}, store,
                               concurrency={"down": 1, SP: 2}))
    statuses = [o.status for o in result.outcomes]
    assert statuses[:3] == ["failed"] * 3 and statuses[3:8] == ["skipped"] * 5
    assert statuses[8:] == ["done"] * 8
    assert len(down.calls) == 3  # nothing sent once the circuit opened
    assert "stopped after 3 changes in a row failed" in result.outcomes[5].message


def test_a_change_that_never_got_a_sure_answer_is_journaled_unknown(store: StateStore) -> None:
    plan = Plan((Change("down", "number", Action.CREATE, ("1",), None, {}, "new"),),
                Fingerprint("l", 0, "d"))
    asyncio.run(apply(plan, {"down": DownProvider()}, store, concurrency={}, run_id=7))
    (entry,) = store.journal(run_id=7)
    assert entry.outcome == "unknown" and "still failing" in entry.detail
    assert [e.id for e in store.journal_pending()] == [entry.id]  # resolved by the next run


def commits_of(store: StateStore) -> list[int]:
    """A list that grows by one for each transaction committed on the store's engine."""
    seen: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: seen.append(1))
    return seen


def test_changes_landing_together_share_one_transaction(store: StateStore) -> None:
    changes = [register(str(n)) for n in range(40)]
    plan = Plan(tuple(changes), Fingerprint("l", 0, "d"))
    commits = commits_of(store)
    result = asyncio.run(apply(plan, {SP: RecordingProvider()}, store, concurrency={SP: 40}))
    assert result.ok
    assert len(store.known().resources) == 40
    assert [e.outcome for e in store.journal()] == ["confirmed"] * 40
    # all 40 intents in one commit, then the rows and outcomes of what landed together: a
    # handful of transactions, where one per intent, record and outcome made 120
    assert len(commits) <= 4
    assert store.serial <= 3


def test_an_intent_is_committed_before_its_change_is_sent(store: StateStore) -> None:
    class Checking(RecordingProvider):
        async def execute(self, change: Change) -> Applied:
            pending = [e.change_id for e in store.journal_pending()]
            assert change.id in pending, "sent before its intent was committed"
            return await super().execute(change)

    changes = [register(str(n)) for n in range(6)]
    result = run(changes, Checking(), store)
    assert result.ok  # type: ignore[attr-defined]
    assert len(store.journal()) == 6 and not store.journal_pending()


def test_a_state_that_fails_mid_apply_stops_the_sending(store: StateStore,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    provider = RecordingProvider(delay=0.001)
    real = store.commit
    sent_at_failure: list[int] = []

    def failing(writes: object, run_id: int | None = None) -> list[int]:
        if len(provider.calls) >= 4:  # the disk fails once a few changes landed
            sent_at_failure.append(provider.running + len(provider.calls))
            raise StateError("state 'x': disk I/O error")
        return real(writes, run_id)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "commit", failing)
    changes = [register(str(n)) for n in range(30)]
    with pytest.raises(StateError, match="disk I/O error"):
        run(changes, provider, store)
    # what was in flight may finish; nothing is sent after the failure
    assert sent_at_failure and len(provider.calls) <= sent_at_failure[0] < 30
