"""Connection URLs, redaction, TLS, import cost, and the proxy through a real client."""

from __future__ import annotations

import asyncio
import logging
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from aiohttp import web
from websockets.asyncio.server import ServerConnection

from orgo_async import (
    AsyncOrgo,
    AuthenticationError,
    Computer,
    Connection,
    NotFoundError,
    TokenRejectedError,
    WaitTimeoutError,
    WebSocketError,
)
from orgo_async._protocol.close_codes import ReconnectPolicy
from tests.conftest import serving

from .conftest import Desktop, answer_pings

API_KEY = "sk_live_conn_test_9f8e7d6c"
PASSWORD = "a06db12a8683df96"


def computer(**changes: str | None) -> Computer:
    fields: dict[str, str | None] = {
        "id": "a3bb189e-8bf9-3888-9912-ace4e6543002",
        "instance_id": "a3881618",
        "fly_instance_id": "a3881618",
        "hostname": "www.orgo.ai",
        "connection_url": "https://www.orgo.ai/desktops/a3881618",
        "vnc_password": PASSWORD,
    }
    fields.update(changes)
    return Computer(status="running", **fields)  # type: ignore[arg-type]


# -- URLs and redaction ------------------------------------------------------------------


def test_urls_from_connection_url() -> None:
    conn = Connection(computer())
    assert conn.websockify_url.get() == (
        f"wss://www.orgo.ai/desktops/a3881618/ws/websockify?token={PASSWORD}"
    )
    assert conn.terminal_url().get() == (
        f"wss://www.orgo.ai/desktops/a3881618/ws/terminal?token={PASSWORD}&cols=80&rows=24"
    )
    assert conn.terminal_url(cols=120, rows=40).get().endswith("&cols=120&rows=40")
    assert conn.audio_url().get().endswith(f"?token={PASSWORD}&sample_rate=24000&channels=1")
    assert conn.audio_url(48000, 2).get().endswith("&sample_rate=48000&channels=2")
    assert (
        conn.events_url.get() == f"wss://www.orgo.ai/desktops/a3881618/ws/events?token={PASSWORD}"
    )
    assert conn.proxy_url("health") == "https://www.orgo.ai/api/desktops/a3881618/proxy/health"


def test_fallback_from_hostname_and_instance_id() -> None:
    conn = Connection(computer(connection_url=None, instance_id=None))
    assert conn.instance_id == "a3881618"  # from the deprecated alias
    assert conn.events_url.get().startswith("wss://www.orgo.ai/desktops/a3881618/ws/events?")
    with pytest.raises(ValueError, match="connection_url"):
        Connection(computer(connection_url=None, hostname=None))


def test_token_is_url_encoded() -> None:
    token = "p&w=d/?#+ %"
    url = Connection(computer(vnc_password=token)).terminal_url().get()
    assert parse_qs(urlsplit(url).query)["token"] == [token]


def test_redaction_everywhere() -> None:
    conn = Connection(computer())
    url = conn.websockify_url
    for text in (str(url), repr(url), f"{url}", repr(conn), str(conn.token), repr(conn.token)):
        assert PASSWORD not in text
    assert str(url) == "wss://www.orgo.ai/desktops/a3881618/ws/websockify?token=***"
    term = conn.terminal()
    assert PASSWORD not in repr(term) and "token=***" in term.url


def test_no_password_yet() -> None:
    conn = Connection(computer(vnc_password=None))
    with pytest.raises(ValueError, match="vnc_password"):
        _ = conn.websockify_url


async def test_proxy_needs_a_client() -> None:
    conn = Connection(computer())
    # URLs need no client...
    assert conn.api_base == "https://www.orgo.ai/api"
    assert conn.proxy_url("a b/c") == "https://www.orgo.ai/api/desktops/a3881618/proxy/a%20b/c"
    # ...requests do: refused at once, before anything is sent (no server here to reach).
    for method in ("GET", "POST", "DELETE"):
        with pytest.raises(RuntimeError, match=r"API key.*orgo\.connection\(computer\)"):
            await asyncio.wait_for(conn.proxy.request(method, "health"), timeout=1)


def test_bad_arguments() -> None:
    conn = Connection(computer())
    with pytest.raises(ValueError):
        conn.terminal_url(cols=0)
    with pytest.raises(ValueError):
        conn.terminal(rows=100_000)
    with pytest.raises(TypeError):
        Connection(computer(), ssl=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Connection(computer(), heartbeat_interval=0)
    with pytest.raises(ValueError):
        conn.proxy_url("../../computers")


def test_importing_does_not_import_websockets() -> None:
    code = (
        "import sys, orgo_async, orgo_async.connection\n"
        "from orgo_async.connection import Connection\n"
        "assert 'websockets' not in sys.modules, 'websockets imported'\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


async def test_logs_never_show_the_token(
    desktop: Desktop, caplog: pytest.LogCaptureFixture
) -> None:
    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await answer_pings(ws)

    desktop.handlers["audio"] = handler
    caplog.set_level(logging.DEBUG)
    conn = desktop.connection(password="pw-stale-secret-1")
    async with conn.audio() as audio:
        await desktop.sockets[-1].close(1011, "oops")
        desktop.rotate()
    # Only the SDK's records: the test server's own logger prints what it received.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("orgo_async"))
    assert "connecting" in text and "> GET /desktops/" in text  # the logs are there...
    assert "pw-stale-secret-1" not in text and desktop.password not in text  # ...redacted
    assert audio.closed


# -- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_desktop(ca: trustme.CA) -> AsyncIterator[tuple[Desktop, ssl.SSLContext]]:
    """A desktop serving ``events`` over TLS with a certificate from ``ca``, and a client
    context that trusts ``ca``."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    desktop = Desktop()
    desktop.ssl = server_ctx

    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"subscribed","message":"ok"}')
        await answer_pings(ws)

    desktop.handlers["events"] = handler
    await desktop.start(ssl=server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    try:
        yield desktop, client_ctx
    finally:
        await desktop.stop()


async def test_wss_with_a_trusted_certificate(
    tls_desktop: tuple[Desktop, ssl.SSLContext],
) -> None:
    desktop, client_ctx = tls_desktop
    conn = desktop.connection(ssl=client_ctx)
    assert conn.events_url.get().startswith("wss://127.0.0.1:")
    async with conn.events(["idle"]) as events:
        assert events.subscriptions == ["idle"]
    # Verification is on by default: the same server is refused without the CA.
    with pytest.raises(WebSocketError, match="TLS") as info:
        async with desktop.connection().events(["idle"]):
            pass
    assert isinstance(info.value.__cause__, ssl.SSLError)
    # ...and with a different CA.
    other = ssl.create_default_context()
    trustme.CA().configure_trust(other)
    with pytest.raises(WebSocketError, match="TLS"):
        async with desktop.connection(ssl=other).events(["idle"]):
            pass
    assert len(desktop.of("events")) == 1


async def test_a_client_connection_trusts_what_the_client_trusts(
    tls_desktop: tuple[Desktop, ssl.SSLContext],
) -> None:
    """orgo.connection() hands the client's TLS context to the channels (a private CA)."""
    desktop, client_ctx = tls_desktop
    async with (
        AsyncOrgo(api_key=API_KEY, base_url="https://127.0.0.1:9/api", ssl=client_ctx) as orgo,
        AsyncOrgo(api_key=API_KEY, base_url="https://127.0.0.1:9/api") as default,
    ):
        async with orgo.connection(desktop.computer()).events(["idle"]) as events:
            assert events.subscriptions == ["idle"]
        with pytest.raises(WebSocketError, match="TLS"):
            async with default.connection(desktop.computer()).events(["idle"]):
                pass


# -- a real client: token refresh through the API, the Desktop proxy, wait_ready -----------


class Api:
    """A REST server for the endpoints the connection uses."""

    def __init__(self, desktop: Desktop) -> None:
        self.desktop = desktop
        self.health_failures = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/computers/{id}/vnc-password", self.password)
        self.app.router.add_route("*", "/api/desktops/{iid}/proxy/{tail:.*}", self.proxy)

    async def password(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path, request.headers.get("Authorization")))
        return web.json_response({"password": self.desktop.password})

    async def proxy(self, request: web.Request) -> web.Response:
        self.requests.append((request.method, request.path, request.headers.get("Authorization")))
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"error": "Invalid API key"}, status=401)
        tail = request.match_info["tail"]
        if tail == "health":
            if self.health_failures > 0:
                self.health_failures -= 1
                return web.json_response({"error": "Desktop instance not available"}, status=503)
            return web.json_response({"status": "ok"})
        if tail == "echo":
            return web.json_response({"method": request.method, "body": await request.text()})
        return web.json_response({"error": "not found"}, status=404)


@pytest.fixture
async def api(desktop: Desktop) -> AsyncIterator[tuple[Api, AsyncOrgo]]:
    server = Api(desktop)
    async with serving(web.AppRunner(server.app)) as port:
        base_url = f"http://127.0.0.1:{port}/api"
        async with AsyncOrgo(api_key=API_KEY, base_url=base_url, max_retries=2) as client:
            yield server, client


async def test_client_refreshes_the_token(desktop: Desktop, api: tuple[Api, AsyncOrgo]) -> None:
    server, client = api

    async def handler(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await ws.send(b"\x00\x00" * 480)
        await answer_pings(ws)

    desktop.handlers["audio"] = handler
    desktop.rotate()  # the computer restarted since it was fetched
    conn = client.connection(desktop.computer(password="pw-0000000001"))
    conn.options = conn.options.with_changes(reconnect=ReconnectPolicy(initial=0.01, cap=0.01))
    async with conn.audio() as audio:
        assert len(await audio.read()) == 960
        desktop.rotate()
        await desktop.sockets[-1].close(4401, "rotated")
        assert len(await audio.read()) == 960
    paths = [p for _, p, _ in server.requests]
    assert paths == [f"/api/computers/{desktop.computer().id}/vnc-password"] * 2
    assert all(auth == f"Bearer {API_KEY}" for _, _, auth in server.requests)
    assert [s.token for s in desktop.of("audio")] == [
        "pw-0000000001",
        "pw-0000000002",
        "pw-0000000003",
    ]


async def test_client_second_rejection(desktop: Desktop, api: tuple[Api, AsyncOrgo]) -> None:
    server, client = api

    async def always_reject(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.close(4401, "invalid token")

    desktop.handlers["events"] = always_reject
    conn = client.connection(desktop.computer())
    with pytest.raises(TokenRejectedError, match="again"):
        async with conn.events(["idle"]):
            pass
    assert len(server.requests) == 1


async def test_proxy_through_the_pipeline(desktop: Desktop, api: tuple[Api, AsyncOrgo]) -> None:
    server, client = api
    conn = client.connection(desktop.computer())
    assert conn.proxy_url("health") == f"{client.base_url}/desktops/a3881618/proxy/health"
    health = await conn.proxy.get("health")
    assert health.status == 200 and health.json() == {"status": "ok"}
    echoed = await conn.proxy.post("echo", json={"command": "ls"})
    assert echoed.json() == {"method": "POST", "body": '{"command":"ls"}'}
    with pytest.raises(NotFoundError):
        await conn.proxy.get("missing")
    assert server.requests[0] == ("GET", "/api/desktops/a3881618/proxy/health", f"Bearer {API_KEY}")


async def test_wait_ready_polls_with_backoff(desktop: Desktop, api: tuple[Api, AsyncOrgo]) -> None:
    server, client = api
    server.health_failures = 7  # more than the pipeline's own retries
    conn = client.connection(desktop.computer())
    response = await conn.wait_ready(timeout=30, interval=0.01)
    assert response.status == 200
    health_calls = [r for r in server.requests if r[1].endswith("/health")]
    assert len(health_calls) == 8


async def test_wait_ready_times_out(desktop: Desktop, api: tuple[Api, AsyncOrgo]) -> None:
    server, client = api
    server.health_failures = 10_000
    conn = client.connection(desktop.computer())
    with pytest.raises(WaitTimeoutError, match="HTTP 503"):
        await conn.wait_ready(timeout=0.3, interval=0.01)


async def test_wait_ready_raises_auth_errors_at_once(
    desktop: Desktop, api: tuple[Api, AsyncOrgo]
) -> None:
    server, _ = api
    port = int(_.base_url.split(":")[2].split("/")[0])
    async with AsyncOrgo(
        api_key="sk_live_wrong_key_1", base_url=f"http://127.0.0.1:{port}/api"
    ) as bad:
        conn = bad.connection(desktop.computer())
        with pytest.raises(AuthenticationError):
            await conn.wait_ready(timeout=30)
    assert len(server.requests) == 1


async def test_compression_per_channel(desktop: Desktop) -> None:
    """No permessage-deflate on the binary channels (vnc, audio); offered on the JSON
    text channels (terminal, events), where it was measured to pay off."""

    async def idle(ws: ServerConnection, query: dict[str, str]) -> None:
        if ws.seen.channel == "audio":  # type: ignore[attr-defined]
            await ws.send('{"type":"started","sample_rate":24000,"channels":1}')
        await answer_pings(ws)

    for channel in ("terminal", "audio", "events", "websockify"):
        desktop.handlers[channel] = idle
    conn = desktop.connection()
    async with conn.terminal(), conn.audio(), conn.events(), conn.vnc():
        pass
    offered = {s.channel: s.extensions for s in desktop.seen}
    assert "permessage-deflate" not in offered["audio"]
    assert "permessage-deflate" not in offered["websockify"]
    assert "permessage-deflate" in offered["terminal"]
    assert "permessage-deflate" in offered["events"]
    assert all(s.user_agent.startswith("orgo-async/") for s in desktop.seen)


async def test_compression_is_a_per_channel_choice(desktop: Desktop) -> None:
    """``compression=`` of terminal() and events() reaches the handshake: False offers no
    permessage-deflate, True offers it (as the default does), and the channel works
    either way (the server took the offer: its answer names the extension)."""
    answered: list[tuple[str, str]] = []

    async def idle(ws: ServerConnection, query: dict[str, str]) -> None:
        assert ws.response is not None
        channel: str = ws.seen.channel  # type: ignore[attr-defined]
        answered.append((channel, ws.response.headers.get("Sec-WebSocket-Extensions", "")))
        await answer_pings(ws)

    desktop.handlers["terminal"] = desktop.handlers["events"] = idle
    conn = desktop.connection()
    for offer in (False, True, None):
        async with conn.terminal(compression=offer) as term, conn.events(compression=offer):
            await term.send("x")  # a frame through whatever was negotiated
    offered = [(s.channel, "permessage-deflate" in s.extensions) for s in desktop.seen]
    assert offered == [
        ("terminal", False),
        ("events", False),
        ("terminal", True),
        ("events", True),
        ("terminal", True),
        ("events", True),
    ]
    assert [("permessage-deflate" in ext) for _, ext in answered] == [False, False] + [True] * 4
    inputs = [f for s in desktop.of("terminal") for f in s.frames if f.get("type") == "input"]
    assert inputs == [{"type": "input", "data": "x"}] * 3


async def test_proxy_get_is_retried_by_the_pipeline(
    desktop: Desktop, api: tuple[Api, AsyncOrgo]
) -> None:
    server, client = api
    server.health_failures = 1  # one 503, then healthy
    conn = client.connection(desktop.computer())
    response = await conn.proxy.get("health")
    assert response.status == 200
    assert len([r for r in server.requests if r[1].endswith("/health")]) == 2


async def test_proxy_without_a_client() -> None:
    conn = Connection(computer())
    with pytest.raises(RuntimeError, match="API key"):
        await conn.proxy.get("health")
    with pytest.raises(RuntimeError):
        await conn.wait_ready(timeout=1)
