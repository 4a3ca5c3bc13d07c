"""Qualifica provider: users and their product subscriptions on the Qualifica content platform.

The wire contract is the one :mod:`reconciler.platforms.qualifica.sim` documents (Qualifica publishes
none; FOUND vs ASSUMED is listed there). Resources it observes and changes:

- ``user`` (key: the usuario, which the integration option ``user_field`` chose in the ERP:
  ``login_autenticacao`` by default, or ``cpf_cnpj``, ``email``, ``id_cliente_servico``):
  ``name``, ``email``, ``document``. Created and updated, never deleted. The password is the
  usuario itself unless ``user_field`` is ``login_autenticacao``, where none is sent and the
  platform gives its default initial access (seed 003).
- ``subscription`` (key: ``usuario/produto``): ``user``, ``product``, ``service`` (HubSoft's
  id_cliente_servico or None), ``status`` (active | suspended | cancelled) and ``expires`` (the
  ``data_expiracao`` text, YYYY-MM-DD; one year after today by the provider's clock when a
  change leaves it None). Cancelled subscriptions stay listed; subscribing again reactivates.

Every write is safe to repeat: "user exists", "product already granted", "already cancelled" and
"not found when cancelling" answers count as success. The access token comes from
``POST /oauth/token`` (client credentials), is renewed before it lapses and again when the
platform answers 401, and like the credentials it is masked from every error message.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from reconciler import errors
from reconciler.model import Action, Change, Integration, Observed, Resource, index
from reconciler.platforms.qualifica.spec import USER_FIELDS
from reconciler.providers.base import Applied
from reconciler.providers.common import Auth, HttpProvider, answer_field, bounded, target
from reconciler.providers.tokens import Issued

PLATFORM = "qualifica"
EMBEDDED_URL = "http://qualifica.embedded"
STATUS = {"ativo": "active", "suspenso": "suspended", "cancelado": "cancelled"}
ONE_YEAR = timedelta(days=365)

_REFUSALS = {
    "usuario_inexistente": "user {user} does not exist on the qualifica platform; create the "
    "user first",
    "produto_nao_vinculado": "user {user} has no subscription to product {product}; subscribe "
    "it first",
    "produto_cancelado": "the subscription of user {user} to product {product} is cancelled; "
    "subscribe again (create) to reactivate it",
    "produto_ja_vinculado": "user {user} already has product {product}",
    "usuario_existente": "user {user} already exists on the qualifica platform",
}


class QualificaProvider(HttpProvider):
    """One integration's connection to a Qualifica platform."""

    platform: ClassVar[str] = PLATFORM
    embedded_url: ClassVar[str] = EMBEDDED_URL
    example_url: ClassVar[str] = "https://api.qualifica.example"

    credential_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")

    def _configure(self) -> None:
        self.user_field = _user_field(self.integration)

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        """Client credentials, exchanged for an expiring token (:meth:`_login`)."""
        self._client_id, self._secret = credentials["client_id"], credentials["client_secret"]
        return Auth(secrets=(self._secret, self._client_id), login=self._login)

    # -- auth --------------------------------------------------------------------------------

    async def _login(self) -> Issued:
        """Client credentials for a token. A refusal is final (not retried as a stale token)."""
        payload = {"grant_type": "client_credentials", "client_id": self._client_id,
                   "client_secret": self._secret}
        try:
            response = await self._client.request("POST", "/oauth/token", json=payload,
                                                  auth=False)
        except errors.AuthError as exc:
            raise errors.AuthError(
                f"POST /oauth/token: the platform refused the client_id/client_secret (HTTP "
                f"{exc.status}); check the integration's credentials",
                integration=self.name, status=exc.status, detail=exc.detail) from None
        body = self._client.json_object(response)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token:
            raise self._client.unexpected("POST /oauth/token", {"fields": sorted(body)})
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | None):
            shape = {"expires_in": type(expires_in).__name__}
            raise self._client.unexpected("POST /oauth/token", shape)
        expires_at = self._clock() + expires_in if expires_in is not None else None
        return Issued(token, expires_at)

    # -- observe -----------------------------------------------------------------------------

    async def observe(self) -> Observed:
        """The product catalog, then every page of users (page 0 first to learn how many)."""
        products = await self._fetch_products()
        first = await self._page(0)
        pages = int(first["paginas"])
        pages_left = [lambda p=p: self._page(p) for p in range(1, pages)]
        rest = await bounded(pages_left, self.concurrency)
        users = [user for page in (first, *rest) for user in page["usuarios"]]
        try:
            resources = [r for user in users for r in self._resources(user)]
        except (KeyError, TypeError, AttributeError) as exc:
            shape = {"missing or malformed": str(exc)}
            raise self._client.unexpected("GET /usuarios", shape) from None
        return Observed(self.name, index(resources), catalogs={"products": _active(products)},
                        reads=2 + len(rest))

    def _resources(self, item: Mapping[str, Any]) -> list[Resource]:
        """The user, and one subscription per product it holds (cancelled ones included)."""
        usuario = str(item["usuario"])
        attrs = {"name": item["nome"], "email": item.get("email"), "document": item["documento"]}
        out = [Resource(self.name, "user", usuario, attrs, remote_id=usuario)]
        for grant in item.get("produtos") or ():
            key = f"{usuario}/{grant['produto']}"
            sub = {
                "user": usuario,
                # values shared by many subscriptions are interned: one copy, not 100,000
                "product": sys.intern(str(grant["produto"])),
                "service": grant.get("id_cliente_servico"),
                "status": STATUS.get(grant["status"], grant["status"]),
                "expires": _shared(grant.get("data_expiracao")),
            }
            out.append(Resource(self.name, "subscription", key, sub, remote_id=key))
        return out

    async def _page(self, page: int) -> Mapping[str, Any]:
        params = {"pagina": page, "por_pagina": self.page_size}
        return await self._listing_page("/usuarios", params, "usuarios", "paginas")

    async def _fetch_products(self) -> tuple[Mapping[str, Any], ...]:
        """Every product, active or not, as ``{codigo, nome, ativo}``."""
        body = self._client.json_object(await self._client.request("GET", "/produtos"))
        items = body.get("produtos")
        if not isinstance(items, list) or not all(isinstance(p, dict) for p in items):
            raise self._client.unexpected("GET /produtos", body)
        return tuple({"codigo": str(p.get("codigo")), "nome": p.get("nome"),
                      "ativo": p.get("ativo") is True} for p in items)

    # -- execute -----------------------------------------------------------------------------

    def _handlers(self) -> dict[tuple[str, Action], Callable[[Change], Awaitable[Applied]]]:
        return {
            ("user", Action.CREATE): self._create_users,
            ("user", Action.UPDATE): self._update_users,
            ("subscription", Action.CREATE): self._subscribe,
            ("subscription", Action.UPDATE): self._update_subscriptions,
            ("subscription", Action.SUSPEND): lambda c: self._set_status(c, "suspenso"),
            ("subscription", Action.RESUME): lambda c: self._set_status(c, "ativo"),
            ("subscription", Action.DELETE): self._cancel,
        }

    async def _create_users(self, change: Change) -> Applied:
        """POST each user; "already exists" is success. See the module docstring for senha."""
        after = target(change)
        for usuario in change.keys:
            payload = {**_user_payload(after), "usuario": usuario}
            if self.user_field != "login_autenticacao":
                payload["senha"] = usuario
            await self._call("POST", "/usuarios", usuario, None, json=payload,
                             done={"usuario_existente"})
        return Applied(remote_ids={usuario: usuario for usuario in change.keys})

    async def _update_users(self, change: Change) -> Applied:
        payload = _user_payload(target(change))
        for usuario in change.keys:
            await self._call("PUT", f"/usuarios/{_quote(usuario)}", usuario, None, json=payload)
        return Applied()

    async def _subscribe(self, change: Change) -> Applied:
        """Grant each product ("already granted" is success), then suspend it when the target
        status is suspended."""
        after = target(change)
        for key in change.keys:
            usuario, produto = split_key(key)
            payload = {
                "produto": produto,
                "data_expiracao": after.get("expires") or self.default_expiry(),
                "id_cliente_servico": after.get("service"),
            }
            await self._call("POST", f"/usuarios/{_quote(usuario)}/produtos", usuario, produto,
                             json=payload, done={"produto_ja_vinculado"})
        if after.get("status") == "suspended":
            await self._set_status(change, "suspenso")
        return Applied(remote_ids={key: key for key in change.keys})

    async def _update_subscriptions(self, change: Change) -> Applied:
        after = target(change)
        payload: dict[str, Any] = {"id_cliente_servico": after.get("service")}
        if after.get("expires") is not None:
            payload["data_expiracao"] = after["expires"]
        return await self._each_grant(change, "PATCH", json=payload)

    async def _set_status(self, change: Change, status: str) -> Applied:
        return await self._each_grant(change, "PATCH", json={"status": status})

    async def _cancel(self, change: Change) -> Applied:
        done = {"produto_nao_vinculado", "usuario_inexistente"}
        return await self._each_grant(change, "DELETE", done=done)

    async def _each_grant(
        self, change: Change, method: str, *, json: Any = None, done: Collection[str] = ()
    ) -> Applied:
        for key in change.keys:
            usuario, produto = split_key(key)
            path = f"/usuarios/{_quote(usuario)}/produtos/{_quote(produto)}"
            await self._call(method, path, usuario, produto, json=json, done=done)
        return Applied()

    async def _call(
        self, method: str, path: str, usuario: str, produto: str | None, *, json: Any = None,
        done: Collection[str] = (),
    ) -> httpx.Response | None:
        """One write. Returns None when the platform's refusal code is in ``done`` (the change
        had already happened); raises a clear error for other refusals."""
        response = await self._client.request(method, path, json=json, accept=(404, 409, 422))
        if response.is_success:
            return response
        code = answer_field(response, "erro")
        if code in done:
            return None
        status = response.status_code
        if code == "produto_inexistente":
            message = await self._unknown_product(produto or "")
        else:
            template = _REFUSALS.get(code, "{call}: the platform refused the change ({code})")
            message = template.format(user=usuario, product=produto, call=f"{method} {path}",
                                      code=code or f"HTTP {status}")
        cls = {404: errors.NotFoundError, 409: errors.ConflictError}.get(status,
                                                                        errors.RejectedError)
        raise cls(self._client.scrub(message), integration=self.name, status=status,
                  detail=self._client.scrub(response.text))

    async def _unknown_product(self, produto: str) -> str:
        """The refusal of an unknown or inactive product, naming the valid codes."""
        try:
            valid = ", ".join(p["code"] for p in _active(await self._fetch_products()))
        except errors.ProviderError:
            valid = "(the catalog could not be read)"
        return (f"product {produto!r} does not exist or is inactive on the qualifica platform; "
                f"valid products: {valid or 'none'}")

    def default_expiry(self) -> str:
        """One year (365 days) after today by the provider's clock (UTC date), ISO text."""
        return (datetime.fromtimestamp(self._clock(), UTC).date() + ONE_YEAR).isoformat()

    # -- catalogs, check and close -----------------------------------------------------------

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The active products alone (``reconcile sync``)."""
        return {"products": _active(await self._fetch_products())}

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        return len(_active(await self._fetch_products())), "active products", {}

def _shared(text: str | None) -> str | None:
    return sys.intern(text) if isinstance(text, str) else text


def split_key(key: str) -> tuple[str, str]:
    """A subscription key ``usuario/produto``, split on the last "/" (codes never hold one)."""
    usuario, sep, produto = key.rpartition("/")
    if not sep or not usuario or not produto:
        raise errors.PlanError(f"subscription key {key!r} is not 'usuario/produto'")
    return usuario, produto


def _active(products: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple({"code": p["codigo"], "name": p["nome"]} for p in products if p["ativo"])


def _user_payload(after: Mapping[str, Any]) -> dict[str, Any]:
    return {"nome": after["name"], "email": after.get("email") or None,
            "documento": after["document"]}


def _quote(text: str) -> str:
    return quote(text, safe="")





def _user_field(integration: Integration) -> str:
    value = integration.options.get("user_field", "login_autenticacao")
    if value not in USER_FIELDS:
        raise errors.ReconcilerError(
            f"integration {integration.name!r}: option user_field must be one of "
            f"{', '.join(USER_FIELDS)}, not {value!r}"
        )
    return str(value)
