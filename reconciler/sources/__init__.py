"""Sources: read-only inputs of the desired state, beside the providers that read and write
platforms (as octoDNS has sources beside providers). Each produces a fragment (a
:class:`~reconciler.model.Desired`); :func:`~reconciler.sources.base.join` makes one desired
state of them before planning. The spec files are the first source
(:class:`~reconciler.sources.spec_files.SpecFiles`).

The ERPs (HubSoft, IXC Soft) are sources of another kind: their facts reach the specs as
generated YAML, reviewed in a pull request, rather than straight into a plan
(``reconcile erp export``; docs/erp.md). Each is a package here (``hubsoft/``, ``ixc/``) behind
one descriptor (:class:`~reconciler.sources.erp.ErpDescriptor`), found through
:mod:`reconciler.sources.registry`.

Nothing is imported here, so that the spec validator may read the ERP registry without loading
the spec files' source (which imports the validator).
"""
