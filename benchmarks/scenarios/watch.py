"""Fleet watch: 10,000 computers in 10 workspaces, per-computer against per-workspace polling.

The emulator (:class:`orgo_async.testing.FakeOrgo`, transitions instant) runs in its own
process (``python -m benchmarks.scenarios.watch --serve``), seeded through its public
``add_workspace``/``add_computer`` helpers. It counts the requests it receives by kind,
reports its CPU time, and on command changes the status of randomly chosen computers
directly in its state (running <-> stopped, each computer at most once) at random
moments, noting each change's ``time.monotonic()``: CLOCK_MONOTONIC, the same clock in
every process of the machine, so the client can subtract it from the moment the change
reached it.

The client (this process) runs, one after the other and at the same ``interval``:

* ``per computer``: ``orgo.computers.watch(ids)``, one ``GET /computers/{id}`` per
  computer per round (``concurrency`` 64, the default);
* ``per workspace``: ``orgo.computers.watch(workspace_id=[10 ids])``, one
  ``GET /workspaces/{id}`` per workspace per round;
* ``all workspaces``: ``orgo.computers.watch(workspace_id=None)``, one ``GET /workspaces``
  per round.

Each first drains the first round (every computer's first status), then asks the
emulator for ``changes`` changes spread at random over ``over`` seconds and waits until
each was reported (or a grace period ran out: "missed"). Over that window it measures
the requests the emulator received, the client's and the emulator's CPU time, and per
change the time from the change to its item. ``orgo.workspaces.list()`` (the same
listing decoded into full ``Workspace``/``Computer`` models) is timed alongside, so the
cost of the watch's lean decode shows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from .._common import ROOT, fmt_ratio, md_table

MODES = ("per computer", "per workspace", "all workspaces")


def _cpu() -> float:
    # CLOCK_PROCESS_CPUTIME_ID: exact, where getrusage may count in scheduler ticks (4 ms).
    return time.process_time()


# -- the emulator process -------------------------------------------------------------------


class _Counted(list):  # type: ignore[type-arg]
    """Stands in for ``fake.requests``: counts each request by kind and keeps none, so
    tens of thousands of polls neither fill memory nor cost a list trim each."""

    def __init__(self) -> None:
        super().__init__()
        self.kinds: Counter[str] = Counter()

    def append(self, request: Any) -> None:
        path = request.path
        kind = "listing" if path.startswith("/api/workspaces") else "computer"
        self.kinds[kind if path.startswith("/api/") else "other"] += 1


async def _serve(computers: int, workspaces: int) -> None:
    from orgo_async.testing import FakeOrgo, Timings

    async with FakeOrgo(timings=Timings.instant()) as fake:
        counted = _Counted()
        fake.requests = counted
        ws = [fake.add_workspace(f"bench-{i}") for i in range(workspaces)]
        all_ids = [fake.add_computer(ws[i % workspaces].id, f"c{i}").id for i in range(computers)]
        untouched = set(all_ids)
        rng = random.Random(1)
        info = {"base_url": fake.base_url, "api_key": fake.api_key,
                "workspaces": [w.id for w in ws], "computers": all_ids}  # fmt: skip
        print(json.dumps(info), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd["cmd"] == "stats":
                answer: dict[str, Any] = {"cpu": _cpu(), "requests": dict(counted.kinds)}
            else:  # change: count computers at random moments within `over` seconds
                start = time.monotonic()
                moments = sorted(rng.uniform(0, cmd["over"]) for _ in range(cmd["count"]))
                done = []
                for at in moments:
                    await asyncio.sleep(max(0.0, start + at - time.monotonic()))
                    cid = rng.choice(sorted(untouched))
                    untouched.discard(cid)
                    c = fake.world.computers[cid]
                    c.set_status("stopped" if c.status == "running" else "running")
                    done.append([cid, c.status, time.monotonic()])
                answer = {"changes": done}
            print(json.dumps(answer), flush=True)


# -- the client -----------------------------------------------------------------------------


class _Emulator:
    """The parent's handle on the emulator process: one JSON line per command."""

    def __init__(self, proc: asyncio.subprocess.Process, info: dict[str, Any]) -> None:
        self.proc = proc
        self.info = info

    @classmethod
    async def start(cls, computers: int, workspaces: int) -> _Emulator:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "benchmarks.scenarios.watch", "--serve",
            "--computers", str(computers), "--workspaces", str(workspaces),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=2**24,  # the first line lists every computer id
        )  # fmt: skip
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if not line:
            await proc.wait()
            raise RuntimeError("the emulator process did not start")
        return cls(proc, json.loads(line))

    async def command(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        await self.proc.stdin.drain()
        answer: dict[str, Any] = json.loads(await self.proc.stdout.readline())
        return answer

    async def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


async def _mode(
    emu: _Emulator, mode: str, interval: float, changes: int, over: float
) -> dict[str, Any]:
    from orgo_async import AsyncOrgo

    ids: list[str] = emu.info["computers"]
    async with AsyncOrgo(api_key=emu.info["api_key"], base_url=emu.info["base_url"]) as orgo:
        if mode == "per computer":
            watch = orgo.computers.watch(ids, interval=interval)
        elif mode == "per workspace":
            watch = orgo.computers.watch(workspace_id=emu.info["workspaces"], interval=interval)
        else:
            watch = orgo.computers.watch(workspace_id=None, interval=interval)
        seen: dict[tuple[str, str | None], float] = {}
        errors = 0
        first = asyncio.get_running_loop().create_future()
        t_start = time.monotonic()

        async def consume() -> None:
            nonlocal errors
            async for ch in watch:
                if ch.error is not None:
                    errors += 1
                    continue
                seen.setdefault((ch.id, ch.status), time.monotonic())
                if len(seen) == len(ids) and not first.done():
                    first.set_result(time.monotonic() - t_start)

        async with watch:
            reader = asyncio.ensure_future(consume())
            try:
                await asyncio.wait([first, reader], return_when=asyncio.FIRST_COMPLETED)
                if not first.done():
                    reader.result()  # the watch raised: show why
                    raise RuntimeError("the watch ended before its first round")
                first_round = first.result()
                s0, c0, t0 = await emu.command(cmd="stats"), _cpu(), time.monotonic()
                made = (await emu.command(cmd="change", count=changes, over=over))["changes"]
                # Wait for every change, within a grace period of two passes at the
                # slowest rate seen (the first round) and at least two intervals.
                grace = time.monotonic() + 2 * max(interval, first_round) + 1
                while time.monotonic() < grace and not all(  # noqa: ASYNC110 - a deadline
                    (cid, status) in seen for cid, status, _ in made
                ):
                    await asyncio.sleep(0.05)
                s1, c1, t1 = await emu.command(cmd="stats"), _cpu(), time.monotonic()
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
        window = t1 - t0
        kinds = {k: n - s0["requests"].get(k, 0) for k, n in s1["requests"].items()}
        kinds = {k: n for k, n in kinds.items() if n}  # what this mode sent
        requests = sum(kinds.values())
        delays = [seen[(cid, st)] - at for cid, st, at in made if (cid, st) in seen]
        keys = {"per computer": len(ids), "per workspace": len(emu.info["workspaces"])}
        n_keys = keys.get(mode, 1)
        rate = requests / window
        # One pass = every computer (or workspace) polled once: the interval, unless the
        # polls cannot keep up with it.
        pass_time = max(interval, n_keys / rate) if rate else float("nan")
        listing_cpu = await _listing_cpu(orgo) if mode == "all workspaces" else None
    return {
        "interval": interval,
        "first_round": first_round,
        "requests_per_second": rate,
        "requests_per_interval": rate * interval,
        "requests_per_pass": n_keys,
        "pass_time": pass_time,
        "client_cpu_share": (c1 - c0) / window,
        "client_cpu_per_pass": (c1 - c0) / window * pass_time,
        "server_cpu_share": (s1["cpu"] - s0["cpu"]) / window,
        "delays": delays,
        "missed": len(made) - len(delays),
        "errors": errors,
        "requests": kinds,
        "listing_cpu": listing_cpu,
    }


async def _listing_cpu(orgo: Any, reps: int = 3) -> float:
    """Client CPU seconds of ``orgo.workspaces.list()``: the same listing, full models."""
    best = float("inf")
    for _ in range(reps):
        c0 = _cpu()
        await orgo.workspaces.list()
        best = min(best, _cpu() - c0)
    return best


async def _run(
    computers: int,
    workspaces: int,
    intervals: list[float],
    changes: int,
    over: Callable[[float], float],
    modes: dict[float, tuple[str, ...]],
    log: Callable[[str], None],
) -> dict[str, Any]:
    emu = await _Emulator.start(computers, workspaces)
    results: dict[str, Any] = {}
    try:
        for interval in intervals:
            for mode in modes.get(interval, MODES):
                log(f"watch: {mode:14} {computers:,} computers, interval {interval:g} s")
                results[f"{mode}, {interval:g} s"] = await _mode(
                    emu, mode, interval, changes, over(interval)
                )
        results["decode"] = await _decode_times(emu)
    finally:
        await emu.close()
    return results


async def _decode_times(emu: _Emulator, reps: int = 5) -> dict[str, float]:
    """Seconds to decode the emulator's ``GET /workspaces`` answer (every computer as a
    full object, as the reference documents): into what the watch reads per round, into
    the full models ``orgo.workspaces.list()`` returns, and ``json.loads``. GC on, as in
    a real process; the best of ``reps`` decodes."""
    import gc

    import aiohttp
    import msgspec

    from orgo_async import Workspace
    from orgo_async._resources.fleet import WorkspaceListing

    # What ``orgo.workspaces.list()`` decodes (built here: annotations are strings).
    full = msgspec.defstruct("Full", [("workspaces", list[Workspace])])
    headers = {"Authorization": f"Bearer {emu.info['api_key']}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(emu.info["base_url"] + "/workspaces", headers=headers) as resp,
    ):
        body = await resp.read()
    out: dict[str, float] = {"bytes": len(body)}
    for name, decode in (
        ("watch", msgspec.json.Decoder(WorkspaceListing).decode),
        ("full", msgspec.json.Decoder(full).decode),
        ("json", json.loads),
    ):
        best = float("inf")
        for _ in range(reps):
            gc.collect()
            t0 = time.perf_counter()
            decode(body)
            best = min(best, time.perf_counter() - t0)
        out[name] = best
    return out


def run(
    *,
    computers: int = 10_000,
    workspaces: int = 10,
    intervals: tuple[float, ...] = (2.0, 10.0),
    changes: int = 60,
    log: Callable[[str], None] = print,
    quick: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Run every (interval, mode); returns the Markdown table and the raw results.

    Per-computer polling is the slow one; at the long interval only it and the
    per-workspace watch run (the point there is equal detection time), to keep the whole
    scenario near a minute and a half.
    """
    long = max(intervals)
    modes: dict[float, tuple[str, ...]] = {}
    if not quick:
        modes[long] = ("per computer", "per workspace")
    res = asyncio.run(
        _run(computers, workspaces, list(intervals), changes,
             lambda i: 1.0 * i if i == long else 3.0 * i, modes, log)
    )  # fmt: skip
    return _table(res, computers, workspaces), res


def _table(res: dict[str, Any], computers: int, workspaces: int) -> str:
    rows: list[list[str]] = []
    for key, r in res.items():
        if key == "decode":
            continue
        mode, interval = key.rsplit(", ", 1)
        base = res.get(f"per computer, {interval}")
        ratio = ""
        if base and mode != "per computer":
            ratio = fmt_ratio(base["requests_per_interval"] / r["requests_per_interval"])
        d = sorted(r["delays"])
        mean = sum(d) / len(d) if d else float("nan")
        p90 = d[min(len(d) - 1, int(0.9 * len(d)))] if d else float("nan")
        rows.append([
            interval, mode, f"{r['requests_per_pass']:,}", f"{r['pass_time']:.1f} s",
            f"{r['requests_per_interval']:,.0f}", ratio or "1.00x (baseline)",
            f"{mean:.2f} / {p90:.2f} s" + (f" ({r['missed']} missed)" if r["missed"] else ""),
            f"{r['client_cpu_per_pass'] * 1000:,.0f} ms", f"{r['client_cpu_share'] * 100:.0f}%",
            f"{r['server_cpu_share'] * 100:.0f}%", f"{r['first_round']:.1f} s",
        ])  # fmt: skip
    header = [
        "interval", "watch", "requests per pass", "pass takes", "requests per interval",
        "fewer requests", "change -> item (mean / p90)", "client CPU per pass",
        "client CPU", "emulator CPU", "first round",
    ]  # fmt: skip
    listing = next((r["listing_cpu"] for k, r in res.items() if k.startswith("all")), None)
    table = md_table(header, rows)
    if listing is not None:
        per_pass = [r["client_cpu_per_pass"] for k, r in res.items() if k.startswith("all")]
        table += (
            f"\n\nThe same `GET /workspaces` ({computers:,} computers in {workspaces} "
            f"workspaces) through `orgo.workspaces.list()`, decoded into full models: "
            f"{listing * 1000:,.0f} ms of client CPU per call; the watch's whole pass over "
            f"it (request, lean decode, diff): {min(per_pass) * 1000:,.0f} ms."
        )
    dec = res.get("decode")
    if dec:
        table += (
            f"\n\nDecoding that answer ({dec['bytes'] / 1e6:.1f} MB) in process, GC on, "
            f"best of 5: {dec['watch'] * 1000:.1f} ms into what the watch reads (six fields "
            f"per computer), "
            f"{dec['full'] * 1000:.1f} ms into full `Workspace`/`Computer` models "
            f"({fmt_ratio(dec['full'] / dec['watch'])}), {dec['json'] * 1000:.1f} ms with "
            f"`json.loads`."
        )
    return table


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--serve", action="store_true", help="run the emulator process")
    p.add_argument("--computers", type=int, default=10_000)
    p.add_argument("--workspaces", type=int, default=10)
    a = p.parse_args(argv)
    if a.serve:
        asyncio.run(_serve(a.computers, a.workspaces))
        return
    table, _ = run(computers=a.computers, workspaces=a.workspaces)
    print(table)


if __name__ == "__main__":
    main()
