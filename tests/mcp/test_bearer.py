"""``BearerGate``, the token check in front of ``orgo-async mcp --http``, as plain ASGI."""

from __future__ import annotations

from typing import Any

import pytest

from orgo_async.mcp import BearerGate

TOKEN = "s3cret-token"


class App:
    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope["type"])
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


async def call(gate: BearerGate, scope_type: str, auth: bytes | None) -> list[dict[str, Any]]:
    headers = [(b"host", b"127.0.0.1")] + ([(b"authorization", auth)] if auth is not None else [])
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await gate({"type": scope_type, "headers": headers}, receive, send)
    return sent


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (None, 401),
        (b"", 401),
        (b"Bearer", 401),
        (b"Bearer wrong", 401),
        (b"Basic " + TOKEN.encode(), 401),
        (TOKEN.encode(), 401),
        (b"Bearer " + TOKEN.encode() + b"x", 401),
        (b"Bearer " + TOKEN.encode(), 200),
        (b"bearer " + TOKEN.encode(), 200),  # the scheme is case-insensitive
        (b"BEARER  " + TOKEN.encode(), 200),
    ],
)
async def test_http_requests_need_the_token(auth: bytes | None, status: int) -> None:
    app = App()
    sent = await call(BearerGate(app, token=TOKEN), "http", auth)
    assert sent[0]["status"] == status
    assert app.scopes == (["http"] if status == 200 else [])
    if status == 401:
        headers = dict(sent[0]["headers"])
        assert headers[b"www-authenticate"].startswith(b"Bearer")
        assert TOKEN.encode() not in sent[1]["body"]


async def test_websockets_are_refused_and_lifespan_passes() -> None:
    app = App()
    gate = BearerGate(app, token=TOKEN)
    assert await call(gate, "websocket", None) == [{"type": "websocket.close", "code": 1008}]
    await call(gate, "lifespan", None)
    assert app.scopes == ["lifespan"]


@pytest.mark.parametrize("bad", ["", " padded ", "new\nline"])
def test_a_bad_token_is_refused_up_front(bad: str) -> None:
    with pytest.raises(ValueError, match="MCP token"):
        BearerGate(App(), token=bad)


def test_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(BearerGate(App(), token=TOKEN))
