"""Browser relays under load: ``sessions`` WebSocket clients (standing in for browsers)
through one uvicorn worker (``orgo_async.web`` relays) to the emulator, against the same
clients connecting straight to the emulator.

Three processes: the emulator (``FakeOrgo``: real PTY shells for the terminal, its
built-in RFB server for VNC), the relay app (FastAPI + uvicorn, one worker, the README's
pattern), and this one, which runs every client in one event loop. Per mode and
repetition, all sessions connect first (not timed), then run their workload at once:

* **terminal echo**: the shell is replaced by ``cat`` (``exec cat``), so a keystroke is
  echoed by the PTY itself; each session types one character and waits for its echo,
  ``echoes`` times. Throughput: echoes per second over all sessions; latency: one
  keystroke's round trip.
* **VNC frames**: after the RFB handshake (direct: VNC authentication with the
  password; relay: none, the relay did it upstream), each session asks for a
  non-incremental update of a ``frame`` region and reads the whole FramebufferUpdate,
  ``frames`` times. Throughput: frames (and MB) per second over all sessions; latency:
  request to last byte.

Memory: on a fresh relay process per channel, its RSS (``/proc/PID/status``) after one
warm-up session, and with ``sessions`` sessions open; per session = the difference /
sessions. ``rss_idle_kb`` (after warm-up) and ``rss_end_kb`` (after the last repetition)
of the throughput runs' relay show whether a long-lived process keeps growing.

Modes alternate (direct, relay, direct, relay...); medians over repetitions (the machine
is shared: single runs vary by 2x). CPU time per operation of each process
(``/proc/PID/stat``) is reported too: steadier than rates, and it shows where the
relayed path spends its extra work.

Placement (CPU affinity, set on every thread of the three processes and inherited by the
shells the emulator spawns), both measured in each repetition:

* **separate** (the goals are judged here): the relay on a core of its own, the emulator
  and the clients together on another, in both modes. That is how a relay is deployed:
  the app server, Orgo's desktops and the users' browsers are three different machines,
  so the relay never takes CPU from the desktop or the browser. Both modes give the
  emulator and the clients the same single core, so the ratio is what the relay's hop
  costs, not how the machine's cores were split.
* **shared**: all three processes on all cores. On a 2-core machine the relay then takes
  its CPU from the emulator and the clients, and the relayed throughput is bounded by
  the sum of every process's CPU per operation: reported for comparison.

A machine with fewer than two usable cores measures ``shared`` only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import WebSocket  # the relay app's annotations are resolved at module level

from orgo_async.web import OrgoDep

from .._common import ROOT, child_server, fmt_ratio, md_table, median, p99

TERMINAL = "terminal"
VNC = "vnc"
SEPARATE = "separate"
SHARED = "shared"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int, *, descendants: bool = True) -> list[int]:
    """Every thread of ``pid`` and (``descendants``) of its child processes, e.g. the
    emulator's shells."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if descendants else ():
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
            children.setdefault(ppid, []).append(int(entry))
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            out.extend(int(t) for t in os.listdir(f"/proc/{p}/task"))
        todo.extend(children.get(p, []))
    return out


def placements() -> tuple[str, ...]:
    """The placements this machine can measure (``separate`` needs two cores)."""
    return (SEPARATE, SHARED) if len(os.sched_getaffinity(0)) >= 2 else (SHARED,)


def _place(srv: Servers, placement: str, cpus: set[int]) -> None:
    """Pin the processes for ``placement`` (see the module docstring); ``cpus`` are the
    cores this benchmark may use."""
    first, last = min(cpus), max(cpus)
    relay_cpus = {last} if placement == SEPARATE else cpus
    rest_cpus = {first} if placement == SEPARATE else cpus
    # This process's children are the two servers: they get their own placement.
    for tid in _threads(os.getpid(), descendants=False):
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(tid, rest_cpus)
    for pid, where in ((srv.emulator_pid, rest_cpus), (srv.relay_pid, relay_cpus)):
        for tid in _threads(pid):
            with contextlib.suppress(OSError):  # a thread that just ended
                os.sched_setaffinity(tid, where)


# -- the two server processes ---------------------------------------------------------


def _serve_emulator(computers: int) -> None:
    from orgo_async.testing import FakeOrgo, Timings

    async def main() -> None:
        fake = FakeOrgo(timings=Timings.instant(), max_recorded=1000)
        async with fake:
            ws = fake.add_workspace("bench")
            size = "640x480x24"
            cs = [fake.add_computer(ws.id, f"c{i}", resolution=size) for i in range(computers)]
            info = {
                "origin": fake.origin,
                "base_url": fake.base_url,
                "api_key": fake.api_key,
                "computers": [
                    {"id": c.id, "instance": c.instance_id, "password": c.vnc_password} for c in cs
                ],
            }
            print(json.dumps(info), flush=True)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin

    asyncio.run(main())


def _serve_relay(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from orgo_async.web import orgo_lifespan, relay_terminal, relay_vnc

    profile = os.environ.get("RELAY_PROFILE")  # a cProfile dump of the relay, for analysis
    # RELAY_UPSTREAM_COMPRESSION=1 / 0: offer permessage-deflate to the emulator or not
    # (unset: relay_terminal's default), to compare both in two runs.
    flag = os.environ.get("RELAY_UPSTREAM_COMPRESSION")
    terminal_options: dict[str, Any] = {} if flag is None else {"upstream_compression": flag == "1"}

    @contextlib.asynccontextmanager
    async def profiled(app: Any) -> AsyncIterator[None]:
        if not profile:
            yield
            return
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            yield
        finally:
            profiler.disable()
            profiler.dump_stats(profile)

    # api_key and base_url from ORGO_API_KEY / ORGO_BASE_URL (set by the parent).
    app = FastAPI(lifespan=orgo_lifespan(lifespan=profiled, max_connections=50))

    @app.websocket("/t/{cid}")
    async def terminal(websocket: WebSocket, cid: str, orgo: OrgoDep) -> None:
        await relay_terminal(websocket, lambda: orgo.connect(cid), **terminal_options)

    @app.websocket("/v/{cid}")
    async def vnc(websocket: WebSocket, cid: str, orgo: OrgoDep) -> None:
        await relay_vnc(websocket, lambda: orgo.connect(cid))

    uvicorn.run(
        app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio",
        lifespan="on", ws_max_queue=32, backlog=4096, ws_per_message_deflate=False,
        loop=os.environ.get("RELAY_LOOP", "auto"),
    )  # fmt: skip


@dataclass
class Servers:
    emulator: dict[str, Any]
    relay_port: int
    relay_pid: int
    emulator_pid: int


@contextmanager
def servers(computers: int) -> Iterator[Servers]:
    """The emulator and the relay app, each in its own process."""
    with (
        child_server(
            "benchmarks.scenarios.relay", "emulator", str(computers), what="the emulator"
        ) as (info, emulator_pid),
        _relay_app(info) as (port, relay_pid),
    ):
        yield Servers(info, port, relay_pid, emulator_pid)


@contextmanager
def _relay_app(info: dict[str, Any]) -> Iterator[tuple[int, int]]:
    """The relay app on a free port, reaching the emulator ``info`` describes; yields its
    port and pid once it accepts connections."""
    relay: subprocess.Popen[str] | None = None
    try:
        port = _free_port()
        env = {**os.environ, "ORGO_API_KEY": info["api_key"], "ORGO_BASE_URL": info["base_url"]}
        relay = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.scenarios.relay", "relay", str(port)],
            cwd=ROOT, env=env, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if relay.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the relay app did not start") from None
                time.sleep(0.05)
        yield port, relay.pid
    finally:
        if relay is not None:
            relay.terminate()
            try:
                relay.wait(timeout=15)
            except subprocess.TimeoutExpired:
                relay.kill()
                relay.wait()


# -- the clients ------------------------------------------------------------------------


def _url(srv: Servers, kind: str, mode: str, i: int) -> str:
    cs = srv.emulator["computers"]
    c = cs[i % len(cs)]
    if mode == "relay":
        return f"ws://127.0.0.1:{srv.relay_port}/{kind[0]}/{c['id']}"
    origin = srv.emulator["origin"].replace("http://", "ws://")
    channel = "terminal" if kind == TERMINAL else "websockify"
    return f"{origin}/desktops/{c['instance']}/ws/{channel}?token={c['password']}"


async def _terminal_open(ws: Any) -> None:
    """Replace the shell by ``cat`` and wait until its echo is synchronised."""
    await ws.send('{"type":"input","data":"exec cat\\r"}')
    await _echo(ws, "y")


async def _echo(ws: Any, ch: str) -> None:
    await ws.send(f'{{"type":"input","data":"{ch}"}}')
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("type") == "output" and ch in msg["data"]:
            return


async def _terminal_run(ws: Any, n: int, rtts: list[float]) -> int:
    for _ in range(n):
        t0 = time.perf_counter()
        await _echo(ws, "x")
        rtts.append(time.perf_counter() - t0)
    return 0


async def _vnc_open(ws: Any, password: str | None) -> Any:
    from orgo_async._protocol.rfb import RfbClient

    client = RfbClient(password, framebuffer=False)
    while not client.ready:
        client.receive_data(await ws.recv())
        if client.error is not None:
            raise client.error
        out = client.data_to_send()
        if out:
            await ws.send(out)
    return client


async def _vnc_run(ws: Any, client: Any, n: int, w: int, h: int, rtts: list[float]) -> int:
    from orgo_async._protocol.rfb import FramebufferUpdate

    received = 0
    for _ in range(n):
        t0 = time.perf_counter()
        client.request_update(incremental=False, x=0, y=0, width=w, height=h)
        await ws.send(client.data_to_send())
        done = False
        while not done:
            data = await ws.recv()
            received += len(data)
            client.receive_data(data)
            done = any(isinstance(e, FramebufferUpdate) for e in client.events_received())
        rtts.append(time.perf_counter() - t0)
    return received


async def _run_mode(
    srv: Servers, kind: str, mode: str, sessions: int, ops: int, frame: tuple[int, int]
) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    opened = asyncio.Semaphore(50)  # connect in waves: a SYN flood measures nothing
    start = asyncio.Event()
    ready = 0
    rtts: list[float] = []
    all_ready = asyncio.Event()
    cs = srv.emulator["computers"]

    async def session(i: int) -> int:
        nonlocal ready
        # No permessage-deflate between "browser" and server in either mode: websockify
        # does not compress, and a relay serving VNC runs uvicorn without it (framebuffer
        # data through zlib costs far more CPU than it saves on a LAN).
        kwargs: dict[str, Any] = {"max_size": None, "compression": None, "open_timeout": 60,
                                  "close_timeout": 2, "ping_interval": None}  # fmt: skip
        if kind == VNC:
            kwargs["subprotocols"] = ["binary"]
        async with opened:
            ws = await connect(_url(srv, kind, mode, i), **kwargs)
            try:
                if kind == TERMINAL:
                    await _terminal_open(ws)
                    client = None
                else:
                    pw = cs[i % len(cs)]["password"] if mode == "direct" else None
                    client = await _vnc_open(ws, pw)
            except BaseException:
                await ws.close()
                raise
        try:
            ready += 1
            if ready == sessions:
                all_ready.set()
            await start.wait()
            if kind == TERMINAL:
                return await _terminal_run(ws, ops, rtts)
            return await _vnc_run(ws, client, ops, frame[0], frame[1], rtts)
        finally:
            await ws.close()

    rss_before = _rss_kb(srv.relay_pid) if mode == "relay" else 0
    tasks = [asyncio.create_task(session(i)) for i in range(sessions)]
    waiter = asyncio.create_task(all_ready.wait())
    await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if not all_ready.is_set():
        waiter.cancel()
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        raise next(r for r in results if isinstance(r, BaseException))
    rss_open = _rss_kb(srv.relay_pid) if mode == "relay" else 0
    pids = {"client": os.getpid(), "emulator": srv.emulator_pid, "relay": srv.relay_pid}
    cpu0 = {name: _cpu_s(pid) for name, pid in pids.items()}
    t0 = time.perf_counter()
    start.set()
    byte_counts = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    cpu = {name: (_cpu_s(pid) - cpu0[name]) / (sessions * ops) * 1e6 for name, pid in pids.items()}
    return {
        "cpu_us_per_op": cpu,
        "ops_per_s": sessions * ops / elapsed,
        "mb_per_s": sum(byte_counts) / elapsed / 1e6,
        "median_ms": statistics.median(rtts) * 1e3,
        "p99_ms": p99(rtts) * 1e3,
        "seconds": elapsed,
        "rss_open_kb": rss_open,
        "rss_before_kb": rss_before,
    }


async def _warm_up(srv: Servers) -> None:
    """One relayed session of each kind, so imports and pools are not counted per session."""
    for kind in (TERMINAL, VNC):
        await _run_mode(srv, kind, "relay", 1, 2, (16, 16))


def run(
    *,
    sessions: int = 200,
    computers: int = 20,
    echoes: int = 50,
    frames: int = 20,
    frame: tuple[int, int] = (128, 96),
    reps: int = 6,
    where: tuple[str, ...] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[str, dict[str, Any]]:
    """Run every mode ``reps`` times, alternating, in each placement of ``where``
    (default: every one this machine can measure); the table and the raw results."""
    where = placements() if where is None else where
    res: dict[str, Any] = {"sessions": sessions, "frame": list(frame), "placements": list(where)}
    for placement in where:
        res[placement] = {TERMINAL: {}, VNC: {}}
    cpus = os.sched_getaffinity(0)
    with servers(computers) as srv:

        async def main() -> None:
            await _warm_up(srv)
            await asyncio.sleep(0.5)
            res["rss_idle_kb"] = _rss_kb(srv.relay_pid)
            for rep in range(reps):
                for placement in where:
                    for kind, ops in ((TERMINAL, echoes), (VNC, frames)):
                        for mode in ("direct", "relay"):
                            log(f"relay: {kind} {mode} x{sessions}, {placement} cores "
                                f"(rep {rep + 1}/{reps}) ...")  # fmt: skip
                            _place(srv, placement, cpus)
                            r = await _run_mode(srv, kind, mode, sessions, ops, frame)
                            res[placement][kind].setdefault(mode, []).append(r)
                            await asyncio.sleep(0.3)  # let shells and sockets wind down
            res["rss_end_kb"] = _rss_kb(srv.relay_pid)

        try:
            asyncio.run(main())
        finally:
            os.sched_setaffinity(0, cpus)
    for kind in (TERMINAL, VNC):
        log(f"relay: {kind} memory, {sessions} sessions on a fresh relay process ...")
        res[f"{kind}_kb_per_session"] = _memory(kind, sessions, computers, frame)
    return table(res), res


def _memory(kind: str, sessions: int, computers: int, frame: tuple[int, int]) -> float:
    """KiB of relay RSS per open session, on a fresh relay process (an allocator that
    already served earlier sessions reuses their freed memory and hides the cost)."""
    with servers(computers) as srv:

        async def main() -> float:
            await _run_mode(srv, kind, "relay", 1, 1, (16, 16))  # imports, pools, caches
            await asyncio.sleep(0.3)
            idle = _rss_kb(srv.relay_pid)
            r = await _run_mode(srv, kind, "relay", sessions, 1, frame)
            return float(r["rss_open_kb"] - idle) / sessions

        return asyncio.run(main())


def summary(res: dict[str, Any], placement: str) -> dict[str, dict[str, float]]:
    """Medians per kind and mode in ``placement``, ratios, and memory per session."""
    out: dict[str, dict[str, float]] = {}
    for kind in (TERMINAL, VNC):
        cell: dict[str, float] = {}
        for mode in ("direct", "relay"):
            runs = res[placement][kind].get(mode, [])
            for key in ("ops_per_s", "mb_per_s", "median_ms", "p99_ms"):
                cell[f"{mode}_{key}"] = median([r[key] for r in runs]) if runs else float("nan")
        # Each relay run is paired with the direct run just before it (the same moment of
        # a shared machine); the ratio is the median of those pairs' ratios.
        pairs = list(zip(res[placement][kind].get("direct", []),
                         res[placement][kind].get("relay", []), strict=False))  # fmt: skip
        for key, field in (("throughput_ratio", "ops_per_s"), ("p99_ratio", "p99_ms")):
            cell[key] = median([r[field] / d[field] for d, r in pairs])
        cell["kb_per_session"] = res.get(f"{kind}_kb_per_session", float("nan"))
        for mode in ("direct", "relay"):
            runs = res[placement][kind].get(mode, [])
            for proc in ("client", "emulator", "relay"):
                values = [r["cpu_us_per_op"][proc] for r in runs]
                cell[f"{mode}_cpu_{proc}"] = median(values) if values else float("nan")
        out[kind] = cell
    return out


_CORES = {SEPARATE: "relay on its own core", SHARED: "all on all cores"}


def table(res: dict[str, Any]) -> str:
    w, h = res["frame"]
    rows = []
    for kind, unit in ((TERMINAL, "echoes/s"), (VNC, f"frames/s ({w}x{h})")):
        for placement in res["placements"]:
            c = summary(res, placement)[kind]
            rows.append([
                kind, _CORES[placement], unit,
                f"{c['direct_ops_per_s']:,.0f}", f"{c['relay_ops_per_s']:,.0f}",
                fmt_ratio(c["throughput_ratio"]),
                f"{c['direct_median_ms']:.1f} / {c['direct_p99_ms']:.1f}",
                f"{c['relay_median_ms']:.1f} / {c['relay_p99_ms']:.1f}",
                fmt_ratio(c["p99_ratio"]),
                f"{c['kb_per_session']:.0f} KiB",
                f"{c['direct_cpu_client'] + c['direct_cpu_emulator']:.0f}",
                f"{c['relay_cpu_client'] + c['relay_cpu_emulator']:.0f}"
                f" + {c['relay_cpu_relay']:.0f}",
            ])  # fmt: skip
    header = ["channel", "placement", "unit", "direct", "relay", "relay/direct",
              "direct ms p50/p99", "relay ms p50/p99", "p99 relay/direct", "relay RSS per session",
              "CPU µs/op direct", "CPU µs/op relayed (+ relay)"]  # fmt: skip
    tail = ""
    if "rss_end_kb" in res:
        tail = (
            f"\n\nRelay process RSS: {res['rss_idle_kb'] / 1024:.0f} MB after warm-up, "
            f"{res['rss_end_kb'] / 1024:.0f} MB after all repetitions (every session closed)."
        )
    return md_table(header, rows) + tail


def targets(res: dict[str, Any]) -> list[tuple[str, float, bool, str]]:
    """(target, value, met, detail) rows for the run's Targets table: judged with the
    relay on a core of its own (as deployed), the shared-cores figure alongside."""
    judged = res["placements"][0]
    rows = []
    for kind, c in summary(res, judged).items():
        compare = SHARED in res["placements"] and judged != SHARED
        shared = summary(res, SHARED)[kind] if compare else None
        for key, name in (
            ("throughput_ratio", f"relay {kind} throughput >= 0.8x direct"),
            ("p99_ratio", f"relay {kind} p99 latency <= 2x direct"),
        ):
            x = c[key]
            met = x >= 0.8 if key == "throughput_ratio" else x <= 2.0
            detail = f"{fmt_ratio(x)} ({_CORES[judged]})"
            if shared is not None:
                detail += f"; all on all cores: {fmt_ratio(shared[key])}"
            rows.append((name, x, met, detail))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["emulator", "relay"])
    parser.add_argument("arg", type=int)
    a = parser.parse_args()
    if a.role == "emulator":
        _serve_emulator(a.arg)
    else:
        _serve_relay(a.arg)
