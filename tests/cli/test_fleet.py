"""``orgo-async fleet watch``: computers change state (through the API) while it runs."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest

from orgo_async.testing import FakeOrgo

from .conftest import Seeded, cli_env, run_cli
from .tmux import Tmux, cli_command, needs_tmux, shell_env


def row(screen: str, name: str) -> list[str]:
    """The table row of computer ``name`` on the screen, split into cells."""
    for line in screen.splitlines():
        cells = line.split()
        if len(cells) > 2 and cells[1] == name:
            return cells
    return []


def status_of(name: str, status: str) -> Callable[[str], bool]:
    return lambda screen: row(screen, name)[3:4] == [status]


@pytest.fixture
async def tmux(fake: FakeOrgo, tmp_path: Path) -> AsyncIterator[Tmux]:
    t = Tmux(shell_env(cli_env(fake)), tmp_path)
    await t.start(width=120, height=20)
    try:
        yield t
    finally:
        await t.close()


@needs_tmux
async def test_the_live_table_follows_state_changes_in_place(seeded: Seeded, tmux: Tmux) -> None:
    fake = seeded.fake
    # "stopping" must last long enough for the watch (every 0.2 s) to poll it and the
    # screen reader to see it, even on a loaded machine.
    fake.timings.stop, fake.timings.boot = 2.0, 0.3
    other = fake.add_workspace("staging")
    fake.add_computer(other.id, "agent-3")
    await tmux.type(cli_command("fleet", "watch", "prod", "--interval", "0.2") + "; echo EXIT=$?")
    screen = await tmux.wait_for(lambda s: row(s, "agent-2")[3:4] == ["stopped"])
    assert row(screen, "agent-1")[:4] == ["prod", "agent-1", seeded.running.id, "running"]
    assert row(screen, "agent-3") == []  # not in the workspace asked for
    assert "2 computers in 1 workspace(s)" in screen

    async with fake.client() as orgo:
        await orgo.computers.stop(seeded.running.id)
        await orgo.computers.start(seeded.stopped.id)
        await tmux.wait_for(status_of("agent-1", "stopping"))  # the transitions show too
        await tmux.wait_for(status_of("agent-1", "stopped"))
        await tmux.wait_for(status_of("agent-2", "running"))
        await orgo.computers.delete(seeded.running.id)
        screen = await tmux.wait_for(status_of("agent-1", "deleted"))
    assert "1 deleted, 1 running" in screen

    history = await tmux.screen(history=True)
    assert history.count("WORKSPACE") == 1  # redrawn in place, never scrolled
    await tmux.keys("C-c")
    await tmux.wait_for("EXIT=0")


async def test_piped_json_lines_report_each_change(seeded: Seeded) -> None:
    fake = seeded.fake
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orgo_async",
        "fleet",
        "watch",
        "--interval",
        "0.2",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(fake),
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        await _wait_polled(fake, seeded.running.id)
        async with fake.client() as orgo:
            await orgo.computers.stop(seeded.running.id)
        line = await asyncio.wait_for(proc.stdout.readline(), 10)
        change = msgspec.json.decode(line)
        assert {k: change[k] for k in ("id", "name", "workspace", "previous", "status")} == {
            "id": seeded.running.id,
            "name": "agent-1",
            "workspace": "prod",
            "previous": "running",
            "status": "stopped",
        }
    finally:
        proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(proc.wait(), 10)
        await proc.stderr.read()
    assert code == 0  # Ctrl-C is how a watch ends


async def _wait_polled(fake: FakeOrgo, computer_id: str) -> None:
    # The watch has seen the computer once, so the next status is a change.
    for _ in range(200):
        if fake.requests_to("GET", f"/computers/{computer_id}"):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the watch never polled")


async def test_unknown_workspace_and_empty_fleet(fake: FakeOrgo) -> None:
    r = await run_cli(fake, "fleet", "watch")
    assert (r.code, r.stderr.strip()) == (0, "no computers to watch")
    r = await run_cli(fake, "fleet", "watch", "nope")
    assert (r.code, r.stderr.strip()) == (
        3,
        "orgo-async: not found: no workspace with id or name 'nope'",
    )
