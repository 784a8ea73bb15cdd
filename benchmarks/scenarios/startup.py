"""Import time (fresh interpreters) and peak memory of the 10,000-poll run.

Import: each statement runs in a fresh subprocess that times only the statement (not
interpreter start-up), after one untimed run so byte-code is compiled; median of
``reps``. The official SDK only imports on Python 3.12, so ``orgo_async`` is timed on
that same 3.12 interpreter too (PYTHONPATH to this checkout, its dependencies installed
in the same venv) and the ratio compares like with like.

Memory: fresh worker processes poll 1,000 and then 10,000 computers through
``get_many`` (and raw aiohttp for reference); ``ru_maxrss`` is the whole process's peak
RSS, ``tracemalloc`` the peak of what the timed run itself allocated.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from .._common import ROOT, Server, fmt_ratio, md_table, median, official_python
from . import fleet

_PROBE = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"


def time_import(python: str, stmt: str, reps: int) -> float:
    """Median seconds of ``stmt`` in fresh interpreters."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples: list[float] = []
    for i in range(reps + 1):
        out = subprocess.run(
            [python, "-c", _PROBE.format(stmt=stmt)],
            cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        if i:  # the first run only compiles byte-code
            samples.append(float(out.stdout.strip().splitlines()[-1]))
    return median(samples)


def run_imports(*, reps: int = 7) -> tuple[str, dict[str, Any]]:
    py311 = sys.executable
    py312 = official_python()
    stmts = ["import orgo_async", "from orgo_async import AsyncOrgo"]
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    orgo = time_import(py312, "import orgo", reps) if py312 else float("nan")
    results["import orgo (3.12)"] = orgo
    interpreters = [("3.11", py311)] + ([("3.12", py312)] if py312 else [])
    for stmt in stmts:
        for ver, py in interpreters:
            t = time_import(py, stmt, reps)
            results[f"{stmt} ({ver})"] = t
            ratio = fmt_ratio(orgo / t) if ver == "3.12" else "(other interpreter)"
            rows.append([f"`{stmt}`", ver, f"{t * 1000:,.1f}", ratio])
    rows.append(
        ["`import orgo` (official 0.0.47)", "3.12",
         f"{orgo * 1000:,.1f}" if py312 else "skipped: no Python 3.12", "1.00x (baseline)"]
    )  # fmt: skip
    header = ["statement", "Python", "ms (median, fresh process)", "faster than `import orgo`"]
    return md_table(header, rows), results


def run_memory(server: Server, *, sizes: tuple[int, ...] = (1_000, 10_000), c: int = 500
               ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    results: dict[str, Any] = {}
    rows: list[list[str]] = []
    for client in ("ours", "aiohttp"):
        base: dict[str, float] = {}
        for n in sizes:
            rss = fleet.run_cell(server, client, n, c, 0, 1)["maxrss_kb"] / 1024
            traced = fleet.run_cell(server, client, n, c, 0, 1, ("--tracemalloc",))
            peak = traced["traced_peak"] / 1024
            results[f"{client} n={n}"] = {"maxrss_mb": rss, "traced_peak_kb": peak}
            base.setdefault("rss", rss)
            base.setdefault("peak", peak)
            rows.append(
                [client, f"{n:,}", str(c), f"{rss:,.1f}", fmt_ratio(rss / base["rss"]),
                 f"{peak:,.0f}", fmt_ratio(peak / base["peak"])]
            )  # fmt: skip
    header = ["client", "N", "C", "peak RSS MB", f"vs N={sizes[0]:,}",
              "tracemalloc peak KB (timed run)", f"vs N={sizes[0]:,}"]  # fmt: skip
    return md_table(header, rows), results
