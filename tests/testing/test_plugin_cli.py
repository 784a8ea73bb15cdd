"""The pytest plugin's fixtures and the ``orgo-async fake-server`` command."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from orgo_async.cli import build_parser, main
from orgo_async.testing import FakeOrgo


async def test_fake_orgo_fixture(fake_orgo: FakeOrgo) -> None:
    assert fake_orgo.base_url.startswith("http://127.0.0.1:")
    assert fake_orgo.api_key.startswith("sk_live_")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            fake_orgo.base_url + "/workspaces",
            json={"name": "w"},
            headers={"Authorization": f"Bearer {fake_orgo.api_key}"},
        ) as r,
    ):
        assert r.status == 201
    assert [w.name for w in fake_orgo.world.workspaces.values()] == ["w"]


async def test_orgo_client_fixture(orgo_client: Any, fake_orgo: FakeOrgo) -> None:
    ws = await orgo_client.workspaces.create(name="from-fixture")
    c = await orgo_client.computers.create(workspace_id=ws.id, name="agent")
    assert c.status == "running"  # the fixture's emulator boots instantly
    await orgo_client.computers.type(c.id, "hello")
    assert fake_orgo.computer(c.id).action_names() == ["type"]


def test_plugin_loads_by_entry_point_in_a_fresh_session(tmp_path: Path) -> None:
    test = tmp_path / "test_user.py"
    test.write_text(
        textwrap.dedent("""
        async def test_agent(fake_orgo):
            ws = fake_orgo.add_workspace("x")
            assert fake_orgo.world.workspaces[ws.id].name == "x"
    """)
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "asyncio_mode=auto",
            str(test),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_plugin_imports_without_pytest_asyncio() -> None:
    code = (
        "import sys; sys.modules['pytest_asyncio'] = None\n"
        "import orgo_async.testing._plugin as p; print(callable(p.fake_orgo))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"


# -- CLI --------------------------------------------------------------------------------


def test_cli_without_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "fake-server" in capsys.readouterr().err


def test_cli_parser_options() -> None:
    args = build_parser().parse_args(
        ["fake-server", "--port", "0", "--api-key", "sk_live_x", "--allow-exec"]
    )
    assert (args.port, args.api_key, args.allow_exec, args.host) == (
        0,
        "sk_live_x",
        True,
        "127.0.0.1",
    )


async def _start_server(*extra: str) -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "orgo_async.cli",
        "fake-server",
        "--port",
        "0",
        *extra,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    info: dict[str, str] = {}
    assert proc.stdout is not None
    async with asyncio.timeout(20):
        while True:  # the banner, up to its last line
            line = (await proc.stdout.readline()).decode()
            assert line, "server exited early"
            if line.startswith("Press Ctrl-C"):
                break
            if "base URL" in line:
                info["base_url"] = line.split(":", 1)[1].strip()
            if "API key" in line:
                info["key"] = line.split(":", 1)[1].strip()
            if "agent URL" in line:
                info["agent_url"] = line.split(":", 1)[1].strip()
    return proc, info


async def _new_computer(s: aiohttp.ClientSession, base_url: str) -> dict[str, Any]:
    """A workspace and a computer in it, over HTTP; the create answer."""
    async with s.post(base_url + "/workspaces", json={"name": "w"}) as r:
        ws = await r.json()
    async with s.post(base_url + "/computers", json={"workspace_id": ws["id"], "name": "c"}) as r:
        assert r.status == 201
        created: dict[str, Any] = await r.json()
    return created


async def _stop(proc: asyncio.subprocess.Process) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    async with asyncio.timeout(20):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_fake_server_starts_answers_and_stops() -> None:
    proc, info = await _start_server("--api-key", "sk_live_cli_test")
    try:
        assert info["key"] == "sk_live_cli_test"
        assert info["base_url"].startswith("http://127.0.0.1:") and info["base_url"].endswith(
            "/api"
        )
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer sk_live_cli_test"}) as s:
            async with s.post(info["base_url"] + "/projects", json={"name": "p"}) as r:
                assert r.status == 201
                ws = await r.json()
            async with s.post(
                info["base_url"] + "/computers", json={"workspace_id": ws["id"], "name": "c"}
            ) as r:
                assert r.status == 201
                assert (await r.json())["status"] == "running"  # instant by default
            async with s.get(
                info["base_url"] + "/projects", headers={"Authorization": "Bearer other"}
            ) as r:
                assert r.status == 401
    finally:
        code, out, err = await _stop(proc)
    assert code == 0, err
    assert "stopped" in out and "RUN FOR REAL" not in err


async def test_fake_server_boot_delay_and_agent_url() -> None:
    """``--boot-delay`` delays creation too (the 201 says ``creating``), and the printed
    agent URL serves the hosted agent's socket with the printed key."""
    proc, info = await _start_server("--boot-delay", "0.2")
    try:
        assert info["agent_url"] == (
            "ws://" + info["base_url"].removeprefix("http://").removesuffix("/api") + "/ws/prompt"
        )
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {info['key']}"}) as s:
            c = await _new_computer(s, info["base_url"])
            assert c["status"] == "creating"
            seen = [c["status"]]
            async with asyncio.timeout(10):
                while seen[-1] != "running":
                    await asyncio.sleep(0.05)
                    async with s.get(info["base_url"] + f"/computers/{c['id']}") as r:
                        status = (await r.json())["status"]
                    if status != seen[-1]:
                        seen.append(status)
            assert seen == ["creating", "starting", "running"]
            async with s.ws_connect(f"{info['agent_url']}?token={info['key']}") as agent:
                await agent.send_json({"type": "ping"})
                async with asyncio.timeout(5):
                    assert await agent.receive_json() == {"type": "pong"}
    finally:
        code, _, err = await _stop(proc)
    assert code == 0, err


async def test_fake_server_warns_loudly_with_exec() -> None:
    proc, info = await _start_server("--allow-exec")
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {info['key']}"}) as s:
            c = await _new_computer(s, info["base_url"])
            async with s.post(
                info["base_url"] + f"/computers/{c['id']}/bash", json={"command": "echo $((40+2))"}
            ) as r:
                assert (await r.json())["output"] == "42\n"
    finally:
        code, _, err = await _stop(proc)
    assert code == 0
    assert err.count("RUN FOR REAL") == 1


async def test_fake_server_port_in_use() -> None:
    async with FakeOrgo() as fake:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "orgo_async.cli",
            "fake-server",
            "--port",
            str(fake.port),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(20):
            _, err = await proc.communicate()
    assert proc.returncode == 1
    assert "cannot listen" in err.decode()


@pytest.mark.fake_orgo(api_key="sk_live_from_marker", strict=False)
async def test_fake_orgo_marker_options(fake_orgo: FakeOrgo) -> None:
    assert fake_orgo.api_key == "sk_live_from_marker"
    assert fake_orgo.strict is False
