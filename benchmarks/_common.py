"""Shared helpers: the server process, the official SDK's interpreter, statistics, tables.

Stdlib only at import time: the fleet worker also runs under the official SDK's
Python 3.12 venv, which has no orgo_async dependencies beyond what it needs.
"""

from __future__ import annotations

import glob
import http.client
import json
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
OFFICIAL_VENV = CACHE / "orgo-official"
OFFICIAL_VERSION = "0.0.47"
API_KEY = "sk_live_bench_0123456789abcdef"


@dataclass(frozen=True)
class Server:
    """A running benchmark server (see :mod:`benchmarks.server`)."""

    http_port: int
    ws_port: int
    pid: int

    def base_url(self, latency_ms: int = 0) -> str:
        prefix = f"/lat{latency_ms}" if latency_ms else ""
        return f"http://127.0.0.1:{self.http_port}{prefix}/api"

    def ws_base(self) -> str:
        return f"http://127.0.0.1:{self.ws_port}/desktops/a3881618"


def server_stats(port: int) -> dict[str, float]:
    """The server's own CPU seconds and request count (``GET /_stats``)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/_stats", headers={"Connection": "close"})
        stats: dict[str, float] = json.loads(conn.getresponse().read())
        return stats
    finally:
        conn.close()


@contextmanager
def child_server(
    module: str, *args: str, what: str, timeout: float = 15
) -> Iterator[tuple[dict[str, Any], int]]:
    """Run ``python -m module args`` until the ``with`` ends; yields the JSON object it
    prints on its first stdout line (its addresses) and its pid.

    The child serves until its stdin is closed; it then gets ``timeout`` seconds to exit
    before it is killed. ``what`` names it in the error when it exits before that line.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{what} did not start")
        yield json.loads(line), proc.pid
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def run_server() -> Iterator[Server]:
    """Start the server in a separate process; it exits when we close its stdin."""
    with child_server("benchmarks.server", what="benchmark server", timeout=10) as (ports, _):
        yield Server(ports["http"], ports["ws"], ports["pid"])


def find_python312() -> str | None:
    """A Python 3.12 interpreter (pyenv first, then PATH), or None."""
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python"), reverse=True)
    candidates += [
        p
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if os.path.exists(p := os.path.join(d, "python3.12"))
    ]
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    return None


def official_python(log: bool = True) -> str | None:
    """The venv interpreter with ``orgo==0.0.47`` (created in .cache/ on first use).

    The official SDK only imports on Python 3.12+. ``aiohttp``, ``msgspec`` and
    ``websockets`` are installed next to it so ``orgo_async`` can be timed on the same
    interpreter for the import comparison. None if no 3.12 exists or pip fails.
    """
    py = OFFICIAL_VENV / "bin" / "python"
    stamp = OFFICIAL_VENV / f".orgo-{OFFICIAL_VERSION}"
    if py.exists() and stamp.exists():
        return str(py)
    base = find_python312()
    if base is None:
        return None
    if log:
        print(f"setting up {OFFICIAL_VENV} (orgo=={OFFICIAL_VERSION}) ...", file=sys.stderr)
    try:
        subprocess.run([base, "-m", "venv", str(OFFICIAL_VENV)], check=True)
        subprocess.run(
            [
                str(py),
                "-m",
                "pip",
                "install",
                "-q",
                f"orgo=={OFFICIAL_VERSION}",
                "aiohttp>=3.11",
                "msgspec",
                "websockets",
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"could not set up the official SDK venv: {e}", file=sys.stderr)
        return None
    stamp.touch()
    return str(py)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: Sequence[float]) -> float:
    """The 99th percentile (the largest value when there are fewer than 100)."""
    return statistics.quantiles(values, n=100)[98] if len(values) >= 100 else max(values)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def fmt_ratio(x: float) -> str:
    if x != x:  # NaN
        return "n/a"
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    cols = [list(map(str, col)) for col in zip(header, *rows, strict=True)]
    widths = [max(len(c) for c in col) for col in cols]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    return "\n".join(lines)


def run_json(cmd: Sequence[str], timeout: float = 600, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    """Run a worker subprocess and parse the JSON object on its last stdout line."""
    proc = subprocess.run(
        list(cmd), cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[type-arg]
    return result
