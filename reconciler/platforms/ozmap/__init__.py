"""OZmap: the fibre-network documentation platform (boxes/CTOs, splitters and their ports, the
premises and FTTH clients connected to them), API v2 (PLATFORMS.md §6.2, seed 001).

For now only the simulator lives here (``sim.py`` and ``sim_store.py``; the wire contract is in
docs/platforms/ozmap.md); the platform is not registered yet.
"""
