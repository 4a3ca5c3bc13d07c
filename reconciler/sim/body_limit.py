"""A bound on request bodies, in front of every simulator route.

A body is read whole (up to the bound) before the app sees it, so no handler can be made to
hold more than :data:`reconciler.bounds.MAX_REQUEST_BYTES` of one request; a larger one is
answered 413 in the platform's own words, whether it announced its length or streamed it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp as App
from starlette.types import Message, Receive, Scope, Send

from reconciler.bounds import MAX_REQUEST_BYTES


class BodyLimitMiddleware:
    """Refuse (``too_large(scope)`` builds the response) a request body over ``limit`` bytes."""

    def __init__(self, app: App, too_large: Callable[[], App], limit: int = MAX_REQUEST_BYTES) -> None:
        self.app, self.too_large, self.limit = app, too_large, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self.too_large()(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees the disconnect below
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self.too_large()(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
