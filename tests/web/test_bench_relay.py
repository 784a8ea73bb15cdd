"""The relay benchmark runs end to end on tiny sizes (three real processes: emulator,
uvicorn relay, clients) and fills its table. No timing is asserted: performance lives in
``make bench``."""

from __future__ import annotations

import pytest

from benchmarks import run as bench_run
from benchmarks.scenarios import relay

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def test_relay_scenario_runs_both_modes_and_reports_memory_and_cpu() -> None:
    table, res = relay.run(sessions=4, computers=2, echoes=3, frames=2, reps=1, log=lambda _: None)
    for kind in ("terminal", "vnc"):
        for mode in ("direct", "relay"):
            (run,) = res[kind][mode]
            assert run["ops_per_s"] > 0 and run["p99_ms"] >= run["median_ms"] > 0
            assert set(run["cpu_us_per_op"]) == {"client", "emulator", "relay"}
        assert res[kind]["relay"][0]["rss_open_kb"] > 0
    # Frames carried real pixels: 2 frames x 4 sessions of 128x96 at 32 bpp, at least.
    (vnc_direct,) = res["vnc"]["direct"]
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
