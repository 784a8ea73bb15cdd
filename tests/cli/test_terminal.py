"""``orgo-async terminal`` in a real terminal (tmux): typing, the screen, resizes, Ctrl-C,
detach, signals and a dropped connection, and the terminal's settings after each."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orgo_async.testing import FakeOrgo

from .conftest import Seeded, cli_env, run_cli
from .tmux import Tmux, cli_command, needs_tmux, pid_of, started, stty_settings

pytestmark = needs_tmux


@pytest.fixture
async def tmux(fake: FakeOrgo, tmp_path: Path) -> AsyncIterator[Tmux]:
    async with started(cli_env(fake), tmp_path, width=80, height=24) as t:
        yield t


async def open_terminal(tmux: Tmux, computer_id: str) -> None:
    """Run the command between two ``stty -a`` snapshots; its pid goes to ./pid."""
    command = cli_command("terminal", computer_id)
    await tmux.type(
        f"stty -a > before; sh -c 'echo $$ > pid; exec {command}'; "
        "rc=$?; stty -a > after; echo EXIT=$rc"
    )
    await tmux.wait_for("(Ctrl-] to detach)")
    await tmux.type("echo READY-$((6*7))")
    await tmux.wait_for("READY-42")


def assert_restored(tmp_path: Path) -> None:
    assert (tmp_path / "after").exists()
    assert stty_settings(tmp_path / "after") == stty_settings(tmp_path / "before")
    assert "-icanon" not in (tmp_path / "after").read_text().split()  # canonical mode back


async def test_types_reads_resizes_and_exits_with_the_shell(
    seeded: Seeded, tmux: Tmux, tmp_path: Path
) -> None:
    await open_terminal(tmux, seeded.running.id)
    await tmux.type("stty size")
    await tmux.wait_for("\n24 80")  # the remote PTY got this window's size
    await tmux.resize(100, 30)
    await tmux.type("stty size")
    await tmux.wait_for("\n30 100")  # SIGWINCH was forwarded as a resize
    await tmux.type("printf 'a\\tb\\n' | cat -A")
    await tmux.wait_for("a^Ib$")  # a tab went through raw, untranslated
    await tmux.type("exit 3")
    await tmux.wait_for("EXIT=3")  # the remote shell's status is the command's
    assert_restored(tmp_path)


async def test_ctrl_c_goes_to_the_remote_shell_and_ctrl_bracket_detaches(
    seeded: Seeded, tmux: Tmux, tmp_path: Path
) -> None:
    await open_terminal(tmux, seeded.running.id)
    await tmux.type("sleep 30; echo not-$((2+3))")
    await tmux.keys("C-c")
    await tmux.type("echo still-$((1+1))")
    screen = await tmux.wait_for("still-2")
    assert "^C" in screen and "not-5" not in screen  # sleep and the rest of the line died
    await tmux.keys("C-]")
    screen = await tmux.wait_for("EXIT=0")
    assert "detached" in screen
    assert_restored(tmp_path)


@pytest.mark.parametrize(
    ("sig", "code", "message"),
    [
        (signal.SIGINT, 130, "orgo-async: interrupted"),
        (signal.SIGTERM, 128 + signal.SIGTERM, "ended by SIGTERM"),
        (signal.SIGHUP, 128 + signal.SIGHUP, "ended by SIGHUP"),
    ],
)
async def test_signals_end_the_session_and_restore_the_terminal(
    seeded: Seeded, tmux: Tmux, tmp_path: Path, sig: signal.Signals, code: int, message: str
) -> None:
    await open_terminal(tmux, seeded.running.id)
    os.kill(pid_of(tmp_path / "pid"), sig)
    screen = await tmux.wait_for(f"EXIT={code}")
    assert message in screen
    assert_restored(tmp_path)


@pytest.mark.parametrize("how", ["password rotated", "computer stopped"])
async def test_a_dropped_connection_restores_the_terminal(
    seeded: Seeded, tmux: Tmux, tmp_path: Path, how: str
) -> None:
    await open_terminal(tmux, seeded.running.id)
    if how == "password rotated":
        seeded.fake.rotate_password(seeded.running.id)  # as a restart does: the socket gets 4401
        expected = "orgo-async: error: SessionLostError: terminal: the shell session is lost"
    else:
        async with seeded.fake.client() as orgo:
            await orgo.computers.stop(seeded.running.id)
        expected = "orgo-async: error: ComputerGoingAwayError"
    screen = await tmux.wait_for("EXIT=1")
    assert expected in screen
    assert "Traceback" not in screen
    assert_restored(tmp_path)


async def test_needs_an_interactive_terminal(seeded: Seeded) -> None:
    r = await run_cli(seeded.fake, "terminal", seeded.running.id)  # stdin/stdout are pipes
    assert r.code == 2
    assert r.stderr.strip().startswith("orgo-async: terminal needs an interactive terminal")
