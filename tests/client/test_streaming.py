"""The streaming half of the pipeline: uploads that never sit whole in memory, the 10 MB
limit, no retry once a body went out, streamed responses that can be left early.

Real aiohttp servers on loopback. The upload server reads bodies chunk by chunk (hashing
them) so that memory measured with ``tracemalloc`` is the client's.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from orgo_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncOrgo,
    BadRequestError,
    ServiceUnavailableError,
)
from orgo_async._resources.files import MAX_UPLOAD_BYTES
from tests.conftest import API_KEY, RecordingServer, serving

WSID = "550e8400-e29b-41d4-a716-446655440000"
FILE_JSON = b'{"file": {"id": "f1", "filename": "x", "size_bytes": 1}}'


@dataclass
class UploadServer:
    """Answers ``POST /api/files/upload`` after hashing the body as it streams in."""

    base_url: str = ""
    digests: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # scripted answers, then 200
    drop: bool = False  # read the body, then close without answering
    attempts: int = 0
    incomplete: int = 0


@pytest.fixture
async def upload_server() -> AsyncIterator[UploadServer]:
    state = UploadServer()

    async def handler(request: web.Request) -> web.StreamResponse:
        state.attempts += 1
        digest = hashlib.sha256()
        size = 0
        try:
            async for chunk in request.content.iter_chunked(64 * 1024):
                digest.update(chunk)
                size += len(chunk)
        except Exception:
            state.incomplete += 1
            raise
        state.digests.append(digest.hexdigest())
        state.sizes.append(size)
        if state.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        status = state.statuses.pop(0) if state.statuses else 200
        if status != 200:
            return web.json_response({"error": f"scripted {status}"}, status=status)
        return web.Response(body=FILE_JSON, content_type="application/json")

    app = web.Application(client_max_size=0)
    app.router.add_post("/api/files/upload", handler)
    runner = web.AppRunner(app)
    async with serving(runner) as port:
        state.base_url = f"http://127.0.0.1:{port}/api"
        yield state


def _big_file(path: Path, size: int) -> str:
    block = os.urandom(1 << 20)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        written = 0
        while written < size:
            piece = block[: min(len(block), size - written)]
            f.write(piece)
            digest.update(piece)
            written += len(piece)
    return digest.hexdigest()


async def _peak_during(work: Callable[[], Awaitable[object]]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_10_mb_upload_from_a_path_never_sits_in_memory(
    upload_server: UploadServer, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    await asyncio.to_thread(_big_file, path, MAX_UPLOAD_BYTES)
    async with AsyncOrgo(api_key=API_KEY, base_url=upload_server.base_url) as orgo:
        peak = await _peak_during(lambda: orgo.files.upload(WSID, path))
        # The same file as bytes is the contrast: that one does sit in memory.
        data = await asyncio.to_thread(path.read_bytes)
        peak_bytes = await _peak_during(lambda: orgo.files.upload(WSID, data, filename="b"))
    # The whole file went out, plus a few hundred bytes of multipart framing.
    assert MAX_UPLOAD_BYTES < upload_server.sizes[0] < MAX_UPLOAD_BYTES + 2048
    assert peak < 3 * 1024 * 1024, f"peak {peak} bytes while streaming a 10 MiB file"
    assert peak_bytes > MAX_UPLOAD_BYTES  # the measurement can see a whole copy


async def test_a_10_mb_upload_from_an_iterator_streams(upload_server: UploadServer) -> None:
    sent = hashlib.sha256()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(160):  # 160 x 64 KiB = 10 MiB, made on the fly
            piece = bytes([i % 256]) * (64 * 1024)
            sent.update(piece)
            yield piece

    async with AsyncOrgo(api_key=API_KEY, base_url=upload_server.base_url) as orgo:
        peak = await _peak_during(lambda: orgo.files.upload(WSID, chunks(), filename="gen.bin"))
    assert upload_server.sizes[0] > MAX_UPLOAD_BYTES
    assert peak < 3 * 1024 * 1024, f"peak {peak} bytes while streaming from an iterator"


async def test_the_limit_is_checked_before_sending(
    upload_server: UploadServer, tmp_path: Path
) -> None:
    path = tmp_path / "too-big.bin"
    with path.open("wb") as f:
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no disk used
    async with AsyncOrgo(api_key=API_KEY, base_url=upload_server.base_url) as orgo:
        with pytest.raises(ValueError, match="limited to"):
            await orgo.files.upload(WSID, path)
        with pytest.raises(ValueError, match="limited to"):
            await orgo.files.upload(WSID, b"x" * (MAX_UPLOAD_BYTES + 1), filename="b")
        with pytest.raises(ValueError, match="no such file"):
            await orgo.files.upload(WSID, tmp_path / "missing")
        with pytest.raises(ValueError, match="filename is required"):
            await orgo.files.upload(WSID, b"x")
        with pytest.raises(TypeError):
            await orgo.files.upload(WSID, 123)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await orgo.files.upload("../x", b"x", filename="a")
    assert upload_server.attempts == 0


async def test_an_iterator_past_the_limit_is_aborted_mid_body(upload_server: UploadServer) -> None:
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"z" * (1 << 20)

    async with AsyncOrgo(api_key=API_KEY, base_url=upload_server.base_url, max_retries=3) as orgo:
        with pytest.raises(ValueError, match="limited to"):
            await orgo.files.upload(WSID, endless(), filename="endless.bin")
    assert pulled == 11  # stopped at the first chunk past 10 MiB, never more
    assert upload_server.sizes == []  # the server never got a complete upload
    assert upload_server.attempts <= 1  # and it was not retried


async def test_an_upload_is_not_retried_once_its_body_went_out(
    upload_server: UploadServer, no_sleep: list[float]
) -> None:
    upload_server.statuses = [503]
    async with AsyncOrgo(api_key=API_KEY, base_url=upload_server.base_url, max_retries=3) as orgo:
        with pytest.raises(ServiceUnavailableError):
            await orgo.files.upload(WSID, b"payload", filename="a.txt")
        assert upload_server.attempts == 1 and no_sleep == []
        upload_server.drop = True
        with pytest.raises(APIConnectionError):
            await orgo.files.upload(WSID, b"payload", filename="a.txt")
        assert upload_server.attempts == 2 and no_sleep == []
        upload_server.drop = False
        upload_server.statuses = [400]
        with pytest.raises(BadRequestError, match="scripted 400"):
            await orgo.files.upload(WSID, b"payload", filename="a.txt")


async def test_an_upload_that_never_connected_is_retried(no_sleep: list[float]) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pulls = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulls
        pulls += 1
        yield b"data"

    async with AsyncOrgo(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}/api", max_retries=2
    ) as orgo:
        with pytest.raises(APIConnectionError, match="could not connect"):
            await orgo.files.upload(WSID, chunks(), filename="a")
    assert len(no_sleep) == 2  # two retries: nothing had gone out
    assert pulls == 0  # and the iterator was never started


# -- streamed responses ------------------------------------------------------------------


@dataclass
class SSEServer:
    base_url: str = ""
    connected: int = 0
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def sse_server() -> AsyncIterator[SSEServer]:
    state = SSEServer()
    base = "/api/templates/default/t/1.0.0/build/events"

    async def forever(request: web.Request) -> web.StreamResponse:
        state.connected += 1
        resp = web.StreamResponse()
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        try:
            await resp.write(b'data: {"level":"info","phase":"install","line":"one"}\n\n')
            while True:  # keep-alives until the client goes away
                await asyncio.sleep(0.02)
                await resp.write(b": keep-alive\n\n")
        except ConnectionError:
            state.disconnected.set()
        return resp

    async def silent(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/event-stream"
        await resp.prepare(request)
        await asyncio.sleep(30)
        return resp

    async def truncated(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.content_type = "text/event-stream"
        resp.content_length = 1000
        await resp.prepare(request)
        await resp.write(b'data: {"line":"partial"}\n\n')
        assert request.transport is not None
        request.transport.close()
        return resp

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"data: {not json\n\n", content_type="text/event-stream")

    app = web.Application()
    app.router.add_get(base, forever)
    app.router.add_get(base.replace("/t/", "/silent/"), silent)
    app.router.add_get(base.replace("/t/", "/cut/"), truncated)
    app.router.add_get(base.replace("/t/", "/bad/"), garbage)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    async with serving(runner) as port:
        state.base_url = f"http://127.0.0.1:{port}/api"
        yield state


async def test_leaving_a_stream_early_closes_the_connection(sse_server: SSEServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=sse_server.base_url) as orgo:
        async with orgo.templates.build_events("default/t@1.0.0") as events:
            first = await events.__anext__()
        assert first.line == "one"
        async with asyncio.timeout(5):
            await sse_server.disconnected.wait()


async def test_cancelling_the_reader_closes_the_connection(sse_server: SSEServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=sse_server.base_url) as orgo:
        first = asyncio.Event()

        async def consume() -> None:
            async for _ in orgo.templates.build_events("default/t@1.0.0"):
                first.set()

        task = asyncio.create_task(consume())
        async with asyncio.timeout(5):
            await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(5):
            await sse_server.disconnected.wait()


async def test_nothing_is_sent_before_iteration(sse_server: SSEServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=sse_server.base_url) as orgo:
        stream = orgo.templates.build_events("default/t@1.0.0")
        await asyncio.sleep(0.05)
        assert sse_server.connected == 0
        await stream.aclose()
        with pytest.raises(ValueError):
            orgo.templates.build_events("not a ref")


async def test_silence_past_the_idle_timeout(sse_server: SSEServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=sse_server.base_url) as orgo:
        with pytest.raises(APITimeoutError):
            async for _ in orgo.templates.build_events("default/silent@1.0.0", idle_timeout=0.2):
                pass


async def test_a_stream_cut_mid_body_and_a_malformed_frame(sse_server: SSEServer) -> None:
    from orgo_async import APIDecodeError

    async with AsyncOrgo(api_key=API_KEY, base_url=sse_server.base_url) as orgo:
        lines = []
        with pytest.raises(APIConnectionError):
            async for event in orgo.templates.build_events("default/cut@1.0.0"):
                lines.append(event.line)
        assert lines == ["partial"]
        with pytest.raises(APIDecodeError, match="malformed build event"):
            async for _ in orgo.templates.build_events("default/bad@1.0.0"):
                pass


async def test_a_streamed_read_is_retried_like_any_read(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    path = "/api/templates/default/t/1.0.0/build/events"
    server.respond("GET", path, status=503, json={"error": "busy"}, times=2)
    server.respond(
        "GET",
        path,
        body=b'data: {"phase":"ready","level":"success","line":"ok"}\n\n',
        headers={"Content-Type": "text/event-stream"},
    )
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=2) as orgo:
        events = [e async for e in orgo.templates.build_events("default/t@1.0.0")]
    assert [e.line for e in events] == ["ok"]
    assert len(server.requests) == 3 and len(no_sleep) == 2


async def test_a_stream_waits_for_the_governor_and_asks_a_rotating_key_each_attempt(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    """Streams share the buffered requests' pipeline: a 429 holds every request of the
    client (the next one waits too) and a callable key is asked again per attempt."""
    path = "/api/templates/default/t/1.0.0/build/events"
    server.respond("GET", path, status=429, json={"error": "slow"}, headers={"Retry-After": "3"})
    server.respond(
        "GET",
        path,
        body=b'data: {"phase":"ready","level":"success","line":"ok"}\n\n',
        headers={"Content-Type": "text/event-stream"},
    )
    server.respond("GET", "/api/workspaces", json={"workspaces": []})
    keys = iter(["sk_live_rotating_s0001", "sk_live_rotating_s0002", "sk_live_rotating_s0003"])
    async with AsyncOrgo(api_key=lambda: next(keys), base_url=server.base_url) as orgo:
        events = [e async for e in orgo.templates.build_events("default/t@1.0.0")]
        assert [e.line for e in events] == ["ok"]
        assert len(no_sleep) == 1 and 2.9 < no_sleep[0] <= 3.0  # the governor's wait
        await orgo.workspaces.list()  # still held: it waits as well
    assert len(no_sleep) == 2 and 2.9 < no_sleep[1] <= 3.0
    assert [r.headers["Authorization"] for r in server.requests] == [
        "Bearer sk_live_rotating_s0001",
        "Bearer sk_live_rotating_s0002",
        "Bearer sk_live_rotating_s0003",
    ]
    assert server.requests[0].headers["Accept"] == "text/event-stream"


async def test_chat_stream_without_done_or_with_an_error_frame(server: RecordingServer) -> None:
    from orgo_async import CreditsExhaustedError

    path = "/api/v1/chat/completions"
    chunk = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    server.respond("POST", path, body=chunk, headers={"Content-Type": "text/event-stream"})
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        got = []
        with pytest.raises(APIConnectionError, match=r"\[DONE\]"):
            async for c in orgo.chat.stream("c1", "hi"):
                got.append(c.content)
        assert got == ["Hi"]
        error = (
            b'data: {"error":{"type":"insufficient_credits","message":"out",'
            b'"code":"credits_exhausted","balance_cents":3}}\n\n'
        )
        server.respond(
            "POST", path, body=chunk + error, headers={"Content-Type": "text/event-stream"}
        )
        with pytest.raises(CreditsExhaustedError) as e:
            async for _ in orgo.chat.stream("c1", "hi"):
                pass
        assert e.value.balance_cents == 3 and e.value.status_code == 402
        assert len(server.requests) == 2  # a completion is never sent twice


async def test_a_completion_is_never_resent_once_it_may_have_reached_the_agent(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    path = "/api/v1/chat/completions"
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=3) as orgo:
        server.respond("POST", path, drop=True, times=2)
        with pytest.raises(APIConnectionError):
            await orgo.chat.create("c1", "hi")
        assert len(server.requests) == 1
        with pytest.raises(APIConnectionError):
            async for _ in orgo.chat.stream("c1", "hi"):
                pass
        assert len(server.requests) == 2 and no_sleep == []
        # 503 says the request was not processed (the desktop was unreachable): resent.
        server.respond("POST", path, status=503, json={"error": "Could not reach the desktop"})
        server.respond(
            "POST",
            path,
            json={
                "id": "chatcmpl-1",
                "choices": [{"message": {"role": "assistant", "content": "ok"}}],
            },
        )
        assert (await orgo.chat.create("c1", "hi")).content == "ok"
        assert len(server.requests) == 4 and len(no_sleep) == 1
