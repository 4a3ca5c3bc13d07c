"""HubSoft as an ERP source: its clients and client services, read for ``reconcile erp export``.

One package: this descriptor (the status vocabulary and its default mapping, documented in
docs/erp.md), ``reader.py`` (OAuth password grant, ``/api/v1/integracao/cliente/todos`` page by
page) and ``sim.py`` / ``sim_store.py`` (the simulator, PLATFORMS.md §2).
"""

from reconciler.sources.erp import ErpDescriptor

#: HubSoft's service statuses (``status_prefixo``, PLATFORMS.md §2.5) and their labels.
STATUSES = {
    "agendado_para_instalacao": "Agendado para instalação",
    "aguardando_assinatura_contrato": "Aguardando assinatura do contrato",
    "aguardando_configuracao": "Aguardando configuração",
    "aguardando_instalacao": "Aguardando instalação",
    "aguardando_liberacao_ti": "Aguardando liberação TI",
    "aguardando_migracao": "Aguardando migração",
    "cancelado": "Cancelado",
    "franquia_excedida": "Franquia excedida",
    "inativo": "Inativo",
    "servico_habilitado": "Serviço habilitado",
    "suspenso_debito": "Suspenso por débito",
    "suspenso_parcialmente": "Suspenso parcialmente",
    "suspenso_pedido_cliente": "Suspenso a pedido do cliente",
}

#: PLATFORMS.md §8: not yet installed -> not exported (nothing exists on the platforms yet);
#: enabled, and a data cap reached (the service still runs, slower) -> active; any suspension
#: -> suspended; cancelled or disabled -> cancelled; a migration in progress -> keep what the
#: last export said (a port move or plan change is pending, the service itself is unchanged).
DEFAULT_MAPPING = {
    "agendado_para_instalacao": "skip",
    "aguardando_assinatura_contrato": "skip",
    "aguardando_configuracao": "skip",
    "aguardando_instalacao": "skip",
    "aguardando_liberacao_ti": "skip",
    "aguardando_migracao": "keep",
    "cancelado": "cancelled",
    "franquia_excedida": "active",
    "inativo": "cancelled",
    "servico_habilitado": "active",
    "suspenso_debito": "suspended",
    "suspenso_parcialmente": "suspended",
    "suspenso_pedido_cliente": "suspended",
}

SOURCE = ErpDescriptor(
    name="hubsoft",
    title="HubSoft",
    credentials=("client_id", "client_secret", "username", "password"),
    statuses=STATUSES,
    default_mapping=DEFAULT_MAPPING,
    reader="reconciler.sources.hubsoft.reader:HubSoftReader",
    simulator="reconciler.sources.hubsoft.sim",
    options={"page_size": 500},
)
