"""``orgo-async vnc-bridge``: a native viewer's TCP connection reaches the RFB server."""

from __future__ import annotations

import asyncio
import os
import re
import sys

from orgo_async.testing import FakeOrgo, Timings


async def test_vnc_bridge_command_tunnels_to_the_rfb_server() -> None:
    async with FakeOrgo(timings=Timings.instant()) as fake, fake.client() as orgo:
        ws = await orgo.workspaces.create(name="vnc")
        c = await orgo.computers.create(workspace_id=ws.id, name="v")
        await orgo.computers.wait_until(c.id, "running", timeout=10)
        env = {**os.environ, "ORGO_API_KEY": fake.api_key}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orgo_async.cli",
            "vnc-bridge",
            c.id,
            "--port",
            "0",
            "--base-url",
            fake.base_url,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            lines = [
                (await asyncio.wait_for(proc.stdout.readline(), 20)).decode() for _ in range(3)
            ]
            match = re.search(r"on 127\.0\.0\.1:(\d+)", lines[0])
            assert match, lines
            assert "--show-password" in lines[2]
            assert fake.computer(c.id).vnc_password not in "".join(lines)
            reader, writer = await asyncio.open_connection("127.0.0.1", int(match.group(1)))
            try:
                greeting = await asyncio.wait_for(reader.readexactly(12), 10)
            finally:
                writer.close()
                await writer.wait_closed()
            assert greeting == b"RFB 003.008\n"
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 10)
            assert proc.stderr is not None
            await proc.stderr.read()
