"""Campsoft provider: content subscriptions (digital books) of an ISP's client services.

The wire contract is the one :mod:`reconciler.platforms.campsoft.sim` documents: login and the product
catalog are FOUND (a public client of Campsoft's API); the subscription calls are ASSUMED.
Resources it observes and changes:

- ``subscription`` (key: ``<contract_identifier>/<label>``, remote id: the platform's
  ``subscription_id``): ``contract``, ``label``, ``product`` (the product code), ``status``
  (active | suspended | cancelled), and the customer's ``name``, ``document``, ``email``,
  ``phone`` and ``login``. The password is sent, never read back nor kept in attrs: it is taken
  from the field ``after["password_from"]`` names (the seed's ``senha``): ``cpf_cnpj`` (the
  document's digits, the default), ``login_autenticacao`` or ``id_contrato``.

Login: ``POST /authentication {ApiKey, ApiSecret}`` gives a token and its absolute expiry
(ExpiresIn, Unix seconds). :class:`~reconciler.providers.tokens.AccessToken` logs in again
shortly before that expiry, and the HTTP client logs in again once when a call is answered 401,
so a token that lapses or is revoked in the middle of an apply never fails it.

Every write is safe to repeat: "already subscribed" (409, whose body names the id), "already
suspended/active/cancelled" and "not found when cancelling" count as success. ApiKey, ApiSecret,
tokens and passwords are masked from, or never put in, any error message.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, ClassVar

import httpx

from reconciler import errors
from reconciler.model import (
    PASSWORD_DIGEST,
    Action,
    Change,
    Integration,
    Observed,
    Resource,
    index,
)
from reconciler.platforms.campsoft.spec import PASSWORDS, password_change, password_of
from reconciler.providers.base import Applied
from reconciler.providers.common import (
    Auth,
    HttpProvider,
    answer_field,
    answer_json,
    bounded,
    target,
)
from reconciler.providers.tokens import Issued

EMBEDDED_URL = "http://campsoft.embedded"
STATUS_CALLS = {Action.SUSPEND: "suspend", Action.RESUME: "reactivate", Action.DELETE: "cancel"}
MISSING_CONTACT = (
    "subscription {key}: Campsoft refuses a subscription whose client has no e-mail or no "
    "phone; the client needs an e-mail and a phone (add them to the client in the specs)"
)


class CampsoftProvider(HttpProvider):
    """One integration's connection to the Campsoft platform."""

    platform: ClassVar[str] = "campsoft"
    embedded_url: ClassVar[str] = EMBEDDED_URL
    example_url: ClassVar[str] = "https://api2.campsoft.com.br/svas/v1"

    credential_fields: ClassVar[tuple[str, ...]] = ("api_key", "api_secret")

    def _configure(self) -> None:
        self._isp: str | None = _isp_option(self.integration)
        self._ids: dict[str, str] = {}  # key -> subscription_id, from observe and writes

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        """ApiKey and ApiSecret, exchanged for an expiring token (:meth:`_login`)."""
        self._credentials = {"ApiKey": credentials["api_key"],
                             "ApiSecret": credentials["api_secret"]}
        return Auth(secrets=tuple(self._credentials.values()), login=self._login)

    # -- login and ISP -----------------------------------------------------------------------

    async def _login(self) -> Issued:
        """Exchange ApiKey/ApiSecret for a token; ExpiresIn is an absolute Unix time."""
        try:
            response = await self._client.request(
                "POST", "/authentication", json=self._credentials, auth=False)
        except errors.AuthError as exc:
            raise errors.AuthError(
                "the campsoft platform refused the credentials; check the integration's "
                "credentials.api_key and credentials.api_secret",
                integration=self.name, status=exc.status, detail=exc.detail) from None
        body = self._client.json_object(response)
        token = _pick(body, "AccessToken", "accessToken")
        expires = _pick(body, "ExpiresIn", "expiresIn")
        if not isinstance(token, str) or not token:
            raise self._client.unexpected("POST /authentication", {"keys": sorted(body)})
        valid = isinstance(expires, int | float) and not isinstance(expires, bool)
        return Issued(token, float(expires) if valid else None)

    async def isp_identifier(self) -> str:
        """The option when given, else the only ISP the credential sees."""
        if self._isp is None:
            response = await self._client.request("GET", "/isps")
            isps = self._list(response, "GET /isps")
            names = [str(isp.get("isp_identifier")) for isp in isps if isinstance(isp, dict)]
            if len(names) != 1:
                seen = ", ".join(names) or "none"
                raise errors.ReconcilerError(
                    f"integration {self.name!r}: the campsoft credentials see {len(names)} ISPs "
                    f"({seen}); set options.isp_identifier to the one these subscriptions "
                    f"belong to")
            self._isp = names[0]
        return self._isp

    # -- observe -----------------------------------------------------------------------------

    async def observe(self) -> Observed:
        """The product catalog, then every page of subscriptions (page 1 first to learn how
        many), keeping those of this integration's ISP."""
        reads = 2 if self._isp is None else 1
        products = await self._fetch_products()
        isp = await self.isp_identifier()
        first = await self._page(1)
        pages = int(first["pages"])
        pages_left = [lambda p=p: self._page(p) for p in range(2, pages + 1)]
        rest = await bounded(pages_left, self.concurrency)
        items = [item for page in (first, *rest) for item in page["items"]]
        try:
            resources = [self._resource(item) for item in items
                         if item["isp_identifier"] == isp]
        except (KeyError, TypeError, AttributeError) as exc:
            problem = {"missing or malformed": str(exc)}
            raise self._client.unexpected("GET /subscriptions", problem) from None
        self._ids.update({r.key: str(r.remote_id) for r in resources})
        return Observed(self.name, index(resources), catalogs={"products": products},
                        reads=reads + 1 + len(rest))

    def _resource(self, item: Mapping[str, Any]) -> Resource:
        customer = item["customer"]
        contract, label = str(item["contract_identifier"]), str(item["label"])
        attrs = {
            "contract": contract,
            "label": label,
            # values shared by many subscriptions are interned: one copy, not 100,000
            "product": sys.intern(str(item["product_code"])),
            "status": sys.intern(str(item["status"])),
            **{name: customer.get(name) for name in ("name", "document", "email", "phone",
                                                     "login")},
        }
        return Resource(self.name, "subscription", f"{contract}/{label}", attrs,
                        remote_id=str(item["subscription_id"]))

    async def _page(self, page: int, **filters: str) -> Mapping[str, Any]:
        params = {"page": page, "per_page": self.page_size, **filters}
        return await self._listing_page("/subscriptions", params, "items", "pages")

    async def _fetch_products(self) -> tuple[Mapping[str, Any], ...]:
        """The active products as ``{"code", "name"}`` (what HubSoft's sync brings)."""
        response = await self._client.request("GET", "/products", params={"status": "active"})
        body = self._client.json_object(response)
        if not isinstance(body.get("products"), list):
            raise self._client.unexpected("GET /products", body)
        return tuple({"code": str(p.get("code")), "name": p.get("name")}
                     for p in body["products"]
                     if isinstance(p, dict) and p.get("status", "active") == "active")

    # -- execute -----------------------------------------------------------------------------

    def _handlers(self) -> dict[tuple[str, Action], Callable[[Change], Awaitable[Applied]]]:
        return {
            ("subscription", Action.CREATE): self._create,
            ("subscription", Action.UPDATE): self._update,
            ("subscription", Action.SUSPEND): self._status,
            ("subscription", Action.RESUME): self._status,
            ("subscription", Action.DELETE): self._status,
        }

    async def _create(self, change: Change) -> Applied:
        """Subscribe each key (409 names the existing id: success), then suspend the ones
        whose target status is suspended."""
        after = target(change)
        isp = await self.isp_identifier()
        ids: dict[str, str] = {}
        for key in change.keys:
            contract, label = split_key(key)
            payload = {"isp_identifier": isp, "contract_identifier": contract, "label": label,
                       "product_code": str(after["product"]),
                       "customer": self._customer(change, key, contract)}
            response = await self._write("POST", "/subscriptions", key, json=payload,
                                         accept=(409, 422))
            ids[key] = self._ids[key] = str(self._client.json_object(response)["subscription_id"])
            if after.get("status") == "suspended":
                await self._write("POST", f"/subscriptions/{ids[key]}/suspend", key)
        return Applied(remote_ids=ids)

    async def _update(self, change: Change) -> Applied:
        """PUT the product and the customer; the password only when :func:`sends_password`."""
        after = target(change)
        password = sends_password(change)
        for key in change.keys:
            contract, _ = split_key(key)
            payload = {"product_code": str(after["product"]),
                       "customer": self._customer(change, key, contract, password=password)}
            subscription_id = await self._known_id(key, "create it first")
            await self._write("PUT", f"/subscriptions/{subscription_id}", key, json=payload,
                              accept=(404, 409, 422))
        return Applied()

    async def _status(self, change: Change) -> Applied:
        """suspend / reactivate / cancel each key; already in that state is success (the
        platform answers 200), and cancelling a subscription that is not there is too."""
        call = STATUS_CALLS[change.action]
        done = (404,) if call == "cancel" else ()
        for key in change.keys:
            if call == "cancel" and await self._subscription_id(key) is None:
                continue
            subscription_id = await self._known_id(key, f"nothing to {change.action.value}")
            path = f"/subscriptions/{subscription_id}/{call}"
            await self._write("POST", path, key, accept=(404, 409), done=done)
        return Applied()

    def _customer(self, change: Change, key: str, contract: str, *,
                  password: bool = True) -> dict[str, Any]:
        after = target(change)
        customer = {name: after.get(name) for name in ("name", "document", "email", "phone",
                                                       "login")}
        if password:
            customer["password"] = _password(change, key, contract, customer)
        return customer

    async def _subscription_id(self, key: str) -> str | None:
        """The id of ``key``: what observe or a write saw, else a filtered listing."""
        if key in self._ids:
            return self._ids[key]
        contract, label = split_key(key)
        isp = await self.isp_identifier()
        body = await self._page(1, contract_identifier=contract, label=label)
        for item in body["items"]:
            if item.get("isp_identifier") == isp and "subscription_id" in item:
                self._ids[key] = str(item["subscription_id"])
                return self._ids[key]
        return None

    async def _known_id(self, key: str, way_out: str) -> str:
        subscription_id = await self._subscription_id(key)
        if subscription_id is None:
            raise errors.NotFoundError(f"subscription {key} does not exist on campsoft; "
                                       f"{way_out}", integration=self.name)
        return subscription_id

    async def _write(
        self, method: str, path: str, key: str, *, json: Any = None,
        accept: Collection[int] = (), done: Collection[int] = (),
    ) -> httpx.Response:
        """One write for one key. A 409 on POST /subscriptions is "already subscribed"
        (success); statuses in ``done`` are success too; other refusals become clear errors."""
        response = await self._client.request(method, path, json=json, accept=accept)
        status = response.status_code
        if response.is_success or status in done:
            return response
        duplicate = status == 409 and path == "/subscriptions"
        if duplicate and "subscription_id" in self._client.json_object(response):
            return response
        raise self._refusal(key, response, json)

    def _refusal(self, key: str, response: httpx.Response, payload: Any) -> errors.ProviderError:
        status = response.status_code
        message = answer_field(response, "message") or f"HTTP {status}"
        customer = payload.get("customer", {}) if isinstance(payload, dict) else {}
        if status == 422 and customer and not (customer.get("email") and customer.get("phone")):
            text = MISSING_CONTACT.format(key=key)
        elif status == 422:
            text = f"subscription {key}: campsoft rejected it: {message}"
        elif status == 409:
            text = f"subscription {key} is cancelled on campsoft; create it again to reactivate it"
        else:
            text = f"subscription {key} does not exist on campsoft"
        cls = {422: errors.RejectedError, 409: errors.ConflictError}.get(status,
                                                                         errors.NotFoundError)
        return cls(self._client.scrub(text), integration=self.name, status=status,
                   detail=self._client.scrub(response.text))

    # -- check and close ---------------------------------------------------------------------

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The active product catalog alone (``reconcile sync``)."""
        return {"products": await self._fetch_products()}

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        return len(await self._fetch_products()), "active products", {}

    # -- response helpers --------------------------------------------------------------------

    def _list(self, response: httpx.Response, call: str) -> list[Any]:
        body = answer_json(response)
        if not isinstance(body, list):
            raise self._client.unexpected(call, {"body": response.text[:100]})
        return body

def split_key(key: str) -> tuple[str, str]:
    """``<contract>/<label>`` split on the first "/" (neither part may hold one)."""
    contract, sep, label = key.partition("/")
    if not sep or not contract or not label:
        raise errors.PlanError(f"subscription key {key!r} is not <contract_identifier>/<label>")
    return contract, label


def sends_password(change: Change) -> bool:
    """Whether an update carries the password: when the rule or the password it gives moved
    since the state recorded the one last sent, or when the state recorded no fingerprint
    (a subscription from before fingerprints were kept: sending it records one). Otherwise the
    customer goes without it, so a password the client changed on the platform stays."""
    before = change.before or {}
    return not before.get(PASSWORD_DIGEST) or bool(password_change(target(change), before))


def _password(change: Change, key: str, contract: str, customer: Mapping[str, Any]) -> str:
    """The password the seed's ``senha`` rule names; never logged, never kept in attrs."""
    rule = target(change).get("password_from") or "cpf_cnpj"
    if rule not in PASSWORDS:
        raise errors.PlanError(f"{change.id}: password_from must be one of "
                               f"{', '.join(PASSWORDS)}, not {rule!r}")
    value = password_of(rule, customer.get("document"), customer.get("login"), contract)
    if not value:
        raise errors.PlanError(f"subscription {key}: password_from {rule} gives an empty "
                               f"password; fill the client's {rule} or choose another rule")
    return value



def _pick(body: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in body:
            return body[name]
    return None




def _isp_option(integration: Integration) -> str | None:
    value = integration.options.get("isp_identifier")
    if value is not None and (not isinstance(value, str) or not value):
        raise errors.ReconcilerError(f"integration {integration.name!r}: option isp_identifier "
                                     f"must be a non-empty text, not {value!r}")
    return value
