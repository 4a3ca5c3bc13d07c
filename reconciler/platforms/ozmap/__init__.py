"""OZmap: the fibre-network documentation platform (GIS, API v2) ISPs draw boxes, splitters and
ports in, which the ERP reads and writes back which client service sits on which customer port
(seed 001, PLATFORMS.md §6.2).

One package: ``spec.py`` (options; the ports themselves are the shared
:mod:`reconciler.specs.ports`), ``rules.py`` and ``imports.py`` (the shared
:mod:`reconciler.planner.ports` and :mod:`reconciler.specs.ports_import`), ``provider.py``
(HTTP), ``sim.py`` and ``sim_store.py`` (the simulator, after OZmap's SDK). See
docs/platforms/ozmap.md.
"""

from reconciler.planner.ports import PORT_LINK
from reconciler.platforms.descriptor import from_modules
from reconciler.platforms.ozmap import imports, rules, spec

PLATFORM = from_modules(
    spec, rules, imports,
    name=spec.PLATFORM,
    options=spec.OzmapOptions,
    credentials=("api_key", "username", "password"),
    credential_choices=(("api_key",), ("username", "password")),
    kinds=(PORT_LINK,),
    customer_ports=True,
    provider="reconciler.platforms.ozmap.provider:OzmapProvider",
    simulator="reconciler.platforms.ozmap.sim",
)
