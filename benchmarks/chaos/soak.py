"""The soak (``make soak``): many long-lived channels, steady fleet polling, rotations.

``--channels`` channels (default 1,000: events, VNC, terminals and audio on 50
computers) stay open for ``--minutes`` while the fleet is polled at a fixed rate and
the ``vnc_password`` of a few computers rotates every few
seconds (their sockets get 4401: events, VNC and audio fetch the new password and
reconnect; a terminal cannot resume, so its holder opens a new one). The fleet is
polled with ``get_many`` twice a second (100 GETs/s). Events are
published to every computer once a second. Every 5 s the RSS, the open file
descriptors, the asyncio tasks and the live channels are sampled; at the end the series
is printed with an ASCII plot (and a PNG with ``--plot FILE`` when matplotlib is
installed), and the growth of RSS and fds between the first and the last third of the
run is reported: it must stay flat. Not in CI (minutes, 1,000 sockets a side).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orgo_async import AsyncOrgo, OrgoError
from orgo_async.connection import ReconnectPolicy
from orgo_async.testing import EventHub, FakeComputer, FakeOrgo, Timings

from .plan import RESOLUTION
from .probes import LeakReport, fd_count, heap_in_use_mb, leak_report, rss_mb, snapshot

__all__ = ["main", "run_soak"]

COMPUTERS = 50
SAMPLE_EVERY = 5.0
ROTATE_EVERY = 3.0
ROTATE_COUNT = 3  # computers per rotation
POLL_EVERY = 0.5  # one get_many over every computer
RECONNECT = ReconnectPolicy(initial=0.1, cap=1.0, max_attempts=20, jitter=0.5)
# The mix of a desktop fleet's long-lived sockets: (channel, share).
MIX = (("events", 0.45), ("vnc", 0.35), ("terminal", 0.15), ("audio", 0.05))


@dataclass
class Sample:
    t: float
    rss: float
    heap: float  # C allocator in use, MB (0 off glibc)
    fds: int
    tasks: int
    objects: int  # objects the garbage collector tracks
    live: int
    reconnects: int
    polls: int
    stopping: bool = False  # taken once the soak was told to stop (channels closing)


@dataclass
class Soak:
    seed: int
    channels: int
    seconds: float
    live: int = 0
    opened: Counter[str] = field(default_factory=Counter)
    typed: Counter[str] = field(default_factory=Counter)
    untyped: list[str] = field(default_factory=list)
    reconnects: int = 0  # of channels already closed
    open_channels: set[Any] = field(default_factory=set)
    polls: int = 0
    poll_errors: Counter[str] = field(default_factory=Counter)
    rotations: int = 0
    samples: list[Sample] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    leaks: LeakReport = field(default_factory=LeakReport)

    @property
    def all_reconnects(self) -> int:
        return self.reconnects + sum(int(ch.reconnects) for ch in self.open_channels)

    def failed(self, exc: BaseException, where: str) -> None:
        if isinstance(exc, OrgoError):
            self.typed[f"{where}: {type(exc).__name__}"] += 1
        else:
            self.untyped.append(f"{where}: {type(exc).__name__}: {exc}"[:200])


async def _hold(soak: Soak, orgo: AsyncOrgo, c: FakeComputer, kind: str, n: int) -> None:
    """Keep one channel of ``kind`` open until the soak ends, reopening it when lost."""
    while not soak.stop.is_set():
        try:
            conn = await orgo.connect(c.id)
            conn.options = conn.options.with_changes(heartbeat_interval=10.0, close_timeout=1.0)
            soak.opened[kind] += 1
            await _use(soak, conn, kind, n)
        except Exception as e:  # every failure is counted, typed or not
            soak.failed(e, kind)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5 + random.random()):
                    await soak.stop.wait()


async def _use(soak: Soak, conn: Any, kind: str, n: int) -> None:
    if kind == "terminal":
        async with conn.terminal() as term:
            soak.live += 1
            try:
                while not soak.stop.is_set():
                    result = await term.run(f"echo soak-{n}", timeout=10)
                    assert result.output.strip() == f"soak-{n}"
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(5 + random.random() * 5):
                            await soak.stop.wait()
            finally:
                soak.live -= 1
        return
    if kind == "events":
        channel = conn.events(["window_focus"], reconnect=RECONNECT)
    elif kind == "vnc":
        channel = conn.vnc(reconnect=RECONNECT)
    else:
        channel = conn.audio(sample_rate=8000, channels=1, reconnect=RECONNECT)
    async with channel as ch:
        soak.live += 1
        soak.open_channels.add(ch)
        try:
            reader = asyncio.ensure_future(_drain(ch))
            stopper = asyncio.ensure_future(soak.stop.wait())
            try:
                done, _ = await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (reader, stopper):
                    t.cancel()
                await asyncio.gather(reader, stopper, return_exceptions=True)
            if reader in done:
                reader.result()  # the channel's error, if it failed
        finally:
            soak.open_channels.discard(ch)
            soak.reconnects += ch.reconnects
            soak.live -= 1


async def _drain(ch: Any) -> None:
    async for _ in ch:
        pass


async def _poll(soak: Soak, orgo: AsyncOrgo, ids: list[str]) -> None:
    """``get_many`` over the fleet every ``POLL_EVERY`` seconds, on a fixed schedule."""
    loop = asyncio.get_running_loop()
    due = loop.time()
    while not soak.stop.is_set():
        async with orgo.computers.get_many(ids, concurrency=16) as results:
            async for r in results:
                soak.polls += 1
                if r.error is not None:
                    soak.failed(r.error, "poll")
        due += POLL_EVERY
        await asyncio.sleep(max(0.0, due - loop.time()))


async def _rotate(soak: Soak, fake: FakeOrgo, computers: list[FakeComputer], seed: int) -> None:
    rng = random.Random(seed)
    while not soak.stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(ROTATE_EVERY):
                await soak.stop.wait()
        for c in rng.sample(computers, ROTATE_COUNT):
            fake.rotate_password(c.id)
            soak.rotations += 1


async def _publish(soak: Soak, computers: list[FakeComputer]) -> None:
    while not soak.stop.is_set():
        for c in computers:
            c.events.publish("window_focus", {"window_id": "0x3200001", "title": "soak"})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await soak.stop.wait()


async def _sample(soak: Soak, out: Any) -> None:
    start = time.monotonic()
    while True:
        s = Sample(
            time.monotonic() - start,
            rss_mb(),
            heap_in_use_mb() or 0.0,
            fd_count(),
            len(asyncio.all_tasks()),
            len(gc.get_objects()),
            soak.live,
            soak.all_reconnects,
            soak.polls,
            soak.stop.is_set(),
        )
        soak.samples.append(s)
        out(
            f"  t={s.t:4.0f}s rss={s.rss:6.1f} heap={s.heap:6.1f} MB fds={s.fds:5d} "
            f"tasks={s.tasks:5d} objects={s.objects:7d} live={s.live:5d} "
            f"reconnects={s.reconnects:5d} polls={s.polls:6d} rotations={soak.rotations}"
        )
        if soak.stop.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SAMPLE_EVERY):
                await soak.stop.wait()


async def run_soak(seed: int, channels: int, minutes: float, out: Any = print) -> Soak:
    """Run the soak; everything is closed when this returns."""
    from orgo_async.connection import Audio, Events, Terminal, Vnc

    del Audio, Events, Terminal, Vnc
    soak = Soak(seed, channels, minutes * 60)
    before = snapshot()
    fake = FakeOrgo(timings=Timings.instant(), max_recorded=0)
    await fake.start()
    tasks: list[asyncio.Task[Any]] = []
    try:
        ws = fake.add_workspace("soak")
        computers = [
            fake.add_computer(ws.id, f"soak-{i}", resolution=RESOLUTION) for i in range(COMPUTERS)
        ]
        for c in computers:
            # The emulator keeps the newest events for tests to inspect; a short log here
            # so the series measures the sockets and the SDK, not that log filling up.
            c.events = EventHub(history=64)
        ids = [c.id for c in computers]
        async with fake.client(timeout=10, max_connections=200) as orgo:
            kinds = [k for k, share in MIX for _ in range(round(share * channels))]
            sampler = asyncio.create_task(_sample(soak, out))
            tasks = [
                asyncio.create_task(_hold(soak, orgo, computers[n % COMPUTERS], kind, n))
                for n, kind in enumerate(kinds[:channels])
            ]
            tasks += [
                asyncio.create_task(_poll(soak, orgo, ids)),
                asyncio.create_task(_rotate(soak, fake, computers, seed)),
                asyncio.create_task(_publish(soak, computers)),
            ]
            await asyncio.sleep(soak.seconds)
            soak.stop.set()
            holders = tasks[:-3]  # they end on their own once told to stop
            _, late = await asyncio.wait(holders, timeout=60)
            if late:
                soak.untyped.append(f"{len(late)} channels still open 60 s after the stop")
            for t in holders:
                error = t.exception() if t.done() and not t.cancelled() else None
                if error is not None:
                    soak.failed(error, "holder")
            for t in tasks[-3:]:
                t.cancel()
            await asyncio.gather(*tasks[-3:], return_exceptions=True)
            await sampler
    finally:
        for t in tasks:
            t.cancel()
        await fake.close()
    soak.leaks = leak_report(before)
    return soak


def _spark(values: list[float], width: int = 60) -> str:
    bars = " ▁▂▃▄▅▆▇█"
    if not values:
        return ""
    step = max(1, len(values) // width)
    vals = values[::step]
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or 1.0
    return "".join(bars[int((v - lo) / span * (len(bars) - 1))] for v in vals)


def growth(samples: list[Sample], attr: str) -> tuple[float, float]:
    """Mean of ``attr`` over the first and the last third of the steady samples: after
    the first minute (a third of a shorter run; opening the channels is the ramp, not
    drift) and before the stop."""
    running = [s for s in samples if not s.stopping] or samples
    ramp = min(60.0, running[-1].t / 3)
    steady = [s for s in running if s.t >= ramp] or running
    third = max(1, len(steady) // 3)
    first = [float(getattr(s, attr)) for s in steady[:third]]
    last = [float(getattr(s, attr)) for s in steady[-third:]]
    return sum(first) / len(first), sum(last) / len(last)


def report(soak: Soak) -> list[str]:
    lines = [
        f"soak: seed {soak.seed}, {soak.channels:,} channels, {soak.seconds / 60:g} min",
        f"  opened: {dict(soak.opened)}; reconnects {soak.reconnects:,}; "
        f"rotations {soak.rotations}; polls {soak.polls:,}",
        f"  typed errors: {dict(soak.typed.most_common(8))}",
        f"  untyped errors: {len(soak.untyped)} {soak.untyped[:3]}",
        f"  heap    {_spark([s.heap for s in soak.samples])}",
        f"  RSS     {_spark([s.rss for s in soak.samples])}",
        f"  fds     {_spark([float(s.fds) for s in soak.samples])}",
        f"  objects {_spark([float(s.objects) for s in soak.samples])}",
        f"  live    {_spark([float(s.live) for s in soak.samples])}",
    ]
    for attr, unit in (("heap", "MB"), ("rss", "MB"), ("fds", ""), ("objects", "")):
        a, b = growth(soak.samples, attr)
        lines.append(
            f"  {attr}: first third {a:.1f}{unit}, last third {b:.1f}{unit} ({b - a:+.1f})"
        )
    leaks = soak.leaks
    lines.append(f"  left open at the end: {leaks}")
    return lines


def _plot(soak: Soak, path: str) -> str:
    try:
        import matplotlib  # type: ignore[import-not-found]  # optional, not a dependency

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # type: ignore[import-not-found]
    except ImportError:
        return "no plot: matplotlib is not installed (pip install matplotlib)"
    fig, ax1 = plt.subplots(figsize=(9, 4))
    t = [s.t / 60 for s in soak.samples]
    ax1.plot(t, [s.rss for s in soak.samples], label="RSS (MB)")
    ax1.set_xlabel("minutes")
    ax2 = ax1.twinx()
    ax2.plot(t, [s.fds for s in soak.samples], color="tab:orange", label="open fds")
    fig.legend(loc="lower right")
    fig.savefig(path, dpi=100)
    return f"plot written to {path}"


def main(seed: int, channels: int, minutes: float, plot: str) -> int:
    soak = asyncio.run(run_soak(seed, channels, minutes))
    print()
    for line in report(soak):
        print(line)
    if plot:
        print("  " + _plot(soak, plot))
    heap_first, heap_last = growth(soak.samples, "heap")
    fds_first, fds_last = growth(soak.samples, "fds")
    obj_first, obj_last = growth(soak.samples, "objects")
    leaks = soak.leaks
    # Flat: what the allocator hands out and the objects alive within 5%, fds within 2%
    # between the first and the last third; nothing untyped; nothing left open. (RSS is
    # reported, not judged: it climbs towards the heap's high-water mark as reserved
    # pages are touched for the first time, see probes.heap_in_use_mb.)
    flat = (
        heap_last <= heap_first * 1.05
        and obj_last <= obj_first * 1.05
        and fds_last <= fds_first * 1.02 + 5
    )
    ok = flat and not soak.untyped and leaks.total == 0
    print("soak held" if ok else "SOAK FAILED")
    return 0 if ok else 1
