"""Qualifica: content add-ons (streaming, e-books) as users and product entitlements.

One package: ``spec.py`` (options, what a package needs, desired resources), ``rules.py``
(planning), ``imports.py`` (import and generated YAML), ``provider.py`` (HTTP), ``sim.py`` and
``sim_store.py`` (the simulator). See docs/platforms/qualifica.md.
"""

from reconciler.model import Action
from reconciler.planner.content import SUBSCRIPTION
from reconciler.platforms.descriptor import Kind, from_modules
from reconciler.platforms.qualifica import imports, rules, spec

USER = Kind("user", phases={Action.CREATE: 0, Action.UPDATE: 1},
            describe=lambda c: "create user" if c.action is Action.CREATE else None,
            summary=lambda res: str(res.attrs.get("name") or ""))

PLATFORM = from_modules(
    spec, rules, imports,
    name=rules.PLATFORM,
    options=spec.QualificaOptions,
    credentials=("client_id", "client_secret"),
    kinds=(USER, SUBSCRIPTION),
    sells_packages=True,
    second_name="document",
    provider="reconciler.platforms.qualifica.provider:QualificaProvider",
    simulator="reconciler.platforms.qualifica.sim",
)
