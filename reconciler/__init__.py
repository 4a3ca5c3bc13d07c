"""Declarative config-as-code reconciler for a Brazilian ISP's third-party platforms."""

__version__ = "0.1.0"
