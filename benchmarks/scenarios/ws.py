"""Terminal and Audio over WebSockets: ``orgo_async.Connection`` vs raw ``websockets``.

Against the benchmark server's WebSockets (:mod:`benchmarks.server`), same process for
both sides, one after the other:

* terminal latency: send one keystroke (``{"type":"input","data":"a"}``), wait for its
  ``output`` echo; median and p99 of ``keystrokes`` round trips;
* terminal throughput: ask for ``count`` output frames of ``size`` characters and read
  them all (decoded to text) until the ``<done>`` marker; MB/s of output text;
* audio: read ``frames`` binary 960-byte PCM messages after ``started``; frames/s, and the
  frames our drop-oldest buffer discarded (a consumer that keeps up drops none).

Raw ``websockets`` is what a user would write by hand: ``json.dumps``/``json.loads`` around
``ws.send``/``ws.recv`` on one ``websockets.asyncio.client.connect``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from .._common import Server, fmt_ratio, md_table, median, p99, server_stats

TOKEN = "a06db12a8683df96"
CLOSE_TIMEOUT = 0.5


@dataclass
class _FakeComputer:
    """The fields a Connection reads (an ``orgo_async.Computer`` works the same way)."""

    id: str
    connection_url: str
    instance_id: str = "a3881618"
    fly_instance_id: str | None = None
    hostname: str | None = None
    vnc_password: str | None = TOKEN


def _connection(server: Server) -> Any:
    from orgo_async import Connection

    computer = _FakeComputer(id="a3bb189e-8bf9-3888-9912-ace4e6543002",
                             connection_url=server.ws_base())  # fmt: skip
    # No heartbeat: both sides then do the same work per frame. A short close timeout on
    # both sides: the audio server floods the socket, so after the client stops reading
    # the closing handshake waits behind buffered frames (outside the timed part).
    return Connection(computer, heartbeat_interval=None, close_timeout=CLOSE_TIMEOUT)


def _raw_url(server: Server, channel: str, query: str = "") -> str:
    base = server.ws_base().replace("http://", "ws://")
    return f"{base}/ws/{channel}?token={TOKEN}{query}"


# -- terminal --------------------------------------------------------------------------


async def _ours_terminal(server: Server, keystrokes: int, count: int, size: int) -> dict[str, Any]:
    conn = _connection(server)
    rtts: list[float] = []
    async with conn.terminal() as term:
        for _ in range(keystrokes):
            t0 = time.perf_counter()
            await term.send("a")
            echoed = await term.read()
            rtts.append(time.perf_counter() - t0)
            assert echoed == "a", echoed
        t0 = time.perf_counter()
        await term.send(f"bulk:{count}:{size}\r")
        got = 0
        while True:
            chunk = await term.read()
            if chunk == "<done>":
                break
            got += len(chunk)
        dt = time.perf_counter() - t0
    assert got == count * size, (got, count * size)
    return {"rtts": rtts, "bulk_seconds": dt, "bulk_chars": got}


async def _raw_terminal(server: Server, keystrokes: int, count: int, size: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    rtts: list[float] = []
    url = _raw_url(server, "terminal", "&cols=80&rows=24")
    async with connect(url, max_size=None, compression=None, close_timeout=CLOSE_TIMEOUT) as ws:
        for _ in range(keystrokes):
            t0 = time.perf_counter()
            await ws.send(json.dumps({"type": "input", "data": "a"}))
            msg = json.loads(await ws.recv())
            rtts.append(time.perf_counter() - t0)
            assert msg["data"] == "a", msg
        t0 = time.perf_counter()
        await ws.send(json.dumps({"type": "input", "data": f"bulk:{count}:{size}\r"}))
        got = 0
        while True:
            msg = json.loads(await ws.recv())
            if msg.get("type") != "output":
                continue
            if msg["data"] == "<done>":
                break
            got += len(msg["data"])
        dt = time.perf_counter() - t0
    assert got == count * size, (got, count * size)
    return {"rtts": rtts, "bulk_seconds": dt, "bulk_chars": got}


# -- audio -----------------------------------------------------------------------------


async def _ours_audio(server: Server, frames: int) -> dict[str, Any]:
    conn = _connection(server)
    async with conn.audio() as audio:
        await audio.read()  # first frame: the stream is running
        t0 = time.perf_counter()
        n = 0
        while n < frames:
            pcm = await audio.read()
            n += len(pcm) // 960
        dt = time.perf_counter() - t0
        dropped = audio.dropped
    return {"frames": n, "seconds": dt, "dropped": dropped}


async def _raw_audio(server: Server, frames: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    url = _raw_url(server, "audio", "&sample_rate=24000&channels=1")
    async with connect(url, max_size=None, compression=None, close_timeout=CLOSE_TIMEOUT) as ws:
        started = json.loads(await ws.recv())
        assert started["type"] == "started", started
        await ws.recv()
        t0 = time.perf_counter()
        n = 0
        while n < frames:
            pcm = await ws.recv()
            if isinstance(pcm, bytes):
                n += len(pcm) // 960
        dt = time.perf_counter() - t0
        await ws.send('{"type":"stop"}')
    return {"frames": n, "seconds": dt, "dropped": 0}


# -- orchestration ---------------------------------------------------------------------


def run(
    server: Server,
    *,
    keystrokes: int = 2000,
    count: int = 5000,
    size: int = 4096,
    frames: int = 50_000,
    reps: int = 3,
) -> tuple[str, dict[str, Any]]:
    """Runs ours and raw alternately ``reps`` times; returns the table and raw results."""

    server_cpu: dict[str, list[float]] = {"terminal": [], "audio": []}

    async def measured(kind: str, coro: Any) -> dict[str, Any]:
        # The server's CPU share over the phase (connect included), to show it kept up.
        s0, t0 = server_stats(server.http_port)["cpu"], time.perf_counter()
        r: dict[str, Any] = await coro
        s1, t1 = server_stats(server.http_port)["cpu"], time.perf_counter()
        server_cpu[kind].append((s1 - s0) / (t1 - t0))
        return r

    async def main() -> dict[str, Any]:
        res: dict[str, Any] = {"ours": [], "raw": [], "ours_audio": [], "raw_audio": []}
        for _ in range(reps):
            for side, fn in (("ours", _ours_terminal), ("raw", _raw_terminal)):
                res[side].append(await measured("terminal", fn(server, keystrokes, count, size)))
            for side, afn in (("ours_audio", _ours_audio), ("raw_audio", _raw_audio)):
                res[side].append(await measured("audio", afn(server, frames)))
        res["server_cpu"] = server_cpu
        return res

    res = asyncio.run(main())

    def term(side: str) -> tuple[float, float, float]:
        rtts = [x for r in res[side] for x in r["rtts"]]
        mbps = median([r["bulk_chars"] / r["bulk_seconds"] / 1e6 for r in res[side]])
        return median(rtts) * 1e6, p99(rtts) * 1e6, mbps

    def fps(side: str) -> tuple[float, int]:
        rs = res[side]
        return median([r["frames"] / r["seconds"] for r in rs]), sum(r["dropped"] for r in rs)

    o_med, o_p99, o_mbps = term("ours")
    r_med, r_p99, r_mbps = term("raw")
    o_fps, o_drop = fps("ours_audio")
    r_fps, _ = fps("raw_audio")
    rows = [
        ["terminal keystroke echo, median µs (lower is better)", f"{o_med:,.0f}",
         f"{r_med:,.0f}", fmt_ratio(o_med / r_med)],
        ["terminal keystroke echo, p99 µs (lower is better)", f"{o_p99:,.0f}",
         f"{r_p99:,.0f}", fmt_ratio(o_p99 / r_p99)],
        [f"terminal bulk output, MB/s ({count:,} x {size:,}-char frames)", f"{o_mbps:,.1f}",
         f"{r_mbps:,.1f}", fmt_ratio(o_mbps / r_mbps)],
        [f"audio, 960-byte frames/s ({frames:,} frames; ours dropped {o_drop})",
         f"{o_fps:,.0f}", f"{r_fps:,.0f}", fmt_ratio(o_fps / r_fps)],
        ["server CPU share (terminal / audio phases, max)",
         f"{max(server_cpu['terminal']) * 100:.0f}% / {max(server_cpu['audio']) * 100:.0f}%",
         "", ""],
    ]  # fmt: skip
    header = ["measure", "ours: Connection", "raw websockets", "ours / raw"]
    return md_table(header, rows), res
