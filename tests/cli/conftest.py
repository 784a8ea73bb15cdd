"""Drive ``orgo-async`` as a user would: a real subprocess against a FakeOrgo on loopback.

The emulator runs in the test's event loop; the command is ``python -m orgo_async`` in a
child process that finds it through ``ORGO_API_KEY`` / ``ORGO_BASE_URL``, exactly as a
user's shell would.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from orgo_async.testing import FakeComputer, FakeOrgo, FakeWorkspace, Timings


@dataclass
class Result:
    """What one run of the command left behind."""

    code: int
    stdout: str
    stderr: str
    raw_stdout: bytes = b""

    def json(self) -> Any:
        return msgspec.json.decode(self.stdout)


def cli_env(fake: FakeOrgo | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a user would have set: the emulator's key and base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGO_")}
    if fake is not None:
        env["ORGO_API_KEY"] = fake.api_key
        env["ORGO_BASE_URL"] = fake.base_url
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


async def run_cli(
    fake: FakeOrgo | None,
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: bytes = b"",
    timeout: float = 30.0,
    python: Sequence[str] = ("-m", "orgo_async"),
) -> Result:
    """Run ``python -m orgo_async ARGS`` to completion; stdout, stderr and exit code."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *python,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=cli_env(fake, env),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(errors="replace"), err.decode(), out)


@dataclass
class Seeded:
    fake: FakeOrgo
    workspace: FakeWorkspace
    running: FakeComputer
    stopped: FakeComputer


@pytest.fixture
async def fake() -> AsyncIterator[FakeOrgo]:
    async with FakeOrgo(timings=Timings.instant()) as f:
        yield f


@pytest.fixture
def seeded(fake: FakeOrgo) -> Seeded:
    """A workspace with one running and one stopped computer."""
    ws = fake.add_workspace("prod")
    running = fake.add_computer(ws.id, "agent-1")
    stopped = fake.add_computer(ws.id, "agent-2", status="stopped")
    return Seeded(fake, ws, running, stopped)
