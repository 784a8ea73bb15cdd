"""``orgo-async fleet watch``: computers change state (through the API) while it runs.

The watch polls whole workspaces (one request per workspace per round), so computers
created while it runs appear, deleted ones show ``deleted``, and a failed poll is shown
without ending the watch.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from orgo_async.testing import FakeOrgo

from .conftest import Seeded, cli_env, run_cli
from .tmux import Tmux, cli_command, needs_tmux, started


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
    async with started(cli_env(fake), tmp_path, width=120, height=20) as t:
        yield t


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
        # Created after the watch started: it appears, in its workspace.
        new = await orgo.computers.create(workspace_id=seeded.workspace.id, name="agent-4")
        screen = await tmux.wait_for(status_of("agent-4", "running"))
        assert row(screen, "agent-4")[:3] == ["prod", "agent-4", new.id]
        # A failed workspace poll goes to the footer; the watch goes on.
        fake.faults.malformed("GET", "/workspaces/{id}")
        screen = await tmux.wait_for("last failed poll")
        assert "workspace prod: APIDecodeError" in screen
        await orgo.computers.delete(seeded.running.id)
        screen = await tmux.wait_for(status_of("agent-1", "deleted"))
    assert "2 computers in 1 workspace(s)" in screen
    assert "1 deleted, 2 running" in screen
    assert row(screen, "agent-3") == []

    history = await tmux.screen(history=True)
    assert history.count("WORKSPACE") == 1  # redrawn in place, never scrolled
    await tmux.keys("C-c")
    await tmux.wait_for("EXIT=0")


class Watcher:
    """``orgo-async fleet watch ARGS`` in a child process, its stdout read line by line."""

    def __init__(self, fake: FakeOrgo, *args: str) -> None:
        self.fake = fake
        self.args = args
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Watcher:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orgo_async",
            "fleet",
            "watch",
            "--interval",
            "0.1",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=cli_env(self.fake),
        )
        return self

    async def line(self) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        text = (await asyncio.wait_for(self.proc.stdout.readline(), 10)).decode()
        assert text, "the watch ended"
        return text

    async def until(self, wanted: Callable[[str], bool]) -> str:
        """The first line ``wanted`` accepts (earlier ones are skipped)."""
        for _ in range(50):
            text = await self.line()
            if wanted(text):
                return text
        raise AssertionError("no such line in the first 50")

    async def polled(self, path: str, times: int = 1) -> None:
        """Wait until the watch sent ``times`` more ``GET path`` (it has seen the fleet)."""
        start = len(self.fake.requests_to("GET", path))
        for _ in range(500):
            if len(self.fake.requests_to("GET", path)) >= start + times:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"the watch never polled {path}")

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        self.proc.send_signal(signal.SIGINT)
        self.code = await asyncio.wait_for(self.proc.wait(), 10)
        self.stderr = (await self.proc.stderr.read()).decode()


def _decode(line: str) -> dict[str, Any]:
    obj: dict[str, Any] = msgspec.json.decode(line)
    return obj


async def test_piped_json_lines_report_each_change(seeded: Seeded) -> None:
    fake = seeded.fake
    async with Watcher(fake, "--json") as w:
        await w.polled("/workspaces", 2)  # every workspace: one GET /workspaces a round
        async with fake.client() as orgo:
            await orgo.computers.stop(seeded.running.id)
        change = _decode(await w.line())
    assert {k: change[k] for k in ("id", "name", "workspace", "previous", "status")} == {
        "id": seeded.running.id,
        "name": "agent-1",
        "workspace": "prod",
        "previous": "running",
        "status": "stopped",
    }
    assert change["error"] is None
    assert w.code == 0  # Ctrl-C is how a watch ends
    # One request per round for the whole account, never one per computer.
    assert not fake.requests_to("GET", f"/computers/{seeded.running.id}")


async def test_computers_created_later_appear_and_deleted_ones_show_deleted(
    seeded: Seeded,
) -> None:
    fake = seeded.fake
    async with Watcher(fake, "--json") as w:
        await w.polled("/workspaces", 2)
        async with fake.client() as orgo:
            # In a workspace that did not exist when the watch started.
            ws = await orgo.workspaces.create(name="late")
            new = await orgo.computers.create(workspace_id=ws.id, name="agent-9")
            appeared = _decode(await w.until(lambda t: new.id in t))
            await orgo.computers.delete(seeded.running.id)
            gone = _decode(await w.until(lambda t: seeded.running.id in t))
    assert {k: appeared[k] for k in ("name", "workspace", "previous")} == {
        "name": "agent-9",
        "workspace": "late",  # its name, looked up once
        "previous": None,
    }
    assert appeared["status"] in ("starting", "running")
    assert {k: gone[k] for k in ("name", "workspace", "previous", "status")} == {
        "name": "agent-1",
        "workspace": "prod",
        "previous": "running",
        "status": "deleted",
    }
    assert w.code == 0


async def test_a_failed_workspace_poll_is_a_line_and_the_watch_goes_on(seeded: Seeded) -> None:
    fake = seeded.fake
    path = f"/workspaces/{seeded.workspace.id}"
    async with Watcher(fake, "prod") as w:
        await w.polled(path)
        fake.faults.malformed("GET", path)
        failed = await w.line()
        await w.polled(path)  # polled again after the failure
        async with fake.client() as orgo:
            await orgo.computers.stop(seeded.running.id)
        after = await w.line()
    assert "poll failed, workspace prod: APIDecodeError" in failed
    assert after.split()[1:] == ["agent-1", seeded.running.id, "running", "->", "stopped"]
    assert w.code == 0


async def test_a_failed_poll_of_every_workspace_is_a_json_error_line(seeded: Seeded) -> None:
    fake = seeded.fake
    async with Watcher(fake, "--json") as w:
        await w.polled("/workspaces")
        fake.faults.statuses("GET", "/workspaces", 403)  # not retried: reported at once
        failed = _decode(await w.line())
        async with fake.client() as orgo:
            await orgo.computers.stop(seeded.running.id)
        after = _decode(await w.line())
    assert {k: failed[k] for k in ("id", "workspace", "status", "previous")} == {
        "id": "",
        "workspace": None,
        "status": None,
        "previous": None,
    }
    assert failed["error"].startswith("PermissionDeniedError: ")
    assert fake.api_key not in failed["error"]
    assert (after["id"], after["status"]) == (seeded.running.id, "stopped")


async def test_an_empty_fleet_is_watched_until_computers_appear(fake: FakeOrgo) -> None:
    async with Watcher(fake) as w:
        await w.polled("/workspaces")
        ws = fake.add_workspace("first")
        c = fake.add_computer(ws.id, "agent-1")
        line = await w.line()
    assert line.split()[1:] == ["agent-1", c.id, "None", "->", "running"]
    assert "no computers yet" in w.stderr
    assert w.code == 0


async def test_unknown_workspace(fake: FakeOrgo) -> None:
    r = await run_cli(fake, "fleet", "watch", "nope")
    assert (r.code, r.stderr.strip()) == (
        3,
        "orgo-async: not found: no workspace with id or name 'nope'",
    )
