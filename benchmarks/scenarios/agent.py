"""Agent episode: ``run_claude`` vs the official SDK's ``Computer.prompt(provider="anthropic")``,
and the desktop's input and screenshot paths, REST vs RFB.

**Episode.** One separate process serves the emulator (``FakeOrgo``, instant timings) and
a scripted Anthropic Messages API. The script is stateless: the answer to a request
with k assistant messages is step k, a ``tool_use`` from a ten-action cycle both SDKs
implement (screenshot, left/right/double click, type, key, scroll at a point, mouse move,
drag, screenshot); step ``STEPS`` answers ``end_turn``. Each SDK runs the same
``STEPS``-step episode in a fresh process (ours on this interpreter, the official SDK on
the conformance venv's Python 3.12), timing only the episode: wall time and the
process's CPU time (``getrusage``, all threads); both keep the last 3 screenshots. After
each run the emulator's action log must hold exactly ``STEPS`` actions (the same work on
both sides). Reference rows split the cost of a step: ``run_claude`` with the SDK's
aiohttp transport; the same script with canned tool results (a screenshot-sized image or
"done", no Orgo request) through ``run_claude`` and through the loop the Anthropic SDK
documents (``messages.create``, the answer's SDK objects appended to the history); one
``client.post`` of a fixed small body per step, the SDK client's own cost of a call.
Runs alternate (ours, official, the references, ours, ...); medians.
``python -m benchmarks.scenarios.agent profile ours /tmp/ours.txt`` profiles one episode
(any worker: ``ours``, ``ours-canned`` ...).

**Paths** (in this process, against the emulator, and against x11vnc on Xvfb when the
binaries exist): a click via REST, via an RFB session (input events plus the two update
round trips that confirm them) and as :class:`~orgo_async.agents.Desktop` sends it over
RFB (plus its pointer settle); a screenshot via REST and via RFB (a full non-incremental
update plus a local PNG encode), with the bytes each moves.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._common import ROOT, child_server, fmt_ratio, md_table, median

STEPS = 200
MODEL = "claude-sonnet-4-6"
CONFORMANCE_VENV = ROOT / ".cache" / "conformance-venv"
OFFICIAL_SCRIPT = Path(__file__).with_name("_agent_official.py")
ANTHROPIC_KEY = "sk-ant-bench"
NOTE = (
    "Medians of alternating fresh-process runs; CPU is the client process's own "
    "(getrusage, all threads), wall includes the servers' work. The first two rows use the "
    "SDKs' defaults; the third is run_claude with AsyncAnthropic(http_client="
    "DefaultAioHttpClient()). The references have no Orgo request: the same script with "
    "canned tool results through run_claude, and through the Anthropic SDK's documented "
    "loop (messages.create, the answer's objects appended to the history); and one "
    "request per step of a fixed small body through client.post, the cost of a call "
    "through the SDK's client itself."
)
#: The sides, in the order they run and appear: the two clients, then the references.
SIDES = ("ours", "official", "ours-aiohttp", "ours-canned", "sdk-canned", "sdk-post")
LABELS = {
    "ours": "orgo_async run_claude",
    "official": "official Computer.prompt",
    "ours-aiohttp": "run_claude, the SDK's aiohttp transport",
    "ours-canned": "reference: run_claude, canned tool results",
    "sdk-canned": "reference: messages.create loop, canned tool results",
    "sdk-post": "reference: client.post of a fixed one-message body",
}

_CYCLE: list[dict[str, Any]] = [
    {"action": "screenshot"},
    {"action": "left_click", "coordinate": [320, 200]},
    {"action": "type", "text": "hello world"},
    {"action": "key", "text": "Return"},
    {"action": "scroll", "scroll_direction": "down", "scroll_amount": 3, "coordinate": [640, 360]},
    {"action": "double_click", "coordinate": [100, 600]},
    {"action": "mouse_move", "coordinate": [700, 100]},
    {"action": "right_click", "coordinate": [500, 500]},
    {"action": "left_click_drag", "start_coordinate": [10, 10], "coordinate": [400, 300]},
    {"action": "screenshot"},
]


def turn(step: int, steps: int) -> dict[str, Any]:
    """The scripted Messages API answer for ``step`` (0-based)."""
    if step >= steps:
        content: list[dict[str, Any]] = [{"type": "text", "text": "Episode complete."}]
        stop = "end_turn"
    else:
        content = [
            {"type": "tool_use", "id": f"toolu_{step:05d}", "name": "computer",
             "input": _CYCLE[step % len(_CYCLE)]},
        ]  # fmt: skip
        stop = "tool_use"
    return {
        "id": f"msg_{step:05d}", "type": "message", "role": "assistant", "model": MODEL,
        "content": content, "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": 1000, "output_tokens": 20},
    }  # fmt: skip


# -- the servers process ---------------------------------------------------------------


async def _serve(steps: int) -> None:
    import msgspec
    from aiohttp import web

    from orgo_async.testing import FakeOrgo, Timings

    async with FakeOrgo(timings=Timings.instant(), max_recorded=1000) as fake:
        ws = fake.add_workspace("bench")
        computer = fake.add_computer(ws.id, "agent", resolution="1280x720x24")
        counts = {"messages": 0}
        decode = msgspec.json.Decoder()

        async def messages(request: web.Request) -> web.Response:
            body = decode.decode(await request.read())
            counts["messages"] += 1
            step = sum(1 for m in body["messages"] if m.get("role") == "assistant")
            return web.Response(body=msgspec.json.encode(turn(step, steps)),
                                content_type="application/json")  # fmt: skip

        async def stats(request: web.Request) -> web.Response:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            return web.json_response(
                {"cpu": usage.ru_utime + usage.ru_stime, "messages": counts["messages"],
                 "actions": len(computer.actions)}
            )  # fmt: skip

        async def reset(request: web.Request) -> web.Response:
            computer.actions.clear()
            counts["messages"] = 0
            return web.json_response({})

        app = web.Application(client_max_size=256 << 20)
        app.router.add_post("/v1/messages", messages)
        app.router.add_get("/_stats", stats)
        app.router.add_post("/_reset", reset)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        info = {"anthropic": f"http://127.0.0.1:{port}", "base_url": fake.base_url,
                "api_key": fake.api_key, "computer_id": computer.id}  # fmt: skip
        print(json.dumps(info), flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes stdin
        await runner.cleanup()


@dataclass(frozen=True)
class Servers:
    anthropic: str
    base_url: str
    api_key: str
    computer_id: str

    def call(self, method: str, path: str) -> dict[str, Any]:
        import urllib.request

        req = urllib.request.Request(self.anthropic + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            result: dict[str, Any] = json.loads(resp.read())
            return result


@contextlib.contextmanager
def run_servers(steps: int) -> Iterator[Servers]:
    what = "the agent benchmark servers"
    with child_server("benchmarks.scenarios.agent", "serve", str(steps), what=what) as (info, _):
        yield Servers(**info)


# -- the workers -----------------------------------------------------------------------


def _anthropic(servers: Servers, transport: str = "default") -> Any:
    """The Anthropic SDK's async client as a user makes it: its default transport, or
    ``"aiohttp"``, the one it offers as ``http_client=DefaultAioHttpClient()``."""
    from anthropic import AsyncAnthropic, DefaultAioHttpClient

    http = DefaultAioHttpClient() if transport == "aiohttp" else None
    return AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=servers.anthropic, http_client=http)


async def _ours(servers: Servers, steps: int, transport: str = "default") -> dict[str, Any]:
    from orgo_async import AsyncOrgo
    from orgo_async.agents.anthropic import run_claude

    async with (
        AsyncOrgo(api_key=servers.api_key, base_url=servers.base_url) as orgo,
        _anthropic(servers, transport) as client,
    ):
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        run = await run_claude(orgo, servers.computer_id, "Run the benchmark episode",
                               client=client, model=MODEL, max_iterations=steps + 1,
                               keep_screenshots=3)  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "messages": len(run.messages)}


def _canned_image() -> dict[str, Any]:
    from orgo_async.testing import Screen, render_screen

    png = render_screen(1280, 720, Screen(), "canned")  # a screenshot of the usual size
    return {"type": "image", "source": {"type": "base64", "media_type": "image/png",
            "data": base64.b64encode(png).decode()}}  # fmt: skip


def _canned_result(tool_id: str, args: dict[str, Any], image: dict[str, Any]) -> dict[str, Any]:
    shot = args["action"] == "screenshot"
    return {"type": "tool_result", "tool_use_id": tool_id,
            "content": [dict(image)] if shot else "done"}  # fmt: skip


async def _ours_canned(servers: Servers, steps: int) -> dict[str, Any]:
    """``run_claude`` with canned tool results (no Orgo request at all): the cost of its
    model calls by themselves."""
    from orgo_async import AsyncOrgo, Computer
    from orgo_async.agents.anthropic import ComputerUseTools, run_claude

    image = _canned_image()

    class Canned(ComputerUseTools):
        async def run(self, block: Any) -> dict[str, Any]:
            return _canned_result(block["id"], block["input"], image)

    computer = Computer(id=servers.computer_id, name="x", resolution="1280x720x24")
    async with (
        AsyncOrgo(api_key=servers.api_key, base_url=servers.base_url) as orgo,
        _anthropic(servers) as client,
    ):
        tools = Canned(orgo, computer)
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        await run_claude(orgo, computer, "Run the benchmark episode", client=client,
                         model=MODEL, max_iterations=steps + 1, keep_screenshots=3,
                         tools=tools)  # fmt: skip
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


async def _sdk_canned(servers: Servers, steps: int) -> dict[str, Any]:
    """The loop the Anthropic SDK documents, with canned tool results: ``messages.create``
    on every step, the answer's ``content`` (SDK objects) appended to the history, the
    same tools, system prompt, step count and screenshot pruning (the last 3) as
    ``run_claude``."""
    from collections import deque

    from orgo_async.agents.anthropic import BASH_TOOL, BETAS, SYSTEM_PROMPT

    image = _canned_image()
    tools = [{"type": "computer_20251124", "name": "computer", "display_width_px": 1280,
              "display_height_px": 720, "enable_zoom": True}, BASH_TOOL]  # fmt: skip
    system = SYSTEM_PROMPT.format(width=1280, height=720)
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Run the benchmark episode"}]
    images: deque[tuple[list[Any], int]] = deque()
    async with _anthropic(servers) as client:
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        for _ in range(steps + 1):
            response = await client.beta.messages.create(
                model=MODEL, max_tokens=4096, system=system, messages=messages,
                tools=tools, betas=[BETAS["20251124"]],
            )  # fmt: skip
            messages.append({"role": "assistant", "content": response.content})
            calls = [b for b in response.content if b.type == "tool_use"]
            if not calls:
                break
            results = [_canned_result(b.id, b.input, image) for b in calls]
            messages.append({"role": "user", "content": results})
            for r in results:
                if isinstance(r["content"], list):
                    images.append((r["content"], 0))
            while len(images) > 3:
                inner, i = images.popleft()
                inner[i] = {"type": "text", "text": "[older screenshot removed]"}
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


async def _sdk_post(servers: Servers, steps: int) -> dict[str, Any]:
    """``steps + 1`` requests of one fixed, one-message body through ``client.post`` (the
    path run_claude posts on): what a call through the SDK's client costs by itself."""
    body = json.dumps({"model": MODEL, "max_tokens": 4096, "messages": [
        {"role": "user", "content": "Run the benchmark episode"}]}).encode()  # fmt: skip
    async with _anthropic(servers) as client:
        before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        for _ in range(steps + 1):
            await client.post("/v1/messages", cast_to=bytes, content=body)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


async def _ours_aiohttp(servers: Servers, steps: int) -> dict[str, Any]:
    return await _ours(servers, steps, "aiohttp")


WORKERS = {
    "ours": _ours,
    "ours-aiohttp": _ours_aiohttp,
    "ours-canned": _ours_canned,
    "sdk-canned": _sdk_canned,
    "sdk-post": _sdk_post,
}


def conformance_python(log: Any = print) -> str | None:
    """The conformance venv's interpreter with ``orgo`` and ``anthropic`` (``anthropic`` is
    installed into it when missing), or None when there is no such venv."""
    py = CONFORMANCE_VENV / "bin" / "python"
    if not py.exists():
        return None
    check = [str(py), "-c", "import orgo, anthropic"]
    if subprocess.run(check, capture_output=True).returncode != 0:
        log(f"installing anthropic into {CONFORMANCE_VENV} ...")
        subprocess.run([str(py), "-m", "pip", "install", "-q", "anthropic"], check=True)
    return str(py)


def run_episode(servers: Servers, side: str, steps: int) -> dict[str, Any]:
    """One episode of ``side`` (``ours``/``official``) in a fresh process, checked."""
    servers.call("POST", "/_reset")
    if side in WORKERS:
        cmd = [sys.executable, "-m", "benchmarks.scenarios.agent", side, str(steps),
               json.dumps(servers.__dict__)]  # fmt: skip
        env = None
    else:
        py = conformance_python()
        if py is None:
            raise RuntimeError(f"no conformance venv at {CONFORMANCE_VENV}")
        cmd = [py, str(OFFICIAL_SCRIPT), servers.base_url, servers.computer_id, str(steps)]
        env = {**os.environ, "ANTHROPIC_BASE_URL": servers.anthropic,
               "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ORGO_API_KEY": servers.api_key}  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{side} episode failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    stats = servers.call("GET", "/_stats")
    actions = steps if side in ("ours", "official", "ours-aiohttp") else 0
    if stats["actions"] != actions or stats["messages"] != steps + 1:
        raise RuntimeError(f"{side}: {stats['actions']} actions / {stats['messages']} model "
                           f"calls, expected {steps} / {steps + 1}")  # fmt: skip
    return result


def run(steps: int = STEPS, reps: int = 3, log: Any = print) -> tuple[str, dict[str, Any]]:
    """The episode table: per-step wall and CPU time of both SDKs and of the two
    references (canned tool results), and the ratios to the official SDK."""
    official = conformance_python(log) is not None
    sides = [side for side in SIDES if official or side != "official"]
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    with run_servers(steps) as servers:
        for rep in range(reps):
            for side in sides:
                log(f"agent episode: {side} ({rep + 1}/{reps}) ...")
                runs[side].append(run_episode(servers, side, steps))
    res: dict[str, Any] = {"steps": steps}
    for side in sides:
        res[side] = {
            "wall_ms_per_step": median([r["wall"] for r in runs[side]]) / steps * 1000,
            "cpu_ms_per_step": median([r["cpu"] for r in runs[side]]) / steps * 1000,
        }
    base = res.get("official")
    rows: list[list[str]] = []
    for side in sides:
        r = res[side]
        vs = ("", "")
        if base is not None:
            vs = (fmt_ratio(r["wall_ms_per_step"] / base["wall_ms_per_step"]),
                  fmt_ratio(r["cpu_ms_per_step"] / base["cpu_ms_per_step"]))  # fmt: skip
        rows.append(
            [LABELS[side], f"{r['wall_ms_per_step']:.2f}", f"{r['cpu_ms_per_step']:.2f}", *vs]
        )
    header = ["client", "wall ms/step", "client CPU ms/step", "wall vs official",
              "CPU vs official"]  # fmt: skip
    return md_table(header, rows), res


def profile(side: str, out: str, steps: int = STEPS) -> None:
    """Profile one warm episode of ``side`` (a worker of this module) in this process with
    cProfile on a CPU clock (the wall time of a profiled run is mostly the profiler's),
    writing the top functions by own and by cumulative time to ``out``."""
    import cProfile
    import pstats

    worker = WORKERS[side]
    with run_servers(steps) as servers:
        asyncio.run(worker(servers, steps))  # imports, connections, caches
        servers.call("POST", "/_reset")
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(asyncio.run, worker(servers, steps))
    with open(out, "w") as f:
        stats = pstats.Stats(profiler, stream=f)
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(80)


def main(argv: list[str]) -> None:
    if argv[0] == "serve":
        asyncio.run(_serve(int(argv[1])))
    elif argv[0] == "profile":
        profile(argv[1], argv[2])
    elif argv[0] in WORKERS:
        servers = Servers(**json.loads(argv[2]))
        print(json.dumps(asyncio.run(WORKERS[argv[0]](servers, int(argv[1])))))
    else:
        raise SystemExit(f"unknown command {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
