"""Smoke test: every benchmark scenario runs on a tiny size and produces sane numbers.

No timing is asserted (benchmarks are never timed assertions): only that each scenario
ran end to end against the real loopback server process, decoded what it received and
filled its table. The official SDK baseline needs a Python 3.12 venv in .cache/ and is
left to ``make bench``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from benchmarks import run as bench_run
from benchmarks._common import Server, md_table, run_server, server_stats
from benchmarks.scenarios import decode, fleet, startup, watch, ws

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with run_server() as s:
        yield s


def test_server_answers_documented_computer_and_reports_cpu(server: Server) -> None:
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        conn.request("GET", "/lat1/api/computers/abc-123")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.request("GET", "/api/nope")
        missing = conn.getresponse()
        missing_body = json.loads(missing.read())
    finally:
        conn.close()
    assert resp.status == 200
    assert body["id"] == "abc-123" and body["status"] == "running"
    assert missing.status == 404 and missing_body["error"] == "Computer not found"
    stats = server_stats(server.http_port)
    assert stats["requests"] >= 1 and stats["cpu"] > 0


def test_decode_runs() -> None:
    table, res = decode.run(reps=1, target=0.002)
    assert set(res) == {"Computer", "Workspace (50 desktops)"}
    for r in res.values():
        assert r["msgspec"] > 0 and r["pydantic"] > 0 and r["json"] > 0
    assert "pydantic v2" in table


@pytest.mark.parametrize("client", ["ours", "aiohttp", "httpx"])
def test_fleet_cell_runs(server: Server, client: str) -> None:
    r = fleet.run_cell(server, client, 20, 4, 0, 1)
    assert r["ok"] == [20], r  # every poll decoded a Computer
    assert r["rps"] > 0 and r["maxrss_kb"] > 0
    assert "warning" not in r


def test_fleet_table_and_latency(server: Server) -> None:
    table, res = fleet.run(
        server,
        sizes=[12],
        concurrencies=[3],
        latencies=[2],
        reps=1,
        rounds=1,
        slow_reps=1,
        slow_max_n=0,  # httpx and official: reported as skipped, not run
        clients=("ours", "aiohttp", "httpx"),
        log=lambda _msg: None,
    )
    cell = res["n=12,c=3,lat=2"]
    assert cell["ours"]["ok"] == [12] and cell["aiohttp"]["ok"] == [12]
    assert "skipped" in cell["httpx"]
    assert "fraction of C/latency" in table


def test_imports_and_memory(server: Server) -> None:
    t = startup.time_import(sys.executable, "import orgo_async", 1)
    assert 0 < t < 60
    _table, res = startup.run_memory(server, sizes=(10, 20), c=2)
    assert res["ours n=10"]["maxrss_mb"] > 0
    assert res["ours n=20"]["traced_peak_kb"] > 0


def test_terminal_and_audio(server: Server) -> None:
    table, res = ws.run(server, keystrokes=5, count=5, size=64, frames=50, reps=1)
    for side in ("ours", "raw"):
        assert res[side][0]["bulk_chars"] == 5 * 64
        assert len(res[side][0]["rtts"]) == 5
    for side in ("ours_audio", "raw_audio"):
        assert res[side][0]["frames"] >= 50
    assert "audio" in table


def test_watch_runs_every_mode_and_sees_every_change() -> None:
    table, res = watch.run(
        computers=60, workspaces=3, intervals=(0.2,), changes=3, quick=True, log=lambda _: None
    )
    decoded = res.pop("decode")
    assert decoded["bytes"] > 0 and decoded["watch"] > 0 and decoded["full"] > 0
    assert set(res) == {"per computer, 0.2 s", "per workspace, 0.2 s", "all workspaces, 0.2 s"}
    passes = {k.split(",")[0]: r["requests_per_pass"] for k, r in res.items()}
    assert passes == {"per computer": 60, "per workspace": 3, "all workspaces": 1}
    for r in res.values():
        assert r["missed"] == 0 and len(r["delays"]) == 3 and r["errors"] == 0
        assert all(d >= 0 for d in r["delays"])  # reported after the change, never before
        assert r["requests_per_second"] > 0
    # The emulator saw only the requests each mode is made of.
    assert set(res["per computer, 0.2 s"]["requests"]) == {"computer"}
    assert set(res["all workspaces, 0.2 s"]["requests"]) == {"listing"}
    assert "per workspace" in table and "orgo.workspaces.list()" in table and "GC on" in table
    rows = bench_run.targets({"watch": res})
    assert len(rows) == 1 and rows[0][0].startswith("watch per workspace >= 100x")


def test_targets_summary_and_readme_writer(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pathlib

    assert isinstance(tmp_path, pathlib.Path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# B\n\nintro\n\n{bench_run.START}\nold\n{bench_run.END}\n\nfooter\n")
    monkeypatch.setattr(bench_run, "README", readme)
    bench_run.write_readme("new table")
    text = readme.read_text()
    assert "new table" in text and "old" not in text
    assert text.startswith("# B\n\nintro") and text.endswith("footer\n")
    rows = bench_run.targets(
        {"decode": {"Computer": {"msgspec": 1.0, "pydantic": 4.0, "json": 3.0}}}
    )
    assert rows == [["decode Computer >= 3x pydantic v2", "4.00x", "met"]]
    assert md_table(["a"], [["1"]]).count("\n") == 2
