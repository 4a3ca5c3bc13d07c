"""Geosite: the fibre-network documentation platform (GIS) ISPs draw their CTOs in, which the
ERP reads and writes back which client service sits on which customer port (seed 001,
PLATFORMS.md §6).

One package: ``spec.py`` (options; the ports themselves are the shared
:mod:`reconciler.specs.ports`), ``rules.py`` and ``imports.py`` (the shared
:mod:`reconciler.planner.ports` and :mod:`reconciler.specs.ports_import`), ``provider.py``
(HTTP), ``sim.py`` (the wire contract, ours: Geosite publishes no API) and ``sim_store.py``
(the data and its rules). See docs/platforms/geosite.md.
"""

from reconciler.planner.ports import PORT_LINK
from reconciler.platforms.descriptor import from_modules
from reconciler.platforms.geosite import imports, rules, spec

PLATFORM = from_modules(
    spec, rules, imports,
    name=spec.PLATFORM,
    options=spec.GeositeOptions,
    credentials=("username", "password"),
    kinds=(PORT_LINK,),
    customer_ports=True,
    provider="reconciler.platforms.geosite.provider:GeositeProvider",
    simulator="reconciler.platforms.geosite.sim",
)
