"""Fleet poll: N x ``GET /computers/{id}`` at concurrency C, four ways, same server.

Each (client, N, C, latency) cell runs in a fresh worker process (``python -m
benchmarks.scenarios.fleet --client ...``), so peak memory is per cell and one client's
garbage never slows the next. The worker opens its client, warms the pool with
``min(N, 2C)`` untimed requests (a long-lived poller has a warm pool), then times
``reps`` runs of N requests and reports the times, its own CPU time, the server's CPU
time over the same span (read from the server's ``/_stats``) and ``ru_maxrss``.

Clients:

* ``ours``: ``orgo.computers.get_many(ids, concurrency=C)`` with ``max_connections=C``;
* ``aiohttp``: raw aiohttp + msgspec, a fixed pool of C worker tasks on one
  ``ClientSession`` (limit C): the transport's limit, our overhead is measured over it;
* ``httpx``: ``httpx.AsyncClient`` + pydantic v2, one task per id behind a semaphore,
  which is what a user writes by hand;
* ``official``: the official ``orgo`` 0.0.47 through its public API,
  ``Computer(computer_id=id).status()``, in a pool of 32 threads (each ``Computer`` has
  its own ``requests.Session``, so no connection is reused across computers);
* ``official-pooled``: its best case, ``ApiClient.get_computer`` with one ``ApiClient``
  (one ``requests.Session``) per thread, reusing connections.

Both official variants run under Python 3.12 (the SDK does not import on 3.11).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from .._common import (
    API_KEY,
    ROOT,
    Server,
    cpu_seconds,
    fmt_ratio,
    md_table,
    median,
    official_python,
    run_json,
    server_stats,
)

CLIENTS = ("ours", "aiohttp", "httpx", "official", "official-pooled")
SLOW = frozenset({"httpx", "official", "official-pooled"})
OFFICIAL_THREADS = 32
TRACE = False  # --tracemalloc: report the peak traced allocation of the timed runs


def make_ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


# -- the four clients: each returns an async/sync "poll these ids, return #ok" -------------


async def _ours(base: str, c: int, run: Callable[[Callable[[list[str]], Any]], Any]) -> None:
    from orgo_async import AsyncOrgo

    async with AsyncOrgo(api_key=API_KEY, base_url=base, max_connections=c) as orgo:

        async def poll(ids: list[str]) -> int:
            ok = 0
            async with orgo.computers.get_many(ids, concurrency=c) as results:
                async for r in results:
                    if r.error is None:
                        ok += 1
            return ok

        await run(poll)


async def _aiohttp(base: str, c: int, run: Callable[[Callable[[list[str]], Any]], Any]) -> None:
    import aiohttp
    import msgspec

    from orgo_async import Computer

    decoder = msgspec.json.Decoder(Computer)
    headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=c)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def poll(ids: list[str]) -> int:
            it = iter(ids)
            ok = 0

            async def worker() -> None:
                nonlocal ok
                for cid in it:
                    async with session.get(f"{base}/computers/{cid}", headers=headers) as r:
                        data = await r.read()
                        if r.status == 200:
                            decoder.decode(data)
                            ok += 1

            await asyncio.gather(*[worker() for _ in range(c)])
            return ok

        await run(poll)


async def _httpx(base: str, c: int, run: Callable[[Callable[[list[str]], Any]], Any]) -> None:
    import httpx

    from ..models_pydantic import ComputerP

    limits = httpx.Limits(max_connections=c, max_keepalive_connections=c)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=60) as client:

        async def poll(ids: list[str]) -> int:
            sem = asyncio.Semaphore(c)

            async def one(cid: str) -> bool:
                async with sem:
                    r = await client.get(f"{base}/computers/{cid}")
                    if r.status_code != 200:
                        return False
                    ComputerP.model_validate_json(r.content)
                    return True

            return sum(await asyncio.gather(*[one(cid) for cid in ids]))

        await run(poll)


def _official(
    base: str, c: int, reps: int, n: int, stats_port: int, pooled: bool
) -> dict[str, Any]:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from orgo import Computer as OfficialComputer
    from orgo.api.client import ApiClient

    local = threading.local()

    def get_pooled(cid: str) -> bool:
        # Best case for the official SDK: one ApiClient (requests.Session) per thread,
        # so connections are reused. Not its documented entry point.
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = ApiClient(api_key=API_KEY, base_url=base)
        client.get_computer(cid)  # raises on any non-2xx
        return True

    def get_public(cid: str) -> bool:
        # The SDK's public API: a Computer object per id; each has its own ApiClient.
        OfficialComputer(
            computer_id=cid, api_key=API_KEY, base_api_url=base, verbose=False
        ).status()
        return True

    get = get_pooled if pooled else get_public

    with ThreadPoolExecutor(OFFICIAL_THREADS) as pool:

        def poll(ids: list[str]) -> int:
            return sum(pool.map(get, ids))

        return _timed_sync(poll, n, OFFICIAL_THREADS, reps, stats_port)


# -- timing ---------------------------------------------------------------------------------


def _timed_sync(
    poll: Callable[[list[str]], int], n: int, c: int, reps: int, stats_port: int
) -> dict[str, Any]:
    poll(make_ids(min(n, 2 * c)))  # warm-up: open the connections
    times: list[float] = []
    oks: list[int] = []
    s0 = server_stats(stats_port)
    cpu0 = cpu_seconds()
    for _ in range(reps):
        ids = make_ids(n)
        t0 = time.perf_counter()
        oks.append(poll(ids))
        times.append(time.perf_counter() - t0)
    return _summary(times, oks, cpu0, s0, stats_port)


async def _timed_async(
    poll: Callable[[list[str]], Any], n: int, c: int, reps: int, stats_port: int
) -> dict[str, Any]:
    await poll(make_ids(min(n, 2 * c)))
    if TRACE:
        # Only what the timed runs allocate (the warm pool and imports are excluded).
        tracemalloc.start()
    times: list[float] = []
    oks: list[int] = []
    s0 = server_stats(stats_port)
    cpu0 = cpu_seconds()
    for _ in range(reps):
        ids = make_ids(n)
        t0 = time.perf_counter()
        oks.append(await poll(ids))
        times.append(time.perf_counter() - t0)
    return _summary(times, oks, cpu0, s0, stats_port)


def _summary(
    times: list[float], oks: list[int], cpu0: float, s0: dict[str, float], port: int
) -> dict[str, Any]:
    s1 = server_stats(port)
    total = sum(times)
    delayed = s1["delayed"] - s0["delayed"]
    served_latency = (s1["delay_total"] - s0["delay_total"]) / delayed if delayed else 0.0
    traced = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
    return {
        "traced_peak": traced,
        "served_latency": served_latency,
        "cpu_per_request": (cpu_seconds() - cpu0) / sum(oks) if sum(oks) else float("nan"),
        "times": times,
        "ok": oks,
        "client_cpu": (cpu_seconds() - cpu0) / total,
        "server_cpu": (s1["cpu"] - s0["cpu"]) / total,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def worker_main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--client", choices=CLIENTS, required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--stats-port", type=int, required=True)
    p.add_argument("-n", type=int, required=True)
    p.add_argument("-c", type=int, required=True)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--profile", help="write a pyinstrument HTML/text profile here")
    p.add_argument("--tracemalloc", action="store_true")
    a = p.parse_args(argv)
    global TRACE
    TRACE = a.tracemalloc
    if a.client.startswith("official"):
        out = _official(a.base, a.c, a.reps, a.n, a.stats_port, a.client == "official-pooled")
    else:
        impl = {"ours": _ours, "aiohttp": _aiohttp, "httpx": _httpx}[a.client]
        box: dict[str, Any] = {}

        async def run(poll: Callable[[list[str]], Any]) -> None:
            box["r"] = await _timed_async(poll, a.n, a.c, a.reps, a.stats_port)

        profiler = None
        if a.profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="disabled")
            profiler.start()
        asyncio.run(impl(a.base, a.c, run))
        if profiler is not None:
            profiler.stop()
            with open(a.profile, "w") as f:
                f.write(profiler.output_text(unicode=False, color=False, show_all=False))
        out = box["r"]
    print(json.dumps(out))


# -- orchestration (parent process) -------------------------------------------------------


def run_cell(
    server: Server,
    client: str,
    n: int,
    c: int,
    latency_ms: int,
    reps: int,
    extra: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One cell in a fresh worker process; ``{"skipped": reason}`` if it cannot run."""
    if client.startswith("official"):
        py = official_python()
        if py is None:
            return {"skipped": "skipped: no Python 3.12"}
    else:
        py = sys.executable
    cmd = [
        py, "-m", "benchmarks.scenarios.fleet", "--client", client,
        "--base", server.base_url(latency_ms), "--stats-port", str(server.http_port),
        "-n", str(n), "-c", str(c), "--reps", str(reps), *extra,
    ]  # fmt: skip
    env = None
    if client.startswith("official"):
        import os

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = run_json(cmd, env=env)
    r["rps"] = n / median(r["times"])
    if any(ok != n for ok in r["ok"]):
        r["warning"] = f"only {min(r['ok'])}/{n} ok"
    return r


def _merge(a: dict[str, Any], b: dict[str, Any], n: int) -> dict[str, Any]:
    """Pool the repetitions of two runs of one cell (CPU shares weighted by time)."""
    if "skipped" in b or not a:
        return b
    ta, tb = sum(a["times"]), sum(b["times"])
    out = {
        "times": a["times"] + b["times"],
        "ok": a["ok"] + b["ok"],
        "client_cpu": (a["client_cpu"] * ta + b["client_cpu"] * tb) / (ta + tb),
        "server_cpu": (a["server_cpu"] * ta + b["server_cpu"] * tb) / (ta + tb),
        "served_latency": (a["served_latency"] + b["served_latency"]) / 2,
        "cpu_per_request": min(a["cpu_per_request"], b["cpu_per_request"]),
        "maxrss_kb": max(a["maxrss_kb"], b["maxrss_kb"]),
    }
    out["rps"] = n / median(out["times"])
    if "warning" in a or "warning" in b:
        out["warning"] = a.get("warning") or b.get("warning")
    return out


def _cells(sizes: list[int], concurrencies: list[int], latencies: list[int]) -> Iterator[Any]:
    for lat in latencies:
        for n in sizes:
            for c in concurrencies:
                yield n, c, lat


def run(
    server: Server,
    *,
    sizes: list[int],
    concurrencies: list[int],
    latencies: list[int],
    reps: int,
    rounds: int,
    slow_reps: int,
    slow_max_n: int,
    clients: tuple[str, ...] = CLIENTS,
    log: Callable[[str], None] = print,
) -> tuple[str, dict[str, Any]]:
    """Run every cell; returns the Markdown table and the raw results."""
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    for n, c, lat in _cells(sizes, concurrencies, latencies):
        cell: dict[str, dict[str, Any]] = {}
        for client in clients:
            slow = client in SLOW
            if slow and n > slow_max_n:
                cell[client] = {"skipped": f"skipped at {n:,} (slow; see {slow_max_n:,})"}
                continue
            cell[client] = {}
        # Rounds interleave the clients so a slow minute of a shared machine hits all.
        for rnd in range(rounds):
            for client in clients:
                slow = client in SLOW
                if "skipped" in cell[client] or (slow and rnd > 0):
                    continue
                log(f"fleet: {client:15} n={n:<6} c={c:<4} latency={lat} ms round {rnd + 1}")
                # Short cells (1,000 instant polls take ~0.15 s) get more repetitions.
                fast_reps = reps * 3 if (lat == 0 and n <= 1_000) else reps
                r = run_cell(server, client, n, c, lat, slow_reps if slow else fast_reps)
                cell[client] = _merge(cell[client], r, n)
        results[f"n={n},c={c},lat={lat}"] = cell
        ours = cell.get("ours", {}).get("rps", float("nan"))
        limit = c / (lat / 1000) if lat else float("nan")
        for client in clients:
            r = cell[client]
            if "skipped" in r:
                rows.append([f"{n:,}", str(c), f"{lat} ms", client, r["skipped"], *[""] * 5])
                continue
            rps = r["rps"]
            ratio = "1.00x (ours)" if client == "ours" else fmt_ratio(ours / rps)
            frac = ""
            if lat:
                # Also against the latency the server really delivered (its timers fire
                # up to ~1 ms late), which is the true ceiling of any client.
                served = r.get("served_latency") or lat / 1000
                frac = f"{rps / limit:.3f} ({rps / (c / served):.3f} of {served * 1000:.1f} ms)"
            note = r.get("warning", "")
            rows.append(
                [
                    f"{n:,}",
                    str(c),
                    f"{lat} ms",
                    client,
                    f"{rps:,.0f}",
                    ratio + (f" {note}" if note else ""),
                    frac,
                    f"{r['client_cpu'] * 100:.0f}%",
                    f"{r['cpu_per_request'] * 1e6:,.0f}",
                    f"{r['server_cpu'] * 100:.0f}%",
                ]
            )
    header = [
        "N", "C", "latency", "client", "req/s (median)", "ours / this",
        "fraction of C/latency (of served latency)", "client CPU", "client CPU µs/req",
        "server CPU",
    ]  # fmt: skip
    return md_table(header, rows), results


if __name__ == "__main__":
    worker_main()
