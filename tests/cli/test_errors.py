"""Every error path of ``orgo-async``: one clear line on stderr, the documented exit code,
no traceback (unless ``--debug``), and never the API key or a VNC password."""

from __future__ import annotations

import socket

import pytest

from orgo_async.testing import FakeOrgo

from .conftest import Result, Seeded, run_cli


def assert_one_line(r: Result, code: int, starts: str) -> None:
    """Exit ``code``; stderr is exactly one line starting with ``starts``; no traceback."""
    assert r.code == code, (r.code, r.stdout, r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(starts), lines[0]
    assert "Traceback" not in r.stderr


async def test_no_api_key(fake: FakeOrgo) -> None:
    r = await run_cli(None, "workspaces", "list", env={"ORGO_BASE_URL": fake.base_url})
    assert_one_line(r, 2, "orgo-async: invalid argument: no API key: pass api_key=... or set")


async def test_not_found_exits_3(seeded: Seeded) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for argv in (
        ("computers", "get", missing),
        ("workspaces", "get", missing),
        ("screenshot", missing),
        ("bash", missing, "ls"),
        ("computers", "stop", missing),
    ):
        r = await run_cli(seeded.fake, *argv)
        assert_one_line(r, 3, "orgo-async: not found: NotFoundError: 404: ")


async def test_rejected_key_exits_4_and_is_never_printed(seeded: Seeded) -> None:
    bad = "sk_live_not_a_real_key_123456"
    r = await run_cli(seeded.fake, "workspaces", "list", env={"ORGO_API_KEY": bad})
    assert_one_line(r, 4, "orgo-async: authentication failed: AuthenticationError: 401")
    assert bad not in r.stderr + r.stdout


async def test_workspace_scoped_key_elsewhere_exits_4(seeded: Seeded) -> None:
    other = seeded.fake.add_workspace("other")
    scoped = seeded.fake.add_key(other.id)
    r = await run_cli(
        seeded.fake, "computers", "get", seeded.running.id, env={"ORGO_API_KEY": scoped}
    )
    assert_one_line(r, 4, "orgo-async: permission denied: PermissionDeniedError: 403")
    assert "workspace_scope_mismatch" in r.stderr
    assert scoped not in r.stderr


async def test_unreachable_api_exits_6() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = await run_cli(
        None,
        "workspaces",
        "list",
        env={
            "ORGO_API_KEY": "sk_live_whatever_123",
            "ORGO_BASE_URL": f"http://127.0.0.1:{port}/api",
        },
    )
    assert_one_line(r, 6, "orgo-async: cannot reach the API: APIConnectionError")


async def test_wait_timeout_exits_5(seeded: Seeded) -> None:
    r = await run_cli(seeded.fake, "computers", "wait", seeded.stopped.id, "--timeout", "0.5")
    assert_one_line(r, 5, "orgo-async: timed out: WaitTimeoutError: 1 computer(s) did not reach")
    assert "stopped" in r.stderr


async def test_computer_in_error_state_exits_1(seeded: Seeded) -> None:
    broken = seeded.fake.add_computer(seeded.workspace.id, "broken", status="error")
    r = await run_cli(seeded.fake, "computers", "wait", broken.id)
    assert_one_line(r, 1, "orgo-async: computer failed: ComputerStateError: computer ")


async def test_conflict_exits_1(seeded: Seeded) -> None:
    r = await run_cli(seeded.fake, "computers", "stop", seeded.stopped.id)
    assert_one_line(r, 1, "orgo-async: API error: ConflictError: 409")


async def test_server_error_after_retries_exits_1(seeded: Seeded) -> None:
    seeded.fake.faults.add("GET", "/workspaces", statuses=[500, 500, 500])
    r = await run_cli(seeded.fake, "workspaces", "list")
    assert_one_line(r, 1, "orgo-async: API error: InternalServerError: 500")
    assert len(seeded.fake.requests_to("GET", "/workspaces")) == 3  # the SDK retried twice


async def test_malformed_answer_exits_1(seeded: Seeded) -> None:
    seeded.fake.faults.malformed("GET", "/workspaces")
    r = await run_cli(seeded.fake, "workspaces", "list")
    assert_one_line(r, 1, "orgo-async: error: APIDecodeError: ")
    assert "<html>oops</html>" in r.stderr


async def test_values_the_sdk_refuses_exit_2_before_any_request(seeded: Seeded) -> None:
    before = len(seeded.fake.requests)
    r = await run_cli(
        seeded.fake, "computers", "create", "x", "-w", seeded.workspace.id, "--ram", "3"
    )
    assert_one_line(r, 2, "orgo-async: invalid argument: ram must be one of [4, 8, 16, 32, 64]")
    r = await run_cli(seeded.fake, "exec", seeded.running.id, "print(1)", "--timeout", "999")
    assert_one_line(r, 2, "orgo-async: invalid argument: timeout must be an int between 1 and 300")
    assert len(seeded.fake.requests) == before


async def test_usage_errors_exit_2(fake: FakeOrgo) -> None:
    r = await run_cli(fake, "computers", "frobnicate")
    assert r.code == 2 and "invalid choice: 'frobnicate'" in r.stderr
    r = await run_cli(fake)
    assert r.code == 2 and "usage: orgo-async" in r.stderr


async def test_channel_error_exits_1(seeded: Seeded, tmp_path: object) -> None:
    r = await run_cli(seeded.fake, "audio", seeded.stopped.id, "-o", "/dev/null", "--seconds", "1")
    assert_one_line(r, 1, "orgo-async: error: ComputerNotRunningError: ")


async def test_debug_shows_the_traceback(seeded: Seeded) -> None:
    r = await run_cli(seeded.fake, "--debug", "computers", "stop", seeded.stopped.id)
    assert r.code == 1
    assert "Traceback (most recent call last)" in r.stderr
    assert "orgo_async.ConflictError" in r.stderr or "ConflictError: 409" in r.stderr
    assert seeded.fake.api_key not in r.stderr  # the SDK's debug log redacts it


@pytest.mark.parametrize("argv", [["mcp"], ["mcp", "--http", "0"]])
async def test_mcp_without_the_extra_names_it(fake: FakeOrgo, argv: list[str]) -> None:
    # As if `mcp` were not installed: importing it fails.
    code = (
        "import sys; sys.modules['mcp'] = None\n"
        "from orgo_async.cli import main\n"
        f"sys.exit(main({argv!r}))\n"
    )
    r = await run_cli(fake, "-c", code, python=())
    assert_one_line(
        r,
        2,
        "orgo-async: the MCP server needs the 'mcp' extra: pip install 'orgo-async[mcp]'",
    )
