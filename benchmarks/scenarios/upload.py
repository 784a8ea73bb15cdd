"""Streamed uploads: peak memory and time of a 10 MiB ``files.upload`` by source.

Not wired into ``make bench`` yet; run it on its own::

    .venv/bin/python -m benchmarks.scenarios.upload [--size-mib 10] [--reps 5]

A loopback aiohttp server (same process) hashes each body as it streams in, so the
``tracemalloc`` peak is what the client holds. Sources: a path (read chunk by chunk in
the default executor), an async iterator (64 KiB pieces made on the fly) and ``bytes``
(already in memory: the contrast). Median of ``reps``; the peak is of the upload call
alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from orgo_async import AsyncOrgo

WSID = "550e8400-e29b-41d4-a716-446655440000"
PIECE = 64 * 1024


async def _server() -> tuple[web.AppRunner, str]:
    async def upload(request: web.Request) -> web.Response:
        digest = hashlib.sha256()
        async for chunk in request.content.iter_chunked(PIECE):
            digest.update(chunk)
        return web.json_response({"file": {"id": digest.hexdigest()[:8]}})

    app = web.Application(client_max_size=0)
    app.router.add_post("/api/files/upload", upload)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/api"


async def _measure(work: Callable[[], Awaitable[object]], reps: int) -> tuple[float, float]:
    peaks, times = [], []
    for _ in range(reps):
        tracemalloc.start()
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return statistics.median(peaks) / 2**20, statistics.median(times)


async def main(size_mib: int, reps: int) -> None:
    size = size_mib * 2**20 - 4096  # just under the 10 MiB limit with room to spare
    runner, base = await _server()
    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "upload.bin"
            path.write_bytes(b"\x5a" * size)
            data = path.read_bytes()

            async def pieces() -> AsyncIterator[bytes]:
                for start in range(0, size, PIECE):
                    yield b"\x5a" * min(PIECE, size - start)

            async with AsyncOrgo(api_key="sk_live_bench", base_url=base) as orgo:
                rows = [
                    ("path", await _measure(lambda: orgo.files.upload(WSID, path), reps)),
                    (
                        "async iterator",
                        await _measure(
                            lambda: orgo.files.upload(WSID, pieces(), filename="u.bin"), reps
                        ),
                    ),
                    (
                        "bytes (in memory)",
                        await _measure(
                            lambda: orgo.files.upload(WSID, data, filename="u.bin"), reps
                        ),
                    ),
                ]
    finally:
        await runner.cleanup()
    print(f"upload of {size / 2**20:.2f} MiB, median of {reps}")
    print(f"{'source':<20} {'peak MiB':>9} {'seconds':>8} {'MiB/s':>7}")
    for name, (peak, secs) in rows:
        print(f"{name:<20} {peak:>9.2f} {secs:>8.3f} {size / 2**20 / secs:>7.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=10)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.size_mib, args.reps))
