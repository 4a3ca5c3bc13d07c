"""SaperX v2 provider: number ranges and SIP extensions (with their DIDs) on SaperX's VoIP platform.

The wire contract is the one :mod:`reconciler.platforms.saperx_v2.sim` holds and
docs/platforms/saperx-v2.md describes (SaperX publishes none; what is FOUND and what is ASSUMED is
listed there). Resources it observes and changes:

- ``voip_range`` (key: the range's name, remote id: the platform's id): ``country_code`` and
  ``area_code`` (the platform's DDI+DDD prefix, as numbers), ``first`` and ``last`` (the
  subscriber numbers, digits) and ``status`` (available | in_use, computed by the platform).
- ``extension`` (key and remote id: the 6-digit account code): ``service`` (the platform's
  ``contract``: the ERP's id_cliente_servico), ``line_type``, ``active``, ``blocked``,
  ``call_limit``, ``plan`` and ``international_plan`` (catalog *names*; ``#<id>`` for one the
  catalog lacks), ``closing_day``, ``billing``, ``route``, ``caller_id`` (national number),
  ``permissions`` (LC, LDN, LDI, VC1, VC2, VC3) and ``dids`` (``number`` national, ``monthly_value``
  with two decimals, ``collect_calls``, ``city``; sorted by number). The SIP password is
  write-only: sent when a change carries it (``after["password"]``, already resolved by the
  caller), masked from every error, never read back.

The environment (option ``environment``: production, the default, or homologation) selects the
platform's data set: homologation lives under ``<endpoint>/homolog``, with tokens of its own.

Login: ``POST .../auth/token`` with the four credentials gives a short-lived access token and a
refresh token. :class:`~reconciler.providers.tokens.AccessToken` renews the access token before
it lapses and once on a 401; the renewal (:meth:`SaperxV2Provider._login`) first tries the
refresh token, which the platform rotates (the new one is kept, the old one is revoked), and logs
in again when the refresh is refused or lapsed. Credentials and every token issued are masked.

Every write is safe to repeat: a create that finds its account code already held by the same
contract, or (without an account code) its DIDs already on an extension of the same contract,
converges that extension and counts as done; a range created again with the same content is
done; deactivating an inactive (or absent) extension and deleting an absent range are done.
One case is not: a line created without an account code *and* without DIDs leaves nothing that
tells a repeated create it already happened (the platform takes no idempotency key), so a lost
answer there can make a second line; give such lines an account code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx

from reconciler import errors
from reconciler.model import Action, Change, Integration, Observed, Resource, index
from reconciler.platforms.saperx_v2.passwords import password_for
from reconciler.providers.base import Applied
from reconciler.providers.common import Auth, HttpProvider, answer_field, bounded, target, utc_naive
from reconciler.providers.tokens import DEFAULT_SKEW, Issued

log = logging.getLogger(__name__)

PLATFORM = "saperx-v2"
EMBEDDED_URL = "http://saperx-v2.embedded"
ENVIRONMENTS = {"production": "", "homologation": "/homolog"}  # the base path of each data set
CREDENTIALS = ("username", "password", "api_key", "api_secret")
CALL_TYPES = ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")
ACCOUNT_CODE = re.compile(r"^\d{6}$")
COUNTRY = "55"
CENT = Decimal("0.01")
CDR_PAGE = 1000  # the platform's largest page: a day of a large estate is tens of thousands

_REFUSALS = {
    "codigo_em_uso": "account code {key} is already taken on saperx-v2 by another extension",
    "did_em_uso": "extension {key}: a DID is held by another extension; move it off that "
    "extension first",
    "did_fora_da_range": "extension {key}: a DID lies outside every number range of the "
    "platform; create a range holding it first",
    "bina_invalida": "extension {key}: the caller id must be one of the extension's DIDs",
    "plano_inexistente": "extension {key}: the plan is not in the platform's catalog",
    "dados_invalidos": "{kind} {key}: the platform rejected the data",
    "range_sobreposta": "range {key} overlaps another range of the platform",
    "range_em_uso": "range {key} is in use: numbers of it are DIDs of extensions; move those DIDs "
    "out (or keep the range covering them) first",
    "ramal_inexistente": "extension {key} does not exist on saperx-v2",
    "range_inexistente": "range {key} does not exist on saperx-v2",
}


class SaperxV2Provider(HttpProvider):
    """One integration's connection to a SaperX v2 platform, in one of its environments."""

    platform: ClassVar[str] = PLATFORM
    embedded_url: ClassVar[str] = EMBEDDED_URL
    example_url: ClassVar[str] = "https://api.saperx.com.br"

    credential_fields: ClassVar[tuple[str, ...]] = CREDENTIALS

    def _configure(self) -> None:
        self.environment = _environment(self.integration)
        self._api = ENVIRONMENTS[self.environment] + "/api/v2"
        self._refresh: tuple[str, float | None] | None = None  # the refresh token, its expiry
        self._plans: tuple[Mapping[str, Any], ...] | None = None
        self._international: tuple[Mapping[str, Any], ...] | None = None
        self._range_ids: dict[str, str] = {}  # range name -> id, from observe and writes

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        """The four credentials, exchanged for an expiring access token (:meth:`_login`)."""
        self._credentials = {name: credentials[name] for name in CREDENTIALS}
        return Auth(secrets=tuple(self._credentials.values()), login=self._login)

    def _path(self, path: str) -> str:
        return self._api + path

    # -- auth --------------------------------------------------------------------------------

    async def _login(self) -> Issued:
        """A new access token: by the refresh token while it lives, else by a full login."""
        refresh, self._refresh = self._refresh, None  # a refresh token is good for one use
        if refresh is not None and (refresh[1] is None or self._clock() < refresh[1] - DEFAULT_SKEW):
            try:
                response = await self._client.request(
                    "POST", self._path("/auth/refresh"), json={"refresh_token": refresh[0]},
                    auth=False)
            except errors.AuthError:
                log.debug("%s: the refresh token was refused; logging in again", self.name)
            else:
                return self._issued(response, "POST /auth/refresh")
        try:
            response = await self._client.request("POST", self._path("/auth/token"),
                                                  json=self._credentials, auth=False)
        except errors.AuthError as exc:
            raise errors.AuthError(
                f"the saperx-v2 platform ({self.environment}) refused the credentials (HTTP "
                f"{exc.status}); check the integration's credentials.username, "
                f"credentials.password, credentials.api_key and credentials.api_secret",
                integration=self.name, status=exc.status, detail=exc.detail) from None
        return self._issued(response, "POST /auth/token")

    def _issued(self, response: httpx.Response, call: str) -> Issued:
        """The access token of a login or refresh answer; the (rotated) refresh token is kept
        for the next renewal, and masked like the access token."""
        body = self._client.json_object(response)
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise self._client.unexpected(call, {"fields": sorted(body)})
        now = self._clock()
        if isinstance(refresh, str) and refresh:
            self._client.mask(refresh)
            self._refresh = (refresh, _expiry(now, body.get("refresh_expires_in")))
        return Issued(access, _expiry(now, body.get("expires_in")))

    # -- observe -----------------------------------------------------------------------------

    async def observe(self) -> Observed:
        """The catalogs, then every page of ranges and of extensions (the first page of each
        tells how many there are)."""
        plans = await self._fetch_plans()  # alone first: it logs in
        first: list[Callable[[], Awaitable[Any]]] = [
            self._fetch_international, lambda: self._page("/ranges", 1),
            lambda: self._page("/extensions", 1)]
        international, ranges, extensions = await bounded(first, self.concurrency)
        later = [lambda p=p: self._page("/ranges", p) for p in range(2, int(ranges["pages"]) + 1)]
        later += [lambda p=p: self._page("/extensions", p)
                  for p in range(2, int(extensions["pages"]) + 1)]
        rest = await bounded(later, self.concurrency)
        range_items = [i for page in (ranges, *rest) if page["kind"] == "/ranges"
                       for i in page["items"]]
        extension_items = [i for page in (extensions, *rest) if page["kind"] == "/extensions"
                           for i in page["items"]]
        try:
            resources = self._ranges(range_items)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._client.unexpected("GET /ranges", {"missing or malformed": str(exc)}) from None
        try:
            names = {int(p["id"]): str(p["name"]) for p in plans}
            international_names = {int(p["id"]): str(p["name"]) for p in international}
            resources += [self._extension(item, names, international_names)
                          for item in extension_items]
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise self._client.unexpected("GET /extensions",
                                          {"missing or malformed": str(exc)}) from None
        return Observed(self.name, index(resources),
                        catalogs={"plans": plans, "international_plans": international},
                        reads=4 + len(rest))

    def _ranges(self, items: Sequence[Mapping[str, Any]]) -> list[Resource]:
        """Ranges by name; a name the platform holds twice keys the later ones as
        ``<name>#<id>`` (so each stays visible, none is mistaken for the other)."""
        out: list[Resource] = []
        ids: dict[str, str] = {}
        for item in sorted(items, key=lambda i: int(i["id"])):
            name, remote_id, prefix = str(item["name"]), str(item["id"]), str(item["prefix"])
            key = name if name not in ids else f"{name}#{remote_id}"
            ids[key] = remote_id
            attrs = {"country_code": int(prefix[:2]), "area_code": int(prefix[2:]),
                     "first": str(item["start"]), "last": str(item["end"]),
                     "status": str(item["status"])}
            out.append(Resource(self.name, "voip_range", key, attrs, remote_id=remote_id))
        self._range_ids = ids  # what the platform holds now replaces what writes saw
        return out

    def _extension(self, item: Mapping[str, Any], plans: Mapping[int, str],
                   international: Mapping[int, str]) -> Resource:
        code = str(item["account_code"])
        plan_id, intl_id = int(item["plan_id"]), item.get("international_plan_id")
        permissions = item["permissions"]
        dids: list[dict[str, Any]] = sorted(
            ({"number": _national(str(d["number"])), "monthly_value": _money(d["monthly_value"]),
              "collect_calls": bool(d.get("collect_calls", False)),
              "city": str(d.get("city") or "")} for d in item.get("dids") or ()),
            key=lambda d: str(d["number"]))
        caller_id = item.get("caller_id")
        attrs = {
            "service": item.get("contract"),
            "line_type": str(item["line_type"]),
            "active": bool(item["active"]),
            "blocked": bool(item["blocked"]),
            "call_limit": int(item["call_limit"]),
            "plan": plans.get(plan_id, f"#{plan_id}"),
            "international_plan": None if intl_id is None else international.get(
                int(intl_id), f"#{intl_id}"),
            "closing_day": int(item["closing_day"]),
            "billing": str(item["billing"]),
            "route": str(item["route"]),
            "caller_id": _national(str(caller_id)) if caller_id else None,
            "permissions": {t: bool(permissions.get(t, False)) for t in CALL_TYPES},
            "dids": dids,
        }
        return Resource(self.name, "extension", code, attrs, remote_id=code)

    async def _page(self, what: str, page: int, **filters: Any) -> Mapping[str, Any]:
        params = {"page": page, "per_page": self.page_size, **filters}
        body = await self._listing_page(self._path(what), params, "items", "pages",
                                        call=f"GET {what}")
        return {**body, "kind": what}

    async def _all(self, what: str, **filters: Any) -> list[Mapping[str, Any]]:
        first = await self._page(what, 1, **filters)
        later: list[Callable[[], Awaitable[Mapping[str, Any]]]] = [
            lambda p=p: self._page(what, p, **filters)  # type: ignore[misc]
            for p in range(2, int(first["pages"]) + 1)]
        rest = await bounded(later, self.concurrency)
        return [item for page in (first, *rest) for item in page["items"]]

    async def _fetch_plans(self) -> tuple[Mapping[str, Any], ...]:
        self._plans = await self._catalog("/plans")
        return self._plans

    async def _fetch_international(self) -> tuple[Mapping[str, Any], ...]:
        self._international = await self._catalog("/international-plans")
        return self._international

    async def _catalog(self, what: str) -> tuple[Mapping[str, Any], ...]:
        body = self._client.json_object(await self._client.request("GET", self._path(what)))
        items = body.get("items")
        if not isinstance(items, list) or not all(
                isinstance(p, dict) and "id" in p and "name" in p for p in items):
            raise self._client.unexpected(f"GET {what}", body)
        return tuple(dict(p) for p in items)

    # -- call records ------------------------------------------------------------------------

    async def call_records(self, first: date, last: date) -> AsyncIterator[list[dict[str, Any]]]:
        """The CDRs of calls started on ``first``..``last``, a page of the platform's largest
        size at a time, in the platform's order (see
        :class:`reconciler.providers.base.CallRecordSource`)."""
        page, pages = 1, 1
        while page <= pages:
            body = await self._page("/cdr", page, per_page=CDR_PAGE, **{
                "from": first.isoformat(), "to": last.isoformat()})
            pages = int(body["pages"])
            try:
                yield [_call_record(item) for item in body["items"]]
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                raise self._client.unexpected("GET /cdr", {"missing or malformed": str(exc)}) \
                    from None
            page += 1

    # -- execute -----------------------------------------------------------------------------

    def _handlers(self) -> dict[tuple[str, Action], Callable[[Change], Awaitable[Applied]]]:
        return {
            ("voip_range", Action.CREATE): self._create_range,
            ("voip_range", Action.UPDATE): self._update_range,
            ("voip_range", Action.DELETE): self._delete_range,
            ("extension", Action.CREATE): self._create_extension,
            ("extension", Action.UPDATE): self._update_extension,
            ("extension", Action.UNLINK): self._update_extension,  # an update taking DIDs off
            ("extension", Action.SUSPEND): lambda c: self._set_blocked(c, True),
            ("extension", Action.RESUME): lambda c: self._set_blocked(c, False),
            ("extension", Action.DELETE): self._deactivate,
        }

    # ranges

    async def _create_range(self, change: Change) -> Applied:
        """POST each range; one already there with the same content (an earlier attempt) is
        done, and its id recorded."""
        ids: dict[str, str] = {}
        for key in change.keys:
            body = _range_body(change, key)
            response = await self._client.request("POST", self._path("/ranges"), json=body,
                                                  accept=(409, 422))
            if response.is_success:
                ids[key] = self._range_ids[key] = str(self._client.json_object(response)["id"])
                continue
            same = await self._find_range(body) if response.status_code == 409 else None
            if same is None:
                raise self._refusal("range", key, response)
            ids[key] = self._range_ids[key] = same
        return Applied(remote_ids=ids)

    async def _update_range(self, change: Change) -> Applied:
        for key in change.keys:
            range_id = await self._range_id(key)
            if range_id is None:
                raise errors.NotFoundError(f"range {key} does not exist on saperx-v2 "
                                           f"({self.environment}); create it first",
                                           integration=self.name)
            await self._write("range", key, "PUT", f"/ranges/{range_id}",
                              json=_range_body(change, key))
        return Applied()

    async def _delete_range(self, change: Change) -> Applied:
        """DELETE each range; one already gone is done. A range in use is refused (409)."""
        for key in change.keys:
            range_id = await self._range_id(key)
            if range_id is not None:
                await self._write("range", key, "DELETE", f"/ranges/{range_id}", done=(404,))
            self._range_ids.pop(key, None)
        return Applied()

    async def _range_id(self, key: str) -> str | None:
        """The id of the range named ``key``: what observe or a write saw, else a listing."""
        if key not in self._range_ids:
            for item in await self._all("/ranges"):
                self._range_ids.setdefault(str(item["name"]), str(item["id"]))
        return self._range_ids.get(key)

    async def _find_range(self, body: Mapping[str, Any]) -> str | None:
        for item in await self._all("/ranges"):
            if all(str(item.get(f)) == body[f] for f in ("name", "prefix", "start", "end")):
                return str(item["id"])
        return None

    # extensions

    async def _create_extension(self, change: Change) -> Applied:
        """POST the extension, with its account code when the change has one (in the path),
        else without: the platform assigns one, recorded as the key's remote id. A create
        repeated after a lost answer converges what the first one made (see the module)."""
        after = target(change)
        if not after.get("password") and not after.get("password_from"):
            raise errors.PlanError(f"{change.id}: creating a SIP extension needs its password "
                                   f"(the line's password: a reference, or generate)")
        ids: dict[str, str] = {}
        for key in change.keys:
            code = _account_code(after, key)
            payload = await self._payload(change, key)
            path = f"/extensions/{code}" if code else "/extensions"
            response = await self._client.request("POST", self._path(path), json=payload,
                                                  accept=(404, 409, 422))
            if response.is_success:
                ids[key] = str(self._client.json_object(response)["account_code"])
                continue
            existing = await self._same_line(response, code, payload)
            if existing is None:
                raise self._refusal("extension", code or key, response)
            await self._write("extension", existing, "PUT", f"/extensions/{existing}",
                              json=payload)
            ids[key] = existing
        return Applied(remote_ids=ids)

    async def _same_line(self, response: httpx.Response, code: str | None,
                         payload: Mapping[str, Any]) -> str | None:
        """The account code of the extension a refused create had already made: the code is
        taken by the same contract, or (no code given) the DIDs are held by one extension of
        the same contract that holds exactly them. None: a real conflict."""
        erro = answer_field(response, "erro")
        if response.status_code != 409 or payload.get("contract") is None:
            return None
        if erro == "codigo_em_uso" and code is not None:
            held = await self._client.request("GET", self._path(f"/extensions/{code}"),
                                              accept=(404,))
            if held.is_success and self._client.json_object(held).get("contract") == payload[
                    "contract"]:
                return code
            return None
        wanted = {d["number"] for d in payload["dids"]}
        if erro == "did_em_uso" and code is None and wanted:
            for item in await self._all("/extensions", contract=payload["contract"]):
                if {str(d.get("number")) for d in item.get("dids") or ()} == wanted:
                    return str(item["account_code"])
        return None

    async def _update_extension(self, change: Change) -> Applied:
        """PUT every target field (the DIDs replace the whole list; the password only when the
        change carries one). Moving a DID is two updates, off one extension then onto the
        other, in the order the plan gives."""
        for key in change.keys:
            code = _account_code(target(change), key)
            if code is None:
                raise errors.PlanError(f"{change.id}: {key!r} is not a 6-digit account code")
            await self._write("extension", code, "PUT", f"/extensions/{code}",
                              json=await self._payload(change, code))
        return Applied()

    async def _set_blocked(self, change: Change, blocked: bool) -> Applied:
        for key in change.keys:
            code = _known_code(change, key)
            await self._write("extension", code, "PUT", f"/extensions/{code}",
                              json={"blocked": blocked})
        return Applied()

    async def _deactivate(self, change: Change) -> Applied:
        """SaperX never deletes an extension: it is deactivated (already inactive, or not
        there at all: done)."""
        for key in change.keys:
            code = _known_code(change, key)
            await self._write("extension", code, "POST", f"/extensions/{code}/deactivate",
                              done=(404,))
        return Applied()

    async def _payload(self, change: Change, key: str) -> dict[str, Any]:
        """The platform's fields for the target attributes (plans by name, numbers national)."""
        after = target(change)
        password = after.get("password")
        if password is None and after.get("password_from"):
            password = password_for(after, change.source, key)  # resolved or generated now
        if password is not None and not isinstance(password, str):
            raise errors.PlanError(f"{change.id}: the password of extension {key} must be resolved "
                                   f"to its text before execute (it is a {type(password).__name__})")
        if password:
            self._client.mask(password)  # before anything could show it
        try:
            permissions = after["permissions"]
            payload: dict[str, Any] = {
                "contract": after["service"],
                "line_type": after.get("line_type", "new"),
                "active": bool(after.get("active", True)),
                "blocked": bool(after.get("blocked", False)),
                "call_limit": after["call_limit"],
                "plan_id": await self._plan_id(str(after["plan"]), international=False),
                "international_plan_id": None if after.get("international_plan") is None
                else await self._plan_id(str(after["international_plan"]), international=True),
                "closing_day": after["closing_day"],
                "billing": after["billing"],
                "route": after["route"],
                "caller_id": COUNTRY + str(after["caller_id"]) if after.get("caller_id") else None,
                "permissions": {t: bool(permissions.get(t, False)) for t in CALL_TYPES},
                "dids": [_did(d) for d in after.get("dids") or ()],
            }
        except (KeyError, TypeError, AttributeError, InvalidOperation) as exc:
            raise errors.PlanError(f"{change.id}: the target of extension {key} is incomplete "
                                   f"or malformed ({type(exc).__name__}: {exc})") from None
        if password:
            payload["password"] = password
        return payload

    async def _plan_id(self, name: str, *, international: bool) -> int:
        """The catalog id of a plan name (``#<id>`` passes an id through). The catalog is read
        again once when the name is missing, in case it changed since."""
        if name.startswith("#") and name[1:].isdigit():
            return int(name[1:])
        fetch = self._fetch_international if international else self._fetch_plans
        plans = self._international if international else self._plans
        for fresh in (False, True):
            if fresh or plans is None:
                plans = await fetch()
            for plan in plans:
                if plan["name"] == name:
                    return int(plan["id"])
        what = "international plan" if international else "plan"
        valid = ", ".join(repr(p["name"]) for p in plans or ()) or "none"
        raise errors.RejectedError(f"{what} {name!r} does not exist on the saperx-v2 platform; "
                                   f"valid {what}s: {valid}", integration=self.name)

    async def _write(self, kind: str, key: str, method: str, path: str, *, json: Any = None,
                     done: Collection[int] = ()) -> httpx.Response:
        """One write; statuses in ``done`` count as success, other refusals are clear errors."""
        response = await self._client.request(method, self._path(path), json=json,
                                              accept=(404, 409, 422))
        if response.is_success or response.status_code in done:
            return response
        raise self._refusal(kind, key, response)

    def _refusal(self, kind: str, key: str, response: httpx.Response) -> errors.ProviderError:
        """A clear error for a 404/409/422, carrying the platform's code and message."""
        status, erro = response.status_code, answer_field(response, "erro")
        default = ("{kind} {key} does not exist on saperx-v2" if status == 404
                   else "{kind} {key}: the platform refused the change")
        text = _REFUSALS.get(erro, default).format(kind=kind, key=key)
        message = answer_field(response, "mensagem")
        text += f" ({self.environment}; saperx-v2 {erro or status}: {message})" if message else (
            f" ({self.environment}; HTTP {status})")
        cls = {404: errors.NotFoundError, 409: errors.ConflictError}.get(status,
                                                                         errors.RejectedError)
        return cls(self._client.scrub(text), integration=self.name, status=status,
                   detail=self._client.scrub(response.text))

    # -- catalogs and check ------------------------------------------------------------------

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The plan and international plan catalogs (``reconcile sync``)."""
        return {"plans": await self._fetch_plans(),
                "international_plans": await self._fetch_international()}

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        return len(await self._fetch_plans()), "plans", {"environment": self.environment}

    def _described(self) -> str:
        return f"{self.platform} ({self.environment})"


def _environment(integration: Integration) -> str:
    value = integration.options.get("environment", "production")
    if value not in ENVIRONMENTS:
        raise errors.ReconcilerError(f"integration {integration.name!r}: option environment must "
                                     f"be production or homologation, not {value!r}")
    return str(value)


def _expiry(now: float, seconds: Any) -> float | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    return now + float(seconds)


def _known_code(change: Change, key: str) -> str:
    """The account code of an extension the change finds on the platform: the one its
    attributes carry (a line declared without one is keyed by its service in the specs)."""
    for attrs in (change.after, change.before):
        if attrs and attrs.get("account_code"):
            return str(attrs["account_code"])
    return key


def _account_code(after: Mapping[str, Any], key: str) -> str | None:
    """The change's account code: ``after.account_code``, else a key that is one."""
    code = after.get("account_code")
    if code is not None:
        return str(code)
    return key if ACCOUNT_CODE.match(key) else None


def _range_body(change: Change, key: str) -> dict[str, str]:
    after = target(change)
    try:
        return {"name": key, "prefix": f"{int(after.get('country_code', 55))}"
                f"{int(after['area_code'])}", "start": str(after["first"]),
                "end": str(after["last"])}
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.PlanError(f"{change.id}: the target of range {key} is incomplete or "
                               f"malformed ({type(exc).__name__}: {exc})") from None


def _call_record(item: Mapping[str, Any]) -> dict[str, Any]:
    """A CDR as the state keeps it; a record that is not one raises KeyError or ValueError."""
    call_type = str(item["call_type"])
    if call_type not in CALL_TYPES:
        raise ValueError(f"call_type {call_type!r}")
    started = utc_naive(item["started_at"])
    duration = item["duration_seconds"]
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        raise ValueError(f"duration_seconds {duration!r}")
    record_id, code = str(item["id"]), str(item["account_code"])
    if not record_id or len(record_id) > 128 or not ACCOUNT_CODE.match(code):
        raise ValueError(f"id {record_id!r} or account_code {code!r}")
    return {"record_id": record_id, "account_code": code, "started_at": started,
            "call_type": call_type, "duration_seconds": duration,
            "cost": str(Decimal(str(item["cost"])).quantize(CENT)),
            "destination": str(item.get("destination") or "")[:32]}


def _money(value: Any) -> str:
    """A BRL amount as the platform takes it and the model holds it: two decimals ("12.50")."""
    return str(Decimal(str(value)).quantize(CENT))


def _did(did: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"number": COUNTRY + str(did["number"]),
                           "monthly_value": _money(did["monthly_value"]),
                           "collect_calls": bool(did.get("collect_calls", False))}
    if did.get("city"):
        out["city"] = str(did["city"])
    return out


def _national(number: str) -> str:
    """A full number (DDI 55 + DDD + subscriber) as the national one (DDD + subscriber)."""
    return number[len(COUNTRY):] if number.startswith(COUNTRY) else number
