"""A request to the MemOS API that carries a body but no key, or that comes from a client past
its wrong keys, is answered before its body is read.

FastAPI reads and parses a JSON body before any dependency runs, the key check included, and
``BodyLimit`` reads every body first: a client with no key could have the service read and parse
10 MB bodies (about 0.7 s of the event loop each) to be told 401, and a client the wrong-key
throttle has stopped could still do so to be told 429. Both answers depend on the headers alone,
so they are given here, outside ``BodyLimit``, with ``Connection: close`` (the body is never
read). The answers are the ones ``api.deps.get_project`` gives: the throttle first (429, 40300
with ``Retry-After``), then a missing key (401, 40100). A key that is there but wrong is still
checked by the route (which needs the database), after the body.

Only requests with a body (``Content-Length`` above 0, or chunked) under the API prefix: every
one of those routes needs a key. Requests without a body, the admin API (its own key), the MCP
endpoint and the console's files are left to their routes.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from memos_server.api.deps import bearer_token
from memos_server.api.errors import render
from memos_server.errors import MemosError, TooManyFailedKeys, Unauthenticated
from memos_server.services.failed_keys import client_of


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in headers


class KeyFirst:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refused = self._refusal(scope, headers) if _has_body(headers) else None
        if refused is None:
            await self.app(scope, receive, send)
            return
        await render(refused, {"Connection": "close"})(scope, receive, send)

    @staticmethod
    def _refusal(scope: Scope, headers: Headers) -> MemosError | None:
        runtime = getattr(scope["app"].state, "runtime", None)
        throttle = getattr(runtime, "failed_keys", None)
        if throttle is not None:
            client = scope.get("client")
            try:
                throttle.check(client_of(client[0] if client else None))
            except TooManyFailedKeys as error:
                return error
        if bearer_token(headers.get("authorization")) is None:
            return Unauthenticated()
        return None
