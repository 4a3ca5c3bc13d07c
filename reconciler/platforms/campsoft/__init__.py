"""Campsoft: content add-ons (digital books) as subscriptions carrying the customer's data.

One package: ``spec.py`` (options, what a package needs, desired resources and the password
fingerprint), ``rules.py`` (planning), ``imports.py`` (import and generated YAML),
``provider.py`` (HTTP), ``sim.py`` and ``sim_store.py`` (the simulator). See
docs/platforms/campsoft.md.
"""

from reconciler.planner.content import SUBSCRIPTION
from reconciler.platforms.campsoft import imports, rules, spec
from reconciler.platforms.descriptor import from_modules

PLATFORM = from_modules(
    spec, rules, imports,
    name=spec.PLATFORM,
    options=spec.CampsoftOptions,
    credentials=("api_key", "api_secret"),
    kinds=(SUBSCRIPTION,),
    sells_packages=True,
    single_product=True,
    second_name="contract and product",
    provider="reconciler.platforms.campsoft.provider:CampsoftProvider",
    simulator="reconciler.platforms.campsoft.sim",
)
