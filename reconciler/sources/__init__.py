"""Sources: read-only inputs of the desired state, beside the providers that read and write
platforms (as octoDNS has sources beside providers). Each produces a fragment (a
:class:`~reconciler.model.Desired`); :func:`join` makes one desired state of them before
planning. The spec files are the first source (:class:`SpecFiles`); the ERP issue adds HubSoft
and IXC Soft."""

from reconciler.sources.base import Source, join
from reconciler.sources.spec_files import SpecFiles

__all__ = ["Source", "SpecFiles", "join"]
