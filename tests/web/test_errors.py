"""Typed errors become proper JSON answers, end to end: Orgo's answer (scripted exactly on
a recording server) -> the SDK's typed error -> the app's exception handler -> what a
real HTTP client receives from uvicorn. Secrets never reach the body."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from orgo_async import (
    APIConnectionError,
    APIDecodeError,
    APITimeoutError,
    AuthenticationError,
    ComputerStateError,
    InternalServerError,
    NotFoundError,
    OrgoError,
    RateLimitError,
    WaitTimeoutError,
)
from orgo_async._secrets import Secret
from orgo_async.web import error_answer

from ..conftest import API_KEY, RecordingServer
from ._apps import build_app
from .conftest import UvicornServer

CID = "c0ffee00-0000-4000-8000-000000000001"
PASSWORD = "vncpw-Zq81xLm2"


async def _ask(
    server: RecordingServer, path: str = f"/computers/{CID}", **opts: object
) -> httpx.Response:
    app = build_app(API_KEY, server.base_url, **opts)  # type: ignore[arg-type]
    async with UvicornServer(app) as srv, httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        return await http.get(path)


def _no_secret(answer: httpx.Response) -> None:
    raw = answer.text + json.dumps(dict(answer.headers))
    assert API_KEY not in raw
    assert PASSWORD not in raw


async def test_404_stays_404_with_orgos_message_and_request_id(server: RecordingServer) -> None:
    server.respond("GET", f"/api/computers/{CID}", status=404,
                   json={"error": "Computer not found", "request_id": "req-1"})  # fmt: skip
    answer = await _ask(server)
    assert answer.status_code == 404
    assert answer.json() == {"error": "Computer not found", "type": "NotFoundError",
                             "request_id": "req-1"}  # fmt: skip


async def test_429_keeps_retry_after(server: RecordingServer) -> None:
    server.respond("GET", f"/api/computers/{CID}", status=429,
                   json={"error": "Too many requests"}, headers={"Retry-After": "7"})  # fmt: skip
    answer = await _ask(server)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "7"
    assert answer.json()["retry_after"] == 7
    assert answer.json()["type"] == "RateLimitError"


async def test_429_without_retry_after_still_tells_the_caller_to_wait(
    server: RecordingServer,
) -> None:
    server.respond("GET", f"/api/computers/{CID}", status=429, json={"error": "slow down"})
    answer = await _ask(server)
    assert answer.status_code == 429 and answer.headers["retry-after"] == "1"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_upstream_5xx_becomes_502_without_orgos_text_or_secrets(
    server: RecordingServer, status: int
) -> None:
    Secret(PASSWORD)  # the SDK knows this password (as after fetching a computer)
    server.respond("GET", f"/api/computers/{CID}", status=status, json={
        "error": f"boom: key {API_KEY} password {PASSWORD} at /srv/internal.py:12",
        "request_id": "req-5"})  # fmt: skip
    answer = await _ask(server)
    assert answer.status_code == 502
    body = answer.json()
    assert body["error"] == f"the Orgo API failed (HTTP {status})"
    assert body["request_id"] == "req-5"
    assert "internal.py" not in answer.text
    _no_secret(answer)


async def test_a_4xx_message_echoing_secrets_is_redacted(server: RecordingServer) -> None:
    Secret(PASSWORD)
    server.respond("GET", f"/api/computers/{CID}", status=409, json={
        "error": f"Conflict: token {PASSWORD} and key {API_KEY} in use"})  # fmt: skip
    answer = await _ask(server)
    assert answer.status_code == 409
    assert answer.json()["error"] == "Conflict: token *** and key *** in use"
    _no_secret(answer)


async def test_401_from_orgo_is_the_servers_problem_not_the_callers(
    server: RecordingServer,
) -> None:
    server.respond("GET", f"/api/computers/{CID}", status=401, json={"error": "Invalid API key."})
    answer = await _ask(server)
    assert answer.status_code == 502
    assert answer.json() == {"error": "the Orgo API rejected this server's API key",
                             "type": "AuthenticationError"}  # fmt: skip


async def test_upstream_timeout_becomes_504(server: RecordingServer) -> None:
    server.respond("GET", f"/api/computers/{CID}", json={}, delay=5)
    answer = await _ask(server, timeout=0.3)
    assert answer.status_code == 504
    assert answer.json()["type"] == "APITimeoutError"


async def test_unreachable_orgo_becomes_502() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(API_KEY, f"http://127.0.0.1:{port}/api")
    async with UvicornServer(app) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        answer = await http.get(f"/computers/{CID}")
    assert answer.status_code == 502
    assert answer.json() == {"error": "could not reach the Orgo API", "type": "APIConnectionError"}


async def test_malformed_answer_becomes_502_without_the_body(server: RecordingServer) -> None:
    server.respond("GET", f"/api/computers/{CID}", body=f"<html>{API_KEY}</html>".encode())
    answer = await _ask(server)
    assert answer.status_code == 502
    assert answer.json()["type"] == "APIDecodeError"
    _no_secret(answer)


def test_error_answer_covers_the_whole_hierarchy() -> None:
    cases: list[tuple[OrgoError, int]] = [
        (NotFoundError("gone", status_code=404), 404),
        (RateLimitError("slow", status_code=429, headers={"Retry-After": "2.5"}), 429),
        (RateLimitError("slow", status_code=429, headers={"Retry-After": "soon"}), 429),
        (InternalServerError("x", status_code=500), 502),
        (AuthenticationError("x", status_code=401), 502),
        (APITimeoutError("x"), 504),
        (APIConnectionError("x"), 502),
        (APIDecodeError("x", status_code=200, body=b"?"), 502),
        (WaitTimeoutError("not running within 5 s"), 504),
        (ComputerStateError("error state", computer_id=CID, status="error"), 409),
        (OrgoError("other"), 500),
    ]
    for exc, status in cases:
        assert error_answer(exc).status == status, exc
    assert error_answer(cases[1][0]).headers == {"Retry-After": "3"}
    assert error_answer(cases[2][0]).headers == {"Retry-After": "1"}
    assert error_answer(cases[9][0]).body["status"] == "error"
    assert error_answer(OrgoError("other")).body == {"error": "internal error", "type": "OrgoError"}


async def test_errors_inside_a_websocket_route_do_not_use_http_answers(
    server: RecordingServer,
) -> None:
    # An unknown computer on a relay is a close code (4404), not an HTTP answer.
    import websockets

    server.respond("GET", f"/api/computers/{CID}", status=404, json={"error": "Computer not found"})
    app = build_app(API_KEY, server.base_url)
    async with (
        UvicornServer(app) as srv,
        websockets.connect(f"{srv.ws_url}/computers/{CID}/terminal") as ws,
    ):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(10):
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404
    assert "Computer not found" in closed.value.rcvd.reason
