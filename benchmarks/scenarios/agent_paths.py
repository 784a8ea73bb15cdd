"""Desktop input and screenshots, REST vs RFB: the measurement behind the routing default.

In this process (client and emulator share it, so both paths carry the same server cost),
at the display size Orgo computers default to (1280x720):

* click: ``POST /computers/{id}/click`` vs RFB PointerEvents (move, press, release) plus
  the one update round trip :class:`~orgo_async.agents._rfb.RfbSession` waits for;
* screenshot: ``GET /computers/{id}/screenshot`` (PNG made by the server) vs a full
  non-incremental FramebufferUpdate (Raw, 32 bpp) plus a local PNG encode; and the bytes
  each moves over the wire.

Against the emulator, and against x11vnc on Xvfb (through the emulator's websockify
tunnel) when the binaries are installed. x11vnc has no REST side: its rows show the RFB
path against a real VNC server. Wall and process CPU per action, medians of ``reps``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._common import cpu_seconds, md_table, median

WIDTH, HEIGHT = 1280, 720
NOTE = (
    "Client and emulator in one process (CPU includes both). An RFB click waits for the "
    "update round trip that confirms the events were read; x11vnc answers it on its "
    "update cadence, hence the wall time at ~1 ms of CPU. The RFB screenshot moves "
    "the raw framebuffer (4 bytes per pixel) and encodes the PNG on the client."
)


async def _time(n: int, fn: Callable[[int], Awaitable[Any]], reps: int) -> tuple[float, float]:
    """Median (wall ms, CPU ms) per call of ``fn`` over ``reps`` runs of ``n`` calls."""
    walls, cpus = [], []
    await fn(0)  # warm: connection, session, first frame
    for _ in range(reps):
        c0, t0 = cpu_seconds(), time.perf_counter()
        for i in range(n):
            await fn(i)
        walls.append((time.perf_counter() - t0) / n * 1000)
        cpus.append((cpu_seconds() - c0) / n * 1000)
    return median(walls), median(cpus)


async def _measure(vnc_target: str | None, clicks: int, shots: int, reps: int) -> dict[str, Any]:
    from orgo_async.agents._image import encode_png
    from orgo_async.agents._rfb import RfbSession
    from orgo_async.testing import FakeOrgo, Timings

    async with FakeOrgo(timings=Timings.instant(), max_recorded=100) as fake:
        ws = fake.add_workspace("paths")
        c = fake.add_computer(ws.id, "paths", resolution=f"{WIDTH}x{HEIGHT}x24")
        out: dict[str, Any] = {}
        x11: Any = None
        try:
            if vnc_target is not None:
                from tests.x11 import xvfb

                x11 = xvfb(WIDTH, HEIGHT)
                display = await x11.__aenter__()
                await display.start_vnc(c.vnc_password)
                fake.vnc_target = ("127.0.0.1", display.port)
            async with fake.client() as orgo:
                session = RfbSession(await orgo.connect(c.id))

                async def rfb_click(i: int) -> None:
                    x, y = 100 + i % 500, 200

                    def build(cl: Any) -> None:
                        cl.pointer_event(0, x, y)
                        cl.pointer_event(1, x, y)
                        cl.pointer_event(0, x, y)

                    await session.send(build)

                async def rfb_shot(i: int) -> None:
                    w, h, rgb = await session.capture()
                    out["rfb_png_bytes"] = len(encode_png(w, h, rgb))

                async def rest_click(i: int) -> None:
                    await orgo.computers.click(c.id, 100 + i % 500, 200)

                async def rest_shot(i: int) -> None:
                    out["rest_png_bytes"] = (await orgo.computers.screenshot(c.id)).size

                try:
                    if vnc_target is None:
                        out["rest_click"] = await _time(clicks, rest_click, reps)
                        out["rest_shot"] = await _time(shots, rest_shot, reps)
                    out["rfb_click"] = await _time(clicks, rfb_click, reps)
                    out["rfb_shot"] = await _time(shots, rfb_shot, reps)
                    out["rfb_raw_bytes"] = WIDTH * HEIGHT * 4
                finally:
                    await session.aclose()
        finally:
            if x11 is not None:
                await x11.__aexit__(None, None, None)
    return out


def x11_missing() -> list[str]:
    return [b for b in ("Xvfb", "x11vnc") if shutil.which(b) is None]


def run(clicks: int = 200, shots: int = 10, reps: int = 3, log: Any = print
        ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """The REST-vs-RFB table."""
    res: dict[str, Any] = {}
    log("desktop paths: emulator ...")
    res["emulator"] = asyncio.run(_measure(None, clicks, shots, reps))
    if not x11_missing():
        log("desktop paths: x11vnc on Xvfb ...")
        res["x11vnc"] = asyncio.run(_measure("x11vnc", max(20, clicks // 5), shots, reps))
    rows: list[list[str]] = []

    def row(label: str, target: str, key: str, size: str = "") -> None:
        if key in res.get(target, {}):
            wall, cpu = res[target][key]
            rows.append([label, target, f"{wall:.2f}", f"{cpu:.2f}", size])

    emu = res["emulator"]
    row("click via REST", "emulator", "rest_click")
    row("click via RFB (confirmed)", "emulator", "rfb_click")
    row("screenshot via REST", "emulator", "rest_shot", f"{emu.get('rest_png_bytes', 0):,} B PNG")
    row("screenshot via RFB + PNG encode", "emulator", "rfb_shot",
        f"{emu['rfb_raw_bytes']:,} B raw -> {emu.get('rfb_png_bytes', 0):,} B PNG")  # fmt: skip
    if "x11vnc" in res:
        x = res["x11vnc"]
        row("click via RFB (confirmed)", "x11vnc", "rfb_click")
        row("screenshot via RFB + PNG encode", "x11vnc", "rfb_shot",
            f"{x['rfb_raw_bytes']:,} B raw -> {x.get('rfb_png_bytes', 0):,} B PNG")  # fmt: skip
    header = ["path", "server", "wall ms/action", "CPU ms/action (client+emulator)", "bytes"]
    return md_table(header, rows), res
