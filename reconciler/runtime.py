"""The I/O edge that joins specs, state and platforms for one command.

``Workspace`` reads the desired state from its sources (the spec files first, see
:mod:`reconciler.sources`), joins them, and opens the state; ``connect()`` builds one provider per
integration (resolving its secrets, and starting the in-process simulator for an ``embedded``
endpoint); ``observe()`` reads every platform concurrently. The CLI calls these, then hands plain
values to the pure planner.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

from reconciler.errors import ReconcilerError
from reconciler.model import Action, Desired, Integration, Known, Observed, address, index, live
from reconciler.platforms import registry
from reconciler.providers.base import LooksUpKeys, Provider, build_provider
from reconciler.secrets import resolve_credentials
from reconciler.sim.embedded import open_embedded
from reconciler.sources.base import Source, join
from reconciler.sources.spec_files import SpecFiles
from reconciler.specs.desired import with_fingerprints
from reconciler.state import StateStore, state_dir, state_url

DEFAULT_CONCURRENCY = 4
T = TypeVar("T")


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, without making the result the main task's own.

    On its way out, ``asyncio.run`` (3.11) compares the SIGINT handler it installed, a partial
    holding the main task, and ``signal`` formats it with ``%r`` on the way; a finished task's
    repr holds its result, and reprlib renders each element in full before cutting it short:
    the whole plan, known and observed state (1.2 s of a 6 s no-op plan at 30,000 services).
    Here the main task's result is None."""
    box: list[T] = []

    async def keep() -> None:
        box.append(await main)

    asyncio.run(keep())
    return box[0]


@dataclass
class Workspace:
    """The specs and the state one command works on."""

    desired: Desired
    store: StateStore

    @classmethod
    def open(cls, specs: Path, state: str | None, sources: Sequence[Source] = ()) -> Workspace:
        """The spec files under ``specs`` joined with any other ``sources`` (read-only inputs
        of the desired state), and the state at ``state``."""
        url = state_url(state)
        inputs: list[Source] = [SpecFiles(Path(specs), state_dir(url)), *sources]
        desired = join([(source.name, source.desired()) for source in inputs])
        store = StateStore(url)
        desired = with_fingerprints(desired, lambda: store.fingerprint_key)
        gc.freeze()
        return cls(desired, store)

    @property
    def state_dir(self) -> Path:
        return state_dir(self.store.url)

    def known(self) -> Known:
        """What the state manages. Attributes equal to the declared ones share the specs' own
        mappings: on a converged estate that is most of them, and half the memory."""
        known = self.store.known(like=self.desired.resources)
        gc.freeze()  # long-lived from here on: spare the collector from scanning them again
        return known

    def platforms(self) -> dict[str, str]:
        return {name: i.platform for name, i in self.desired.integrations.items()}

    def concurrency(self) -> dict[str, int]:
        return {
            name: int(i.options.get("concurrency", DEFAULT_CONCURRENCY))
            for name, i in self.desired.integrations.items()
        }

    def select(self, names: Iterable[str] | None = None) -> list[Integration]:
        """The declared integrations to work on (all, or the named ones)."""
        if names is None:
            return [self.desired.integrations[n] for n in sorted(self.desired.integrations)]
        unknown = sorted(set(names) - set(self.desired.integrations))
        if unknown:
            declared = ", ".join(sorted(self.desired.integrations)) or "none"
            raise ReconcilerError(
                f"integration {', '.join(unknown)} is not declared in the specs; declared: {declared}"
            )
        return [self.desired.integrations[n] for n in sorted(set(names))]

    def close(self) -> None:
        self.store.close()


@asynccontextmanager
async def connect(
    integrations: Iterable[Integration], data_dir: Path
) -> AsyncIterator[dict[str, Provider]]:
    """One open provider per integration; embedded platforms are saved when the block ends."""
    async with AsyncExitStack() as stack:
        providers: dict[str, Provider] = {}
        for integration in integrations:
            credentials = resolve_credentials(integration)
            transport = None
            if integration.embedded:
                platform = open_embedded(integration.platform, integration.name, data_dir, credentials)
                stack.push_async_callback(platform.close)
                transport = platform.transport
            provider = build_provider(integration, credentials, transport)
            stack.push_async_callback(provider.aclose)
            providers[integration.name] = provider
        yield providers


async def observe(providers: Mapping[str, Provider]) -> dict[str, Observed]:
    """Every platform read concurrently; the first failure is raised once all have finished."""
    names = sorted(providers)
    results = await asyncio.gather(*(providers[n].observe() for n in names), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]
    gc.freeze()
    return dict(zip(names, results, strict=True))  # type: ignore[arg-type]


async def observe_unlisted(providers: Mapping[str, Provider], observed: Mapping[str, Observed],
                           store: StateStore, known: Known) -> dict[str, Observed]:
    """``observed`` with what the listings could not show, asked for by key of the providers
    that look objects up that way (:class:`~reconciler.providers.base.LooksUpKeys`): the keys an
    interrupted apply left pending in the journal, and the managed ones the listing lacks.

    An object half removed by a killed apply can drop out of the listing and still exist (an
    OZmap client whose premises were deleted, not yet the client): without this, recovery would
    judge its removal done and the plan would forget it, leaving it on the platform for good.
    On a converged estate nothing is asked."""
    hooked = {name for name in observed if isinstance(providers.get(name), LooksUpKeys)}
    if not hooked:
        return dict(observed)
    asked: dict[str, dict[str, set[str]]] = {}
    wanted = [(e.integration, e.kind, key, address(e.integration, e.kind, key))
              for e in store.journal_pending() for key in e.keys]
    wanted += [(r.integration, r.kind, r.key, at) for at, r in known.resources.items()
               if r.integration in hooked]
    for integration, kind, key, at in wanted:
        if integration in hooked and at not in observed[integration].resources:
            asked.setdefault(integration, {}).setdefault(kind, set()).add(key)
    out = dict(observed)
    for integration, kinds in sorted(asked.items()):
        provider = cast(LooksUpKeys, providers[integration])
        found = [res for kind, keys in sorted(kinds.items())
                 for res in await provider.observe_keys(kind, sorted(keys))]
        if found:
            seen = observed[integration]
            out[integration] = replace(seen, resources={**seen.resources, **index(found)})
    return out


def remember(store: StateStore, observed: Mapping[str, Observed], known: Known) -> None:
    """Keep the synced catalogs and the platform-side facts of managed resources in the state."""
    keep_catalogs(store, {name: obs.catalogs for name, obs in observed.items()})
    facts = {
        address: res.attrs
        for obs in observed.values()
        for address, res in obs.resources.items()
        if address in known.resources
    }
    store.refresh_observed(facts)


def keep_catalogs(
    store: StateStore, catalogs: Mapping[str, Mapping[str, Iterable[Mapping[str, Any]]]]
) -> None:
    """Save each integration's catalogs (plans, products) in the state, for `validate`."""
    for name, entries in catalogs.items():
        for catalog, items in entries.items():
            store.save_catalog(name, catalog, items)


_REMOVES = {Action.UNLINK, Action.DELETE}


def _landed(kind: str, action: Action, keys: tuple[str, ...], integration: str,
            obs: Observed) -> bool:
    """The kind's own judge where it has one, else: a removal landed when no object is live
    under its keys, anything else when every one is."""
    described = registry.kind(kind)
    judge = described.landed if described is not None else None
    verdict = judge(action, keys, obs.resources) if judge is not None else None
    if verdict is not None:
        return verdict
    present = [live(obs.resources.get(address(integration, kind, k))) for k in keys]
    return not any(present) if action in _REMOVES else all(present)


def recover(store: StateStore, observed: Mapping[str, Observed]) -> list[str]:
    """Resolve the journal entries a crashed apply left pending, against a fresh observation.

    Each entry is looked up on the platform by its natural keys: a create or link whose objects
    are there landed (the plan adopts them), an unlink or delete whose objects are gone landed
    too; anything else did not land and the plan just made includes it again. Returns one line
    per entry, for the operator.
    """
    lines = []
    for entry in store.journal_pending():
        obs = observed.get(entry.integration)
        if obs is None:
            continue  # not observed this run: stays pending until it is
        landed = _landed(entry.kind, Action(entry.action), tuple(entry.keys), entry.integration,
                         obs)
        verdict = "found done on the platform" if landed else "not done on the platform"
        lines.append(f"{entry.change_id} (interrupted at {entry.intent_at:%Y-%m-%d %H:%M:%S} UTC): "
                     f"{verdict}")
        store.journal_recover([entry.id], f"resolved against the platform: {verdict}")
    return lines
