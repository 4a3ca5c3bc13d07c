"""The toy directory's simulator: entries by id behind an ``X-Api-Key`` header, paginated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class Store:
    def __init__(self, key: str, entries: Mapping[str, Any] | None = None) -> None:
        self.key = key
        self.entries: dict[str, dict[str, Any]] = dict(entries or {})
        self.writes = 0

    def to_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "writes": self.writes}


def create_app(token: str, *, faults: Any = None, seed: int | None = None,
               data: Mapping[str, Any] | None = None) -> Starlette:
    store = Store(token, (data or {}).get("entries"))
    if data:
        store.writes = int(data.get("writes", 0))

    def authorised(request: Request) -> bool:
        return request.headers.get("x-api-key") == store.key

    async def listing(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        page, per_page = int(request.query_params["page"]), int(request.query_params["per_page"])
        ids = sorted(store.entries)
        chunk = ids[page * per_page:(page + 1) * per_page]
        more = (page + 1) * per_page < len(ids)
        return JSONResponse({"entries": [{"id": i, **store.entries[i]} for i in chunk],
                             "next": page + 1 if more else None})

    async def entry(request: Request) -> Response:
        if not authorised(request):
            return JSONResponse({"error": "bad key"}, status_code=401)
        key = request.path_params["id"]
        store.writes += 1
        if request.method == "DELETE":
            return Response(status_code=204 if store.entries.pop(key, None) else 404)
        store.entries[key] = dict(await request.json())
        return JSONResponse({"id": key, **store.entries[key]})

    app = Starlette(routes=[Route("/entries", listing),
                            Route("/entries/{id}", entry, methods=["PUT", "DELETE"])])
    app.state.store = store
    return app


def embedded_app(credentials: Mapping[str, str], data: Mapping[str, Any] | None) -> Starlette:
    return create_app(credentials["api_key"], data=data)
