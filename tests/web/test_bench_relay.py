"""The relay benchmark runs end to end on tiny sizes (three real processes: emulator,
uvicorn relay, clients) and fills its table. No timing is asserted: performance lives in
``make bench``."""

from __future__ import annotations

import asyncio
import os

import pytest

from benchmarks import run as bench_run
from benchmarks.scenarios import relay

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_relay_scenario_runs_both_modes_and_reports_memory_and_cpu() -> None:
    cpus = os.sched_getaffinity(0)
    table, res = relay.run(sessions=4, computers=2, echoes=3, frames=2, reps=1, log=lambda _: None)
    assert res["placements"] == list(relay.placements())
    for placement in res["placements"]:
        for kind in ("terminal", "vnc"):
            for mode in ("direct", "relay"):
                (run,) = res[placement][kind][mode]
                assert run["ops_per_s"] > 0 and run["p99_ms"] >= run["median_ms"] > 0
                assert set(run["cpu_us_per_op"]) == {"client", "emulator", "relay"}
            assert res[placement][kind]["relay"][0]["rss_open_kb"] > 0
    # The benchmark gave this process its cores back.
    assert os.sched_getaffinity(0) == cpus
    # Frames carried real pixels: 2 frames x 4 sessions of 128x96 at 32 bpp, at least.
    (vnc_direct,) = res["shared"]["vnc"]["direct"]
    assert vnc_direct["mb_per_s"] * vnc_direct["seconds"] * 1e6 >= 8 * 128 * 96 * 4
    assert res["rss_idle_kb"] > 0 and res["rss_end_kb"] > 0
    assert res["terminal_kb_per_session"] == res["terminal_kb_per_session"]  # measured, not NaN
    assert "relay RSS per session" in table and "echoes/s" in table
    names = [row[0] for row in bench_run.targets({"relay": res})]
    assert names == [
        "relay terminal throughput >= 0.8x direct",
        "relay terminal p99 latency <= 2x direct",
        "relay vnc throughput >= 0.8x direct",
        "relay vnc p99 latency <= 2x direct",
    ]


def test_separate_placement_pins_the_relay_apart_from_the_emulator_and_its_shells() -> None:
    # What "relay on its own core" means, read back from the kernel for every thread,
    # shells included, then undone by the shared placement.
    if relay.SEPARATE not in relay.placements():
        pytest.skip("one usable core: only the shared placement can be measured")
    cpus = os.sched_getaffinity(0)
    try:
        with relay.servers(1) as srv:

            async def open_shell() -> None:
                await relay._run_mode(srv, "terminal", "direct", 1, 1, (16, 16))

            relay._place(srv, relay.SEPARATE, cpus)
            asyncio.run(open_shell())  # a shell spawned after pinning inherits the core
            relay_threads = relay._threads(srv.relay_pid)
            rest = relay._threads(srv.emulator_pid) + relay._threads(os.getpid(), descendants=False)
            assert {frozenset(os.sched_getaffinity(t)) for t in relay_threads} == {
                frozenset({max(cpus)})
            }
            assert {frozenset(os.sched_getaffinity(t)) for t in rest} == {frozenset({min(cpus)})}
            relay._place(srv, relay.SHARED, cpus)
            everyone = relay._threads(srv.relay_pid) + relay._threads(srv.emulator_pid)
            assert {frozenset(os.sched_getaffinity(t)) for t in everyone} == {frozenset(cpus)}
    finally:
        os.sched_setaffinity(0, cpus)
