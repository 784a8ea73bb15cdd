"""The client end to end against the emulator: every endpoint, the state machine, auth,
and the pipeline under injected faults (real HTTP on loopback, no mocks)."""

from __future__ import annotations

import asyncio
import logging
import struct
import zlib

import pytest

from orgo_async import (
    APIConnectionError,
    APIDecodeError,
    APITimeoutError,
    AsyncOrgo,
    AuthenticationError,
    BadRequestError,
    Computer,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    Workspace,
)
from orgo_async.testing import FakeOrgo, Timings


async def _running(orgo: AsyncOrgo, name: str = "agent-1") -> tuple[Workspace, Computer]:
    ws = await orgo.workspaces.create(name=f"ws-{name}")
    c = await orgo.computers.create(workspace_id=ws.id, name=name)
    c = await orgo.computers.wait_until(c.id, "running", timeout=10)
    return ws, c


async def test_default_emulator_create_then_act_at_once() -> None:
    # The canonical program: create, then act. Against Orgo the 201 already says
    # "running" (§4.1), so the default emulator must let the very next call through.
    async with FakeOrgo() as fake, fake.client(max_retries=0) as orgo:
        ws = await orgo.workspaces.create(name="w")
        c = await orgo.computers.create(workspace_id=ws.id, name="agent")
        assert c.status == "running" and c.connection_url and c.vnc_password
        assert (await orgo.computers.click(c.id, 10, 20)).success
        assert (await orgo.computers.restart(c.id)).status == "restarting"
        c = await orgo.computers.wait_until(c.id, "running", timeout=10)
        assert (await orgo.computers.key(c.id, "Enter")).success


async def test_slow_boot_is_waited_for() -> None:
    async with (
        FakeOrgo(timings=Timings.slow_boot(create=0.05, boot=0.05)) as fake,
        fake.client(max_retries=0) as orgo,
    ):
        ws = await orgo.workspaces.create(name="w")
        c = await orgo.computers.create(workspace_id=ws.id, name="agent")
        assert c.status == "creating"
        with pytest.raises(BadRequestError, match="Desktop instance not available"):
            await orgo.computers.click(c.id, 10, 20)
        c = await orgo.computers.wait_until(c.id, "running", timeout=10)
        assert (await orgo.computers.click(c.id, 10, 20)).success


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    ihdr = data[16 : 16 + length]
    assert struct.unpack(">I", data[16 + length : 20 + length])[0] == zlib.crc32(b"IHDR" + ihdr)
    width, height = struct.unpack(">II", ihdr[:8])
    return width, height


async def test_workspace_and_computer_crud(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws, c = await _running(orgo)
    assert c.workspace_id == ws.id or c.project_name == ws.name
    assert c.connection_url and c.connection_url.startswith(fake.origin + "/desktops/")
    assert c.vnc_password == fake.computer(c.id).vnc_password
    assert await orgo.computers.vnc_password(c.id) == fake.computer(c.id).vnc_password

    listed = await orgo.workspaces.list()
    assert [w.id for w in listed] == [ws.id]
    assert [d.id for d in listed[0].desktops] == [c.id]
    assert [x.id for x in await orgo.computers.list(ws.id)] == [c.id]
    assert (await orgo.workspaces.get_by_name(ws.name or "")) is not None

    await orgo.computers.delete(c.id)
    with pytest.raises(NotFoundError) as info:
        await orgo.computers.get(c.id)
    assert info.value.request_id  # the emulator, like Orgo, names every error
    await orgo.workspaces.delete(ws.id)
    with pytest.raises(NotFoundError):
        await orgo.workspaces.get(ws.id)


async def test_lifecycle_state_machine_and_password_rotation(
    fake: FakeOrgo, orgo: AsyncOrgo
) -> None:
    _, c = await _running(orgo)
    before = await orgo.computers.vnc_password(c.id)
    await orgo.computers.restart(c.id)
    c2 = await orgo.computers.wait_until(c.id, "running", timeout=10)
    after = await orgo.computers.vnc_password(c.id)
    assert after != before and c2.vnc_password == after

    stopping = await orgo.computers.stop(c.id)
    assert stopping.success
    await orgo.computers.wait_until(c.id, "stopped", timeout=10)
    with pytest.raises(ConflictError):
        await orgo.computers.stop(c.id)
    with pytest.raises(BadRequestError) as info:
        await orgo.computers.click(c.id, 1, 1)
    assert "not available" in info.value.message
    await orgo.computers.start(c.id)
    await orgo.computers.wait_until(c.id, "running", timeout=10)
    names = fake.computer(c.id).action_names()
    assert names[:1] == ["restart"] and "stop" in names and names[-1] == "start"


async def test_clone_move_resize_autostop(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws, c = await _running(orgo)
    clone = await orgo.computers.clone(c.id)
    assert clone.id != c.id and clone.name == "agent-1 (clone)"
    other = await orgo.workspaces.create(name="other")
    moved = await orgo.computers.move(clone.id, other.id)
    assert moved.destination == other.id
    assert [d.id for d in (await orgo.workspaces.get(other.id)).desktops] == [clone.id]

    r = await orgo.computers.resize(c.id, vcpus=2, mem_gb=8)
    assert (r.vcpus, r.mem_gb) == (2, 8)
    assert fake.computer(c.id).cpu == 2 and fake.computer(c.id).ram == 8

    assert (await orgo.computers.set_auto_stop(c.id, 15)).auto_stop_minutes == 15
    assert (await orgo.computers.auto_stop(c.id)).auto_stop_minutes == 15
    assert ws.id != other.id


async def test_every_action_is_recorded_exactly(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _running(orgo)
    fake.computer(c.id).actions.clear()
    assert (await orgo.computers.click(c.id, 100, 200)).action == "click"
    assert (await orgo.computers.double_click(c.id, 5, 6)).action == "double_click"
    await orgo.computers.click(c.id, 7, 8, button="right")
    await orgo.computers.drag(c.id, 1, 2, 3, 4)
    await orgo.computers.scroll(c.id, "up", 2)
    await orgo.computers.type(c.id, "héllo")
    await orgo.computers.key(c.id, "ctrl+c")
    await orgo.computers.move_mouse(c.id, 640, 360)
    await orgo.computers.wait(c.id, 0.05)
    got = [(a.name, a.body) for a in fake.computer(c.id).actions]
    assert got == [
        ("click", {"x": 100, "y": 200, "button": "left"}),
        ("click", {"x": 5, "y": 6, "button": "left", "double": True}),
        ("click", {"x": 7, "y": 8, "button": "right"}),
        (
            "drag",
            {"start_x": 1, "start_y": 2, "end_x": 3, "end_y": 4, "button": "left", "duration": 0.5},
        ),
        ("scroll", {"direction": "up", "amount": 2}),
        ("type", {"text": "héllo"}),
        ("key", {"key": "ctrl+c"}),
        ("move", {"x": 640, "y": 360}),
        ("wait", {"duration": 0.05}),
    ]


async def test_bash_and_exec_through_registered_handlers(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _running(orgo)
    fake.on_bash(lambda command, computer: {"output": f"ran {command}\n", "exit_code": 3})
    result = await orgo.computers.bash(c.id, "make build")
    assert result.output == "ran make build\n" and result.exit_code == 3 and not result.ok
    fake.on_exec(lambda code, computer: {"output": "42\n", "success": True})
    ex = await orgo.computers.exec(c.id, "print(6*7)")
    assert ex.output == "42\n" and ex.success


async def test_screenshot_both_forms_are_real_pngs(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws = await orgo.workspaces.create(name="shots")
    c = await orgo.computers.create(workspace_id=ws.id, name="s", resolution="1024x768x24")
    await orgo.computers.wait_until(c.id, "running", timeout=10)
    b64 = await orgo.computers.screenshot(c.id)
    assert b64.mime_type == "image/png" and _png_size(b64.data) == (1024, 768)
    assert (b64.width, b64.height) == (1024, 768)
    await orgo.computers.move_mouse(c.id, 500, 500)
    stored = await orgo.computers.screenshot(c.id, format="url")
    assert stored.url is not None and stored.url.startswith(fake.origin + "/api/storage/")
    assert _png_size(stored.data) == (1024, 768)
    assert stored.data != b64.data  # the pointer moved
    download = fake.requests[-1]
    assert download.path.startswith("/api/storage/")
    assert download.headers.get("Authorization") == f"Bearer {fake.api_key}"


async def test_stream_and_event_catalog(orgo: AsyncOrgo) -> None:
    _, c = await _running(orgo)
    assert (await orgo.computers.stream_status(c.id)).status == "idle"
    started = await orgo.computers.stream_start(c.id, "twitch")
    assert started.status == "streaming" and started.pid
    assert (await orgo.computers.stream_status(c.id)).status == "streaming"
    assert (await orgo.computers.stream_stop(c.id)).success
    catalog = await orgo.computers.event_catalog(c.id)
    assert "window_focus" in str(catalog) and "file_change" in str(catalog)


async def test_bad_key_and_scoped_key(fake: FakeOrgo) -> None:
    async with AsyncOrgo(api_key="sk_live_not_a_real_key", base_url=fake.base_url) as bad:
        with pytest.raises(AuthenticationError) as info:
            await bad.workspaces.list()
    assert "Invalid API key" in info.value.message

    async with fake.client() as orgo:
        mine = await orgo.workspaces.create(name="mine")
        theirs = await orgo.workspaces.create(name="theirs")
    scoped = fake.add_key(mine.id)
    async with AsyncOrgo(api_key=scoped, base_url=fake.base_url) as orgo:
        await orgo.computers.create(workspace_id=mine.id, name="ok")
        with pytest.raises(PermissionDeniedError) as denied:
            await orgo.workspaces.get(theirs.id)
    e = denied.value
    assert (
        e.is_scope_mismatch and e.key_workspace_id == mine.id and e.target_workspace_id == theirs.id
    )
    assert scoped not in str(e)


async def test_fault_two_503_then_success_is_retried(fake: FakeOrgo, no_sleep: list[float]) -> None:
    async with fake.client(max_retries=2) as orgo:
        _, c = await _running(orgo)
        fake.faults.add("GET", "/computers/{id}", statuses=[503, 503])
        got = await orgo.computers.get(c.id)
    assert got.id == c.id and len(no_sleep) == 2
    assert [r.path for r in fake.requests[-3:]] == [f"/api/computers/{c.id}"] * 3


async def test_fault_429_retry_after_then_success(fake: FakeOrgo, no_sleep: list[float]) -> None:
    async with fake.client(max_retries=1) as orgo:
        _, c = await _running(orgo)
        fake.faults.add("POST", "/computers/{id}/click", statuses=[429], retry_after=2)
        await orgo.computers.click(c.id, 1, 1)
    assert len(no_sleep) == 1 and 1.5 < no_sleep[0] <= 2.0
    assert fake.computer(c.id).action_names().count("click") == 1


async def test_fault_429_exhausted_raises(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _running(orgo)
    fake.faults.add("GET", "/computers/{id}", statuses=[429], retry_after=1)
    with pytest.raises(RateLimitError) as info:
        await orgo.computers.get(c.id)
    assert info.value.retry_after == 1.0


async def test_fault_dropped_mid_body_click_is_not_resent(
    fake: FakeOrgo, no_sleep: list[float]
) -> None:
    async with fake.client(max_retries=3) as orgo:
        _, c = await _running(orgo)
        fake.computer(c.id).actions.clear()
        fake.faults.add("POST", "/computers/{id}/click", kind="drop")
        with pytest.raises(APIConnectionError):
            await orgo.computers.double_click(c.id, 10, 10)
    # The server did act once; the SDK did not make it twice.
    assert fake.computer(c.id).action_names() == ["click"]
    assert no_sleep == []


async def test_fault_dropped_mid_body_get_is_retried(fake: FakeOrgo, no_sleep: list[float]) -> None:
    async with fake.client(max_retries=2) as orgo:
        _, c = await _running(orgo)
        fake.faults.add("GET", "/computers/{id}", kind="drop", times=2)
        assert (await orgo.computers.get(c.id)).id == c.id


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
async def test_fault_bad_json_is_a_decode_error(fake: FakeOrgo, orgo: AsyncOrgo, kind: str) -> None:
    _, c = await _running(orgo)
    fake.faults.add("GET", "/computers/{id}", kind=kind)  # type: ignore[arg-type]
    with pytest.raises(APIDecodeError) as info:
        await orgo.computers.get(c.id)
    assert info.value.status_code == 200 and info.value.excerpt
    assert fake.computer(c.id).vnc_password not in str(info.value)


async def test_fault_latency_and_timeouts(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _running(orgo)
    fake.faults.add("GET", "/computers/{id}", latency=1.0)
    with pytest.raises(APITimeoutError):
        await orgo.with_options(timeout=0.2).computers.get(c.id)
    assert (await orgo.computers.get(c.id)).id == c.id


async def test_fleet_against_the_emulator(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws = await orgo.workspaces.create(name="fleet")
    created = await asyncio.gather(
        *(orgo.computers.create(workspace_id=ws.id, name=f"c{i}") for i in range(40))
    )
    ids = [c.id for c in created]
    running = await orgo.computers.wait_until(ids, "running", timeout=20)
    assert [c.id for c in running] == ids
    seen = []
    async with orgo.computers.get_many([*ids, "nope"], concurrency=8) as results:
        async for r in results:
            seen.append(r)
    assert len(seen) == 41
    assert [r.id for r in seen if not r.ok] == ["nope"]
    assert isinstance(next(r.error for r in seen if r.id == "nope"), NotFoundError)


async def test_a_whole_session_logs_no_secret(
    fake: FakeOrgo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with fake.client(max_retries=1) as orgo:
        _, c = await _running(orgo)
        password = await orgo.computers.vnc_password(c.id)
        await orgo.computers.restart(c.id)
        await orgo.computers.wait_until(c.id, "running", timeout=10)
        rotated = await orgo.computers.vnc_password(c.id)
        fake.faults.add("GET", "/computers/{id}", statuses=[503])
        await orgo.computers.get(c.id)
        conn = orgo.connection(await orgo.computers.get(c.id))
        text = [repr(orgo), repr(c), repr(conn), str(conn.terminal_url()), str(conn.websockify_url)]
    text += [r.getMessage() for r in caplog.records]
    assert any("retrying" in t for t in text)
    for t in text:
        for secret in (fake.api_key, password, rotated):
            assert secret not in t, t
