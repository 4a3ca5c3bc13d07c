"""HubSoft reader: every client and client service, as :class:`~reconciler.sources.erp.ErpClient`.

The wire is PLATFORMS.md §2 (FOUND vs ASSUMED is listed in :mod:`reconciler.sources.hubsoft.sim`):
``POST /oauth/token`` with the password grant (``client_id``, ``client_secret``, ``username``,
``password``) for a bearer token, then ``GET /api/v1/integracao/cliente/todos?pagina=N&
itens_por_pagina=S`` from page 0 to ``paginacao.ultima_pagina``, one page at a time.

- The token is renewed before the expiry HubSoft announced, and by logging in again (never the
  undocumented refresh grant: PLATFORMS.md §2.1 prefers re-login) once when a call answers 401
  (a token revoked early). A refused login is an AuthError naming the four credentials.
- 429, 5xx, timeouts and dropped connections are retried with backoff (ApiClient).
- HubSoft answers validation errors with HTTP 200 and ``{"status": "error", "msg", "errors"}``:
  such a page is a ProviderError quoting ``msg`` and ``errors``.
- A torn read is never returned: when ``paginacao.total_registros`` differs from the first page's,
  a client shows up twice, or the pages do not add up to the total, the read fails with a
  TemporaryError saying the ERP changed while it was read, to run again. (A client removed and
  another added between two pages, in the same read, cannot be told from the answers alone.)
- A ``status_prefixo`` outside :data:`~reconciler.sources.hubsoft.STATUSES` is a ProviderError
  naming it and the service: the mapping could not place it.

Credentials (the client_secret and password, and every token issued) are masked from every
error message.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from reconciler import errors
from reconciler.providers.http import ApiClient, Sleep
from reconciler.providers.tokens import AccessToken, Issued
from reconciler.sources.erp import ErpClient, ErpService
from reconciler.sources.hubsoft import SOURCE, STATUSES

LOGIN = "/oauth/token"
CLIENTS = "/api/v1/integracao/cliente/todos"
EMBEDDED_URL = "http://hubsoft.embedded"
MAX_PAGE_SIZE = 500


class HubSoftReader:
    """Reads one HubSoft's clients (:class:`~reconciler.sources.erp.Reader`)."""

    def __init__(
        self,
        url: str,
        credentials: Mapping[str, str],
        *,
        source: str = "hubsoft",
        page_size: int = MAX_PAGE_SIZE,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep | None = None,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``url`` is the ERP's base address (``https://api.<isp>.hubsoft.com.br``); with a
        ``transport`` (an in-process simulator) any other value stands for it. ``sleep``
        replaces the retry backoff's asyncio.sleep and ``clock`` the time token expiry is read
        against (tests)."""
        missing = [name for name in SOURCE.credentials if not credentials.get(name)]
        if missing:
            names = ", ".join(f"credentials.{name}" for name in missing)
            raise errors.SecretError(f"ERP source {source!r} (hubsoft) needs {names}; set "
                                     f"{'it' if len(missing) == 1 else 'them'} in erp_sources")
        if isinstance(page_size, bool) or not isinstance(page_size, int) or not (
                1 <= page_size <= MAX_PAGE_SIZE):
            raise errors.ReconcilerError(f"ERP source {source!r}: page_size must be a whole "
                                         f"number between 1 and {MAX_PAGE_SIZE}, not "
                                         f"{page_size!r}")
        if not url.startswith(("http://", "https://")):
            if transport is None:
                raise errors.ReconcilerError(
                    f"ERP source {source!r}: url {url!r} must be an http(s):// address such as "
                    f"https://api.isp.hubsoft.com.br")
            url = EMBEDDED_URL
        self.source = source
        self.page_size = page_size
        self._credentials = {name: credentials[name] for name in SOURCE.credentials}
        self._clock = clock
        self.token = AccessToken(self._login, clock=clock)
        self._client = ApiClient(
            url,
            integration=source,
            secrets=(credentials["client_secret"], credentials["password"]),
            transport=transport,
            max_attempts=max_attempts,
            sleep=sleep,
            token=self.token,
        )
        self.pages = 0  # pages read by the last clients()

    def __repr__(self) -> str:
        return f"HubSoftReader({self.source!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- auth --------------------------------------------------------------------------------

    async def _login(self) -> Issued:
        """The password grant. A refusal is final (not retried as a stale token)."""
        payload = {"grant_type": "password", **self._credentials}
        try:
            response = await self._client.request("POST", LOGIN, json=payload, auth=False)
        except errors.AuthError as exc:
            raise errors.AuthError(
                f"POST {LOGIN}: HubSoft refused the login (HTTP {exc.status}); check the "
                f"source's client_id, client_secret, username and password",
                integration=self.source, status=exc.status, detail=exc.detail) from None
        body = self._client.json_object(response)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise self._client.unexpected(f"POST {LOGIN}", {"fields": sorted(body)})
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | None):
            raise self._client.unexpected(f"POST {LOGIN}",
                                          {"expires_in": type(expires_in).__name__})
        refresh = body.get("refresh_token")
        if isinstance(refresh, str):
            self._client.mask(refresh)  # unused, but a credential all the same
        return Issued(token, self._clock() + expires_in if expires_in is not None else None)

    # -- read --------------------------------------------------------------------------------

    async def clients(self) -> list[ErpClient]:
        """Every client, page 0 to the last one the first page announced."""
        first = await self._page(0)
        total, last = _paging(first, self._client)
        pages = [first]
        for pagina in range(1, last + 1):
            page = await self._page(pagina)
            now, _ = _paging(page, self._client)
            if now != total:
                raise self._changed(f"total_registros went from {total} to {now} at page "
                                    f"{pagina}")
            pages.append(page)
        self.pages = len(pages)
        out: list[ErpClient] = []
        seen: set[str] = set()
        for page in pages:
            for item in page["clientes"]:
                client = self._client_of(item)
                if client.erp_id in seen:
                    raise self._changed(f"id_cliente {client.erp_id} came twice")
                seen.add(client.erp_id)
                out.append(client)
        if len(out) != total:
            raise self._changed(f"the pages held {len(out)} clients, total_registros says "
                                f"{total}")
        return out

    async def _page(self, pagina: int) -> dict[str, Any]:
        params = {"pagina": pagina, "itens_por_pagina": self.page_size}
        body = self._client.json_object(await self._client.request("GET", CLIENTS, params=params))
        if body.get("status") != "success":
            problems = body.get("errors")
            listed = "; ".join(map(str, problems)) if isinstance(problems, list) else ""
            message = (f"GET {CLIENTS} (pagina {pagina}): HubSoft answered an error: "
                       f"{body.get('msg') or body.get('message') or 'no message'}"
                       + (f" ({listed})" if listed else ""))
            raise errors.ProviderError(self._client.scrub(message), integration=self.source,
                                       status=200, detail=self._client.scrub(str(body)[:256]))
        if not isinstance(body.get("clientes"), list):
            raise self._client.unexpected(f"GET {CLIENTS}", {"fields": sorted(body)})
        return body

    def _changed(self, what: str) -> errors.TemporaryError:
        return errors.TemporaryError(
            f"the ERP changed while its clients were read ({what}); nothing was exported, run "
            f"the export again", integration=self.source)

    def _client_of(self, item: Any) -> ErpClient:
        try:
            services = tuple(self._service_of(s) for s in item.get("servicos") or ())
            return ErpClient(
                erp_id=str(item["id_cliente"]),
                document=str(item["cpf_cnpj"]),
                name=str(item["nome_razaosocial"]),
                email=item.get("email_principal") or None,
                phone=item.get("telefone_primario") or None,
                services=services,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            shape = {"missing or malformed": str(exc)}
            raise self._client.unexpected(f"GET {CLIENTS}", shape) from None

    def _service_of(self, item: Mapping[str, Any]) -> ErpService:
        number, status = str(item["id_cliente_servico"]), item.get("status_prefixo")
        if status not in STATUSES:
            raise errors.ProviderError(
                f"GET {CLIENTS}: service {number} has status_prefixo {status!r}, which is not a "
                f"HubSoft status this tool knows ({', '.join(STATUSES)})",
                integration=self.source)
        plan = item.get("nome")
        return ErpService(
            erp_id=number,
            # values shared by many services are interned: one copy, not 100,000
            status=sys.intern(status),
            login=item.get("login") or None,
            plan=sys.intern(str(plan)) if plan is not None else None,
            packages=tuple(sys.intern(str(p["codigo"])) for p in item.get("pacotes") or ()),
        )


def _paging(body: Mapping[str, Any], client: ApiClient) -> tuple[int, int]:
    """``(total_registros, ultima_pagina)`` of a page."""
    paging = body.get("paginacao")
    total = paging.get("total_registros") if isinstance(paging, dict) else None
    last = paging.get("ultima_pagina") if isinstance(paging, dict) else None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (total, last)):
        raise client.unexpected(f"GET {CLIENTS}", {"paginacao": paging})
    assert isinstance(total, int) and isinstance(last, int)
    return total, last
