"""SaperX STFC: fixed-line numbers registered in ranges, linked to client services (seed 000).

One package: ``spec.py`` (options, desired resources), ``kinds.py``, ``rules.py`` (planning),
``drift.py`` (the removal queue), ``imports.py`` (import and generated YAML), ``billing.py``
(the platform's monthly charges as invoice lines), ``provider.py`` (HTTP), ``sim.py``,
``sim_store.py`` and ``sim_billing.py`` (the simulator). See docs/platforms/saperx-stfc.md.
"""

from reconciler.platforms.descriptor import from_modules
from reconciler.platforms.saperx_stfc import billing, drift, imports, rules, spec
from reconciler.platforms.saperx_stfc.kinds import LINK, NUMBER

PLATFORM = from_modules(
    spec, rules, drift, imports, billing,
    name=spec.PLATFORM,
    options=spec.SaperxStfcOptions,
    credentials=("token",),
    kinds=(NUMBER, LINK),
    number_ranges=True,
    phone_numbers=True,
    provider="reconciler.platforms.saperx_stfc.provider:SaperxStfcProvider",
    simulator="reconciler.platforms.saperx_stfc.sim",
    sim_options=("removal_delay",),
)
