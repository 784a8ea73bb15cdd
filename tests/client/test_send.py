"""One send attempt: every way it can fail is classified, and only the pipeline retries.

``send_once`` runs against real loopback servers (refused port, a server that stalls,
one that drops the connection, one whose certificate is not trusted); the connect
timeout, which needs an unroutable network, is raised through ``aioresponses``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
import trustme
from aiohttp import web
from aioresponses import aioresponses

from orgo_async import APIConnectionError, APITimeoutError, AsyncOrgo
from orgo_async._http import HTTPPipeline, RequestOptions
from orgo_async._retry import Failure
from orgo_async._secrets import Secret
from orgo_async._transport import (
    Response,
    SharedSession,
    StreamBody,
    StreamedResponse,
    TransportFailure,
    send_once,
)
from tests.conftest import API_KEY, RecordingServer, serving

CID = "a3bb189e-8bf9-3888-9912-ace4e6543002"


def _pipeline(base_url: str, timeout: float = 5.0) -> HTTPPipeline:
    return HTTPPipeline(
        base_url=base_url,
        api_key=Secret(API_KEY),
        options=RequestOptions(timeout=timeout),
        transport=SharedSession(
            session=None, max_connections=10, max_connections_per_host=0, ssl=None
        ),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_answer_of_any_status_is_a_response(
    server: RecordingServer, session: aiohttp.ClientSession
) -> None:
    server.respond("POST", "/api/x", status=503, body=b"busy", headers={"Retry-After": "2"})
    req = _pipeline(server.base_url).build("POST", "/x", json={"a": 1})
    outcome = await send_once(session, req)
    assert isinstance(outcome, Response)
    assert (outcome.status, outcome.body, outcome.headers["Retry-After"]) == (503, b"busy", "2")
    sent = server.last()
    assert sent.json == {"a": 1} and sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.headers["Content-Type"] == "application/json"


async def test_refused_connection_is_connect(session: aiohttp.ClientSession) -> None:
    req = _pipeline(f"http://127.0.0.1:{_free_port()}/api").build("POST", "/click")
    outcome = await send_once(session, req)
    assert isinstance(outcome, TransportFailure) and outcome.kind is Failure.CONNECT
    assert isinstance(outcome.error, aiohttp.ClientConnectorError)


async def test_stalled_answer_is_timeout(
    server: RecordingServer, session: aiohttp.ClientSession
) -> None:
    server.respond("GET", "/api/slow", delay=1.0)
    req = _pipeline(server.base_url).build("GET", "/slow", timeout=0.1)
    outcome = await send_once(session, req)
    assert isinstance(outcome, TransportFailure) and outcome.kind is Failure.TIMEOUT
    assert len(server.requests) == 1  # it did reach the server


async def test_dropped_connection_is_dropped(
    server: RecordingServer, session: aiohttp.ClientSession
) -> None:
    server.respond("POST", "/api/click", drop=True)
    req = _pipeline(server.base_url).build("POST", "/click", json={"x": 1})
    outcome = await send_once(session, req)
    assert isinstance(outcome, TransportFailure) and outcome.kind is Failure.DROPPED
    assert len(server.requests) == 1


async def test_connect_timeout_is_connect_timeout(session: aiohttp.ClientSession) -> None:
    req = _pipeline("http://orgo.test/api").build("POST", "/click")
    with aioresponses() as m:
        m.post("http://orgo.test/api/click", exception=aiohttp.ConnectionTimeoutError())
        outcome = await send_once(session, req)
    assert isinstance(outcome, TransportFailure) and outcome.kind is Failure.CONNECT_TIMEOUT


async def test_streamed_request_hands_a_2xx_out_unread_and_reads_other_answers(
    server: RecordingServer, session: aiohttp.ClientSession
) -> None:
    server.respond("GET", "/api/events", body=b"data: one\n\n")
    server.respond("GET", "/api/missing", status=404, json={"error": "gone"})
    pipeline = _pipeline(server.base_url)
    outcome = await send_once(session, pipeline.build("GET", "/events", stream=True))
    assert isinstance(outcome, StreamedResponse) and outcome.status == 200
    try:
        assert await outcome.read() == b"data: one\n\n"
    finally:
        outcome.close()
    missing = await send_once(session, pipeline.build("GET", "/missing", stream=True))
    assert isinstance(missing, Response) and missing.status == 404
    assert missing.body == b'{"error":"gone"}'


async def test_a_stream_body_is_opened_per_attempt_until_it_started(
    server: RecordingServer, session: aiohttp.ClientSession
) -> None:
    pulls = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulls
        pulls += 1
        yield b"abc"

    body = StreamBody(chunks, content_type="application/octet-stream", size=3)
    refused = _pipeline(f"http://127.0.0.1:{_free_port()}/api").build("POST", "/up", content=body)
    outcome = await send_once(session, refused)
    assert isinstance(outcome, TransportFailure) and outcome.kind is Failure.CONNECT
    assert not body.started and pulls == 0  # nothing went out: it may be sent again
    server.respond("POST", "/api/up", json={"ok": True})
    req = _pipeline(server.base_url).build("POST", "/up", content=body)
    assert req.headers["Content-Length"] == "3"
    assert isinstance(await send_once(session, req), Response)
    assert body.started and pulls == 1 and server.last().body == b"abc"
    with pytest.raises(RuntimeError, match="cannot be replayed"):
        body.open()


@pytest.fixture
async def tls_server() -> AsyncIterator[tuple[str, trustme.CA]]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"id": CID, "status": "running"})

    app = web.Application()
    app.router.add_get("/api/computers/{id}", handler)
    runner = web.AppRunner(app)
    async with serving(runner, ssl_context=server_ctx) as port:
        yield f"https://127.0.0.1:{port}/api", ca


async def test_untrusted_certificate_is_tls_and_never_retried(
    tls_server: tuple[str, trustme.CA], no_sleep: list[float]
) -> None:
    base, ca = tls_server
    async with AsyncOrgo(api_key=API_KEY, base_url=base, max_retries=3) as orgo:
        with pytest.raises(APIConnectionError, match="TLS error") as info:
            await orgo.computers.get(CID)
    assert not isinstance(info.value, APITimeoutError)
    assert isinstance(info.value.__cause__, aiohttp.ClientSSLError)
    assert no_sleep == []  # a certificate problem is not retried, even for a GET
    # The same server with its CA trusted answers: the failure was the certificate.
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    async with AsyncOrgo(api_key=API_KEY, base_url=base, ssl=client_ctx) as orgo:
        assert (await orgo.computers.get(CID)).id == CID


async def test_connect_timeout_through_pipeline_is_retried_for_a_click(
    no_sleep: list[float],
) -> None:
    base = "http://orgo.test/api"
    async with AsyncOrgo(api_key=API_KEY, base_url=base, max_retries=2) as orgo:
        with aioresponses() as m:
            url = f"{base}/computers/{CID}/click"
            m.post(url, exception=aiohttp.ConnectionTimeoutError())
            m.post(url, exception=aiohttp.ConnectionTimeoutError())
            m.post(url, payload={"success": True, "action": "click"})
            r = await orgo.computers.click(CID, 1, 2)
    assert r.action == "click" and len(no_sleep) == 2


async def test_connect_timeout_exhausted_is_api_timeout(no_sleep: list[float]) -> None:
    base = "http://orgo.test/api"
    async with AsyncOrgo(api_key=API_KEY, base_url=base, max_retries=1) as orgo:
        with aioresponses() as m:
            m.post(
                f"{base}/computers/{CID}/click",
                exception=aiohttp.ConnectionTimeoutError(),
                repeat=True,
            )
            with pytest.raises(APITimeoutError, match=r"timed out connecting to http://orgo\.test"):
                await orgo.computers.click(CID, 1, 2)
    assert len(no_sleep) == 1


async def test_request_and_response_reprs_hide_key_and_body(
    server: RecordingServer, session: aiohttp.ClientSession
) -> None:
    password = "0a017c595fa7689753a3"
    server.respond("POST", "/api/x", body=b'{"vnc_password": "' + password.encode() + b'"}')
    req = _pipeline(server.base_url).build("POST", "/x", json={"text": "hunter2-typed"})
    outcome = await send_once(session, req)
    assert isinstance(outcome, Response) and password.encode() in outcome.body
    for text in (repr(req), str(req), repr(outcome), str(outcome)):
        assert API_KEY not in text and "hunter2" not in text and password not in text, text
    assert repr(req) == "Request(POST /x)" and repr(outcome) == "Response(status=200, size=40)"
