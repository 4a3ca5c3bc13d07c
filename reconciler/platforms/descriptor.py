"""What one platform is to the core: a :class:`Platform` descriptor, and its :class:`Kind`\\ s.

A platform's package (``reconciler/platforms/<name>/``) builds one ``Platform`` from its own
modules and registers it once (:mod:`.registry`). The core never names a platform: the spec
validator, the desired-state builder, the planner, drift, import, the YAML generator, the schema,
the safety limits, ``sim serve`` and ``check`` all loop over the registry or look a platform up
by the name an integration declares.

The descriptor holds plain values and functions of pure modules (spec rules, planning rules,
import keys). The provider and the simulator, which do I/O, are named as ``module:attribute``
strings and imported only when an integration is connected or served, so that loading the
registry (which the pure planner does) never imports an HTTP or server library.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

from reconciler.model import Action, Change, Desired, Drift, Resource

if TYPE_CHECKING:
    from reconciler.billing.charges import ChargeBiller, ChargeInput
    from reconciler.billing.invoice import BillingInput, CallBiller
    from reconciler.errors import SpecIssue
    from reconciler.planner.core import Partial, View
    from reconciler.planner.imports import ImportPlan, Matching
    from reconciler.providers.base import Provider
    from reconciler.specs.collected import Collected, Issues
    from reconciler.specs.content_rules import HeldCheck
    from reconciler.specs.desired import DesiredBuild
    from reconciler.specs.generate import Builder
    from reconciler.specs.models import SpecModel
    from reconciler.specs.validate import RangeIndex

Rules = Callable[["View"], "Partial"]
Unmanaged = Callable[["View"], list[tuple[Resource, str]]]
SecondKey = Callable[[Resource], "tuple[str, ...] | None"]
RefineDrift = Callable[[Resource, "Resource | None", "Drift | None", Mapping[str, Resource],
                        Mapping[str, Resource]], "Drift | None"]


@dataclass(frozen=True)
class Kind:
    """One kind of resource (``number``, ``subscription``...), as the core treats it.

    A kind's name is global: two platforms may share one (Qualifica and Campsoft both hold
    ``subscription``), and must then describe it alike (:func:`.registry.kind` checks).
    """

    name: str
    # The order of this kind's changes within one integration, by action (lower first): a
    # number is registered before it is linked, a user created before its subscriptions.
    # An action not listed comes last.
    phases: Mapping[Action, int] = field(default_factory=dict)
    cancels: bool = False  # a DELETE cancels: the platform keeps the record (plans say "cancel")
    observed_only: frozenset[str] = frozenset()  # attributes only the platform sets, never recorded
    # What a change carries for its provider alone (ids the planner resolved, a displacement):
    # never recorded as applied, never shown as a field the change moves.
    carried: frozenset[str] = frozenset()
    noun: str = ""  # how an operator counts them in safety limits ("numbers"); name + "s" when empty
    touches: tuple[str, ...] = ()  # other kinds whose object under the same key a change touches
    describe: Callable[[Change], str | None] | None = None  # what a change does, in words
    summary: Callable[[Resource], str] | None = None  # one object in a line (import listings)
    # Whether a journaled change an apply left unfinished landed, judged on the observed
    # objects of its integration, where the generic judge (an object live under each key)
    # cannot tell; None leaves it to the generic judge.
    landed: Callable[[Action, tuple[str, ...], Mapping[str, Resource]], bool | None] | None = None

    @property
    def counted_as(self) -> str:
        return self.noun or f"{self.name}s"


@dataclass(frozen=True)
class Platform:
    """Everything the core needs to know about one platform, registered once."""

    name: str  # as written in `platform:` (saperx-stfc)
    options: type[SpecModel]  # the integration's `options:`, defaults filled in
    credentials: tuple[str, ...]  # exactly these credential fields (or one of the choices)
    kinds: tuple[Kind, ...]

    # Where a platform takes its credentials in more than one way (an API key, or a user and
    # password): the sets of fields, one of which the integration gives whole.
    credential_choices: tuple[tuple[str, ...], ...] = ()

    # -- the spec language ---------------------------------------------------------------
    number_ranges: bool = False  # `number_ranges:` entries may point to it
    phone_numbers: bool = False  # a client service's `phone_numbers:` may point to it
    sip_lines: bool = False  # a client service's `sip_lines:` may point to it
    customer_ports: bool = False  # a client service's `port:` may point to it (mapping platforms)
    sells_packages: bool = False  # packages (content add-ons) may point to it
    # The parameters its packages take on a service, each with its JSON Schema shape.
    package_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    single_product: bool = False  # one product per package
    param_problem: Callable[[str, str], tuple[str, str] | None] | None = None  # (message, hint)
    # A held package of a live service: report what it lacks, return the keys it claims
    # (two services claiming one key on one integration is an error the core reports).
    claims: Callable[[HeldCheck], list[str]] | None = None
    # Its rules across entries, once every entry passed the shape pass: (the entries, the index
    # of declared number ranges, the issues to add to).
    check: Callable[[Collected, RangeIndex, Issues], None] | None = None
    build: Callable[[DesiredBuild], None] | None = None  # add its resources to the desired state
    # What the declared resources lack in the catalogs last synced into the state (plans,
    # the network): (the desired state, the synced catalog by (integration, name)) -> issues,
    # each at its spec's file and line. `validate` runs it without reaching the platform.
    catalog_problems: Callable[[Desired, Callable[[str, str], Any]], list[SpecIssue]] | None = None
    # The desired state with what needs the state's own key added (fingerprints of secrets);
    # run at the edge, after the spec cache. The callable gives the key.
    fingerprint: Callable[[Desired, Callable[[], bytes]], Desired] | None = None

    # -- planning, drift -----------------------------------------------------------------
    rules: Rules | None = None  # one integration's changes
    compared: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> fields
    unmanaged: Unmanaged | None = None  # what an unmanaged object near managed ones is
    # The drift of a managed object, refined: (applied, observed, what the generic rules found,
    # every observed object, every managed one) -> the drift to report, or None.
    refine_drift: RefineDrift | None = None

    # -- import ---------------------------------------------------------------------------
    # Why a remote object under a declared key belongs to someone else (None: it is ours).
    owner_problem: Callable[[Resource, Resource], str | None] | None = None
    second_key: SecondKey | None = None  # a key an ERP may have filled differently
    second_name: str = ""  # what the second key is, in words ("contract and product")
    second_hint: Callable[[Resource, Resource], str] | None = None  # (declared, remote) -> advice
    # The platform's own rules once objects are matched by key (hold back what needs a decision).
    settle: Callable[[Matching], None] | None = None
    generate: Callable[[Builder, ImportPlan], None] | None = None  # spec YAML for unmatched objects

    # -- call records and billing -----------------------------------------------------------
    # Prices a month of an integration's imported call records as invoice lines. A platform
    # with it keeps call records: its provider is a reconciler.providers.base.CallRecordSource,
    # which `reconcile cdr import` reads.
    bill_calls: Callable[[BillingInput], CallBiller] | None = None
    # Reads a month of the charges the platform billed itself (it prices its numbers) as invoice
    # lines per client service. A platform with it has a provider that is a
    # reconciler.providers.base.ChargeSource, which `reconcile billing stfc` reads.
    bill_charges: Callable[[ChargeInput], ChargeBiller] | None = None

    # -- I/O, imported on use ---------------------------------------------------------------
    provider: str = ""  # "package.module:Class" implementing reconciler.providers.base.Provider
    simulator: str = ""  # "package.module" with create_app() and embedded_app()
    sim_options: tuple[str, ...] = ()  # create_app keywords `sim serve` may set (removal_delay)

    def provider_class(self) -> type[Provider]:
        module, _, attribute = self.provider.partition(":")
        found: type[Provider] = getattr(importlib.import_module(module), attribute)
        return found

    def simulator_module(self) -> ModuleType | None:
        return importlib.import_module(self.simulator) if self.simulator else None

    def kind(self, name: str) -> Kind | None:
        return next((k for k in self.kinds if k.name == name), None)


# The names a platform's modules define its hooks under: descriptor field -> module attribute.
HOOK_NAMES = {
    "build": "build", "check": "check", "claims": "claims", "param_problem": "param_problem",
    "package_params": "PARAMS", "fingerprint": "fingerprint",
    "catalog_problems": "catalog_problems",
    "rules": "plan_integration", "compared": "COMPARED", "unmanaged": "unmanaged",
    "refine_drift": "refine_drift",
    "owner_problem": "owner_problem", "second_key": "second_key", "second_hint": "second_hint",
    "settle": "settle", "generate": "generate", "bill_calls": "bill_calls",
    "bill_charges": "bill_charges",
}


def from_modules(*modules: object, **fields: Any) -> Platform:
    """A descriptor whose hooks are what the platform's ``modules`` (spec, rules, imports...)
    define under the names of :data:`HOOK_NAMES`, and whose other ``fields`` are given: each
    hook is written once, where it is defined, and the descriptor lists the modules. A field
    given explicitly wins; one name defined as two different things by two modules is an
    error, since which one the core called would depend on their order."""
    hooks: dict[str, Any] = {}
    for module in modules:
        for name, attribute in HOOK_NAMES.items():
            value = getattr(module, attribute, None)
            if value is None:
                continue
            if name in hooks and hooks[name] is not value:
                raise TypeError(f"{getattr(module, '__name__', module)}.{attribute} and another "
                                f"module of the "
                                f"platform both define the hook {name}")
            hooks[name] = value
    return Platform(**{**hooks, **fields})

