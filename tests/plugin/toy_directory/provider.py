"""The toy directory's provider, written against the Provider protocol alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from reconciler.errors import AuthError, ReconcilerError
from reconciler.model import Change, Integration, Observed, Resource, index
from reconciler.providers.base import Applied, Health


class ToyProvider:
    platform: ClassVar[str] = "toy-directory"

    def __init__(self, integration: Integration, credentials: Mapping[str, str],
                 transport: httpx.AsyncBaseTransport | None = None, **_: Any) -> None:
        self.integration = integration
        base = integration.endpoint if integration.endpoint.startswith("http") else "http://toy"
        self._client = httpx.AsyncClient(base_url=base, transport=transport,
                                         headers={"X-Api-Key": credentials["api_key"]})
        self.page_size = int(integration.options.get("page_size", 2))

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = await self._client.request(method, path, **kwargs)
        if response.status_code == 401:
            raise AuthError("the toy directory refused the api_key",
                            integration=self.integration.name)
        if response.status_code >= 400 and not (method == "DELETE" and response.status_code == 404):
            raise ReconcilerError(f"toy directory answered {response.status_code}")
        return response

    async def observe(self) -> Observed:
        name, found, page, reads = self.integration.name, [], 0, 0
        while page is not None:
            body = (await self._call("GET", "/entries", params={
                "page": page, "per_page": self.page_size})).json()
            reads += 1
            for item in body["entries"]:
                attrs = {k: v for k, v in item.items() if k != "id"}
                found.append(Resource(name, "entry", item["id"], attrs, None, item["id"]))
            page = body["next"]
        return Observed(name, index(found), {}, reads)

    async def execute(self, change: Change) -> Applied:
        (key,) = change.keys
        if change.after is None:
            await self._call("DELETE", f"/entries/{key}")
            return Applied()
        await self._call("PUT", f"/entries/{key}", json=dict(change.after))
        return Applied(remote_ids={key: key})

    async def catalogs(self) -> Mapping[str, tuple[Mapping[str, Any], ...]]:
        return {}

    async def check(self) -> Health:
        await self._call("GET", "/entries", params={"page": 0, "per_page": 1})
        return Health(True, "the toy directory answers")

    async def aclose(self) -> None:
        await self._client.aclose()
