"""SaperX v2: fixed-line VoIP as SIP extensions with DIDs from number ranges, as IXC Soft
integrates it (PLATFORMS.md §5, seed 002).

For now the package holds only the simulator (``sim.py``, ``sim_store.py``; the wire contract
is in docs/platforms/saperx-v2.md). The platform descriptor comes with the provider, which
registers the platform; until then nothing names this package.
"""
