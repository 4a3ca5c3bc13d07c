"""SaperX v2: VoIP SIP lines (ramais SIP) with their DIDs, and the number ranges DIDs come from
(seed 002).

One package: ``spec.py`` (options, the rules of SIP lines across entries, desired resources),
``kinds.py``, ``rules.py`` (planning), ``imports.py`` (import and generated YAML),
``billing.py`` (calls beyond the plan as invoice lines), ``provider.py``
(HTTP), ``sim.py`` and ``sim_store.py`` (the simulator). See docs/platforms/saperx-v2.md.
"""

from reconciler.platforms.descriptor import from_modules
from reconciler.platforms.saperx_v2 import billing, imports, rules, spec
from reconciler.platforms.saperx_v2.kinds import EXTENSION, VOIP_RANGE

PLATFORM = from_modules(
    spec, rules, imports, billing,
    name=spec.PLATFORM,
    options=spec.SaperxV2Options,
    credentials=("username", "password", "api_key", "api_secret"),
    kinds=(VOIP_RANGE, EXTENSION),
    number_ranges=True,
    sip_lines=True,
    provider="reconciler.platforms.saperx_v2.provider:SaperxV2Provider",
    simulator="reconciler.platforms.saperx_v2.sim",
)
