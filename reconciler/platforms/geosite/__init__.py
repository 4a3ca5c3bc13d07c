"""Geosite: the fibre-network documentation platform (GIS) ISPs draw their CTOs in, which the
ERP reads and writes back which client service sits on which customer port (seed 001,
PLATFORMS.md §6).

One package: ``spec.py`` (options); the ports, their planning rules and their import are the
ones both mapping platforms share (:mod:`reconciler.specs.ports`,
:mod:`reconciler.planner.ports`, :mod:`reconciler.specs.ports_import`); ``provider.py``
(HTTP), ``sim.py`` (the wire contract, ours: Geosite publishes no API) and ``sim_store.py``
(the data and its rules). See docs/platforms/geosite.md.
"""

from reconciler.planner import ports as port_rules
from reconciler.planner.ports import PORT_LINK
from reconciler.platforms.descriptor import from_modules
from reconciler.platforms.geosite import spec
from reconciler.specs import ports_import

PLATFORM = from_modules(
    spec.HOOKS, port_rules, ports_import,
    name=spec.PLATFORM,
    options=spec.GeositeOptions,
    credentials=("username", "password"),
    kinds=(PORT_LINK,),
    customer_ports=True,
    provider="reconciler.platforms.geosite.provider:GeositeProvider",
    simulator="reconciler.platforms.geosite.sim",
)
