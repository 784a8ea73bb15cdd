"""Runs a chaos plan against the emulator and gathers the figures (see ``__init__``).

The emulator and the client share one process and one event loop: the action log is
read directly, faults are installed right before the operation they belong to, and the
loop-lag figure is that of the loop serving both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from orgo_async import AsyncOrgo, OrgoError
from orgo_async.testing import FakeComputer, FakeOrgo, Fault, FaultKind, Timings

from .ops import EXECUTORS, Lane, Runner, WrongResult, marker_text
from .plan import RESOLUTION, Op, Plan, RestFault, digest, make_plan, marker_xy
from .probes import (
    LagMeter,
    LeakReport,
    SecretScanner,
    client_leaks,
    fd_count,
    leak_report,
    rss_mb,
    snapshot,
)
from .probes import peak_rss_mb as _peak_rss

__all__ = ["ChaosResult", "OpTally", "run_chaos"]

OP_BOUND = 30.0  # our bound on one operation: beyond it the SDK neither answered nor failed
HEADER = "X-Chaos-Op"
WsChannel = Literal["terminal", "events", "audio", "websockify"]
_CHANNEL_PATH: dict[str, WsChannel] = {
    "terminal": "terminal",
    "events": "events",
    "audio": "audio",
    "vnc": "websockify",
}
_DAMAGE: dict[str, FaultKind] = {
    "reset": "reset",
    "lost": "lost",
    "drop": "drop",
    "truncated": "truncated",
    "malformed": "malformed",
}


def _rest_fault(f: RestFault) -> dict[str, Any]:
    """``Faults.add`` arguments of a planned REST fault (``refused`` is not one)."""
    if f.kind in ("5xx", "429"):
        return {"statuses": list(f.statuses), "retry_after": f.retry_after}
    if f.kind == "503+lost":  # a 503 (retried even for an action), then the answer lost
        return {"statuses": [503], "kind": "lost"}
    if f.kind == "hold":
        return {"hold": f.seconds, "times": 1}
    if f.kind == "latency":
        return {"latency": f.seconds, "times": 1}
    return {"kind": _DAMAGE[f.kind]}


@dataclass
class OpTally:
    """Outcomes of one class of operations."""

    ops: int = 0
    ok: int = 0
    typed: int = 0
    untyped: int = 0
    wrong: int = 0
    deadline: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    untyped_examples: list[str] = field(default_factory=list)
    #: A few typed errors per (operation kind, error class), for ``--examples``.
    typed_examples: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionFigures:
    """Non-idempotent actions: acknowledged by the SDK vs executed per the action log."""

    ops: int = 0
    acked: int = 0
    executed: Counter[int] = field(default_factory=Counter)  # times -> operations
    matrix: Counter[tuple[bool, int]] = field(default_factory=Counter)  # (acked, times)
    twice: list[str] = field(default_factory=list)


@dataclass
class ChaosResult:
    """Everything a run measured; :mod:`.report` renders it and checks the invariants."""

    seed: int
    ops: int
    lanes: int
    digest: str
    seconds: float = 0.0
    tallies: dict[str, OpTally] = field(default_factory=dict)
    actions: ActionFigures = field(default_factory=ActionFigures)
    fleet_items: dict[str, int] = field(default_factory=dict)
    fleet_untyped: list[str] = field(default_factory=list)
    repair: OpTally = field(default_factory=OpTally)
    faults: Counter[str] = field(default_factory=Counter)
    ws_faults: Counter[str] = field(default_factory=Counter)
    events: tuple[int, int] = (0, 0)  # (received, published)
    secrets: list[str] = field(default_factory=list)
    secret_scope: dict[str, int] = field(default_factory=dict)
    client_leaks: LeakReport = field(default_factory=LeakReport)
    leaks: LeakReport = field(default_factory=LeakReport)
    warnings: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    rss: tuple[float, float, float] = (0.0, 0.0, 0.0)  # before, peak, after (MB)
    fds: tuple[int, int, int] = (0, 0, 0)  # before, peak, after
    lag_worst: float = 0.0
    lag_p99: float = 0.0


class PasswordBook:
    """Every ``vnc_password`` the emulator issued, and which ids bore which name."""

    def __init__(self, fake: FakeOrgo) -> None:
        self.fake = fake
        self.passwords: set[str] = set()
        self.names: dict[str, set[str]] = {}
        self._watched: set[str] = set()

    def scan(self) -> None:
        for c in list(self.fake.world.computers.values()):
            self.passwords.add(c.vnc_password)
            self.names.setdefault(c.name, set()).add(c.id)
            if c.id not in self._watched:
                self._watched.add(c.id)
                c.on_rotate.append(self._rotated(c))

    def _rotated(self, c: FakeComputer) -> Callable[[], None]:
        return lambda: self.passwords.add(c.vnc_password)


class Chaos:
    """One run: the world, the client, the lanes and their bookkeeping."""

    def __init__(self, plan: Plan, timeout: float) -> None:
        self.plan = plan
        self.timeout = timeout
        self.result = ChaosResult(plan.seed, plan.ops, len(plan.lanes), digest(plan))
        self.fake = FakeOrgo(
            timings=Timings(boot=0.02, stop=0.02, restart=0.02), max_recorded=0, strict=True
        )
        self.scanner = SecretScanner(self.fake.api_key)
        self.lanes: list[Lane] = []
        self.book = PasswordBook(self.fake)
        self.window_executed: dict[str, int] = {}
        self.acked: dict[str, bool] = {}
        self.fds_peak = 0
        #: Per lane: (operation tag, phase, since): what the watchdog looks at.
        self.current: dict[int, tuple[str, str, float]] = {}
        self.lane_tasks: dict[int, asyncio.Task[None]] = {}
        self.stuck: list[str] = []

    # -- set-up ---------------------------------------------------------------------------

    def build_world(self) -> None:
        fake = self.fake
        for i in range(len(self.plan.lanes)):
            ws = fake.add_workspace(f"lane-{i}")
            alt = fake.add_workspace(f"lane-{i}-alt")
            a = fake.add_computer(ws.id, f"l{i}-a", resolution=RESOLUTION)
            b = fake.add_computer(ws.id, f"l{i}-b", resolution=RESOLUTION)
            self.lanes.append(Lane(i, ws.id, alt.id, a, b))
        self.book.scan()

    # -- faults -----------------------------------------------------------------------------

    async def install(self, op: Op, lane: Lane) -> list[Fault]:
        """Install the operation's faults; return the REST ones (removed afterwards)."""
        installed: list[Fault] = []
        f = op.fault
        if f is not None:
            self.result.faults[f.kind] += 1
            if f.kind == "refused":
                await self.fake.refuse_connections(f.seconds)
            else:
                installed.append(
                    self.fake.faults.add("*", "*", **_rest_fault(f), headers={HEADER: op.tag})
                )
        ws = op.ws_fault
        if ws is not None:
            self.result.ws_faults[ws.kind if ws.kind != "close" else f"close {ws.code}"] += 1
            channel = _CHANNEL_PATH[op.kind]
            if ws.kind == "close":
                self.fake.add_ws_fault(lane.a.id, channel, ws.code, after_frames=ws.after)
            elif ws.kind == "reset":
                self.fake.add_ws_fault(lane.a.id, channel, reset=True, after_frames=ws.after)
            elif ws.kind == "503":  # a mid-session 1011, then the upgrade of the reconnect
                self.fake.add_ws_fault(lane.a.id, channel, 1011, after_frames=ws.after)
                path = f"/desktops/{lane.a.instance_id}/ws/{channel}"
                installed.append(self.fake.faults.add("GET", path, statuses=[503]))
        return installed

    def uninstall(self, lane: Lane, installed: list[Fault]) -> None:
        for fault in installed:
            self.fake.faults.remove(fault)
        lane.a.ws_faults.clear()

    # -- repair: bring the lane's computer to the state the operation needs ------------------

    async def repair(self, op: Op, lane: Lane, support: AsyncOrgo) -> None:
        spec = op.spec
        c = lane.b if spec.target == 1 else lane.a
        if spec.requires is None or spec.target is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if c.status == spec.requires:
                break
            call = None
            if spec.requires == "running" and c.status in ("stopped", "suspended"):
                call = support.computers.start(c.id)
            elif spec.requires == "stopped" and c.status == "running":
                call = support.computers.stop(c.id)
            if call is not None:
                await self._support(call)
            await asyncio.sleep(0.02)
        if op.kind == "stream_start" and lane.a.stream.get("status") == "streaming":
            await self._support(support.computers.stream_stop(lane.a.id))

    async def _support(self, call: Any) -> None:
        tally = self.result.repair
        tally.ops += 1
        try:
            await call
            tally.ok += 1
        except OrgoError as e:
            tally.typed += 1
            tally.errors[type(e).__name__] += 1
            self.scanner.scan_exception(e, "a repair call's error")
        except Exception as e:
            tally.untyped += 1
            tally.untyped_examples.append(f"repair: {type(e).__name__}: {e}"[:200])

    # -- one operation ----------------------------------------------------------------------

    def _window(self, op: Op, lane: Lane) -> int | frozenset[str]:
        if op.kind == "restart":
            return sum(1 for a in lane.a.actions if a.name == "restart")
        prefix = f"{lane.a.name} (clone"
        return frozenset(
            c.id for c in self.fake.world.computers.values() if c.name.startswith(prefix)
        )

    async def execute(self, op: Op, lane: Lane, runner: Runner) -> None:
        spec = op.spec
        tally = self.result.tallies.setdefault(spec.cls, OpTally())
        tally.ops += 1
        view = runner.orgo.with_options(headers={HEADER: op.tag})
        installed = await self.install(op, lane)
        before = self._window(op, lane) if spec.attribution == "window" else None
        value: Any = None
        try:
            async with asyncio.timeout(OP_BOUND) as bound:
                value = await EXECUTORS[op.kind](runner, lane, view, op)
            tally.ok += 1
            self.acked[op.tag] = True
        except OrgoError as e:
            tally.typed += 1
            tally.errors[type(e).__name__] += 1
            key = f"{op.kind} {type(e).__name__}"
            if key not in tally.typed_examples:
                fault = op.fault.kind if op.fault else "-"
                ws = op.ws_fault.kind if op.ws_fault else "-"
                tally.typed_examples[key] = f"[{op.tag} fault {fault}/{ws}] {e}"[:240]
            self.scanner.scan_exception(e, f"{op.kind} error")
        except asyncio.CancelledError as e:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the run itself is being cancelled
            tally.untyped += 1  # a CancelledError nobody asked for escaped the SDK
            tally.untyped_examples.append(f"{op.tag} {op.kind}: CancelledError: {e}"[:200])
        except WrongResult as e:
            tally.wrong += 1
            tally.untyped_examples.append(f"{op.tag} {op.kind}: wrong result: {e}"[:200])
        except TimeoutError as e:
            # Our own deadline (a channel read, a watch) or the operation bound: the SDK
            # neither delivered nor failed in time.
            tally.deadline += 1
            what = "bound" if bound.expired() else "deadline"
            tally.untyped_examples.append(f"{op.tag} {op.kind}: {what}: {e!r}"[:200])
        except Exception as e:
            tally.untyped += 1
            tally.untyped_examples.append(f"{op.tag} {op.kind}: {type(e).__name__}: {e}"[:200])
            self.scanner.scan_exception(e, f"{op.kind} untyped error")
        finally:
            self.uninstall(lane, installed)
        if value is not None:
            self.scanner.scan(repr(value), f"{op.kind} result repr")
        if before is not None:
            after = self._window(op, lane)
            if isinstance(before, int):
                assert isinstance(after, int)
                self.window_executed[op.tag] = after - before
            else:
                assert isinstance(after, frozenset)
                self.window_executed[op.tag] = len(after - before)
        self.book.scan()

    async def run_lane(self, lane: Lane, runner: Runner) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.lane_tasks[lane.index] = task
        for op in self.plan.lanes[lane.index]:
            self.current[lane.index] = (op.tag, f"repair before {op.kind}", time.monotonic())
            await self.repair(op, lane, runner.orgo)
            self.current[lane.index] = (op.tag, op.kind, time.monotonic())
            await self.execute(op, lane, runner)
            if op.index % 50 == 0:
                self.fds_peak = max(self.fds_peak, fd_count())
        self.current.pop(lane.index, None)

    # -- after the run: what the action log says ---------------------------------------------

    def count_executions(self) -> None:
        seen: Counter[tuple[int, str, Any]] = Counter()
        for lane in self.lanes:
            for a in lane.a.actions:
                seen[(lane.index, a.name, _signature(a.name, a.body))] += 1
        figures = self.result.actions
        for ops in self.plan.lanes:
            for op in ops:
                spec = op.spec
                if spec.cls != "action":
                    continue
                if op.kind == "create":
                    times = len(self.book.names.get(marker_text(op), ()))
                elif spec.attribution == "window":
                    times = self.window_executed.get(op.tag, 0)
                else:
                    name, sig = _expected(op)
                    times = seen[(op.lane, name, sig)]
                acked = self.acked.get(op.tag, False)
                figures.ops += 1
                figures.acked += acked
                figures.executed[min(times, 2)] += 1
                figures.matrix[(acked, min(times, 2))] += 1
                if times > 1:
                    figures.twice.append(f"{op.tag} {op.kind} ran {times} times")


def _expected(op: Op) -> tuple[str, Any]:
    """The action-log entry an operation's marker makes: (action name, signature)."""
    text = marker_text(op)
    if op.kind in ("click", "double_click", "drag", "scroll"):
        return ("click" if op.kind == "double_click" else op.kind), marker_xy(op.index)
    if op.kind == "bash":
        return "bash", f"echo {text}"
    if op.kind == "exec":
        return "exec", f"print({text!r})"
    return op.kind, text  # type, key, stream_start


def _signature(name: str, body: dict[str, Any]) -> Any:
    if name in ("click", "scroll"):
        return body.get("x"), body.get("y")
    if name == "drag":
        return body.get("start_x"), body.get("start_y")
    return {
        "type": body.get("text"),
        "key": body.get("key"),
        "bash": body.get("command"),
        "exec": body.get("code"),
        "stream_start": body.get("connection_name"),
    }.get(name)


async def _quiet(fake: FakeOrgo, limit: float = 5.0) -> None:
    """Wait until the emulator handles no request (held and delayed ones finish: a
    request delayed before its route may still run its action)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not fake.in_flight and not fake.refusing:
            return
        await asyncio.sleep(0.05)


async def run_chaos(
    seed: int,
    ops: int,
    lanes: int,
    *,
    timeout: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> ChaosResult:
    """Plan and run ``ops`` operations over ``lanes`` lanes; everything is closed when
    this returns, and the result says what leaked."""
    # Load what the channels load lazily before the baseline (modules open nothing, but
    # their objects would count as growth).
    import websockets.asyncio.client  # noqa: F401

    from orgo_async.connection import Audio, Events, Terminal, Vnc

    del Audio, Events, Terminal, Vnc

    plan = make_plan(seed, ops, lanes, timeout=timeout)
    chaos = Chaos(plan, timeout)
    result = chaos.result
    before = snapshot()
    fds0, rss0 = before.fds, rss_mb()
    chaos.scanner.install()
    lag = LagMeter()
    lag.start()
    started = time.monotonic()
    try:
        await _run(chaos, progress)
    finally:
        result.seconds = time.monotonic() - started
        await lag.stop()
        chaos.scanner.uninstall()
    result.lag_worst, result.lag_p99 = lag.worst, lag.percentile(0.99)
    result.leaks = leak_report(before)
    result.rss = (rss0, _peak_rss(), rss_mb())
    result.fds = (fds0, max(chaos.fds_peak, fds0), fds0 + result.leaks.fds)
    result.stuck = chaos.stuck
    result.secrets = chaos.scanner.findings(chaos.book.passwords)
    result.secret_scope = {
        "log records": chaos.scanner.records,
        "texts (errors, reprs)": chaos.scanner.texts,
        "passwords issued": len(chaos.book.passwords),
    }
    result.warnings = chaos.scanner.warnings + chaos.scanner.unraisable + chaos.scanner.task_errors
    return result


async def _run(chaos: Chaos, progress: Callable[[str], None] | None) -> None:
    fake = chaos.fake
    await fake.start()
    try:
        chaos.build_world()
        orgo = fake.client(timeout=chaos.timeout, max_retries=2, max_connections=64)
        try:
            ids = [c.id for lane in chaos.lanes for c in (lane.a, lane.b)]
            runner = Runner(fake, orgo, ids, on_error=chaos.scanner.scan_exception)
            ticker = asyncio.create_task(_progress(chaos, progress))
            try:
                await asyncio.gather(*(chaos.run_lane(lane, runner) for lane in chaos.lanes))
            finally:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            result = chaos.result
            result.events = (runner.events_received, runner.events_published)
            f = runner.fleet
            result.fleet_items = {"ok": f.ok, "typed": f.typed, "untyped": len(f.untyped)}
            result.fleet_items["wrong"] = f.wrong
            result.fleet_untyped = f.untyped[:5]
            await _quiet(fake)
            chaos.book.scan()
            chaos.count_executions()
        finally:
            await orgo.close()
        chaos.result.client_leaks = client_leaks()
    finally:
        with contextlib.suppress(Exception):
            await fake.close()


async def _progress(chaos: Chaos, out: Callable[[str], None] | None) -> None:
    """Print progress every 10 s; report (once) a lane stuck in one place far beyond the
    operation bound, with its task's stack (the bound could not end it: something
    swallowed the cancellation)."""
    total = chaos.plan.ops
    start = time.monotonic()
    while True:
        await asyncio.sleep(10 if out else 5)
        now = time.monotonic()
        if out is not None:
            done = sum(t.ops for t in chaos.result.tallies.values())
            rate = done / max(1e-9, now - start)
            out(f"  {done:,}/{total:,} operations ({rate:,.0f}/s), rss {rss_mb():.0f} MB")
        for lane, (tag, phase, since) in list(chaos.current.items()):
            key = f"{tag} {phase}"
            if now - since > OP_BOUND + 15 and not any(s.startswith(key) for s in chaos.stuck):
                task = chaos.lane_tasks.get(lane)
                stack = "".join(
                    f"\n      {f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno} "
                    f"{f.f_code.co_name}"
                    for f in (task.get_stack(limit=30) if task else [])
                )
                chaos.stuck.append(f"{key}: stuck {now - since:.0f} s{stack}")
                if out is not None:
                    out(f"  STUCK: {chaos.stuck[-1]}")
