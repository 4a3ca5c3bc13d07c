"""What an ERP (HubSoft, IXC Soft) says about its clients, as the export reads it: the records
each ERP's reader returns, whatever its wire format, and the descriptor an ERP package registers.

Pure: values only. A reader (``reconciler/sources/<erp>/reader.py``) turns the ERP's API into
:class:`ErpClient` records; :mod:`reconciler.sources.export` turns those, through the source's
status mapping, into spec YAML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ErpService:
    """One client service (HubSoft ``cliente_servico``, IXC ``cliente_contrato``).

    ``status`` is the ERP's own machine value, as the mapping keys it: HubSoft's
    ``status_prefixo`` (``servico_habilitado``...); IXC's contract status (``P``, ``I``, ``N``,
    ``D``), or for an active contract ``A/`` and its internet status (``A/A``, ``A/CA``...),
    since only an active contract's internet status says more."""

    erp_id: str  # id_cliente_servico / cliente_contrato.id
    status: str
    login: str | None = None  # PPPoE/RADIUS login
    plan: str | None = None  # the plan's name as the ERP shows it
    packages: tuple[str, ...] = ()  # package codes (HubSoft pacotes[].codigo)


@dataclass(frozen=True)
class ErpClient:
    """One client with its services; ``document`` is the CPF/CNPJ as the ERP holds it."""

    erp_id: str  # id_cliente / cliente.id
    document: str
    name: str
    email: str | None = None
    phone: str | None = None
    services: tuple[ErpService, ...] = ()


class Reader(Protocol):
    """Reads every client of one ERP (all pages), as records. Raises a ReconcilerError (an
    AuthError, a TemporaryError after the retries, a ProviderError for an error body) naming
    what failed, never a credential."""

    async def clients(self) -> list[ErpClient]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class ErpDescriptor:
    """An ERP package's registration: its name (the ``kind:`` of an ``erp_sources:`` entry),
    the credentials it needs, its status vocabulary with the default mapping of every status
    to a spec status (``active``, ``suspended``, ``cancelled``) or ``skip`` (not exported), and
    where its reader and simulator live (``module:Class`` and a module path, imported only when
    used)."""

    name: str
    title: str  # for messages and docs: "HubSoft"
    credentials: tuple[str, ...]
    statuses: Mapping[str, str]  # every ERP status -> its label, in the ERP's words
    default_mapping: Mapping[str, str]  # every ERP status -> active | suspended | cancelled | skip
    reader: str
    simulator: str
    options: Mapping[str, Any] = field(default_factory=dict)  # option -> default
