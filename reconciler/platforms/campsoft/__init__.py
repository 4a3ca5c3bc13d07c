"""Campsoft: content add-ons (digital books) as subscriptions carrying the customer's data.

One package: ``spec.py`` (options, what a package needs, desired resources and the password
fingerprint), ``rules.py`` (planning), ``imports.py`` (import and generated YAML),
``provider.py`` (HTTP), ``sim.py`` and ``sim_store.py`` (the simulator). See
docs/platforms/campsoft.md.
"""

from reconciler.planner.content import SUBSCRIPTION
from reconciler.platforms.campsoft import imports, rules, spec
from reconciler.platforms.descriptor import Platform

PLATFORM = Platform(
    name=spec.PLATFORM,
    options=spec.CampsoftOptions,
    credentials=("api_key", "api_secret"),
    kinds=(SUBSCRIPTION,),
    sells_packages=True,
    package_params=spec.PARAMS,
    single_product=True,
    param_problem=spec.param_problem,
    claims=spec.claims,
    build=spec.build,
    fingerprint=spec.fingerprint,
    rules=rules.plan_integration,
    compared=rules.COMPARED,
    unmanaged=rules.unmanaged,
    owner_problem=imports.owner_problem,
    second_key=imports.second_key,
    second_name="contract and product",
    second_hint=imports.second_hint,
    generate=imports.generate,
    provider="reconciler.platforms.campsoft.provider:CampsoftProvider",
    simulator="reconciler.platforms.campsoft.sim",
)
