"""``orgo-async mcp`` as a host runs it: a subprocess over stdio, and over streamable HTTP.

The API key reaches the server through the environment only; it never shows in a tool
result nor in anything the server logs on stderr.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("mcp.server", reason="the 'mcp' extra is not installed")

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import ImageContent, TextContent

from orgo_async.testing import FakeOrgo, Timings, render_screen


def server_env(fake: FakeOrgo) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORGO_")}
    env.update(ORGO_API_KEY=fake.api_key, ORGO_BASE_URL=fake.base_url, PYTHONUNBUFFERED="1")
    return env


async def exercise(client: Client, fake: FakeOrgo) -> str:
    """Call a handful of tools; check them against the emulator; all the text seen."""
    ws = fake.add_workspace("prod")
    c = fake.add_computer(ws.id, "agent-1")
    seen: list[str] = []
    tools = [t.name for t in (await client.list_tools()).tools]
    assert {"click", "screenshot", "bash", "computer_create"} <= set(tools)

    result = await client.call_tool("click", {"computer_id": c.id, "x": 5, "y": 6})
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["success"] is True
    assert [(a.name, a.body) for a in fake.computer(c.id).actions] == [
        ("click", {"x": 5, "y": 6, "button": "left"})
    ]
    shot = await client.call_tool("screenshot", {"computer_id": c.id})
    image = shot.content[0]
    assert isinstance(image, ImageContent)
    assert base64.b64decode(image.data) == render_screen(c.width, c.height, c.screen, c.id)

    for name, args in (
        ("computers_list", {}),
        ("computer_get", {"computer_id": "00000000-0000-4000-8000-000000000000"}),
    ):
        result = await client.call_tool(name, args)
        seen.append(repr(result.structured_content))
        seen.extend(x.text for x in result.content if isinstance(x, TextContent))
    assert "NotFoundError: 404" in seen[-1]
    return "\n".join(seen)


async def test_stdio_subprocess(tmp_path: Path) -> None:
    errlog = tmp_path / "stderr.txt"
    async with FakeOrgo(timings=Timings.instant()) as fake:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "orgo_async", "mcp"], env=server_env(fake)
        )
        with errlog.open("w") as err:
            async with Client(stdio_client(params, errlog=err)) as client:
                seen = await exercise(client, fake)
    logged = errlog.read_text()
    assert "orgo MCP server on stdio" in logged
    assert fake.api_key not in seen + logged


@contextlib.asynccontextmanager
async def http_server(
    fake: FakeOrgo, *args: str, token: str | None = None, host: str = "127.0.0.1"
) -> AsyncIterator[tuple[str, list[str]]]:
    env = server_env(fake)
    if token is not None:
        env["ORGO_MCP_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "orgo_async", "mcp", "--http", "0", "--host", host, *args,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        while line.startswith("WARNING"):
            lines.append(line)
            line = (await asyncio.wait_for(proc.stderr.readline(), 20)).decode()
        lines.append(line)
        assert line.startswith(f"orgo MCP server on http://{host}:"), line
        yield line.split(" on ", 1)[1].split()[0], lines
    finally:
        proc.terminate()
        rest = await asyncio.wait_for(proc.stderr.read(), 10)
        lines.append(rest.decode())
        await asyncio.wait_for(proc.wait(), 10)


async def test_streamable_http() -> None:
    async with FakeOrgo(timings=Timings.instant()) as fake:
        async with http_server(fake) as (url, logged):
            assert url.endswith("/mcp")
            async with Client(url) as client:
                seen = await exercise(client, fake)
        assert fake.api_key not in seen + "".join(logged)


async def test_http_refuses_a_busy_port() -> None:
    async with FakeOrgo() as fake:
        port = fake.port  # already taken by the emulator
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orgo_async", "mcp", "--http", str(port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=server_env(fake),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert err.decode().strip().startswith(f"orgo-async: cannot listen on 127.0.0.1:{port}")


async def test_http_with_a_token_refuses_requests_without_it() -> None:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    token = "t0k-" + "9" * 40
    async with FakeOrgo(timings=Timings.instant()) as fake:
        async with http_server(fake, token=token) as (url, logged):
            assert "(bearer token required)" in logged[-1]
            async with httpx2.AsyncClient() as http:
                for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
                    r = await http.post(url, json={}, headers=headers)
                    assert r.status_code == 401, headers
                    assert r.headers["www-authenticate"].startswith("Bearer")
                    assert token not in r.text
            # The MCP client with the token does everything, the scheme in any case.
            http_client = create_mcp_http_client(headers={"Authorization": f"bearer {token}"})
            async with (
                http_client,
                Client(streamable_http_client(url, http_client=http_client)) as client,
            ):
                seen = await exercise(client, fake)
        shown = seen + "".join(logged)
        assert fake.api_key not in shown and token not in shown


async def test_http_on_a_non_loopback_host_needs_a_token_or_no_auth() -> None:
    async with FakeOrgo() as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "orgo_async", "mcp", "--http", "0", "--host", "0.0.0.0",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=server_env(fake),
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 2
        assert err.decode().startswith(
            "orgo-async: refusing to serve 0.0.0.0 without ORGO_MCP_TOKEN"
        )
        # --no-auth serves it anyway, loudly (127.0.0.2: not in the loopback names we
        # trust, yet nothing is exposed beyond this machine).
        async with http_server(fake, "--no-auth", host="127.0.0.2") as (url, logged):
            assert url.startswith("http://127.0.0.2:")
            assert logged[0].startswith("WARNING: listening on 127.0.0.2, not loopback")
