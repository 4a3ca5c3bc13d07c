"""SaperX STFC provider: numbers and their links to client services on the STFC platform.

The wire contract is the one :mod:`reconciler.platforms.saperx_stfc.sim` documents (SaperX publishes none).
Resources it observes and changes:

- ``number`` (key: the 10-digit national number): ``country_code``, ``status`` (free | linked |
  removing) and ``transmission`` (pending | sent | error). Registered in blocks of consecutive
  numbers with one call per block; deleted singly, or by range where the platform lists the
  numbers it refused (still linked) and the rest of the block lands; "updated" only to be
  retransmitted (``after: {"transmission": "sent"}``).
- ``link`` (key: the number), only while the number is linked (not while it waits in the removal
  queue): ``service`` (HubSoft's id_cliente_servico), ``plan`` (the plan's *name*, as specs write
  it; ``#<id>`` for a plan missing from the catalog), ``params``, ``blocked``, ``document``,
  ``name``.

It also reads what the platform billed each number in a month (``charges``: the seed's
Processar/Faturar), page by page, for `reconcile billing stfc`.

Every write is safe to repeat: "already registered", "already linked to this service", "already
free" and "already deleted" answers count as success, so the applier may retry after a timeout.
The token only lives in the HTTP client's headers; it is masked from every error message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import httpx

from reconciler import errors
from reconciler.model import Action, Change, Observed, Resource, index
from reconciler.providers.base import Applied
from reconciler.providers.common import Auth, HttpProvider, answer_field, bounded, target, utc_naive

EMBEDDED_URL = "http://saperx-stfc.embedded"
MAX_RANGE = 10_000  # numbers per registration or removal call
DETAIL_PAGE = 100  # charges per page when each carries its calls
CALL_TYPES = ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")
STATUS = {"livre": "free", "vinculado": "linked", "em_remocao": "removing"}
TRANSMISSION = {"pendente": "pending", "transmitido": "sent", "erro": "error"}

_REFUSALS = {
    "numero_inexistente": "number {key} is not registered on the platform; register it first",
    "numero_vinculado": "number {key} is linked to another client service or waiting in the "
    "removal queue; unlink it (and let the queue free it) first",
    "numero_livre": "number {key} is not linked to any client service",
    "numero_em_remocao": "number {key} is waiting in the removal queue; wait until it is free",
    "ja_vinculado": "number {key} is already linked to this client service",
}


class SaperxStfcProvider(HttpProvider):
    """One integration's connection to a SaperX STFC platform."""

    platform: ClassVar[str] = "saperx-stfc"
    embedded_url: ClassVar[str] = EMBEDDED_URL
    example_url: ClassVar[str] = "https://10.20.0.5:8443"

    credential_fields: ClassVar[tuple[str, ...]] = ("token",)
    _plans: tuple[Mapping[str, Any], ...] | None = None  # the plan catalog, once fetched

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        """A static token, sent as a bearer header on every call."""
        token = credentials["token"]
        return Auth(secrets=(token,), headers={"Authorization": f"Bearer {token}"})

    # -- observe -----------------------------------------------------------------------------

    async def observe(self) -> Observed:
        """The plan catalog, then every page of numbers (page 0 first to learn how many)."""
        plans = await self._fetch_plans()
        first = await self._page(0)
        last = int(first["paginacao"].get("ultima_pagina", 0))
        pages_left = [lambda p=p: self._page(p) for p in range(1, last + 1)]
        rest = await bounded(pages_left, self.concurrency)
        names = {plan["id"]: plan["nome"] for plan in plans}
        items = [item for page in (first, *rest) for item in page["numeros"]]
        try:
            resources = [r for item in items for r in self._resources(item, names)]
        except (KeyError, TypeError, AttributeError) as exc:
            shape = {"missing or malformed": str(exc)}
            raise self._client.unexpected("GET /api/numeros", shape) from None
        return Observed(self.name, index(resources), catalogs={"plans": plans}, reads=2 + len(rest))

    def _resources(self, item: Mapping[str, Any], plans: Mapping[int, str]) -> list[Resource]:
        """The number, and its link when it is linked (not while queued for removal)."""
        key, remote_id = str(item["numero"]), str(item["id"])
        number = {
            "country_code": item["ddi"],
            "status": STATUS.get(item["status"], item["status"]),
            "transmission": TRANSMISSION.get(item["transmissao"], item["transmissao"]),
        }
        if item.get("erro_transmissao"):
            number["transmission_error"] = str(item["erro_transmissao"])
        out = [Resource(self.name, "number", key, number, remote_id=remote_id)]
        link = item.get("vinculo")
        if item["status"] == "vinculado" and link:
            attrs = {
                "service": link["id_externo"],
                "plan": plans.get(link["id_plano"], f"#{link['id_plano']}"),
                "params": dict(link.get("parametros") or {}),
                "blocked": bool(item["bloqueado"]),
                "document": link["documento"],
                "name": link["nome"],
            }
            out.append(Resource(self.name, "link", key, attrs, remote_id=remote_id))
        return out

    async def _page(self, page: int) -> Mapping[str, Any]:
        params = {"pagina": page, "itens_por_pagina": self.page_size}
        return await self._listing_page("/api/numeros", params, "numeros", "paginacao", dict)

    async def _fetch_plans(self) -> tuple[Mapping[str, Any], ...]:
        body = self._client.json_object(await self._client.request("GET", "/api/planos"))
        if not isinstance(body.get("planos"), list):
            raise self._client.unexpected("GET /api/planos", body)
        keys = ("id", "nome", "tipo", "valor", "franquia_minutos")
        self._plans = tuple({k: plan.get(k) for k in keys} for plan in body["planos"])
        return self._plans

    # -- monthly charges ---------------------------------------------------------------------

    async def charges(self, month: date, detailed: bool) -> AsyncIterator[tuple[bool, list[dict[str, Any]]]]:
        """What the platform billed each number in ``month`` (its first day), a page at a time
        in the platform's (number) order: (whether the platform says the month is over, the
        page's charges as :func:`charge_row` makes them). The next page is asked for while the
        caller stores this one, and no more than two pages are held."""
        size = min(self.page_size, DETAIL_PAGE) if detailed else self.page_size
        params = {"mes": month.month, "ano": month.year, "detalhado": str(detailed).lower(),
                  "itens_por_pagina": size}

        async def page(number: int) -> Mapping[str, Any]:
            return await self._listing_page("/api/faturamento", {**params, "pagina": number},
                                            "cobrancas", "paginacao", dict)

        body, number = await page(0), 0
        while True:
            last = int(body["paginacao"].get("ultima_pagina", 0))
            following = asyncio.ensure_future(page(number + 1)) if number < last else None
            try:
                rows = [charge_row(item, detailed) for item in body["cobrancas"]]
            except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                if following is not None:
                    following.cancel()
                raise self._client.unexpected("GET /api/faturamento",
                                              {"missing or malformed": str(exc)}) from None
            try:
                yield bool(body.get("fechado")), rows
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            if following is None:
                return
            body, number = await following, number + 1

    # -- execute -----------------------------------------------------------------------------

    def _handlers(self) -> dict[tuple[str, Action], Callable[[Change], Awaitable[Applied]]]:
        return {
            ("number", Action.CREATE): self._create_numbers,
            ("number", Action.DELETE): self._delete_numbers,
            ("number", Action.UPDATE): self._retransmit,
            ("link", Action.LINK): self._link,
            ("link", Action.UPDATE): self._update_link,
            ("link", Action.SUSPEND): lambda c: self._each(c, "POST", "bloquear"),
            ("link", Action.RESUME): lambda c: self._each(c, "POST", "desbloquear"),
            ("link", Action.UNLINK): lambda c: self._each(
                c, "POST", "desvincular", done={"numero_livre", "numero_inexistente"}
            ),
        }

    async def _create_numbers(self, change: Change) -> Applied:
        """One registration call per run of consecutive numbers; duplicates are success."""
        ddi = int((change.after or {}).get("country_code", 55))
        ids: dict[str, str] = {}
        for first, last in consecutive_runs(change.keys):
            payload: dict[str, Any] = {"numero_inicial": first, "ddi": ddi}
            if last != first:
                payload["numero_final"] = last
            response = await self._client.request("POST", "/api/numeros", json=payload)
            body = self._client.json_object(response)
            for item in [*body.get("criados", []), *body.get("duplicados", [])]:
                ids[str(item["numero"])] = str(item["id"])
        return Applied(remote_ids={key: ids[key] for key in change.keys if key in ids})

    async def _delete_numbers(self, change: Change) -> Applied:
        """One key: DELETE (already gone is success). Several: bulk removal by range, where
        the numbers the platform refuses are reported as failed and the others land."""
        if len(change.keys) == 1:
            await self._call("DELETE", change.keys[0], "", done={"numero_inexistente"})
            return Applied()
        failed: dict[str, str] = {}
        wanted = set(change.keys)
        for first, last in consecutive_runs(change.keys):
            payload = {"numero_inicial": first, "numero_final": last}
            response = await self._client.request("POST", "/api/numeros/remover", json=payload)
            body = self._client.json_object(response)
            for item in body.get("recusados", []):
                numero, motivo = str(item["numero"]), str(item.get("motivo", ""))
                if numero in wanted:
                    failed[numero] = f"{motivo or 'refused'}: {_refusal_text(numero, motivo)}"
        return Applied(failed=failed)

    async def _retransmit(self, change: Change) -> Applied:
        """The only update a number takes: asking the platform to transmit it again (the
        planner's answer to ``transmission: error``). The platform answers ``pendente`` and
        transmits on its next routine run, so the next observation sees the outcome."""
        if (change.after or {}).get("transmission") != "sent":
            raise errors.ReconcilerError(
                "saperx-stfc cannot update a number, only retransmit it (after transmission: sent)"
            )
        return await self._each(change, "POST", "retransmitir")

    async def _link(self, change: Change) -> Applied:
        payload = await self._link_payload(change)
        payload["bloqueado"] = bool(target(change).get("blocked", False))
        ids: dict[str, str] = {}
        for key in change.keys:
            response = await self._call(
                "POST", key, "vincular", json=payload, done={"ja_vinculado"}
            )
            if response is not None:
                ids[key] = str(self._client.json_object(response)["id"])
        return Applied(remote_ids=ids)

    async def _update_link(self, change: Change) -> Applied:
        """PUT the link's plan, document, name and params; a change of ``blocked`` carried by
        the same update is applied with bloquear/desbloquear."""
        before, after = change.before or {}, target(change)
        if "service" in before and before["service"] != after.get("service"):
            raise errors.PlanError(
                f"{change.id}: a link cannot move to another client service in place; "
                f"unlink it and link it again"
            )
        payload = await self._link_payload(change)
        payload.pop("id_externo")
        await self._each(change, "PUT", "vinculo", json=payload)
        if "blocked" in before and before["blocked"] != after.get("blocked", False):
            await self._each(change, "POST", "bloquear" if after.get("blocked") else "desbloquear")
        return Applied()

    async def _link_payload(self, change: Change) -> dict[str, Any]:
        after = target(change)
        return {
            "id_plano": await self._plan_id(str(after["plan"])),
            "documento": after["document"],
            "nome": after["name"],
            "id_externo": after["service"],
            "parametros": dict(after.get("params") or {}),
        }

    async def _each(
        self, change: Change, method: str, action: str, *, json: Any = None,
        done: Collection[str] = (),
    ) -> Applied:
        for key in change.keys:
            await self._call(method, key, action, json=json, done=done)
        return Applied()

    async def _call(
        self, method: str, key: str, action: str, *, json: Any = None, done: Collection[str] = ()
    ) -> httpx.Response | None:
        """One write on one number. Returns None when the platform's refusal code is in
        ``done`` (the change had already happened); raises a clear error for other refusals."""
        path = f"/api/numeros/{key}" + (f"/{action}" if action else "")
        response = await self._client.request(method, path, json=json, accept=(404, 409))
        if response.is_success:
            return response
        code = answer_field(response, "erro") or ("numero_inexistente" if response.status_code == 404 else "")
        if code in done:
            return None
        cls = errors.NotFoundError if response.status_code == 404 else errors.ConflictError
        raise cls(
            _refusal_text(key, code),
            integration=self.name,
            status=response.status_code,
            detail=self._client.scrub(response.text),
        )

    async def _plan_id(self, name: str) -> int:
        """The catalog id of a plan name (``#<id>`` passes an id through). The catalog is
        fetched again once when the name is missing, in case plans changed since."""
        if name.startswith("#") and name[1:].isdigit():
            return int(name[1:])
        for fresh in (False, True):
            if fresh or self._plans is None:
                await self._fetch_plans()
            for plan in self._plans or ():
                if plan["nome"] == name:
                    return int(plan["id"])
        valid = ", ".join(repr(p["nome"]) for p in self._plans or ()) or "none"
        raise errors.RejectedError(
            f"plan {name!r} does not exist on the saperx-stfc platform; valid plans: {valid}",
            integration=self.name,
        )

    # -- check and close ---------------------------------------------------------------------

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The plan catalog alone (``reconcile sync``)."""
        return {"plans": await self._fetch_plans()}

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        return len(await self._fetch_plans()), "plans", {}

def consecutive_runs(keys: Sequence[str]) -> list[tuple[str, str]]:
    """``keys`` as (first, last) runs of consecutive numbers in one DDD, each within the
    platform's per-call limit. A well-formed block change is a single run."""
    runs: list[tuple[str, str]] = []
    for key in sorted(set(keys)):
        if runs:
            first, last = runs[-1]
            same_block = key[:2] == first[:2] and int(key) - int(first) < MAX_RANGE
            if same_block and int(key) == int(last) + 1:
                runs[-1] = (first, key)
                continue
        runs.append((key, key))
    return runs


def _refusal_text(key: str, code: str) -> str:
    return _REFUSALS.get(code, "number {key}: the platform refused the change ({code})").format(
        key=key, code=code or "no reason given"
    )


def charge_row(item: Mapping[str, Any], detailed: bool) -> dict[str, Any]:
    """One charge as the state keeps it (columns of ``reconciler.state.tables.ChargeRow``, and
    ``detail``: its calls, or None without detail). Amounts stay the platform's exact decimals,
    as text; one that is not a decimal (a float on the wire included) raises ValueError."""
    numero = str(item["numero"])
    if not numero.isdigit() or len(numero) > 32:
        raise ValueError(f"numero {numero!r}")
    service, plan = item.get("id_externo"), item.get("id_plano")
    row = {"number": numero, "service_id": _count(service, "id_externo", none=True),
           "plan_id": _count(plan, "id_plano", none=True),
           "allowance_minutes": _count(item.get("franquia_minutos", 0), "franquia_minutos"),
           "minutes": _count(item.get("minutos", 0), "minutos"),
           "calls": _count(item.get("quantidade_chamadas", 0), "quantidade_chamadas"),
           "total": _decimal(item["valor_total"], "valor_total"),
           "franchise": _decimal(item.get("franquia", "0"), "franquia"),
           "overage": _decimal(item.get("excedente", "0"), "excedente"), "detail": None}
    if detailed:
        row["detail"] = [_call(call) for call in item["chamadas"]]
    return row


def _call(call: Mapping[str, Any]) -> dict[str, Any]:
    call_type = str(call["tipo"])
    if call_type not in CALL_TYPES:
        raise ValueError(f"tipo {call_type!r}")
    return {"started_at": utc_naive(call["data"]), "origin": str(call.get("origem") or "")[:32],
            "destination": str(call.get("destino") or "")[:32], "call_type": call_type,
            "duration_seconds": _count(call["duracao_seg"], "duracao_seg"),
            "amount": _decimal(call["valor"], "valor")}


def _count(value: Any, name: str, *, none: bool = False) -> Any:
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} {value!r}")
    return value


def _decimal(value: Any, name: str) -> str:
    """A decimal amount as exact text: a string or an int, never a float (which is not exact)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{name} {value!r} is not a decimal string")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} {value!r} is not a decimal") from None
    if not amount.is_finite():
        raise ValueError(f"{name} {value!r}")
    return str(amount)
