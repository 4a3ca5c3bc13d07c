"""Geosite: the fibre-network documentation platform (GIS) ISPs draw their CTOs in, which the
ERP reads and writes back which client service sits on which customer port (seed 001,
PLATFORMS.md §6).

So far only the simulator: ``sim.py`` (the wire contract, ours: Geosite publishes no API) and
``sim_store.py`` (the data and its rules). See docs/platforms/geosite.md.
"""
