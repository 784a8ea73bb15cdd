"""A bearer-token gate in front of the MCP server's streamable HTTP app.

Whoever reaches an MCP server's port drives the Orgo account behind it. On loopback the
``mcp`` package already refuses other hosts and origins (DNS rebinding); with a token
(``ORGO_MCP_TOKEN`` for ``orgo-async mcp --http``) every HTTP request must also carry
``Authorization: Bearer <token>``, compared in constant time. No I/O of its own: plain
ASGI, so it wraps any app.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

__all__ = ["BearerGate"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY: Final = b'{"error":"unauthorized: send Authorization: Bearer <ORGO_MCP_TOKEN>"}'


class BearerGate:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get a 401
    (``WWW-Authenticate: Bearer``) and never reach ``app``; lifespan events pass through.

    ::

        app = BearerGate(server.streamable_http_app(), token=os.environ["ORGO_MCP_TOKEN"])
    """

    __slots__ = ("_app", "_expected")

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        if not token or not token.isprintable() or token != token.strip():
            raise ValueError("the MCP token must be a non-empty printable string")
        self._app = app
        self._expected = b"bearer " + token.encode()

    def __repr__(self) -> str:
        return "BearerGate(token=***)"  # never the token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._allowed(scope):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY)).encode()),
                        (b"www-authenticate", b'Bearer realm="orgo-mcp"'),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self._app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope.get("headers", ()):
            if name.lower() == b"authorization":
                given = bytes(value)
                break
        # The scheme is case-insensitive (RFC 9110); the token is not.
        scheme, _, token = given.partition(b" ")
        candidate = scheme.lower() + b" " + token.strip()
        return hmac.compare_digest(candidate, self._expected)
