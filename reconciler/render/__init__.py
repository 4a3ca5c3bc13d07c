"""Renderers of plans, apply results and drift reports: text (coloured on a terminal) and JSON."""
