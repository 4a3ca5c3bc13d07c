"""OZmap provider (API v2): client services on the customer splitter ports of one project.

The wire contract is the one :mod:`reconciler.platforms.ozmap.sim` serves and
docs/platforms/ozmap.md describes, after OZmap's own SDK. What it observes and changes:

- the network of the integration's project (option ``project``, its exact name): its boxes with
  their splitters, as the ``elements`` catalog of :mod:`reconciler.specs.ports`. A splitter
  serves customers when OZmap flags it ``isDrop``, or when the option ``customer_splitters``
  names it; its reserved ports are the blocked ones and the last ``default_reserve`` of the box;
  a box in design (``implanted: false`` or a draft) takes no client;
- ``port_link`` (key: the FTTH client's ``code``, the ERP's id_cliente_servico): ``service``,
  ``box`` and ``splitter`` (names), ``port`` (from 1), ``document`` (kept in the client's
  ``observation`` as ``CPF/CNPJ <digits>``, beside whatever else operators noted there: OZmap
  has no field for it), ``name``.

A link creates the property on the port with its client inline (``code``, ``name``,
``observation``, ``implanted: true``); a migration PATCHes the property's ``connector`` and
``port``; an unlink deletes the client and, with ``on_cancel: remove_client`` (the default), its
property, or with ``keep_property`` disconnects the property and keeps it. A change that
displaces another client (two services swapping ports) first disconnects that client's property.

Auth: ``credentials.api_key`` is sent raw in ``Authorization``; without one, ``POST
users/login?type=API`` with the username and password gives a token sent the same way, renewed
once on a 401. Every write is safe to repeat: a create whose client code exists finds that
client and its property and converges them; deleting what is gone is done.

The listing reaches clients through the project's properties, so a client whose property is gone
or disconnected is not in it: an unlink killed between its two deletes leaves one. The next run
asks for the keys the journal left pending and the managed ones the listing lacked
(:meth:`OzmapProvider.observe_keys`); such a client comes back on no port, and the plan finishes
its removal, or puts it back on its port when still declared.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from reconciler import errors
from reconciler.feasibility import Candidate, Feasibility
from reconciler.model import Action, Change, Observed, Resource, index
from reconciler.providers.base import Applied
from reconciler.providers.common import Auth, HttpProvider, answer_field, bounded, target
from reconciler.providers.tokens import Issued
from reconciler.specs.ports import ELEMENTS, KIND

PLATFORM = "ozmap"
API = "/api/v2"
DOCUMENT = re.compile(r"CPF/CNPJ (\d{11,14})")
REASONS = {"not_implanted": "in design", "draft": "a draft", "no_customer_splitter":
           "no customer splitter", "no_free_port": "no free customer port"}


def _noted(observation: str, document: str) -> str:
    """The client's observation with its document (``CPF/CNPJ <digits>``) set, the rest of what
    operators wrote there kept."""
    mark = f"CPF/CNPJ {document}"
    if DOCUMENT.search(observation):
        return DOCUMENT.sub(mark, observation, count=1)
    return f"{mark} · {observation}" if observation.strip() else mark


class OzmapProvider(HttpProvider):
    """One integration's connection to an OZmap tenant and its one project."""

    platform: ClassVar[str] = PLATFORM
    embedded_url: ClassVar[str] = "http://ozmap.embedded"
    example_url: ClassVar[str] = "https://isp.ozmap.com.br:9994"
    credential_fields: ClassVar[tuple[str, ...]] = ()  # api_key, or username and password

    def _configure(self) -> None:
        options = self.integration.options
        self.project = str(options.get("project") or "")
        self.customer = set(options.get("customer_splitters") or ())
        self.on_cancel = str(options.get("on_cancel") or "remove_client")
        self._project_id: str | None = None
        self._boxes: dict[str, Mapping[str, Any]] = {}  # box name -> catalog entry
        self._clients: dict[str, tuple[str, str | None]] = {}  # code -> (client id, property id)
        self._observed = False  # _clients holds every client of the project
        self._notes: dict[str, str] = {}  # code -> the client's observation as last read

    def _auth(self, credentials: Mapping[str, str]) -> Auth:
        key = credentials.get("api_key")
        if key:
            self._used: tuple[str, ...] = ("api_key",)
            return Auth(secrets=(key,), headers={"Authorization": key})
        user, password = credentials.get("username"), credentials.get("password")
        if not user and not password:
            raise errors.AuthError("credentials.api_key is missing; give it, or "
                                   "credentials.username and credentials.password",
                                   integration=self.integration.name)
        for name, value in (("username", user), ("password", password)):
            if not value:
                raise errors.AuthError(f"credentials.{name} is missing; set it in the "
                                       f"integration (or give credentials.api_key)",
                                       integration=self.integration.name)
        self._login_body = {"login": str(user), "password": str(password)}
        self._used = ("username", "password")
        return Auth(secrets=(str(password),), login=self._login, scheme="")

    def _credentials_used(self) -> tuple[str, ...]:
        return self._used  # credential_fields is empty: either set will do

    async def _login(self) -> Issued:
        """A login token (its lifetime is not said: renewed on a 401)."""
        return await self._log_in(API + "/users/login", self._login_body, token="authorization",
                                  fields=("username", "password"), params={"type": "API"})

    # -- reading -------------------------------------------------------------------------------

    async def _rows(self, resource: str, where: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Every record of a listing filtered by ``where`` (in the GET body, as the SDK sends
        it): the first page says how many there are, the rest are read concurrently."""
        body = {"filter": list(where)}

        async def page(n: int) -> Mapping[str, Any]:
            return await self._listing(resource, n, body)

        first = await page(1)
        pages = -(-int(first.get("total", 0)) // self.page_size)
        rest = await bounded([lambda n=n: page(n)  # type: ignore[misc]
                              for n in range(2, pages + 1)], self.concurrency)
        return [row for part in (first, *rest) for row in part["rows"]]

    async def _listing(self, resource: str, page: int, body: Any) -> Mapping[str, Any]:
        response = await self._client.request("GET", f"{API}/{resource}", json=body,
                                              params={"page": page, "limit": self.page_size})
        found = self._client.json_object(response)
        if not isinstance(found.get("rows"), list) or not isinstance(found.get("total"), int):
            raise self._client.unexpected(f"GET /{resource}", found)
        return found

    async def _project(self) -> str:
        if not self.project:
            raise errors.ReconcilerError(f"integration {self.name!r}: option project (the "
                                         f"OZmap project's exact name) is required")
        if self._project_id is None:
            rows = await self._rows("projects", [{"property": "name", "operator": "=",
                                                  "value": self.project}])
            if not rows:
                raise errors.NotFoundError(
                    f"project {self.project!r} does not exist on ozmap: the option project must "
                    f"be the exact name of a project the API user can see", integration=self.name)
            self._project_id = str(rows[0]["id"])
        return self._project_id

    async def observe(self) -> Observed:
        project = await self._project()
        mine = [{"property": "project", "operator": "=", "value": project}]
        # one listing after the other, each with its pages concurrent: within the bound
        boxes = await self._rows("boxes", mine)
        splitters = await self._rows("splitters", mine)
        properties = await self._rows("properties", mine)
        clients = await self._clients_of(properties)
        try:
            network = self._network(boxes, splitters, properties, clients)
            # each splitter's name and box by its id: one lookup per port, not a scan
            where = {s["id"]: (s["name"], box["name"])
                     for box in network.values() for s in box["splitters"]}
            links = [self._link(prop, clients[prop["client"]], where)
                     for prop in properties if prop.get("client") in clients
                     and prop.get("connections")]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise self._client.unexpected("GET /properties", {"missing or malformed": str(exc)}) \
                from None
        self._clients = {str(clients[p["client"]]["code"]): (str(p["client"]), str(p["id"]))
                         for p in properties if p.get("client") in clients}
        self._observed = True
        return Observed(self.name, index(links), catalogs={ELEMENTS: tuple(network.values())},
                        reads=4 + (len(boxes) + len(splitters) + len(properties))
                        // self.page_size)

    async def _clients_of(self, properties: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        ids = sorted({str(p["client"]) for p in properties if p.get("client")})
        if not ids:
            return {}
        found: dict[str, Any] = {}
        for start in range(0, len(ids), 500):  # a bounded "in" filter per read
            rows = await self._rows("ftth-clients", [{"property": "id", "operator": "in",
                                                      "value": ids[start:start + 500]}])
            found.update({str(row["id"]): row for row in rows})
        return found

    def _network(self, boxes: Sequence[Any], splitters: Sequence[Any],
                 properties: Sequence[Any], clients: Mapping[str, Any]
                 ) -> dict[str, Mapping[str, Any]]:
        """The boxes as the ``elements`` catalog, each with its splitters and their ports."""
        occupied: dict[str, dict[str, str]] = {}
        for prop in properties:
            for connection in prop.get("connections") or ():
                client = clients.get(str(prop.get("client")))
                occupied.setdefault(str(connection["id"]), {})[str(connection["port"])] = \
                    str(client["code"]) if client else ""
        by_box: dict[str, list[dict[str, Any]]] = {}
        reserve = {str(b["id"]): int(b.get("default_reserve") or 0) for b in boxes}
        for s in splitters:
            customer = bool(s.get("isDrop")) or str(s["name"]) in self.customer
            ports = len((s.get("connectables") or {}).get("output") or ()) or int(
                s["ratio"]["output"])
            blocked = {int(p.get("index", n + 1)) for n, p in enumerate(s.get("ports") or ())
                       if p.get("blocked")}
            kept = set(range(ports - reserve.get(str(s["parent"]), 0) + 1, ports + 1)) \
                if customer else set()
            by_box.setdefault(str(s["parent"]), []).append({
                "name": str(s["name"]), "id": str(s["id"]), "customer": customer, "ports": ports,
                "reserved": sorted(blocked | kept), "occupied": occupied.get(str(s["id"]), {})})
        network: dict[str, Mapping[str, Any]] = {}
        for b in boxes:
            lng, lat = b["coords"]
            network[str(b["name"])] = {
                "name": str(b["name"]), "id": str(b["id"]),
                "implanted": bool(b.get("implanted")) and not b.get("draft"),
                "lat": lat, "lng": lng, "splitters": by_box.get(str(b["id"]), [])}
        self._boxes = network
        return network

    def _link(self, prop: Mapping[str, Any], client: Mapping[str, Any],
              where: Mapping[str, tuple[str, str]]) -> Resource:
        connection = prop["connections"][0]
        splitter, box = where.get(str(connection["id"]), (None, None))
        return self._client_link(client, box, splitter, int(connection["port"]))

    def _client_link(self, client: Mapping[str, Any], box: str | None, splitter: str | None,
                     port: int | None) -> Resource:
        code = str(client["code"])
        self._notes[code] = str(client.get("observation") or "")
        found = DOCUMENT.search(self._notes[code])
        attrs = {"service": int(code) if code.isdigit() else None, "box": box,
                 "splitter": splitter, "port": port,
                 "document": found.group(1) if found else "", "name": str(client.get("name") or "")}
        return Resource(self.name, KIND, code, attrs, remote_id=str(client["id"]))

    async def observe_keys(self, kind: str, keys: Sequence[str]) -> list[Resource]:
        """The clients of these codes that are on no port: the project's listing reaches
        clients through their properties, so one whose property is gone (an unlink killed
        between deleting the premises and the client) or disconnected shows only when asked
        for by code. Each comes as a ``port_link`` with no box, splitter or port; a client on
        a port is the listing's to show, and is left out."""
        if kind != KIND:
            return []
        found = await bounded([lambda code=code: self._off_port(code)  # type: ignore[misc]
                               for code in keys], self.concurrency)
        return [res for res in found if res is not None]

    async def _off_port(self, code: str) -> Resource | None:
        rows = await self._rows("ftth-clients", [{"property": "code", "operator": "=",
                                                  "value": code}])
        if not rows:
            return None
        client = rows[0]
        props = await self._rows("properties", [{"property": "client", "operator": "=",
                                                 "value": str(client["id"])}])
        if any(p.get("connections") for p in props):
            return None
        self._clients[code] = (str(client["id"]), str(props[0]["id"]) if props else None)
        return self._client_link(client, None, None, None)

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        return (await self.observe()).catalogs

    async def _probe(self) -> tuple[int, str, Mapping[str, Any]]:
        project = await self._project()
        first = await self._listing("boxes", 1, {"filter": [
            {"property": "project", "operator": "=", "value": project}]})
        return int(first["total"]), "boxes", {"project": self.project}

    def _described(self) -> str:
        return f"{self.platform} (project {self.project})"

    async def feasibility(self, lat: float, lng: float, radius_m: float | None) -> Feasibility:
        params: dict[str, Any] = {"lat": lat, "lng": lng, "project": await self._project()}
        if radius_m is not None:
            params["radius"] = radius_m
        response = await self._client.request("GET", API + "/ftth-viability/radius",
                                              params=params)
        body = self._client.json_object(response)
        try:
            viable = [Candidate(str(b["name"]), float(b["distance"]), int(b["availablePorts"]),
                                float(b["lat"]), float(b["lng"]), True) for b in body["boxes"]]
            other = [Candidate(str(b["name"]), float(b["distance"]),
                               int(b.get("availablePorts") or 0), float(b["lat"]),
                               float(b["lng"]), False, REASONS.get(str(b.get("reason")),
                                                                   str(b.get("reason"))))
                     for b in body.get("boxesWithoutViability") or ()]
            radius = float(body["radius"])
        except (KeyError, TypeError, ValueError) as exc:
            raise self._client.unexpected("GET /ftth-viability/radius",
                                          {"missing or malformed": str(exc)}) from None
        return Feasibility(self.name, lat, lng, radius, tuple(
            sorted(viable, key=lambda c: c.distance_m) + sorted(other,
                                                                key=lambda c: c.distance_m)))

    # -- writing -------------------------------------------------------------------------------

    def _handlers(self) -> dict[tuple[str, Action], Callable[[Change], Awaitable[Applied]]]:
        return {(KIND, Action.LINK): self._connect, (KIND, Action.UPDATE): self._connect,
                (KIND, Action.UNLINK): self._free}

    async def _ids(self, after: Mapping[str, Any]) -> tuple[str, str]:
        """The box and splitter ids a target names (from the plan, else the network)."""
        if after.get("box_id") and after.get("splitter_id"):
            return str(after["box_id"]), str(after["splitter_id"])
        if str(after.get("box")) not in self._boxes:
            await self.observe()
        box = self._boxes.get(str(after.get("box")))
        found = [s for s in (box or {}).get("splitters", ())
                 if s["customer"] and after.get("splitter") in (None, s["name"])]
        if box is None or not found:
            raise errors.NotFoundError(f"box {after.get('box')} (splitter "
                                       f"{after.get('splitter')}) is not in project "
                                       f"{self.project} on ozmap", integration=self.name)
        return str(box["id"]), str(found[0]["id"])

    async def _connect(self, change: Change) -> Applied:
        """Link or move: the client and its property on the target port."""
        after, code = target(change), change.keys[0]
        box, splitter = await self._ids(after)
        if after.get("displace"):
            await self._disconnect(change, str(after["displace"]))
        client = {"code": code, "name": str(after["name"]),
                  "observation": f"CPF/CNPJ {after['document']}", "implanted": True}
        where = {"box": box, "connector": splitter, "port": int(after["port"])}
        known = change.action is Action.LINK and self._observed and code not in self._clients
        held = None if known else await self._find(code)
        if held is None:
            response = await self._write(change, "POST", "/properties", {
                "project": await self._project(), **where, "client": client})
            if response.status_code != 409:
                made = self._client.json_object(response)
                self._clients[code] = (str(made.get("client")), str(made.get("id")))
                return Applied(remote_ids={code: str(made.get("client"))})
            # the code, or the port, taken: by a try of ours whose answer was lost?
            held = await self._find(code, fresh=True)
            if held is None:
                raise self._refusal(change, response)
        client_id, prop_id = held
        client["observation"] = _noted(self._notes.get(code, ""), str(after["document"]))
        await self._write(change, "PATCH", f"/ftth-clients/{client_id}",
                          {k: v for k, v in client.items() if k != "code"})
        if prop_id is None:
            await self._write(change, "POST", "/properties", {
                "project": await self._project(), **where, "client": client_id})
        else:
            await self._write(change, "PATCH", f"/properties/{prop_id}", where)
        return Applied(remote_ids={code: client_id})

    async def _free(self, change: Change) -> Applied:
        code = change.keys[0]
        held = await self._find(code)
        if held is None:
            return Applied()  # gone already
        client_id, prop_id = held
        if prop_id is not None:
            if self.on_cancel == "keep_property":
                await self._write(change, "PATCH", f"/properties/{prop_id}",
                                  {"connector": None}, done=(404,))
            else:
                await self._write(change, "DELETE", f"/properties/{prop_id}", None, done=(404,))
        await self._write(change, "DELETE", f"/ftth-clients/{client_id}", None, done=(404,))
        self._clients.pop(code, None)
        return Applied()

    async def _disconnect(self, change: Change, code: str) -> None:
        """Free the port another client holds, keeping its property (its own move follows)."""
        held = await self._find(code)
        if held is not None and held[1] is not None:
            await self._write(change, "PATCH", f"/properties/{held[1]}", {"connector": None},
                              done=(404,))

    async def _find(self, code: str, *, fresh: bool = False) -> tuple[str, str | None] | None:
        """The (client id, property id) of a client code, from the last observation or asked."""
        if not fresh and code in self._clients:
            return self._clients[code]
        rows = await self._rows("ftth-clients", [{"property": "code", "operator": "=",
                                                  "value": code}])
        if not rows:
            return None
        client_id = str(rows[0]["id"])
        self._notes[code] = str(rows[0].get("observation") or "")
        props = await self._rows("properties", [{"property": "client", "operator": "=",
                                                 "value": client_id}])
        self._clients[code] = (client_id, str(props[0]["id"]) if props else None)
        return self._clients[code]

    async def _write(self, change: Change, method: str, path: str, body: Any, *,
                     done: Sequence[int] = ()) -> httpx.Response:
        response = await self._client.request(method, API + path, json=body,
                                              accept=(404, 409, 422))
        if response.is_success or response.status_code in done:
            return response
        if method == "POST" and response.status_code == 409 and answer_field(response, "code") in (
                "DUPLICATE_CODE", "PORT_IN_USE"):
            return response  # the caller looks for a client of this code that exists
        raise self._refusal(change, response)

    def _refusal(self, change: Change, response: httpx.Response) -> errors.ProviderError:
        code, message = answer_field(response, "code"), answer_field(response, "message")
        after = change.after or change.before or {}
        where = f"box {after.get('box')} port {after.get('port')}"
        text = {"PORT_IN_USE": f"{where} is held by another client or premises on ozmap",
                "PORT_BLOCKED": f"{where} is blocked on ozmap",
                "PORT_RESERVED": f"{where} is reserved on ozmap",
                "DUPLICATE_CODE": f"client {change.keys[0]} exists on ozmap"}.get(
            code, f"client {change.keys[0]}: ozmap refused the change")
        text += f" (ozmap {code or response.status_code}: {message})" if message else (
            f" (HTTP {response.status_code})")
        cls = {404: errors.NotFoundError, 409: errors.ConflictError}.get(
            response.status_code, errors.RejectedError)
        return cls(self._client.scrub(text), integration=self.name, status=response.status_code,
                   detail=self._client.scrub(response.text))
