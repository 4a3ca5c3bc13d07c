"""The HTTP plumbing the platform simulators share: refusals, endpoints, parsing and admin routes.

Each simulator (:mod:`reconciler.platforms.saperx_stfc.sim`, :mod:`reconciler.platforms.qualifica.sim`,
:mod:`reconciler.platforms.campsoft.sim`) keeps its own routes, handlers and rules; what they do alike is
here, worded by a :class:`Dialect`: SaperX STFC and Qualifica answer ``{"erro", "mensagem"}`` in
Portuguese, Campsoft ``{"message", ...extra}`` in English. Every refusal is an :class:`ApiError`
whose platform subclass shapes the JSON body; a 401 also carries ``www-authenticate: Bearer``
unless the dialect's ``challenge`` says otherwise (OZmap's raw API key has no scheme).

- :func:`routes` wraps each handler: count the request (``"METHOD /route"``), authenticate
  (admin routes and the ``public`` ones excepted), and turn an ApiError into its response.
- :func:`app` builds the Starlette app with the fault layer, and answers unknown routes and
  wrong methods (404/405) as the platform words it.
- :class:`Dialect` parses request bodies, typed fields (null counts as absent, a bool is not an
  int) and bounded query parameters.
- :func:`admin_routes` serves ``/_sim/counters``, ``reset``, ``config`` (GET/POST) and, with
  tokens, ``tokens/expire``. A POST to config checks the platform's settings, then applies the
  fault settings (:data:`~reconciler.sim.faults.FAULT_SETTINGS`), then the platform's: a bad
  value leaves everything as it was; :func:`seconds` checks a lifetime setting.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.bounds import MAX_REQUEST_BYTES
from reconciler.sim.body_limit import BodyLimitMiddleware
from reconciler.sim.faults import FAULT_SETTINGS, FaultMiddleware, Faults
from reconciler.sim.tokens import TokenIssuer, bearer

StoreT = TypeVar("StoreT")
Handler = Callable[[Any, Request], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
Lifespan = Callable[[Starlette], Any]
_MISSING = object()


@dataclass
class Sim(Generic[StoreT]):
    """What every endpoint of a simulator works on."""

    store: StoreT
    faults: Faults


@dataclass
class LoginSim(Sim[StoreT]):
    """A simulator whose platform has a login step: the tokens it issues, and the (id, secret)
    pair its login accepts."""

    tokens: TokenIssuer
    login: tuple[str, str]


class ApiError(Exception):
    """A refusal a simulated platform answers with a real HTTP status and the JSON :meth:`body`
    of its subclass (each platform's store has one)."""

    def __init__(self, status: int, summary: str) -> None:
        super().__init__(summary)
        self.status = status

    def body(self) -> dict[str, Any]:
        raise NotImplementedError


class PortugueseError(ApiError):
    """A refusal answered ``{"erro": <code>, "mensagem": <Portuguese text>}``."""

    def __init__(self, status: int, erro: str, mensagem: str) -> None:
        super().__init__(status, f"{status} {erro}: {mensagem}")
        self.erro, self.mensagem = erro, mensagem

    def body(self) -> dict[str, Any]:
        return {"erro": self.erro, "mensagem": self.mensagem}


# What the shared code refuses: kind -> (HTTP status, the ``erro`` code of the Portuguese body).
_KINDS = {
    "unauthorized": (401, "token_invalido"),
    "not_json": (400, "json_invalido"),
    "not_object": (400, "json_invalido"),
    "too_large": (413, "requisicao_muito_grande"),
    "bad_field": (422, "dados_invalidos"),
    "blank_field": (422, "dados_invalidos"),
    "bad_int": (422, "parametro_invalido"),
    "bad_choice": (422, "parametro_invalido"),
    "unknown_settings": (422, "dados_invalidos"),
    "bad_setting": (422, "dados_invalidos"),
}
NO_ROUTE = "rota_inexistente"

PORTUGUESE = {
    "no_route": "Rota {route} inexistente.",
    "not_json": "Corpo da requisição não é JSON.",
    "not_object": "Corpo da requisição deve ser um objeto JSON.",
    "too_large": "Corpo da requisição maior que {limit} bytes.",
    "bad_field": "Campo '{name}' ausente ou inválido.",
    "blank_field": "Campo '{name}' não pode ser vazio.",
    "bad_int": "Parâmetro '{name}' deve estar entre {low} e {high}.",
    "bad_choice": "Parâmetro '{name}' deve ser um de {choices}.",
    "unknown_settings": "Configurações desconhecidas: {names}.",
    "bad_setting": "{reason}",
}
ENGLISH = {
    "no_route": "route {route} not found",
    "unauthorized": "invalid or expired access token",
    "not_json": "the request body is not JSON",
    "not_object": "the request body must be a JSON object",
    "too_large": "the request body is larger than {limit} bytes",
    "bad_field": "field '{name}' is missing or invalid",
    "blank_field": "field '{name}' is missing or invalid",
    "bad_int": "parameter '{name}' must be between {low} and {high}",
    "bad_choice": "parameter '{name}' must be one of {choices}",
    "unknown_settings": "unknown settings: {names}",
    "bad_setting": "{reason}",
}


@dataclass(frozen=True)
class Dialect:
    """How one platform words and shapes the refusals of the shared code, and parses requests.

    ``refusal(status, erro, text)`` builds the platform's ApiError (an English one ignores the
    code); ``texts`` are the templates above; ``choices`` writes a list of allowed values;
    ``blank`` tells a refused blank text (None: empty text is accepted); ``challenge`` is the
    ``www-authenticate`` of a 401 (None: no such header).
    """

    refusal: Callable[[int, str, str], ApiError]
    texts: Mapping[str, str]
    choices: Callable[[Sequence[str]], str]
    blank: Callable[[str], bool] | None = None
    challenge: str | None = "Bearer"

    def refuse(self, kind: str, **values: Any) -> ApiError:
        status, erro = _KINDS[kind]
        return self.refusal(status, erro, self.texts[kind].format(**values))

    def response(self, exc: ApiError) -> JSONResponse:
        challenge = self.challenge if exc.status == 401 else None
        headers = {"www-authenticate": challenge} if challenge else None
        return JSONResponse(exc.body(), exc.status, headers=headers)

    async def no_route(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        text = self.texts["no_route"].format(route=f"{request.method} {request.url.path}")
        return self.response(self.refusal(status, NO_ROUTE, text))

    async def body(self, request: Request) -> dict[str, Any]:
        """The request body, which must be a JSON object."""
        try:
            data = await request.json()
        except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
            raise self.refuse("not_json") from None
        if not isinstance(data, dict):
            raise self.refuse("not_object")
        return data

    def field(self, body: Mapping[str, Any], name: str, kind: type, default: Any = _MISSING) -> Any:
        """A typed field of a request body; null counts as absent, and a bool is not an int."""
        value = body.get(name)
        if value is None and default is not _MISSING:
            return default
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise self.refuse("bad_field", name=name)
        if self.blank is not None and isinstance(value, str) and self.blank(value):
            raise self.refuse("blank_field", name=name)
        return value

    def query_int(self, request: Request, name: str, default: int, low: int, high: int) -> int:
        raw = request.query_params.get(name)
        value = default if raw in (None, "") else int(raw) if raw.isdigit() else -1
        if not low <= value <= high:
            raise self.refuse("bad_int", name=name, low=low, high=high)
        return value

    def query_choice(self, request: Request, name: str, choices: Sequence[str]) -> str | None:
        value = request.query_params.get(name) or None
        if value is not None and value not in choices:
            raise self.refuse("bad_choice", name=name, choices=self.choices(choices))
        return value


def portuguese(
    refusal: Callable[[int, str, str], ApiError],
    *,
    unauthorized: str,
    blank: Callable[[str], bool] | None = None,
) -> Dialect:
    """The ``{"erro", "mensagem"}`` dialect; ``unauthorized`` is the 401's mensagem."""
    texts = {**PORTUGUESE, "unauthorized": unauthorized}
    return Dialect(refusal, texts, lambda choices: str(list(choices)), blank)


def english(refusal: Callable[[int, str], ApiError]) -> Dialect:
    """The ``{"message"}`` dialect; an empty text counts as a missing field."""
    return Dialect(lambda status, _erro, text: refusal(status, text), ENGLISH, ", ".join,
                   lambda value: not value)


def app(
    sim: Any, dialect: Dialect, routes: list[Route], *, lifespan: Lifespan | None = None
) -> Starlette:
    """The simulator's app behind the fault layer; ``app.state.store`` and ``.faults`` (and
    ``.tokens`` for a :class:`LoginSim`) are live."""
    built = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimitMiddleware, too_large=lambda: dialect.response(
                        dialect.refuse("too_large", limit=MAX_REQUEST_BYTES))),
                    Middleware(FaultMiddleware, faults=sim.faults)],
        exception_handlers={HTTPException: dialect.no_route},
        lifespan=lifespan,
    )
    built.state.store, built.state.faults = sim.store, sim.faults
    if isinstance(sim, LoginSim):
        built.state.tokens = sim.tokens
    return built


def routes(
    sim: Any,
    dialect: Dialect,
    api: Sequence[tuple[str, str, Handler]],
    admin: Sequence[tuple[str, str, Handler]],
    *,
    authorized: Callable[[Request], bool],
    public: Collection[str] = (),
    before: Callable[[], None] | None = None,
) -> list[Route]:
    """The platform's routes (counted; authenticated unless their path is ``public``), then the
    admin ones (neither); ``before`` runs at the start of every request."""

    def endpoint(
        method: str, path: str, handler: Handler, *, counted: bool, auth: bool
    ) -> Endpoint:
        async def serve(request: Request) -> Response:
            if before is not None:
                before()
            try:
                if counted:
                    sim.store.count(f"{method} {path}")
                if auth and not authorized(request):
                    raise dialect.refuse("unauthorized")
                return await handler(sim, request)
            except ApiError as exc:
                return dialect.response(exc)

        return serve

    out = [Route(p, endpoint(m, p, h, counted=True, auth=p not in public), methods=[m])
           for m, p, h in api]
    out += [Route(p, endpoint(m, p, h, counted=False, auth=False), methods=[m])
            for m, p, h in admin]
    return out


async def login_form(request: Request) -> dict[str, Any] | None:
    """The login body, JSON or application/x-www-form-urlencoded; None when unreadable."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        data = json.loads(raw or b"null")
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def token_check(tokens: TokenIssuer) -> Callable[[Request], bool]:
    """Whether a request's ``Authorization: Bearer`` token is one ``tokens`` issued, still live."""
    return lambda request: tokens.valid(bearer(request.headers.get("authorization")))


def seconds(value: Any, name: str) -> float:
    """A lifetime setting (``token_ttl`` and the like): a number of seconds > 0, else a
    ValueError naming it (what :func:`admin_routes`' ``check`` raises for a 422)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds > 0")
    return float(value)


def admin_routes(
    dialect: Dialect,
    *,
    settings: Collection[str],
    config: Callable[[Any], dict[str, Any]],
    check: Callable[[dict[str, Any]], dict[str, Any]],
    tokens: bool = False,
    extra_counters: Collection[str] = (),
) -> list[tuple[str, str, Handler]]:
    """The ``/_sim/`` endpoints every simulator has.

    ``config(sim)`` is what GET config shows before the fault settings; ``check(changes)``
    validates the platform's ``settings`` a POST gives (ApiError, or ValueError for a 422) and
    returns the values to apply: ``token_ttl`` to ``sim.tokens.ttl``, the others to the store's
    attributes of the same name. ``tokens``: the platform has a login (``logins`` counter,
    ``tokens/expire``). ``extra_counters`` names further integer attributes of the store
    that the counters answer shows (SaperX v2's ``refreshes``).
    """

    async def counters(sim: Any, request: Request) -> Response:
        writes = {key: dict(ops) for key, ops in sorted(sim.store.writes.items())}
        out: dict[str, Any] = {"requests": dict(sim.store.requests), "writes": writes}
        out.update({name: getattr(sim.store, name) for name in extra_counters})
        return JSONResponse({**out, "logins": sim.store.logins} if tokens else out)

    async def reset(sim: Any, request: Request) -> Response:
        sim.store.reset()
        return JSONResponse({"reset": True})

    async def show(sim: Any, request: Request) -> Response:
        return JSONResponse({**config(sim), **sim.faults.to_json()})

    async def configure(sim: Any, request: Request) -> Response:
        """Change settings at run time; everything is validated before anything is applied."""
        body = await dialect.body(request)
        unknown = set(body) - {*settings, *FAULT_SETTINGS}
        if unknown:
            raise dialect.refuse("unknown_settings", names=sorted(unknown))
        try:
            checked = check({k: v for k, v in body.items() if k not in FAULT_SETTINGS})
            sim.faults.configure(**{k: v for k, v in body.items() if k in FAULT_SETTINGS})
        except ValueError as exc:
            raise dialect.refuse("bad_setting", reason=str(exc)) from None
        for name, value in checked.items():
            if name == "token_ttl":
                sim.tokens.ttl = value
            else:
                setattr(sim.store, name, value)
        return await show(sim, request)

    async def expire_tokens(sim: Any, request: Request) -> Response:
        return JSONResponse({"expired": sim.tokens.expire_all()})

    out: list[tuple[str, str, Handler]] = [
        ("GET", "/_sim/counters", counters),
        ("POST", "/_sim/reset", reset),
        ("GET", "/_sim/config", show),
        ("POST", "/_sim/config", configure),
    ]
    return out + [("POST", "/_sim/tokens/expire", expire_tokens)] if tokens else out


class Counters:
    """The counters a simulated platform's store keeps for ``/_sim/counters``: ``requests`` per
    "METHOD /route" (counted by :func:`routes`) and ``writes`` per natural key and operation."""

    requests: Counter[str]
    writes: dict[str, Counter[str]]

    def reset_counters(self) -> None:
        self.requests = Counter()
        self.writes = {}

    def count(self, route: str) -> None:
        self.requests[route] += 1

    def wrote(self, key: str, operation: str) -> None:
        self.writes.setdefault(key, Counter())[operation] += 1
