"""Campsoft simulator: the digital-books content platform HubSoft subscribes clients to.

What is FOUND (PLATFORMS.md §7.3, from a public client of Campsoft's "SVAs" API, and seed 004):
base URL ``https://api2.campsoft.com.br/svas/v1``; ``POST /authentication {ApiKey, ApiSecret}``
answers ``{AccessToken, ExpiresIn}`` where ExpiresIn is an absolute Unix epoch, not a duration
(the field casing was seen through a case-insensitive deserializer, so both casings are
accepted); every other call sends ``Authorization: Bearer <AccessToken>``; ``GET /isps`` lists
the ISPs the credential sees; ``POST /validation {isp_identifier, login, password}`` answers
``{userkey, email: {data}, products: [{code, status}]}`` or a non-2xx ``{message}``; product codes
are numeric strings. From the seed: only active products are synchronised; one product per
package; the client must have an e-mail and a phone; ``senha`` (default cpf_cnpj),
``id_contrato`` (sent as ``contract_identifier``, default id_cliente_servico) and ``label``
(generated) are per-package parameters; subscriptions are enabled and suspended with the client
service.

Everything below is ASSUMED (INFERRED) and is the place to correct once a real capture exists:

- Errors are ``{"message": <English text>}`` with real HTTP statuses: 400 bad JSON, 401 bad
  credentials or a missing/invalid/expired token, 404 unknown subscription or route, 409 state
  conflicts, 422 invalid data.
- ``GET /products?status=active|inactive|all`` -> ``{"products": [{code, name, status}]}``;
  without ``status`` only active products are listed.
- ``GET /subscriptions?page=1&per_page=100`` (1-based, per_page 1..1000) with optional exact
  filters ``contract_identifier``, ``label``, ``status`` -> ``{"items", "page", "per_page",
  "total", "pages"}``, in creation order; a page past the end is empty. An item is
  ``{subscription_id ("sub-000123"), isp_identifier, contract_identifier, label, product_code,
  status: active|suspended|cancelled, customer: {name, document, email, phone, login}}``; the
  password is never returned (the store keeps only its SHA-256 digest). Cancelled subscriptions
  stay listed.
- ``POST /subscriptions {isp_identifier, contract_identifier, label, product_code, customer:
  {name, document, email, phone, login, password}}`` -> 201 ``{subscription_id, status}``. A
  missing or empty e-mail or phone -> 422 ``customer e-mail and phone are required``; an unknown
  or inactive product or an unknown ISP -> 422; (isp, contract_identifier, label) already active
  or suspended -> 409 ``{message, subscription_id}``; already cancelled -> reactivated with the
  new data (201, same id).
- ``PUT /subscriptions/{id} {product_code?, customer?}`` -> 200 with the item; customer fields
  given replace the stored ones; 409 when cancelled.
- ``POST /subscriptions/{id}/suspend|reactivate|cancel`` -> 200 with the item; already in that
  state is 200 and no write; suspend/reactivate of a cancelled one -> 409.
- The simulator has one ISP, ``isp-sim``, unless ``isps`` is given or configured.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route" that reached the platform, ``writes`` per
``contract_identifier/label`` counting only calls that changed something, ``logins``), reset,
config (GET/POST: fault settings, ``token_ttl``, ``products``, ``isps``), ``tokens/expire``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.platforms.campsoft.sim_store import (
    CUSTOMER_FIELDS,
    MISSING_CONTACT,
    PRODUCT_STATUSES,
    STATUSES,
    ApiError,
    Customer,
    Store,
    Subscription,
    password_digest,
)
from reconciler.sim import wire
from reconciler.sim.clock import Clock
from reconciler.sim.faults import Faults
from reconciler.sim.tokens import DEFAULT_TTL, TokenIssuer

PLATFORM = "campsoft"
DEFAULT_API_KEY = "sim-key"
LOGIN = "/authentication"
DIALECT = wire.english(ApiError)


Sim = wire.LoginSim[Store]
Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    api_key: str = DEFAULT_API_KEY,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    token_ttl: float = DEFAULT_TTL,
    products: Sequence[Mapping[str, Any]] | None = None,
    isps: Sequence[Mapping[str, Any]] | None = None,
) -> Starlette:
    """The simulator as a Starlette app; ``app.state.store`` and ``app.state.faults`` are live.

    ``token`` is the ApiSecret and ``api_key`` the ApiKey clients log in with. ``store`` resumes
    a persisted platform (its products or ISPs are replaced only when given); ``seed`` seeds the
    fault layer when ``faults`` is not given. Tokens live ``token_ttl`` seconds by ``clock``.
    """
    if store is None:
        store = Store(products, isps=isps)
    if products is not None:
        store.products = store.initial_products = [dict(p) for p in products]
    if isps is not None:
        store.isps = [dict(i) for i in isps]
    tokens = TokenIssuer(token_ttl, clock)
    sim = Sim(store, faults or Faults(seed=seed), tokens, (api_key, token))
    return wire.app(sim, DIALECT, _routes(sim))


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` integration, resuming persisted ``data``."""
    for name in ("api_key", "api_secret"):
        if not credentials.get(name):
            raise SecretError(f"a campsoft integration needs credentials.{name}")
    store = Store.from_json(data) if data else Store()
    return create_app(credentials["api_secret"], api_key=credentials["api_key"], store=store)


def _routes(sim: Sim) -> list[Route]:
    """The platform's routes (bearer token, the login excepted) and the admin ones."""
    api: list[tuple[str, str, Handler]] = [
        ("POST", LOGIN, _login),
        ("GET", "/isps", _list_isps),
        ("GET", "/products", _list_products),
        ("GET", "/subscriptions", _list_subscriptions),
        ("POST", "/subscriptions", _subscribe),
        ("PUT", "/subscriptions/{subscription_id}", _update),
        ("POST", "/subscriptions/{subscription_id}/suspend", _status_change("suspend")),
        ("POST", "/subscriptions/{subscription_id}/reactivate", _status_change("reactivate")),
        ("POST", "/subscriptions/{subscription_id}/cancel", _status_change("cancel")),
        ("POST", "/validation", _validation),
    ]
    admin = wire.admin_routes(DIALECT, settings=("token_ttl", "products", "isps"),
                              config=_config, check=_check_settings, tokens=True)
    return wire.routes(sim, DIALECT, api, admin, authorized=wire.token_check(sim.tokens),
                       public=(LOGIN,))


# -- request parsing ---------------------------------------------------------------------------

_body, _field, _query_int, _query_choice = (
    DIALECT.body, DIALECT.field, DIALECT.query_int, DIALECT.query_choice)


def _customer_fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The customer object's fields, type-checked (e-mail and phone may not be empty), with
    the password replaced by its digest."""
    customer = body.get("customer")
    if not isinstance(customer, dict):
        raise ApiError(422, "field 'customer' is missing or invalid")
    out: dict[str, Any] = {}
    for name in CUSTOMER_FIELDS:
        if partial and name not in customer:
            continue
        if name in ("email", "phone") and not customer.get(name):
            raise ApiError(422, MISSING_CONTACT)
        optional = name in ("login", "password")
        out[name] = _field(customer, name, str, None) if optional else _field(customer, name, str)
    if "password" in out:
        password = out.pop("password")
        out["password_sha256"] = password_digest(password) if password is not None else None
    return out


def _subscription_id(request: Request) -> str:
    return str(request.path_params["subscription_id"])


# -- platform endpoints ------------------------------------------------------------------------


async def _login(sim: Sim, request: Request) -> Response:
    """Both ``ApiKey``/``ApiSecret`` and ``apiKey``/``apiSecret`` are accepted."""
    body = await _body(request)
    key = body.get("ApiKey", body.get("apiKey"))
    secret = body.get("ApiSecret", body.get("apiSecret"))
    api_key, api_secret = sim.login
    if not (_same(key, api_key) and _same(secret, api_secret)):
        raise ApiError(401, "invalid ApiKey or ApiSecret")
    token, expires_at = sim.tokens.issue()
    sim.store.logins += 1
    return JSONResponse({"AccessToken": token, "ExpiresIn": int(expires_at)})


def _same(given: Any, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


async def _list_isps(sim: Sim, request: Request) -> Response:
    return JSONResponse(sim.store.isps)


async def _list_products(sim: Sim, request: Request) -> Response:
    wanted = _query_choice(request, "status", (*PRODUCT_STATUSES, "all")) or "active"
    products = [p for p in sim.store.products if wanted in ("all", p["status"])]
    return JSONResponse({"products": products})


async def _list_subscriptions(sim: Sim, request: Request) -> Response:
    page = _query_int(request, "page", 1, 1, 10**9)
    size = _query_int(request, "per_page", 100, 1, 1000)
    items, total = sim.store.listing(_subscription_filter(request), (page - 1) * size, size)
    return JSONResponse({
        "items": [s.to_wire() for s in items],
        "page": page,
        "per_page": size,
        "total": total,
        "pages": -(-total // size),
    })


def _subscription_filter(request: Request) -> Callable[[Subscription], bool] | None:
    """The listing's exact-match filters as one predicate, or None when there are none."""
    contract = request.query_params.get("contract_identifier") or None
    label = request.query_params.get("label") or None
    status = _query_choice(request, "status", STATUSES)
    if contract is None and label is None and status is None:
        return None

    def keep(s: Subscription) -> bool:
        return ((contract is None or s.contract_identifier == contract)
                and (label is None or s.label == label)
                and (status is None or s.status == status))

    return keep


async def _subscribe(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    sub = sim.store.subscribe(
        _field(body, "isp_identifier", str),
        _field(body, "contract_identifier", str),
        _field(body, "label", str),
        _field(body, "product_code", str),
        Customer(**_customer_fields(body, partial=False)),
    )
    return JSONResponse({"subscription_id": sub.subscription_id, "status": sub.status}, 201)


async def _update(sim: Sim, request: Request) -> Response:
    subscription_id = _subscription_id(request)
    sim.store.get(subscription_id)
    body = await _body(request)
    product = _field(body, "product_code", str, None)
    customer = _customer_fields(body, partial=True) if "customer" in body else {}
    return JSONResponse(sim.store.update(subscription_id, product, customer).to_wire())


def _status_change(operation: str) -> Handler:
    async def handler(sim: Sim, request: Request) -> Response:
        sub = sim.store.set_status(_subscription_id(request), operation)
        return JSONResponse(sub.to_wire())

    handler.__name__ = f"_{operation}"
    return handler


async def _validation(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    isp = _field(body, "isp_identifier", str)
    user = sim.store.validate(isp, _field(body, "login", str), _field(body, "password", str))
    if user is None:
        raise ApiError(401, "invalid login or password")
    return JSONResponse(user)


# -- admin endpoints ---------------------------------------------------------------------------


def _config(sim: Sim) -> dict[str, Any]:
    return {"token_ttl": sim.tokens.ttl, "products": sim.store.products, "isps": sim.store.isps}


def _check_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _setting(name, value) for name, value in changes.items()}


def _setting(name: str, value: Any) -> Any:
    if name == "token_ttl":
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ApiError(422, "'token_ttl' must be a number of seconds > 0")
        return float(value)
    if not isinstance(value, list) or not value:
        raise ApiError(422, f"'{name}' must be a non-empty list of objects")
    parse = _product if name == "products" else _isp
    items = [parse(item) for item in value]
    ids = [item["code" if name == "products" else "isp_identifier"] for item in items]
    if len(set(ids)) != len(ids):
        raise ApiError(422, f"'{name}' lists the same identifier twice")
    return items


def _product(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ApiError(422, "each product must be an object")
    product = {name: _field(item, name, str) for name in ("code", "name", "status")}
    if not product["code"].isdigit():
        raise ApiError(422, "a product code is a numeric string such as '1234567'")
    if product["status"] not in PRODUCT_STATUSES:
        raise ApiError(422, f"a product status is one of {', '.join(PRODUCT_STATUSES)}")
    return product


def _isp(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ApiError(422, "each ISP must be an object")
    return {name: _field(item, name, str) for name in ("isp_identifier", "name")}
