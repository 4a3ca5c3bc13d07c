"""Qualifica simulator: the content platform (courses) HubSoft creates users and grants products on.

Qualifica publishes no API reference, so this wire contract is ours (PLATFORMS.md §7.2, §11).
What is FOUND (the HubSoft page, seed 003): the integration takes ``client_id`` and
``client_secret`` and a token "is generated automatically" from them (Ações > Testar generates it
again); products are synchronised from the platform and have codes such as ``pro``, ``premium``
or a number; HubSoft enables a product when a package is added to an enabled service and can
suspend it for debt; ``data_expiracao`` may be given per package and defaults to exactly one year
after the day it is registered; the parameter "Usuário" picks what identifies the user on the
platform, ``login_autenticacao`` by default (user and password as in the ERP) and otherwise the
chosen field is both the user and the password (e.g. the CPF/CNPJ); the client's initial access is
a default one they may change later.

Everything below is ASSUMED (INFERRED) and is the place to correct once a real capture exists:

- OAuth2 client credentials: ``POST /oauth/token`` with a JSON or form body ``{grant_type:
  "client_credentials", client_id, client_secret}`` -> 200 ``{access_token, token_type: "Bearer",
  expires_in}``; wrong credentials -> 401 ``{"error": "invalid_client"}``, another grant type ->
  400 ``unsupported_grant_type``, missing fields -> 400 ``invalid_request``. Every other route
  needs ``Authorization: Bearer <token>``; bad or expired -> 401 ``token_invalido``. Tokens live
  ``token_ttl`` seconds by the simulator's clock and are never persisted.
- Errors are ``{"erro": <code>, "mensagem": <Portuguese text>}`` with real HTTP statuses. Codes:
  token_invalido 401; usuario_inexistente, produto_nao_vinculado, rota_inexistente 404;
  usuario_existente, produto_ja_vinculado, produto_cancelado 409; json_invalido 400;
  dados_invalidos, data_invalida, produto_inexistente, parametro_invalido 422.
- ``GET /produtos`` -> ``{"produtos": [{codigo, nome, ativo}]}``, inactive ones included. Default
  catalog in ``DEFAULT_PRODUCTS`` (qualifica_store.py).
- ``GET /usuarios?pagina=0&por_pagina=100``: 0-based pages, ``por_pagina`` 1..1000, sorted by
  usuario, ``{"usuarios", "pagina", "por_pagina", "total", "paginas"}``; a page past the end is
  empty. A user is ``{usuario, nome, email, documento, produtos: [{produto, status: ativo |
  suspenso | cancelado, data_expiracao: "YYYY-MM-DD", id_cliente_servico}]}``; the password is
  never shown.
- ``POST /usuarios {usuario, nome, email?, documento, senha?}`` -> 201 (no senha: the platform's
  default initial access); exists -> 409 ``usuario_existente``. ``usuario`` may hold "@" or "."
  but not "/" or spaces. ``PUT /usuarios/{usuario} {nome, email, documento}`` -> 200. Users are
  never deleted.
- ``POST /usuarios/{usuario}/produtos {produto, data_expiracao?, id_cliente_servico?}`` -> 201;
  already ativo/suspenso -> 409 ``produto_ja_vinculado``; a cancelled grant is reactivated with
  the new data; unknown or inactive product -> 422 ``produto_inexistente`` listing valid codes;
  no data_expiracao -> today + 365 days (today = the clock's UTC date).
- ``PATCH /usuarios/{usuario}/produtos/{produto} {status?, data_expiracao?,
  id_cliente_servico?}`` -> 200 (status ativo | suspenso; ``id_cliente_servico: null`` clears it);
  on a cancelled one -> 409 ``produto_cancelado``. ``DELETE`` of it -> 200, status ``cancelado``
  (kept in the listing); cancelling again -> 200, nothing changes.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route" that reached the platform, ``writes`` per natural key counting
only calls that changed something, ``logins``), reset, config (GET/POST: fault settings,
``token_ttl``, ``products``) and ``tokens/expire`` (invalidates every live token).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.platforms.qualifica.sim_store import (
    KEEP,
    ApiError,
    Entitlement,
    Store,
    StoreClock,
    User,
    catalog,
    senha_digest,
)
from reconciler.sim import wire
from reconciler.sim.clock import Clock
from reconciler.sim.faults import Faults
from reconciler.sim.tokens import DEFAULT_TTL, TokenIssuer

PLATFORM = "qualifica"
DEFAULT_CLIENT_ID = "sim-client"
GRANT_TYPE = "client_credentials"
LOGIN = "/oauth/token"
USUARIO = re.compile(r"^[^/\s]{1,128}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DIALECT = wire.portuguese(ApiError, unauthorized="Token de acesso inválido ou expirado.",
                          blank=lambda value: not value.strip())


Sim = wire.LoginSim[Store]
Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    token_ttl: float = DEFAULT_TTL,
    products: Sequence[Mapping[str, Any]] | None = None,
) -> Starlette:
    """The simulator as a Starlette app; ``token`` is the client_secret it accepts.

    ``app.state.store``, ``app.state.faults`` and ``app.state.tokens`` are live. ``store``
    resumes a persisted platform (its catalog is replaced only when ``products`` is given);
    ``seed`` seeds the fault layer when ``faults`` is not given.
    """
    checked = catalog(products) if products is not None else None
    ttl = _ttl(token_ttl)
    if store is None:
        store = Store(checked, clock=clock)
    if checked is not None:
        store.products, store.initial_products = checked, [dict(p) for p in checked]
    if clock is not None:
        store.clock = clock
    tokens = TokenIssuer(ttl, StoreClock(store))
    sim = Sim(store, faults or Faults(seed=seed), tokens, (client_id, token))
    return wire.app(sim, DIALECT, _routes(sim))


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` integration, resuming persisted ``data``."""
    client_id, secret = credentials.get("client_id"), credentials.get("client_secret")
    if not client_id or not secret:
        raise SecretError(
            "a qualifica integration needs credentials.client_id and credentials.client_secret"
        )
    store = Store.from_json(data) if data else Store()
    return create_app(secret, client_id=client_id, store=store)


def _routes(sim: Sim) -> list[Route]:
    """The login, the platform's routes (bearer token) and the admin ones."""
    api: list[tuple[str, str, Handler]] = [
        ("POST", LOGIN, _login),
        ("GET", "/produtos", _list_products),
        ("GET", "/usuarios", _list_users),
        ("POST", "/usuarios", _create_user),
        ("PUT", "/usuarios/{usuario}", _update_user),
        ("POST", "/usuarios/{usuario}/produtos", _grant),
        ("PATCH", "/usuarios/{usuario}/produtos/{produto}", _change),
        ("DELETE", "/usuarios/{usuario}/produtos/{produto}", _cancel),
    ]
    admin = wire.admin_routes(DIALECT, settings=("token_ttl", "products"), config=_config,
                              check=_check_settings, tokens=True)
    return wire.routes(sim, DIALECT, api, admin, authorized=wire.token_check(sim.tokens),
                       public=(LOGIN,))


# -- request parsing ---------------------------------------------------------------------------

_body, _field, _query_int = DIALECT.body, DIALECT.field, DIALECT.query_int


def _date(body: Mapping[str, Any]) -> str | None:
    """``data_expiracao`` as YYYY-MM-DD, or None when absent."""
    value = body.get("data_expiracao")
    if value is None:
        return None
    try:
        if isinstance(value, str) and ISO_DATE.match(value):
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise ApiError(422, "data_invalida", f"data_expiracao {value!r} inválida (use AAAA-MM-DD).")


def _path(request: Request, name: str) -> str:
    return str(request.path_params[name])


# -- auth --------------------------------------------------------------------------------------


async def _login(sim: Sim, request: Request) -> Response:
    """OAuth2 client credentials; answers in OAuth's own error format, not ``{"erro"}``."""
    form = await wire.login_form(request)
    if form is None or not form.get("client_id") or not form.get("client_secret"):
        return JSONResponse({"error": "invalid_request"}, 400)
    if form.get("grant_type") != GRANT_TYPE:
        return JSONResponse({"error": "unsupported_grant_type"}, 400)
    client_id, client_secret = sim.login
    same_id = hmac.compare_digest(str(form["client_id"]).encode(), client_id.encode())
    same_secret = hmac.compare_digest(str(form["client_secret"]).encode(), client_secret.encode())
    if not (same_id and same_secret):
        return JSONResponse({"error": "invalid_client"}, 401, headers={"www-authenticate": "Basic"})
    token, _ = sim.tokens.issue()
    sim.store.logins += 1
    expires_in = int(sim.tokens.ttl) if float(sim.tokens.ttl).is_integer() else sim.tokens.ttl
    return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": expires_in})


# -- platform endpoints ------------------------------------------------------------------------


async def _list_products(sim: Sim, request: Request) -> Response:
    return JSONResponse({"produtos": sim.store.products})


async def _list_users(sim: Sim, request: Request) -> Response:
    page = _query_int(request, "pagina", 0, 0, 10**9)
    size = _query_int(request, "por_pagina", 100, 1, 1000)
    users, total = sim.store.listing(page * size, size)
    return JSONResponse({
        "usuarios": [u.to_wire() for u in users],
        "pagina": page,
        "por_pagina": size,
        "total": total,
        "paginas": -(-total // size),
    })


async def _create_user(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    usuario = _field(body, "usuario", str)
    if not USUARIO.match(usuario):
        message = "Campo 'usuario' inválido: até 128 caracteres, sem '/' nem espaços."
        raise ApiError(422, "dados_invalidos", message)
    senha = _field(body, "senha", str, None)
    user = User(
        usuario=usuario,
        nome=_field(body, "nome", str),
        documento=_field(body, "documento", str),
        email=_field(body, "email", str, None),
        senha_sha256=senha_digest(senha) if senha is not None else None,
    )
    return JSONResponse(sim.store.create_user(user).to_wire(), 201)


async def _update_user(sim: Sim, request: Request) -> Response:
    usuario = _path(request, "usuario")
    sim.store.user(usuario)  # 404 before validating the body
    body = await _body(request)
    nome, documento = _field(body, "nome", str), _field(body, "documento", str)
    user = sim.store.update_user(usuario, nome, _field(body, "email", str, None), documento)
    return JSONResponse(user.to_wire())


async def _grant(sim: Sim, request: Request) -> Response:
    usuario = _path(request, "usuario")
    sim.store.user(usuario)
    body = await _body(request)
    granted = sim.store.grant(
        usuario,
        _field(body, "produto", str),
        _date(body),
        _field(body, "id_cliente_servico", int, None),
    )
    return _entitlement(granted, 201)


async def _change(sim: Sim, request: Request) -> Response:
    usuario, produto = _path(request, "usuario"), _path(request, "produto")
    sim.store.entitlement(usuario, produto)
    body = await _body(request)
    status = _field(body, "status", str, None)
    if status not in (None, "ativo", "suspenso"):
        message = "Campo 'status' deve ser 'ativo' ou 'suspenso' (para cancelar, use DELETE)."
        raise ApiError(422, "dados_invalidos", message)
    servico = KEEP  # absent: unchanged; null: cleared
    if "id_cliente_servico" in body:
        servico = _field(body, "id_cliente_servico", int, None)
    data = _date(body)
    if status is None and data is None and servico is KEEP:
        raise ApiError(422, "dados_invalidos", "Nenhum campo a alterar.")
    changed = sim.store.change(usuario, produto, status=status, data_expiracao=data,
                               servico=servico)
    return _entitlement(changed)


async def _cancel(sim: Sim, request: Request) -> Response:
    cancelled = sim.store.cancel(_path(request, "usuario"), _path(request, "produto"))
    return _entitlement(cancelled)


def _entitlement(item: Entitlement, status: int = 200) -> JSONResponse:
    return JSONResponse(item.to_wire(), status)


# -- admin endpoints ---------------------------------------------------------------------------


def _config(sim: Sim) -> dict[str, Any]:
    return {"token_ttl": sim.tokens.ttl, "products": sim.store.products}


def _check_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``token_ttl`` then ``products`` (null: unchanged), ValueError saying what is wrong."""
    checked: dict[str, Any] = {}
    if "token_ttl" in changes:
        checked["token_ttl"] = _ttl(changes["token_ttl"])
    if changes.get("products") is not None:
        checked["products"] = catalog(changes["products"])
    return checked


def _ttl(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError("token_ttl must be a number of seconds > 0")
    return float(value)
