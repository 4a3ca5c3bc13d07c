"""IXC Soft reader: every client and contract of an IXC ERP, as :class:`ErpClient` records.

The wire is IXC's ``webservice/v1`` (PLATFORMS.md §3; FOUND vs ASSUMED is listed in
:mod:`reconciler.sources.ixc.sim`): ``POST /webservice/v1/<table>`` with the header
``ixcsoft: listar`` and ``Authorization: Basic base64("<user_id>:<token>")``, body ``{qtype:
"<table>.id", query: "0", oper: ">", page, rp, sortname: "<table>.id", sortorder: "asc"}``
(every row, in id order), answer ``{page, total, registros}`` with numbers as strings.

The reader lists ``cliente`` then ``cliente_contrato`` page by page (1-based, ``page_size``
rows a page) and joins the contracts to their clients by ``id_cliente``. A contract's status
is its ``status``, or for an active one (``A``) ``A/<status_internet>``: the keys of
:data:`reconciler.sources.ixc.STATUSES`. The PPPoE login is read from the contract's ``login``
(the simulator's simplification; real IXC keeps it in ``radusuarios``) and no packages are read.

Errors, never with the token (nor its base64) in them: a 401/403 is an AuthError, 429/5xx and
dropped connections are retried (then a TemporaryError); a ``{"type": "error"}`` body, even with
HTTP 200, or an HTML page is a ProviderError; a ``total`` that changes between two pages of a
table means the ERP changed during the read, a ReconcilerError asking to run again (never a
torn export).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any

import httpx

from reconciler import errors
from reconciler.providers.http import BODY_LIMIT, ApiClient, Sleep
from reconciler.sources.erp import ErpClient, ErpService
from reconciler.sources.ixc import STATUSES

API = "/webservice/v1"
MAX_PAGE_SIZE = 5000
CLIENTE = ("id", "razao", "cnpj_cpf", "email", "telefone_celular", "fone")
CONTRATO = ("id", "id_cliente", "contrato", "status", "status_internet", "login")
_NON_DIGITS = re.compile(r"\D")


class IxcReader:
    """Reads one IXC Soft ERP. ``credentials["token"]`` is the ``"<user_id>:<token>"`` text
    IXC shows for an API user; ``url`` is the ERP's address (with or without
    ``/webservice/v1``)."""

    def __init__(
        self,
        url: str,
        credentials: Mapping[str, str],
        *,
        source: str = "ixc",
        page_size: int = 1000,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        max_attempts: int = 5,
    ) -> None:
        token = credentials.get("token")
        if not token:
            raise errors.SecretError(
                f"ERP source {source!r} (IXC Soft) needs credentials.token: the "
                f"'<user_id>:<token>' text of an IXC API user")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
                1 <= page_size <= MAX_PAGE_SIZE):
            raise errors.ReconcilerError(
                f"ERP source {source!r}: page_size must be a whole number from 1 to "
                f"{MAX_PAGE_SIZE}, not {page_size!r}")
        self.source = source
        self.page_size = page_size
        encoded = base64.b64encode(token.encode("utf-8")).decode("ascii")
        secret_part = token.partition(":")[2]
        secrets = [token, encoded] + ([secret_part] if len(secret_part) >= 6 else [])
        base = url.rstrip("/")
        base = base.removesuffix(API)
        self._client = ApiClient(
            base,
            integration=source,
            headers={"Authorization": f"Basic {encoded}", "ixcsoft": "listar",
                     "Content-Type": "application/json"},
            secrets=secrets,
            transport=transport,
            sleep=sleep,
            max_attempts=max_attempts,
        )

    def __repr__(self) -> str:
        return f"IxcReader({self.source!r})"

    async def clients(self) -> list[ErpClient]:
        """Every client with its contracts, in client id order (contracts in id order too);
        a client without contracts has no services."""
        clientes = await self._table("cliente", CLIENTE)
        contratos = await self._table("cliente_contrato", CONTRATO)
        services: dict[str, list[tuple[tuple[int, str], ErpService]]] = {
            row["id"]: [] for row in clientes}
        for row in contratos:
            owner = row["id_cliente"]
            if owner not in services:
                raise errors.ProviderError(
                    f"IXC contract {row['id']} belongs to client {owner}, which the ERP did not "
                    f"list; run the export again, and if it persists check that contract in IXC",
                    integration=self.source)
            services[owner].append((_id_key(row["id"]), self._service(row)))
        out = []
        for row in sorted(clientes, key=lambda r: _id_key(r["id"])):
            mine = tuple(service for _, service in sorted(services[row["id"]],
                                                          key=lambda pair: pair[0]))
            out.append(ErpClient(
                erp_id=row["id"],
                document=_NON_DIGITS.sub("", row["cnpj_cpf"]),
                name=row["razao"],
                email=row["email"] or None,
                phone=row["telefone_celular"] or row["fone"] or None,
                services=mine,
            ))
        return out

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- reading -----------------------------------------------------------------------------

    def _service(self, row: Mapping[str, str]) -> ErpService:
        status = row["status"]
        key = f"A/{row['status_internet']}" if status == "A" else status
        if key not in STATUSES:
            raise errors.ProviderError(
                f"IXC contract {row['id']} (client {row['id_cliente']}) has status {key!r}, "
                f"which is not an IXC Soft contract status (known: {', '.join(STATUSES)})",
                integration=self.source)
        return ErpService(erp_id=row["id"], status=key, login=row["login"] or None,
                          plan=row["contrato"] or None)

    async def _table(self, table: str, names: tuple[str, ...]) -> list[dict[str, str]]:
        """Every row of ``table`` (the ``names`` fields, as text), page by page; a total that
        moves between pages is the ERP changing under the read."""
        rows: list[dict[str, str]] = []
        seen: set[str] = set()
        total: int | None = None
        page = 1
        while total is None or len(rows) < total:
            body = await self._page(table, page)
            now = self._total(table, body)
            if total is not None and now != total:
                raise self._changed(table, f"its total went from {total} to {now}")
            total = now
            registros = body.get("registros")
            if registros is None and total == 0:
                registros = []  # IXC may leave registros out of an empty answer
            if not isinstance(registros, list):
                raise self._client.unexpected(f"POST {API}/{table}", {"registros": registros})
            if not registros:
                if len(rows) < total:
                    raise self._changed(table, f"page {page} is empty after {len(rows)} of "
                                               f"{total} rows")
                break
            for item in registros:
                row = self._row(table, item, names)
                if row["id"] in seen:
                    raise self._changed(table, f"row {row['id']} came twice")
                seen.add(row["id"])
                rows.append(row)
            page += 1
        if len(rows) != total:
            raise self._changed(table, f"{len(rows)} rows came for a total of {total}")
        return rows

    async def _page(self, table: str, page: int) -> dict[str, Any]:
        path = f"{API}/{table}"
        query = {"qtype": f"{table}.id", "query": "0", "oper": ">", "page": str(page),
                 "rp": str(self.page_size), "sortname": f"{table}.id", "sortorder": "asc"}
        response = await self._client.request("POST", path, json=query)
        call = f"POST {path} (page {page})"
        content_type = response.headers.get("content-type", "")
        if "html" in content_type or response.text.lstrip()[:1] == "<":
            raise errors.ProviderError(
                f"{call}: the ERP answered HTML, not IXC's JSON; check the source's url (the "
                f"IXC host, e.g. https://isp.ixcsoft.com.br) and that the API is enabled",
                integration=self.source, status=response.status_code,
                detail=self._client.scrub(response.text[:BODY_LIMIT]))
        body = self._client.json_object(response)
        if body.get("type") == "error":
            message = self._client.scrub(str(body.get("message") or "(no message)"))
            raise errors.ProviderError(f"{call}: IXC answered an error: {message}",
                                       integration=self.source, status=response.status_code)
        return body

    def _total(self, table: str, body: Mapping[str, Any]) -> int:
        value = body.get("total")
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(
            value, bool) else ""
        if not text.isdigit():
            raise self._client.unexpected(f"POST {API}/{table}", {"total": value})
        return int(text)

    def _row(self, table: str, item: Any, names: tuple[str, ...]) -> dict[str, str]:
        """A row's ``names`` fields as text ("" for null); the id must be there."""
        if not isinstance(item, Mapping):
            raise self._client.unexpected(f"POST {API}/{table}", {"row": type(item).__name__})
        missing = [name for name in names if name not in item]
        if missing:
            shape = {"row": item.get("id"), "missing": missing}
            raise self._client.unexpected(f"POST {API}/{table}", shape)
        row = {name: "" if item[name] is None else str(item[name]).strip() for name in names}
        if not row["id"]:
            raise self._client.unexpected(f"POST {API}/{table}", {"row": "without an id"})
        return row

    def _changed(self, table: str, what: str) -> errors.ReconcilerError:
        return errors.ReconcilerError(
            f"[{self.source}] the ERP changed during the read of {table} ({what}); nothing was "
            f"exported: run the export again")


def _id_key(value: str) -> tuple[int, str]:
    """Ids sort as numbers (IXC's are), anything else after them as text."""
    return (int(value), "") if value.isdigit() else (2**63, value)
