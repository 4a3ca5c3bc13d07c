"""SaperX STFC simulator: the fixed-telephony platform HubSoft pushes numbers and links to.

SaperX publishes no API reference, so this wire contract is ours (PLATFORMS.md §4.7, §11). What
is FOUND (the HubSoft page, seed 000): IP + port + token auth; plans are pulled by a sync; numbers
are pushed singly or as an inclusive range (only "Número Inicial" = one number); a number is free
or linked to a client service and has a transmission status; listing searches by number or
linked client and filters by both statuses; free numbers can be deleted in bulk; unlinking puts
numbers in a removal queue drained by an internal routine; deleting/unlinking by range exists;
blocking in HubSoft blocks on the platform; ``numero_telefone_nf`` is a per-service parameter.

Everything below is ASSUMED (INFERRED) and is the place to correct once a real capture exists:

- Base URL ``http(s)://<IP>:<Porta>``, every path under ``/api``; ``Authorization: Bearer
  <token>``, a static token; bad or missing token -> 401 ``token_invalido``.
- Errors are ``{"erro": <code>, "mensagem": <Portuguese text>}`` with real HTTP statuses (not
  HubSoft's "200 + status:error"). Codes: token_invalido 401; numero_inexistente 404;
  numero_vinculado, ja_vinculado, numero_livre, numero_em_remocao 409; json_invalido 400;
  dados_invalidos, numero_invalido, faixa_invalida, faixa_muito_grande, plano_inexistente,
  parametro_invalido 422; rota_inexistente 404/405.
- Plans: ``{id, nome, tipo: pos|pre|controle, valor: "49.90" (a decimal string),
  franquia_minutos}``; plan ids are the platform's own (101..., not positions). Default catalog
  in ``DEFAULT_PLANS`` (saperx_stfc_store.py).
- Numbers: 10 digits, DDD (11..99, no zero digit) + 8-digit subscriber, DDI separate (default 55).
  A range must stay in one DDD, end >= start, at most 10,000 numbers. Registering an existing
  number is not an error: it is listed in ``duplicados`` (201 either way).
- Listing: 0-based ``pagina``, ``itens_por_pagina`` 1..1000 (default 100), sorted by number;
  ``numero`` is a substring search; ``cliente`` a case-insensitive substring of id_externo,
  documento or nome; a page past the end is empty, not an error.
- A link carries id_externo (HubSoft's id_cliente_servico), id_plano, documento, nome and string
  ``parametros``. Linking the same service again -> 409 ``ja_vinculado``; another service, or a
  number in the removal queue -> 409 ``numero_vinculado``. PUT /vinculo, bloquear/desbloquear on
  a queued number -> 409 ``numero_em_remocao``; on a free one -> 409 ``numero_livre``.
- Unlinking -> 202 and status ``em_remocao`` (link still shown, block cleared) until the routine
  runs ``removal_delay`` seconds later -> ``livre``. Unlinking a queued number is idempotent.
  Deleting a linked or queued number -> 409; bulk removal by range deletes only the free ones and
  lists the others in ``recusados`` with a ``motivo`` (numero_vinculado | numero_em_remocao).
- Transmission: ``transmitido`` at once on register/link/link change, unless the seeded
  ``transmission_error_rate`` draws ``erro``; ``retransmitir`` sets ``pendente`` and the next
  request's routine run transmits again.
- Monthly charges (the seed's Processar/Faturar): ``GET /api/faturamento?mes&ano&detalhado``
  lists, a page at a time in number order, each number linked at some moment of the month with
  what the platform billed it (``valor_total``, ``franquia``, ``excedente``, minutes, and with
  ``detalhado=true`` its ``chamadas``); ``fechado`` says the month is over. How charges are made
  up is in :mod:`.sim_billing`.
- Routines (transmissions, removal queue) run lazily at the start of every request, and in the
  served app also from a background task, so in-process and served behaviour are the same.

Simulator-only admin endpoints, unauthenticated and never faulted, under ``/_sim/``: counters
(``requests`` per "METHOD /route" that reached the platform, ``writes`` per number counting only
calls that changed something), reset, config (GET/POST), forced transmission status, drain,
a corrected charge (``/_sim/charges``) and links backdated (``/_sim/links/backdate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import SecretError
from reconciler.platforms.saperx_stfc.sim_billing import month_bounds
from reconciler.platforms.saperx_stfc.sim_store import (
    PLAN_TYPES,
    STATUSES,
    TRANSMISSIONS,
    ApiError,
    Link,
    Number,
    Store,
    number_range,
)
from reconciler.sim import wire
from reconciler.sim.clock import Clock
from reconciler.sim.faults import Faults

PLATFORM = "saperx-stfc"
EMBEDDED_REMOVAL_DELAY = 2.0  # short, so a number cancelled in one demo run is free in the next
TICK_INTERVAL = 0.5
SETTINGS = ("removal_delay", "transmission_error_rate", "plans", "calls_max_per_day")
MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
DIALECT = wire.portuguese(ApiError, unauthorized="Token de acesso inválido ou ausente.")


Sim = wire.Sim[Store]
Handler = Callable[[Sim, Request], Awaitable[Response]]


def create_app(
    token: str,
    *,
    removal_delay: float = 5.0,
    plans: Sequence[Mapping[str, Any]] | None = None,
    clock: Clock | None = None,
    faults: Faults | None = None,
    store: Store | None = None,
    seed: int | None = None,
    transmission_error_rate: float = 0.0,
) -> Starlette:
    """The simulator as a Starlette app; ``app.state.store`` and ``app.state.faults`` are live.

    ``store`` resumes a persisted platform (its plans are replaced only when ``plans`` is given);
    ``seed`` seeds the transmission errors of a new store and, when ``faults`` is not given,
    the fault layer (None: unseeded).
    """
    if store is None:
        store = Store(plans, clock=clock, seed=seed)
    if plans is not None:
        store.plans = store.initial_plans = [dict(p) for p in plans]
    if clock is not None:
        store.clock = clock
    store.removal_delay, store.transmission_error_rate = removal_delay, transmission_error_rate
    sim = Sim(store, faults or Faults(seed=seed))
    return wire.app(sim, DIALECT, _routes(sim, token), lifespan=_lifespan(store))


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    """The app behind an ``endpoint: embedded`` integration, resuming persisted ``data``."""
    token = credentials.get("token")
    if not token:
        raise SecretError("a saperx-stfc integration needs credentials.token")
    store = Store.from_json(data) if data else Store()
    return create_app(token, removal_delay=EMBEDDED_REMOVAL_DELAY, store=store)


def _lifespan(store: Store) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Run the platform's routines in the background while the app is served."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_tick_forever(store))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return lifespan


async def _tick_forever(store: Store) -> None:
    while True:
        await asyncio.sleep(TICK_INTERVAL)
        store.tick()


def _routes(sim: Sim, token: str) -> list[Route]:
    """The platform's routes and the admin ones; every request first runs the due routines."""
    api: list[tuple[str, str, Handler]] = [
        ("GET", "/api/planos", _list_plans),
        ("POST", "/api/numeros", _register),
        ("GET", "/api/numeros", _list_numbers),
        ("POST", "/api/numeros/remover", _remove_range),
        ("DELETE", "/api/numeros/{numero}", _delete),
        ("POST", "/api/numeros/{numero}/vincular", _link),
        ("PUT", "/api/numeros/{numero}/vinculo", _update_link),
        ("POST", "/api/numeros/{numero}/desvincular", _unlink),
        ("POST", "/api/numeros/{numero}/bloquear", _block),
        ("POST", "/api/numeros/{numero}/desbloquear", _unblock),
        ("POST", "/api/numeros/{numero}/retransmitir", _retransmit),
        ("GET", "/api/faturamento", _list_charges),
    ]
    admin = wire.admin_routes(DIALECT, settings=SETTINGS, config=_config, check=_check_settings)
    admin += [
        ("POST", "/_sim/numbers/{numero}/transmission", _force_transmission),
        ("POST", "/_sim/drain", _drain),
        ("POST", "/_sim/charges", _correct_charge),
        ("POST", "/_sim/links/backdate", _backdate),
    ]
    return wire.routes(sim, DIALECT, api, admin, authorized=_bearer(token),
                       before=sim.store.tick)


def _bearer(token: str) -> Callable[[Request], bool]:
    """Whether a request carries ``Authorization: Bearer <token>`` (the one static token)."""

    def authorized(request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())

    return authorized


# -- request parsing ---------------------------------------------------------------------------

_body, _field, _query_int, _query_choice = (
    DIALECT.body, DIALECT.field, DIALECT.query_int, DIALECT.query_choice)


def _params(body: Mapping[str, Any]) -> dict[str, str]:
    params = _field(body, "parametros", dict, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in params.items()):
        raise ApiError(422, "dados_invalidos", "Campo 'parametros' deve mapear texto em texto.")
    return dict(params)


def _numero(request: Request) -> str:
    return str(request.path_params["numero"])


def _number_response(number: Number, status: int = 200) -> JSONResponse:
    return JSONResponse(number.to_wire(), status)


# -- platform endpoints ------------------------------------------------------------------------


async def _list_plans(sim: Sim, request: Request) -> Response:
    return JSONResponse({"planos": sim.store.plans})


async def _register(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    first = _field(body, "numero_inicial", str)
    last = _field(body, "numero_final", str, None)
    numbers = number_range(first, last)
    created, duplicates = sim.store.register(numbers, _field(body, "ddi", int, 55))
    pairs = lambda items: [{"numero": n.numero, "id": n.id} for n in items]  # noqa: E731
    return JSONResponse({"criados": pairs(created), "duplicados": pairs(duplicates)}, 201)


async def _list_numbers(sim: Sim, request: Request) -> Response:
    page = _query_int(request, "pagina", 0, 0, 10**9)
    size = _query_int(request, "itens_por_pagina", 100, 1, 1000)
    items, total = sim.store.listing(_number_filter(request), page * size, size)
    return JSONResponse({
        "numeros": [n.to_wire() for n in items],
        "paginacao": {
            "pagina_atual": page,
            "itens_por_pagina": size,
            "total_registros": total,
            "ultima_pagina": max(0, (total - 1) // size),
        },
    })


def _number_filter(request: Request) -> Callable[[Number], bool] | None:
    """The listing's search and filters as one predicate, or None when there are none."""
    text = request.query_params.get("numero") or None
    client = (request.query_params.get("cliente") or "").casefold() or None
    status = _query_choice(request, "status", STATUSES)
    transmission = _query_choice(request, "transmissao", TRANSMISSIONS)
    if text is None and client is None and status is None and transmission is None:
        return None

    def keep(n: Number) -> bool:
        if (status and n.status != status) or (transmission and n.transmissao != transmission):
            return False
        if text and text not in n.numero:
            return False
        return not client or (n.vinculo is not None and _client_matches(n.vinculo, client))

    return keep


def _client_matches(link: Link, needle: str) -> bool:
    fields = (str(link.id_externo), link.documento, link.nome)
    return any(needle in value.casefold() for value in fields)


async def _remove_range(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    first, last = _field(body, "numero_inicial", str), _field(body, "numero_final", str)
    numbers = number_range(first, last)
    removed, refused = sim.store.remove_range(numbers[0], numbers[-1])
    return JSONResponse({"removidos": removed, "recusados": refused})


async def _delete(sim: Sim, request: Request) -> Response:
    sim.store.delete(_numero(request))
    return Response(status_code=204)


async def _link(sim: Sim, request: Request) -> Response:
    numero = _numero(request)
    sim.store.get(numero)  # 404 before validating the body
    body = await _body(request)
    link = Link(
        id_externo=_field(body, "id_externo", int),
        id_plano=_field(body, "id_plano", int),
        documento=_field(body, "documento", str),
        nome=_field(body, "nome", str),
        parametros=_params(body),
    )
    return _number_response(sim.store.link(numero, link, _field(body, "bloqueado", bool, False)))


async def _update_link(sim: Sim, request: Request) -> Response:
    numero = _numero(request)
    sim.store.get(numero)
    body = await _body(request)
    changes = {
        name: _field(body, name, kind) for name, kind in
        (("id_plano", int), ("documento", str), ("nome", str)) if name in body
    }
    if "parametros" in body:
        changes["parametros"] = _params(body)
    return _number_response(sim.store.update_link(numero, changes))


async def _unlink(sim: Sim, request: Request) -> Response:
    number = sim.store.unlink(_numero(request))
    return JSONResponse({"fila_remocao": number.to_wire()["fila_remocao"]}, 202)


async def _block(sim: Sim, request: Request) -> Response:
    return _number_response(sim.store.set_blocked(_numero(request), True))


async def _unblock(sim: Sim, request: Request) -> Response:
    return _number_response(sim.store.set_blocked(_numero(request), False))


async def _retransmit(sim: Sim, request: Request) -> Response:
    return _number_response(sim.store.retransmit(_numero(request)), 202)


async def _list_charges(sim: Sim, request: Request) -> Response:
    month = _query_int(request, "mes", 0, 1, 12)
    year = _query_int(request, "ano", 0, 2000, 2100)
    detailed = _query_choice(request, "detalhado", ("true", "false")) == "true"
    page = _query_int(request, "pagina", 0, 0, 10**9)
    size = _query_int(request, "itens_por_pagina", 100, 1, 1000)
    text = f"{year:04d}-{month:02d}"
    items, total = sim.store.charges(text, page * size, size, detailed)
    return JSONResponse({
        "mes": month, "ano": year, "fechado": month_bounds(text)[1] <= sim.store.clock.now(),
        "cobrancas": items,
        "paginacao": {"pagina_atual": page, "itens_por_pagina": size, "total_registros": total,
                      "ultima_pagina": max(0, (total - 1) // size)},
    })


# -- admin endpoints ---------------------------------------------------------------------------


def _config(sim: Sim) -> dict[str, Any]:
    store = sim.store
    return {
        "removal_delay": store.removal_delay,
        "transmission_error_rate": store.transmission_error_rate,
        "plans": store.plans,
        "calls_max_per_day": store.calls_max_per_day,
    }


def _check_settings(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _setting(name, value) for name, value in changes.items()}


def _setting(name: str, value: Any) -> Any:
    if name == "plans":
        return [_plan(item) for item in (value if isinstance(value, list) else [None])]
    if name == "calls_max_per_day":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 50:
            raise ApiError(422, "dados_invalidos", "'calls_max_per_day' deve ser um inteiro "
                           "de 0 a 50.")
        return value
    rate = name == "transmission_error_rate"
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= (
        1 if rate else float("inf")
    ):
        limits = "entre 0 e 1" if rate else ">= 0"
        raise ApiError(422, "dados_invalidos", f"'{name}' deve ser um número {limits}.")
    return float(value)


def _plan(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ApiError(422, "dados_invalidos", "Cada plano deve ser um objeto.")
    plan = {
        name: _field(item, name, kind)
        for name, kind in (("id", int), ("nome", str), ("tipo", str), ("valor", str),
                           ("franquia_minutos", int))
    }
    if plan["tipo"] not in PLAN_TYPES:
        raise ApiError(422, "dados_invalidos", f"Tipo de plano deve ser um de {list(PLAN_TYPES)}.")
    return plan


async def _force_transmission(sim: Sim, request: Request) -> Response:
    status = _field(await _body(request), "transmissao", str)
    if status not in TRANSMISSIONS:
        message = f"'transmissao' deve ser um de {list(TRANSMISSIONS)}."
        raise ApiError(422, "dados_invalidos", message)
    return _number_response(sim.store.force_transmission(_numero(request), status))


async def _drain(sim: Sim, request: Request) -> Response:
    return JSONResponse({"liberados": sim.store.drain(force=True)})


async def _correct_charge(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    numero, month = _field(body, "numero", str), _field(body, "mes", str)
    excedente = _field(body, "excedente", str)
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}", month) or not MONEY.match(excedente):
        raise ApiError(422, "dados_invalidos", "Use 'mes' AAAA-MM e 'excedente' como '12.30'.")
    return JSONResponse(sim.store.correct(numero, month, excedente))


async def _backdate(sim: Sim, request: Request) -> Response:
    body = await _body(request)
    try:
        since = datetime.strptime(_field(body, "desde", str), "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(422, "dados_invalidos", "Use 'desde' AAAA-MM-DD.") from None
    return JSONResponse({"movidos": sim.store.backdate(_field(body, "numero", str, None),
                                                         since.timestamp())})
