"""OZmap: the fibre-network documentation platform (GIS, API v2) ISPs draw boxes, splitters and
ports in, which the ERP reads and writes back which client service sits on which customer port
(seed 001, PLATFORMS.md §6.2).

One package: ``spec.py`` (options); the ports, their planning rules and their import are the
ones both mapping platforms share (:mod:`reconciler.specs.ports`,
:mod:`reconciler.planner.ports`, :mod:`reconciler.specs.ports_import`); ``provider.py``
(HTTP), ``sim.py`` and ``sim_store.py`` (the simulator, after OZmap's SDK). See
docs/platforms/ozmap.md.
"""

from reconciler.planner import ports as port_rules
from reconciler.planner.ports import PORT_LINK
from reconciler.platforms.descriptor import from_modules
from reconciler.platforms.ozmap import spec
from reconciler.specs import ports_import

PLATFORM = from_modules(
    spec.HOOKS, port_rules, ports_import,
    name=spec.PLATFORM,
    options=spec.OzmapOptions,
    credentials=("api_key", "username", "password"),
    credential_choices=(("api_key",), ("username", "password")),
    kinds=(PORT_LINK,),
    customer_ports=True,
    provider="reconciler.platforms.ozmap.provider:OzmapProvider",
    simulator="reconciler.platforms.ozmap.sim",
)
