"""The benchmark server: a fast loopback HTTP + WebSocket server, run in its own process.

It must never be the bottleneck, so the HTTP side is a bare ``asyncio.Protocol`` (no
framework) answering canned bytes, and it reports its own CPU time so the tables can show
how busy it was. Routes:

* ``GET [/lat{ms}]/api/computers/{id}``: the documented Computer object (orgo-api.md §2.1)
  with ``id`` filled in, after ``ms`` milliseconds when the ``/lat{ms}`` prefix is given
  (so one server serves the instant and the 50 ms runs: the base URL picks the latency);
* ``GET /_stats``: ``{"cpu": user+system seconds, "requests": n}`` of this process;
* WebSocket ``/desktops/{instance}/ws/terminal``: echoes ``input`` as ``output`` (§11.4);
  ``input`` of ``bulk:<count>:<size>`` answers ``count`` output frames of ``size`` chars,
  then ``{"type":"output","data":"<done>"}``; ``ping`` gets ``pong``;
* WebSocket ``/desktops/{instance}/ws/audio``: the ``started`` frame, then 960-byte binary
  PCM frames as fast as the socket takes them until the client closes or sends ``stop``.

Run: ``python -m benchmarks.server`` prints one JSON line ``{"http": port, "ws": port}``
and serves until stdin closes (so it dies with its parent).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The documented v-C GET example (orgo-api.md §2.1), split around the id.
_COMPUTER_HEAD = b'{"id":"'
_COMPUTER_TAIL = (
    b'","name":"agent-1","project_name":"production","os":"linux","ram":4,"cpu":1,'
    b'"disk_size_gb":8,"status":"running",'
    b'"url":"https://orgo.ai/workspaces/a3bb189e-8bf9-3888-9912-ace4e6543002",'
    b'"created_at":"2026-04-07T10:35:00Z","instance_id":"a3881618","fly_instance_id":"a3881618",'
    b'"hostname":"www.orgo.ai","connection_url":"https://www.orgo.ai/desktops/a3881618",'
    b'"vnc_password":"a06db12a8683df96"}'
)
_NOT_FOUND = b'{"error":"Computer not found","request_id":"00000000-0000-0000-0000-000000000000"}'
_API_PREFIX = b"/api/computers/"

_requests = 0
# Delayed responses: how late they really went out (timer granularity is ~1 ms), so the
# fleet table can compare with the latency the server actually delivered.
_delayed = 0
_delay_total = 0.0


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _response(status: bytes, body: bytes, close: bool) -> bytes:
    return b"".join(
        (
            b"HTTP/1.1 ",
            status,
            b"\r\nContent-Type: application/json\r\nContent-Length: ",
            str(len(body)).encode(),
            b"\r\nConnection: close\r\n\r\n" if close else b"\r\n\r\n",
            body,
        )
    )


def _route(target: bytes) -> tuple[bytes, bytes, float]:
    """(status, body, delay in seconds) for a request target."""
    global _requests
    path = target.split(b"?", 1)[0]
    delay = 0.0
    if path.startswith(b"/lat"):
        end = path.find(b"/", 1)
        delay = int(path[4:end]) / 1000.0
        path = path[end:]
    if path.startswith(_API_PREFIX):
        cid = path[len(_API_PREFIX) :]
        if cid and b"/" not in cid and b'"' not in cid:
            _requests += 1
            return b"200 OK", _COMPUTER_HEAD + cid + _COMPUTER_TAIL, delay
    elif path == b"/_stats":
        stats = {
            "cpu": cpu_seconds(),
            "requests": _requests,
            "delayed": _delayed,
            "delay_total": _delay_total,
            "pid": os.getpid(),
        }
        return b"200 OK", json.dumps(stats).encode(), 0.0
    return b"404 Not Found", _NOT_FOUND, delay


class _HTTP(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; requests are answered in order (no pipelining reorder)."""

    __slots__ = ("_buf", "_loop", "_transport")

    def __init__(self) -> None:
        self._buf = b""
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            line_end = head.find(b"\r\n")
            request_line = head if line_end < 0 else head[:line_end]
            lower = head.lower()
            length = 0
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                length = int(lower[i + 17 : j if j >= 0 else len(lower)])
            if len(buf) < end + 4 + length:
                break  # body not complete yet
            buf = buf[end + 4 + length :]
            close = b"\r\nconnection: close" in lower
            parts = request_line.split(b" ")
            status, body, delay = _route(parts[1] if len(parts) > 1 else b"/")
            out = _response(status, body, close)
            if delay > 0:
                self._loop.call_later(delay, self._send_late, out, close, self._loop.time())
            else:
                self._send(out, close)
        self._buf = buf

    def _send_late(self, out: bytes, close: bool, arrived: float) -> None:
        global _delayed, _delay_total
        _delayed += 1
        _delay_total += self._loop.time() - arrived
        self._send(out, close)

    def _send(self, out: bytes, close: bool) -> None:
        t = self._transport
        if t is None or t.is_closing():
            return
        t.write(out)
        if close:
            t.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


# -- WebSockets ---------------------------------------------------------------------------

AUDIO_FRAME = bytes(960)  # 20 ms of silence at 24 kHz mono s16le


async def _terminal(ws: Any) -> None:
    async for message in ws:
        msg = json.loads(message)
        kind = msg.get("type")
        if kind == "ping":
            await ws.send('{"type":"pong"}')
        elif kind == "input":
            data = msg.get("data", "")
            if data.startswith("bulk:"):
                _, count, size = data.strip().split(":")
                frame = json.dumps({"type": "output", "data": "x" * int(size)})
                for _ in range(int(count)):
                    await ws.send(frame)
                await ws.send('{"type":"output","data":"<done>"}')
            else:
                await ws.send(json.dumps({"type": "output", "data": data}))


async def _audio(ws: Any, query: dict[str, list[str]]) -> None:
    rate = int(query.get("sample_rate", ["24000"])[0])
    channels = int(query.get("channels", ["1"])[0])
    await ws.send(json.dumps({"type": "started", "sample_rate": rate, "channels": channels}))
    stop = asyncio.Event()

    async def reader() -> None:
        async for message in ws:
            if isinstance(message, str) and json.loads(message).get("type") == "stop":
                break
        stop.set()

    task = asyncio.ensure_future(reader())
    try:
        from websockets.exceptions import ConnectionClosed

        while not stop.is_set():
            try:
                await ws.send(AUDIO_FRAME)
            except ConnectionClosed:
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ws.close(1000)


async def _ws_handler(ws: Any) -> None:
    parts = urlsplit(ws.request.path)
    if parts.path.endswith("/ws/terminal"):
        await _terminal(ws)
    elif parts.path.endswith("/ws/audio"):
        await _audio(ws, parse_qs(parts.query))
    else:
        await ws.close(4404, "not found")


async def main() -> None:
    loop = asyncio.get_running_loop()
    http = await loop.create_server(_HTTP, "127.0.0.1", 0, backlog=4096)
    from websockets.asyncio.server import serve

    ws_server = await serve(_ws_handler, "127.0.0.1", 0, max_size=None, compression=None)
    ports = {
        "http": http.sockets[0].getsockname()[1],
        "ws": next(iter(ws_server.sockets)).getsockname()[1],
        "pid": os.getpid(),
    }
    print(json.dumps(ports), flush=True)
    # Serve until the parent closes our stdin (or dies).
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    http.close()
    ws_server.close()
    await ws_server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
