"""IXC Soft as an ERP source: its clients and contracts, read for ``reconcile erp export``.

One package: this descriptor (the status vocabulary and its default mapping, documented in
docs/erp.md), ``reader.py`` (``webservice/v1`` with the ``ixcsoft: listar`` header, tables
``cliente`` and ``cliente_contrato`` page by page) and ``sim.py`` / ``sim_store.py`` (the
simulator, PLATFORMS.md §3).

A contract's status is the key, and for an active contract (``A``) its internet status too,
joined by a slash: ``status_internet`` says whether an active contract's internet is on, blocked
by hand or for debt, or waiting for a signature; for the other contract statuses it adds nothing.
"""

from reconciler.sources.erp import ErpDescriptor

#: ``cliente_contrato.status`` (PLATFORMS.md §3.2), and ``A/<status_internet>``.
STATUSES = {
    "P": "Pré-contrato",
    "A/A": "Ativo, internet ativa",
    "A/D": "Ativo, internet desativada",
    "A/CM": "Ativo, bloqueio manual",
    "A/CA": "Ativo, bloqueio automático",
    "A/FA": "Ativo, financeiro em atraso",
    "A/AA": "Ativo, aguardando assinatura",
    "I": "Inativo",
    "N": "Negativado",
    "D": "Desistiu",
}

#: PLATFORMS.md §8: a pre-contract or one awaiting signature -> not exported; internet on ->
#: active; blocked by hand, for debt, in arrears, or switched off on a live contract ->
#: suspended; listed as a debtor (negativado: blocked while the debt stands) -> suspended;
#: inactive or given up -> cancelled.
DEFAULT_MAPPING = {
    "P": "skip",
    "A/A": "active",
    "A/D": "suspended",
    "A/CM": "suspended",
    "A/CA": "suspended",
    "A/FA": "suspended",
    "A/AA": "skip",
    "I": "cancelled",
    "N": "suspended",
    "D": "cancelled",
}

SOURCE = ErpDescriptor(
    name="ixc",
    title="IXC Soft",
    credentials=("token",),
    statuses=STATUSES,
    default_mapping=DEFAULT_MAPPING,
    reader="reconciler.sources.ixc.reader:IxcReader",
    simulator="reconciler.sources.ixc.sim",
    options={"page_size": 1000},
)
