"""What the command and the MCP server needed from the SDK: ``wait_until(on_poll=)`` and
``orgo_async.as_dict``; plus the progress display of a wait, on a real terminal. (That
``import orgo_async`` loads neither ``rich`` nor ``mcp`` is in tests/test_layering.py.)"""

from __future__ import annotations

from pathlib import Path

from orgo_async import Computer, Workspace, as_dict
from orgo_async.testing import FakeOrgo

from .conftest import Seeded, cli_env
from .tmux import cli_command, needs_tmux, started


async def test_wait_until_reports_every_poll(seeded: Seeded) -> None:
    fake = seeded.fake
    fake.timings.boot = 1.0  # the first poll must see "starting", even on a loaded machine
    seen: list[tuple[str, str]] = []
    async with fake.client() as orgo:
        await orgo.computers.start(seeded.stopped.id)
        done = await orgo.computers.wait_until(
            [seeded.running.id, seeded.stopped.id],
            "running",
            interval=0.05,
            on_poll=lambda c: seen.append((c.name or "", c.status)),
        )
    assert [c.status for c in done] == ["running", "running"]
    assert ("agent-2", "starting") in seen and seen[-1] == ("agent-2", "running")
    assert ("agent-1", "running") in seen


def test_as_dict_has_every_field_and_no_secret() -> None:
    c = Computer(id="c1", status="running", vnc_password="pw-123456")
    ws = Workspace(id="w1", name="prod", desktops=[c])
    data = as_dict(ws)
    assert list(data) == list(Workspace.__struct_fields__)
    (inner,) = data["desktops"]
    assert list(inner) == [f for f in Computer.__struct_fields__ if f != "vnc_password"]
    assert inner["name"] is None  # present although unknown: stable keys
    assert as_dict(ws, secrets=True)["desktops"][0]["vnc_password"] == "pw-123456"


@needs_tmux
async def test_a_wait_draws_a_progress_display_on_a_terminal(
    seeded: Seeded, tmp_path: Path
) -> None:
    fake: FakeOrgo = seeded.fake
    fake.timings.boot = 3.0
    async with started(cli_env(fake), tmp_path, width=100, height=40) as tmux:
        await tmux.type(cli_command("computers", "start", seeded.stopped.id) + "; echo EXIT=$?")
        bar = await tmux.wait_for("agent-2: starting")  # the bar names the computer's state
        assert "0:00:0" in bar  # and the time elapsed
        await tmux.wait_for("EXIT=0")
        screen = await tmux.screen(history=True)
        assert "agent-2: starting" not in screen  # the bar is gone once done
        assert any(line.split()[:2] == ["status", "running"] for line in screen.splitlines())
