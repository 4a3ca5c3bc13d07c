"""Geosite provider: client services on the customer ports of a project's CTOs.

The wire contract is ours (Geosite publishes none): :mod:`reconciler.platforms.geosite.sim`
serves it and docs/platforms/geosite.md describes it. What it observes and changes:

- the network of the integration's project (option ``project``, its exact name): every CTO,
  as the ``elements`` catalog of :mod:`reconciler.specs.ports` (a CTO's ports are its customer
  ports: one nameless customer splitter per box), and the poles when ``elements`` lists them;
- ``port_link`` (key: the client's ``codigo``, the ERP's id_cliente_servico): ``service``,
  ``box`` (the CTO's name), ``splitter`` (None), ``port``, ``document``, ``name``.

Login is ``POST /auth/login`` with the user and password, for an expiring bearer token that
:class:`~reconciler.providers.tokens.AccessToken` renews before it lapses and once on a 401.

Every write is safe to repeat: putting a client on the port it is on updates it (or does
nothing); removing it from a port it has left answers ``removido: null``. A client moved to
another port is taken off its old port first (Geosite holds a code on one port at most): a
kill between the two leaves it on no port, which the next apply puts right. ``on_cancel`` is the
same either way here: Geosite keeps no premises apart from the client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from reconciler import errors
from reconciler.feasibility import Candidate, Feasibility
from reconciler.model import Action, Change, Observed, Resource, index
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
from reconciler.specs.ports import ELEMENTS, KIND

PLATFORM = "geosite"
API = "/api/v1"
CREDENTIALS = ("username", "password")
IMPLANTED = "implantado"

_REFUSALS = {
    "porta_ocupada": "port {port} of CTO {box} is held by another client on geosite",
    "porta_reservada": "port {port} of CTO {box} is reserved on geosite",
    "cliente_em_outra_porta": "client {key} is on another port on geosite",
    "cto_inexistente": "CTO {box} does not exist on geosite",
    "porta_inexistente": "CTO {box} has no port {port} on geosite",
    "documento_invalido": "client {key}: geosite refused the document",
}


class GeositeProvider(HttpProvider):
    """One integration's connection to a Geosite platform and its one project."""

    platform: ClassVar[str] = PLATFORM
    embedded_url: ClassVar[str] = "http://geosite.embedded"
    example_url: ClassVar[str] = "https://isp.geosite.com.br"
    credential_fields: ClassVar[tuple[str, ...]] = CREDENTIALS

    def _configure(self) -> None:
        self.project = str(self.integration.options.get("project") or "")
        self.kinds = tuple(self.integration.options.get("elements") or ("boxes",))
        self._project_id: int | None = None
        self._boxes: dict[str, int] = {}  # CTO name -> id

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        self._login_body = {"usuario": credentials["username"], "senha": credentials["password"]}
        return Auth(secrets=(credentials["password"],), login=self._login)

    async def _login(self) -> Issued:
        return await self._log_in(API + "/auth/login", self._login_body, token="token",
                                  lifetime="validade", fields=CREDENTIALS)

    # -- reading -------------------------------------------------------------------------------

    async def _project(self) -> int:
        if not self.project:
            raise errors.ReconcilerError(f"integration {self.name!r}: option project (the "
                                         f"Geosite project's exact name) is required")
        if self._project_id is None:
            body = await self._listing_page(API + "/projetos", {"nome": self.project}, "itens",
                                            "paginas", call="GET /projetos")
            found = [p for p in body["itens"] if isinstance(p, dict) and p.get("nome") ==
                     self.project]
            if not found:
                raise errors.NotFoundError(
                    f"project {self.project!r} does not exist on geosite: the option project must "
                    f"be the exact name of a project drawn there", integration=self.name)
            self._project_id = int(found[0]["id"])
        return self._project_id

    async def _elements(self, kind: str) -> list[Mapping[str, Any]]:
        project = await self._project()

        async def page(n: int) -> Mapping[str, Any]:
            return await self._listing_page(
                API + "/elementos", {"projeto": project, "tipo": kind, "pagina": n,
                                     "por_pagina": self.page_size}, "itens", "paginas",
                call="GET /elementos")

        first = await page(1)
        rest = await bounded([lambda n=n: page(n)  # type: ignore[misc]
                              for n in range(2, int(first["paginas"]) + 1)],
                             self.concurrency)
        return [item for body in (first, *rest) for item in body["itens"]]

    async def observe(self) -> Observed:
        ctos = await self._elements("cto")
        catalogs: dict[str, tuple[Mapping[str, Any], ...]] = {}
        try:
            boxes = [_box(cto) for cto in ctos]
            links = [self._link(cto, port) for cto in ctos for port in cto["portas"]
                     if port.get("cliente")]
        except (KeyError, TypeError, ValueError) as exc:
            raise self._client.unexpected("GET /elementos", {"missing or malformed": str(exc)}) \
                from None
        self._boxes = {str(cto["nome"]): int(cto["id"]) for cto in ctos}
        catalogs[ELEMENTS] = tuple(boxes)
        reads = 2 + -(-len(ctos) // self.page_size)
        if "poles" in self.kinds:
            poles = await self._elements("poste")
            catalogs["poles"] = tuple({"name": p.get("nome"), "id": p.get("id"),
                                       "lat": p.get("latitude"), "lng": p.get("longitude")}
                                      for p in poles)
            reads += 1
        return Observed(self.name, index(links), catalogs=catalogs, reads=reads)

    def _link(self, cto: Mapping[str, Any], port: Mapping[str, Any]) -> Resource:
        client = port["cliente"]
        code = str(client["codigo"])
        attrs = {"service": int(code) if code.isdigit() else None, "box": str(cto["nome"]),
                 "splitter": None, "port": int(port["numero"]),
                 "document": str(client.get("documento") or ""),
                 "name": str(client.get("nome") or "")}
        return Resource(self.name, KIND, code, attrs, remote_id=code)

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        """The project's network (``reconcile sync``)."""
        return (await self.observe()).catalogs

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        await self._project()
        body = await self._listing_page(API + "/elementos", {
            "projeto": self._project_id, "tipo": "cto", "por_pagina": 1}, "itens", "paginas",
            call="GET /elementos")
        return int(body.get("total", 0)), "CTOs", {"project": self.project}

    def _described(self) -> str:
        return f"{self.platform} (project {self.project})"

    async def feasibility(self, lat: float, lng: float, radius_m: float | None) -> Feasibility:
        params: dict[str, Any] = {"latitude": lat, "longitude": lng,
                                  "projeto": await self._project(), "limite": 1000}
        if radius_m is not None:
            params["raio"] = radius_m
        response = await self._client.request("GET", API + "/viabilidade", params=params)
        body = self._client.json_object(response)
        try:
            found = tuple(Candidate(str(c["nome"]), float(c["distancia"]),
                                    int(c["portas_livres"]), float(c["latitude"]),
                                    float(c["longitude"]), True) for c in body["ctos"])
            radius = float(body["raio"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._client.unexpected("GET /viabilidade", {"missing or malformed": str(exc)}) \
                from None
        return Feasibility(self.name, lat, lng, radius, found)

    # -- writing -------------------------------------------------------------------------------

    def _handlers(self) -> dict[tuple[str, Action], Callable[[Change], Awaitable[Applied]]]:
        return {(KIND, Action.LINK): self._put, (KIND, Action.UPDATE): self._move,
                (KIND, Action.UNLINK): self._remove}

    async def _box_id(self, after: Mapping[str, Any]) -> int:
        if after.get("box_id") is not None:
            return int(after["box_id"])
        if str(after["box"]) not in self._boxes:
            await self.observe()
        if str(after["box"]) not in self._boxes:
            raise errors.NotFoundError(f"CTO {after['box']} does not exist in project "
                                       f"{self.project} on geosite", integration=self.name)
        return self._boxes[str(after["box"])]

    async def _put(self, change: Change) -> Applied:
        after, key = target(change), change.keys[0]
        body = {"codigo": key, "documento": str(after["document"]), "nome": str(after["name"]),
                "substituir": bool(after.get("displace"))}
        await self._write(change, "PUT", await self._box_id(after), int(after["port"]), json=body)
        return Applied(remote_ids={key: key})

    async def _move(self, change: Change) -> Applied:
        before, after = change.before or {}, target(change)
        if (before.get("box"), before.get("port")) != (after.get("box"), after.get("port")) \
                and before.get("box") is not None:
            await self._take_off(change, before)
        return await self._put(change)

    async def _remove(self, change: Change) -> Applied:
        await self._take_off(change, change.before or {})
        return Applied()

    async def _take_off(self, change: Change, was: Mapping[str, Any]) -> None:
        """The client off the port it was on. Already gone is done: the CTO or port gone, or
        another client there now (one that displaced it, in a swap)."""
        try:
            box = await self._box_id(was)
        except errors.NotFoundError:
            return
        response = await self._write(change, "DELETE", box, int(was["port"]),
                                     params={"codigo": change.keys[0]}, done=(404, 409))
        if response.status_code == 409 and answer_field(response, "erro") != "porta_ocupada":
            raise self._refusal(change, response)

    async def _write(self, change: Change, method: str, box: int, port: int, *,
                     json: Any = None, params: Mapping[str, Any] | None = None,
                     done: Sequence[int] = ()) -> httpx.Response:
        response = await self._client.request(
            method, f"{API}/ctos/{box}/portas/{port}/cliente", json=json, params=params,
            accept=(404, 409, 422))
        if response.is_success or response.status_code in done:
            return response
        raise self._refusal(change, response)

    def _refusal(self, change: Change, response: httpx.Response) -> errors.ProviderError:
        body, code = answer_json(response), answer_field(response, "erro")
        after = change.after or change.before or {}
        text = _REFUSALS.get(code, "client {key}: geosite refused the change").format(
            key=change.keys[0], box=after.get("box"), port=after.get("port"))
        message = body.get("mensagem") if isinstance(body, dict) else None
        text += f" (geosite {code or response.status_code}: {message})" if message else (
            f" (HTTP {response.status_code})")
        cls = {404: errors.NotFoundError, 409: errors.ConflictError}.get(
            response.status_code, errors.RejectedError)
        return cls(self._client.scrub(text), integration=self.name, status=response.status_code,
                   detail=self._client.scrub(response.text))


def _box(cto: Mapping[str, Any]) -> dict[str, Any]:
    """A CTO as a box of the ``elements`` catalog: its ports on one nameless customer splitter."""
    ports = cto["portas"]
    return {"name": str(cto["nome"]), "id": int(cto["id"]),
            "implanted": cto.get("status") == IMPLANTED,
            "lat": cto.get("latitude"), "lng": cto.get("longitude"),
            "splitters": [{"name": None, "id": None, "customer": True,
                           "ports": int(cto["total_portas"]),
                           "reserved": [int(p["numero"]) for p in ports if p.get("reservada")],
                           "occupied": {str(p["numero"]): str(p["cliente"]["codigo"])
                                        for p in ports if p.get("cliente")}}]}
