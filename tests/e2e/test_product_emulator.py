"""Files, templates, chat, threads, the hosted agent and the legacy workspace endpoints,
end to end: the client against the emulator over real HTTP and WebSockets on loopback."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from orgo_async import (
    AgentError,
    APIConnectionError,
    AsyncOrgo,
    AuthenticationError,
    BadRequestError,
    Computer,
    ConflictError,
    CreditsExhaustedError,
    ErrorEvent,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResultEvent,
    ScreenshotEvent,
    TemplateBuildError,
    TemplateValidationError,
    TokenRejectedError,
    ToolUseEvent,
    WaitTimeoutError,
    Workspace,
)
from orgo_async.testing import FakeOrgo
from tests.conftest import eventually

DOC: dict[str, Any] = {
    "api_version": "orgo.ai/v1",
    "template": {"name": "data-science", "version": "1.0.0", "description": "pandas"},
    "hardware": {"cpu": 2, "ram_gb": 8, "resolution": "1024x768x24"},
    "secrets": [{"name": "OPENAI_KEY", "optional": True}],
    "env": {"KEY": "${{ secrets.OPENAI_KEY }}"},
    "apps": [{"name": "jupyter", "title": "Jupyter", "install": "pip install jupyter"}],
}


@pytest.fixture
def fake(fake: FakeOrgo) -> FakeOrgo:
    """The conftest's emulator, with template builds fast enough to watch to the end."""
    fake.templates.step_delay = 0.005
    fake.templates.keepalive = 0.05
    return fake


async def _computer(orgo: AsyncOrgo, name: str = "agent-1") -> tuple[Workspace, Computer]:
    ws = await orgo.workspaces.create(name=f"ws-{name}")
    return ws, await orgo.computers.create(workspace_id=ws.id, name=name)


# -- files -------------------------------------------------------------------------------


async def test_files_round_trip(fake: FakeOrgo, orgo: AsyncOrgo, tmp_path: Path) -> None:
    ws, c = await _computer(orgo)
    data = os.urandom(2 * 1024 * 1024) + b"\x00\xff binary"
    src = tmp_path / "data.bin"
    src.write_bytes(data)
    up = await orgo.files.upload(ws.id, src, computer_id=c.id)
    assert up.filename == "data.bin" and up.size_bytes == len(data)
    # It landed on the desktop, with the event the events channel would carry.
    assert "/home/user/Desktop/data.bin" in fake.computer(c.id).files
    assert fake.computer(c.id).events.history[-1]["data"] == {
        "path": "/home/user/Desktop/data.bin",
        "action": "created",
    }
    assert await orgo.files.download(up.id) == data
    out = await orgo.files.download(up.id, tmp_path / "copy.bin")
    assert out.read_bytes() == data

    # Exported back from the computer: the very same bytes.
    exported = await orgo.files.export(c.id, "~/Desktop/data.bin")
    assert exported.file.source == "export" and exported.file.size_bytes == len(data)
    assert await orgo.files.download(exported.file.id) == data

    listed = await orgo.files.list(ws.id)
    assert {(f.id, f.source) for f in listed} == {(up.id, "upload"), (exported.file.id, "export")}
    assert [f.id for f in await orgo.files.list(ws.id, c.id)] == [up.id, exported.file.id]

    await orgo.files.delete(up.id)
    with pytest.raises(NotFoundError):
        await orgo.files.download(up.id)
    assert [f.id for f in await orgo.files.list(ws.id)] == [exported.file.id]

    # The storage host never saw the API key.
    storage = [r for r in fake.requests if r.path.startswith("/storage/")]
    assert len(storage) == 3 and all("Authorization" not in r.headers for r in storage)


async def test_file_errors(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws, c = await _computer(orgo)
    with pytest.raises(PermissionDeniedError, match="/home/user"):
        await orgo.files.export(c.id, "/etc/passwd")
    with pytest.raises(NotFoundError, match="File not found"):
        await orgo.files.export(c.id, "Desktop/missing.txt")
    await orgo.computers.stop(c.id)
    with pytest.raises(BadRequestError, match="not available"):
        await orgo.files.export(c.id, "Desktop/x")
    with pytest.raises(NotFoundError):
        await orgo.files.upload("5f8b6a2c-0000-4000-8000-000000000000", b"x", filename="a")
    with pytest.raises(NotFoundError):
        await orgo.files.delete("5f8b6a2c-0000-4000-8000-000000000000")
    # A pre-signed URL that expired: the storage host's 403, typed.
    fake.files.url_ttl = -1
    kept = await orgo.files.upload(ws.id, b"old", filename="old.txt")
    with pytest.raises(PermissionDeniedError, match="expired"):
        await orgo.files.download(kept.id)
    fake.files.url_ttl = 3600
    # Another account sees none of it.
    f = await orgo.files.upload(ws.id, b"mine", filename="a.txt")
    async with AsyncOrgo(
        api_key=fake.add_key(user_id="someone-else"), base_url=fake.base_url
    ) as other:
        with pytest.raises(NotFoundError):
            await other.files.download(f.id)
        with pytest.raises(NotFoundError):
            await other.files.list(ws.id)


async def test_a_file_written_by_bash_can_be_exported(orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    await orgo.computers.bash(c.id, "echo 'results: 42' > /home/user/Desktop/results.txt")
    exported = await orgo.files.export(c.id, "Desktop/results.txt")
    assert await orgo.files.download(exported.file.id) == b"results: 42\n"


# -- templates ---------------------------------------------------------------------------


async def test_template_lifecycle(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    normalized = await orgo.templates.validate(DOC)
    assert normalized["template"]["namespace"] == "default"
    assert normalized["hardware"] == {"cpu": 2, "ram_gb": 8, "resolution": "1024x768x24"}

    pub = await orgo.templates.publish(DOC)
    ref = "default/data-science@1.0.0"
    assert pub.ref == ref and pub.digest and len(pub.digest) == 64
    assert (await orgo.templates.publish(DOC)).digest == pub.digest  # identical: no conflict
    assert [t.ref for t in await orgo.templates.list()] == [ref]
    assert [t.ref for t in await orgo.templates.list(namespace="other")] == []
    assert (await orgo.templates.get(ref)).template["apps"][0]["name"] == "jupyter"
    assert [v.version for v in await orgo.templates.versions("default/data-science")] == ["1.0.0"]
    assert (await orgo.templates.build_status(ref)).status == "not_built"

    # Launching needs a built template.
    ws = await orgo.workspaces.create(name="t")
    with pytest.raises(ConflictError, match="not built"):
        await orgo.computers.create(workspace_id=ws.id, name="early", template_ref=ref)
    with pytest.raises(TemplateBuildError, match="no build was started"):
        await orgo.templates.wait_built(ref, timeout=5)

    started = await orgo.templates.build(ref)
    assert started.status == "building"
    async with orgo.templates.build_events(ref) as events:
        frames = [e async for e in events]
    assert [f.phase for f in frames] == [
        "publish",
        "compile",
        "boot",
        "install",
        "snapshot",
        "record",
        "archive",
        "ready",
    ]
    assert frames[3].source == "apt" and frames[-1].level == "success"
    status = await orgo.templates.wait_built(ref, timeout=5)
    assert status.status == "ready" and status.golden_dir and status.build_time_ms is not None
    assert fake.templates.open_streams == 0

    # A replayed log after the build: the same frames, then the stream ends.
    replay = [e.phase async for e in orgo.templates.build_events(ref)]
    assert replay == [f.phase for f in frames]

    c = await orgo.computers.create(workspace_id=ws.id, name="from-template", template_ref=ref)
    assert (c.cpu, c.ram, c.resolution, c.template_ref) == (2, 8, "1024x768x24", ref)
    sized = await orgo.computers.create(workspace_id=ws.id, name="sized", template_ref=ref, ram=16)
    assert sized.ram == 16 and sized.cpu == 2  # explicit fields override the template

    again = await orgo.templates.build(ref)
    assert again.status == "ready" and again.reused
    assert (await orgo.templates.cancel_build(ref)).status == "idle"

    assert (await orgo.templates.delete(ref)).deleted
    with pytest.raises(NotFoundError):
        await orgo.templates.get(ref)


async def test_template_validation_errors(orgo: AsyncOrgo) -> None:
    bad = {
        "api_version": "orgo.ai/v2",
        "template": {"version": "1.0"},
        "hardware": {"cpu": 3, "ram_gb": 5},
        "env": {"TOKEN": "${{ secrets.MISSING }}"},
        "extra": True,
    }
    with pytest.raises(TemplateValidationError) as e:
        await orgo.templates.validate(bad)
    assert {(x.field, x.code) for x in e.value.errors} == {
        ("api_version", "invalid_enum"),
        ("extra", "unknown_field"),
        ("template.name", "required"),
        ("template.version", "invalid_value"),
        ("hardware.cpu", "invalid_enum"),
        ("hardware.ram_gb", "invalid_enum"),
        ("env.TOKEN", "unknown_ref"),
    }
    assert e.value.status_code == 200
    with pytest.raises(TemplateValidationError) as e422:
        await orgo.templates.publish(bad)
    assert e422.value.status_code == 422 and len(e422.value.errors) == 7
    with pytest.raises(TemplateValidationError, match="unknown top-level key 'x'"):
        await orgo.templates.publish(
            {"api_version": "orgo.ai/v1", "template": {"name": "x", "version": "1.0.0"}, "x": {}},
        )


async def test_template_conflict_force_and_auto_build(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    await orgo.templates.publish(DOC)
    changed = {**DOC, "template": {**DOC["template"], "description": "changed"}}
    with pytest.raises(ConflictError, match="force=true"):
        await orgo.templates.publish(changed)
    forced = await orgo.templates.publish(changed, force=True, auto_build=True)
    assert forced.auto_build == "building"
    assert (await orgo.templates.wait_built(forced.ref, timeout=5, interval=0.01)).status == "ready"
    assert (await orgo.templates.get(forced.ref)).template["template"]["description"] == "changed"


async def test_failed_and_cancelled_builds(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    pub = await orgo.templates.publish(DOC)
    fake.templates.fail_next = "E: Unable to locate package nope"
    await orgo.templates.build(pub.ref)
    frames = [e async for e in orgo.templates.build_events(pub.ref)]
    assert frames[-1].level == "error" and "Unable to locate" in frames[-1].line
    with pytest.raises(TemplateBuildError) as e:
        await orgo.templates.wait_built(pub.ref, timeout=5)
    assert e.value.ref == pub.ref and e.value.error == "E: Unable to locate package nope"

    fake.templates.step_delay = 0.2
    await orgo.templates.build(pub.ref)
    assert (await orgo.templates.cancel_build(pub.ref)).status == "cancelling"
    frames = [e async for e in orgo.templates.build_events(pub.ref)]
    assert frames[-1].phase == "cancel"
    status = await orgo.templates.build_status(pub.ref)
    assert (status.status, status.error) == ("failed", "build cancelled")

    with pytest.raises(WaitTimeoutError):
        fake.templates.step_delay = 5
        await orgo.templates.build(pub.ref)
        await orgo.templates.wait_built(pub.ref, timeout=0.2, interval=0.05)
    await orgo.templates.cancel_build(pub.ref)


async def test_yaml_template_file_and_plan_and_capacity(
    fake: FakeOrgo, orgo: AsyncOrgo, tmp_path: Path
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "api_version: orgo.ai/v1\n"
        "template:\n  name: from-yaml\n  version: 2.0.0\n"
        "hardware:\n  cpu: 4\n  ram_gb: 16\n"
    )
    pub = await orgo.templates.publish(path)
    assert pub.ref == "default/from-yaml@2.0.0"
    fake.templates.max_concurrent_builds = 0
    with pytest.raises(RateLimitError):
        await orgo.templates.build(pub.ref)
    fake.templates.can_publish = False
    with pytest.raises(PermissionDeniedError, match="Scale plan"):
        await orgo.templates.publish(DOC)


async def test_curated_and_previews(
    fake: FakeOrgo, orgo: AsyncOrgo, caplog: pytest.LogCaptureFixture
) -> None:
    curated = await orgo.templates.curated()
    assert [t.ref for t in curated] == [
        "system/claude-code@1.0.0",
        "system/openclaw@1.0.0",
        "system/hermes-agent@1.0.0",
    ]
    assert [v.ref for v in await orgo.templates.curated_versions("system/claude-code")] == [
        "system/claude-code@1.0.0"
    ]
    with pytest.raises(PermissionDeniedError, match="Curated"):
        await orgo.templates.delete("system/openclaw@1.0.0")
    caplog.set_level(logging.DEBUG, logger="orgo_async")
    run = await orgo.templates.run("system/claude-code@1.0.0")
    assert run.status == "running" and run.desktop_id
    password = fake.computer(run.desktop_id).vnc_password
    assert run.vnc_password == password
    assert password not in repr(run) and password not in caplog.text
    # The preview is a real emulated desktop: its WebSocket token is that password.
    assert fake.computer(run.desktop_id).template_ref == "system/claude-code@1.0.0"
    assert (await orgo.templates.stop_run(run.desktop_id)).success
    with pytest.raises(NotFoundError):
        await orgo.templates.stop_run(run.desktop_id)
    pub = await orgo.templates.publish(DOC)
    with pytest.raises(ConflictError, match="not ready"):
        await orgo.templates.run(pub.ref)
    assert (await orgo.templates.schema())["required"] == ["api_version", "template"]


async def test_legacy_builds(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws = await orgo.workspaces.create(name="templates")
    assert await orgo.templates.legacy.latest(ws.id, "ds") is None
    first = await orgo.templates.legacy.create(ws.id, "ds")
    assert (
        first.status == "pending" and first.image_ref and first.image_ref.endswith(first.tag or "")
    )
    await orgo.templates.legacy.update(first.id or "", "building")
    assert await orgo.templates.legacy.latest(ws.id, "ds") is None
    await orgo.templates.legacy.update(first.id or "", "completed", logs="done")
    second = await orgo.templates.legacy.create(ws.id, "ds")
    await orgo.templates.legacy.update(second.id or "", "completed")
    latest = await orgo.templates.legacy.latest(ws.id, "ds")
    assert latest is not None and latest.id == second.id
    with pytest.raises(NotFoundError):
        await orgo.templates.legacy.update("5f8b6a2c-0000-4000-8000-000000000000", "failed")
    # The image goes to create as the official SDK passes it.
    c = await orgo.computers.create(workspace_id=ws.id, name="img", image=latest.image_ref)
    assert fake.computer(c.id).image == latest.image_ref


# -- chat --------------------------------------------------------------------------------


async def test_completion_acts_on_the_computer(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    done = await orgo.chat.create(
        c.id, 'double click 300, 200 and type "hi there" then press Enter'
    )
    assert done.content == "Done: double click at (300, 200), typed 'hi there', pressed Enter."
    assert [(a.name, a.body) for a in fake.computer(c.id).actions] == [
        ("screenshot", {"by": "agent"}),
        ("click", {"x": 300, "y": 200, "button": "left", "double": True}),
        ("type", {"text": "hi there"}),
        ("key", {"key": "Enter"}),
        ("screenshot", {"by": "agent"}),
    ]
    assert done.orgo is not None and done.orgo.steps == 5 and done.orgo.cost_cents == 5
    assert done.orgo.credit_balance_cents == 10_000 - 5
    assert done.usage is not None and done.usage.total_tokens > 0
    req = fake.requests_to("POST", "/v1/chat/completions")[-1]
    assert req.json["messages"][0]["role"] == "user"

    # Continue the thread; the thread holds the whole conversation.
    thread = done.thread_id
    assert thread is not None
    follow = await orgo.chat.create(c.id, "run `echo hello`", thread_id=thread, max_steps=2)
    assert follow.thread_id == thread and follow.orgo is not None and follow.orgo.steps == 2
    kept = await orgo.chat.threads.get(thread)
    assert [m.role for m in kept.messages] == ["user", "assistant", "user", "assistant"]


async def test_completion_stream(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    fake.on_bash(lambda command, computer: {"output": "hi\n", "exit_code": 0})
    async with orgo.chat.stream(c.id, "run `echo hi`") as chunks:
        got = [ch async for ch in chunks]
    assert "".join(ch.content for ch in got) == "Done: ran 'echo hi'."
    assert got[0].choices[0].delta.role == "assistant" and got[-1].finish_reason == "stop"
    assert got[-1].orgo is not None and got[-1].orgo.steps == 3
    assert fake.computer(c.id).action_names() == ["screenshot", "bash", "screenshot"]


async def test_a_completion_stream_can_be_cancelled(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    fake.agent.step_delay = 0.3  # the agent is still acting when the caller gives up
    task = asyncio.create_task(orgo.chat.create(c.id, "click 1, 1 and click 2, 2"))
    streamed = asyncio.create_task(_drain(orgo.chat.stream(c.id, "click 3, 3")))
    await eventually(lambda: len(fake.computer(c.id).actions) >= 1)
    for t in (task, streamed):
        t.cancel()
    for t in (task, streamed):
        with pytest.raises(asyncio.CancelledError):
            await t
    fake.agent.step_delay = 0
    assert (await orgo.chat.create(c.id, "press Tab")).content == "Done: pressed Tab."


async def _drain(chunks: Any) -> list[Any]:
    return [c async for c in chunks]


async def test_credits_run_out_and_byok(
    fake: FakeOrgo, orgo: AsyncOrgo, caplog: pytest.LogCaptureFixture
) -> None:
    _, c = await _computer(orgo)
    fake.agent.credits_cents = 0
    with pytest.raises(CreditsExhaustedError) as e:
        await orgo.chat.create(c.id, "click 1, 1")
    assert e.value.balance_cents == 0 and e.value.code == "credits_exhausted"
    assert e.value.status_code == 402 and e.value.error_type == "insufficient_credits"
    with pytest.raises(CreditsExhaustedError):
        async for _ in orgo.chat.stream(c.id, "hi"):
            pass
    assert fake.computer(c.id).actions == []  # nothing ran

    caplog.set_level(logging.DEBUG, logger="orgo_async")
    byok = "sk-ant-byok-" + "7" * 24
    done = await orgo.chat.create(c.id, "click 1, 1", anthropic_api_key=byok)
    assert done.orgo is not None and done.orgo.cost_cents == 0 and fake.agent.credits_cents == 0
    assert fake.agent.runs[-1].byok
    sent = fake.requests_to("POST", "/v1/chat/completions")[-1]
    assert sent.headers["x-anthropic-key"] == byok
    # A key the server rejects, echoed in its message: redacted in the exception.
    wrong = "wrong-key-" + "9" * 20
    with pytest.raises(AuthenticationError) as bad:
        await orgo.chat.create(c.id, "hi", anthropic_api_key=wrong)
    assert wrong not in str(bad.value) and "***" in str(bad.value)
    assert bad.value.code == "invalid_api_key"
    assert byok not in caplog.text and wrong not in caplog.text


async def test_completion_errors_use_the_nested_shape(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    with pytest.raises(NotFoundError) as nf:
        await orgo.chat.create("5f8b6a2c-0000-4000-8000-000000000000", "hi")
    assert nf.value.code == "computer_not_found" and nf.value.error_type == "invalid_request"
    body = fake.requests_to("POST", "/v1/chat/completions")
    assert len(body) == 1
    with pytest.raises(NotFoundError, match="thread"):
        await orgo.chat.create(c.id, "hi", thread_id="thr_missing")
    await orgo.computers.stop(c.id)
    with pytest.raises(BadRequestError) as stopped:
        await orgo.chat.create(c.id, "hi")
    assert stopped.value.code == "computer_not_running"
    async with AsyncOrgo(api_key="sk_live_wrong_0000000", base_url=fake.base_url) as wrong:
        with pytest.raises(AuthenticationError) as auth:
            await wrong.chat.create(c.id, "hi")
    assert auth.value.code == "invalid_api_key" and auth.value.error_type == "authentication_error"
    # A fault under /v1/ is rewritten into the nested shape too.
    fake.faults.add("POST", "/v1/chat/completions", statuses=[503])
    from orgo_async import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError) as e503:
        await orgo.chat.create(c.id, "hi")
    assert e503.value.data["error"]["message"].startswith("Could not reach")


async def test_threads(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    first = await orgo.chat.threads.create(c.id, local_id="ui-1")
    second = await orgo.chat.threads.create(c.id)
    assert first.external_id == "ui-1" and second.external_id is None
    listed = await orgo.chat.threads.list(c.id)
    assert [t.remote_id for t in listed] == [second.remote_id, first.remote_id]  # newest first
    assert listed[1].id == "ui-1"
    await orgo.chat.threads.update(
        first.remote_id,
        messages=[{"role": "user", "content": "find the orgo repo on github"}],
    )
    title = await orgo.chat.threads.title(
        first.remote_id, [{"role": "user", "content": "find the orgo repo on github"}]
    )
    assert title == "Find The Orgo Repo On"
    pieces = [
        p
        async for p in orgo.chat.threads.title_stream(
            first.remote_id, [{"role": "user", "content": "a b"}]
        )
    ]
    assert pieces == ["A ", "B"]
    got = await orgo.chat.threads.get(first.remote_id)
    assert got.title == "A B" and got.messages[0].content == "find the orgo repo on github"
    archived = await orgo.chat.threads.update(first.remote_id, archive=True, title="Done")
    assert (archived.status, archived.title) == ("archived", "Done")
    assert (await orgo.chat.threads.update(first.remote_id, unarchive=True)).status == "active"
    await orgo.chat.threads.delete(first.remote_id)
    with pytest.raises(NotFoundError):
        await orgo.chat.threads.get(first.remote_id)
    with pytest.raises(NotFoundError):
        await orgo.chat.threads.list("5f8b6a2c-0000-4000-8000-000000000000")
    other_ws = fake.add_workspace("theirs")
    other_ws.user_id = "other-user"
    async with AsyncOrgo(
        api_key=fake.add_key(user_id="other-user"), base_url=fake.base_url
    ) as other:
        with pytest.raises(PermissionDeniedError):
            await other.chat.threads.get(second.remote_id)


# -- the hosted agent --------------------------------------------------------------------


async def test_agent_prompt(
    fake: FakeOrgo, orgo: AsyncOrgo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: ours, aiohttp's, the emulator's
    _, c = await _computer(orgo)
    async with orgo.agent.prompt(c.id, 'click 640, 360 then type "hello"') as run:
        events = [e async for e in run]
    actions = [e.data.action for e in events if isinstance(e, ToolUseEvent)]
    assert actions == ["screenshot", "left_click", "type", "screenshot"]
    assert sum(isinstance(e, ScreenshotEvent) for e in events) == 2
    assert isinstance(events[-1], ResultEvent) and run.result is not None
    assert run.result.success and run.result.iterations == 4
    assert fake.computer(c.id).action_names() == ["screenshot", "click", "type", "screenshot"]
    await eventually(lambda: fake.agent.open_sockets == 0)  # the server saw the close
    # The token (the API key) is in no log line and no repr.
    assert fake.api_key not in caplog.text and fake.api_key not in repr(run)
    assert "token=***" in caplog.text

    result = await orgo.agent.run(c.id, "press ctrl+c", max_iterations=2)
    assert result.iterations == 2 and fake.computer(c.id).action_names()[-1] == "key"


async def test_agent_failures(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    with pytest.raises(AgentError, match="Computer not found") as missing:
        await orgo.agent.run("5f8b6a2c-0000-4000-8000-000000000000", "hi")
    assert missing.value.result is not None and not missing.value.result.success

    fake.agent.credits_cents = 0
    async with orgo.agent.prompt(c.id, "click 1, 1") as run:
        events = [e async for e in run]
    assert isinstance(events[0], ErrorEvent) and "credits_exhausted" in events[0].message
    assert run.result is not None and not run.result.success
    fake.agent.credits_cents = None

    fake.agent.drop_after_frames = 3
    seen: list[Any] = []
    with pytest.raises(AgentError, match="before the result") as dropped:
        async for event in orgo.agent.prompt(c.id, "click 1, 1"):
            seen.append(event)
    assert len(seen) == 3 and dropped.value.code == 1011

    async with AsyncOrgo(
        api_key="sk_live_revoked_000000", base_url=fake.base_url, agent_url=fake.agent_url
    ) as wrong:
        with pytest.raises(TokenRejectedError) as rejected:
            await wrong.agent.run(c.id, "hi")
    assert rejected.value.code == 4401 and "sk_live_revoked_000000" not in str(rejected.value)

    async with AsyncOrgo(
        api_key=fake.api_key, base_url=fake.base_url, agent_url="ws://127.0.0.1:9/ws/prompt"
    ) as unreachable:
        with pytest.raises(AgentError, match="could not connect") as nowhere:
            await unreachable.agent.run(c.id, "hi")
    assert fake.api_key not in str(nowhere.value) and nowhere.value.__cause__ is None


async def test_agent_cancel_leaves_no_socket_open(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    _, c = await _computer(orgo)
    fake.agent.step_delay = 0.05
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in orgo.agent.prompt(c.id, "wait 0.1 then click 5, 5 then click 6, 6"):
            first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: fake.agent.open_sockets == 0)
    assert len(fake.computer(c.id).actions) < 4  # the run did not finish


# -- legacy workspace endpoints ----------------------------------------------------------


async def test_workspace_by_name_and_power(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws, c = await _computer(orgo, "p1")
    second = await orgo.computers.create(workspace_id=ws.id, name="p2")
    assert (await orgo.workspaces.get_by_name(ws.name or "")) == await orgo.workspaces.get(ws.id)
    assert fake.requests_to("GET", f"/projects/by-name/{ws.name}")
    assert await orgo.workspaces.get_by_name("no such workspace") is None

    old = fake.computer(c.id).vnc_password
    assert (await orgo.workspaces.stop_all(ws.id)).success
    assert {x.status for x in await orgo.computers.list(ws.id)} == {"stopped"}
    await orgo.workspaces.start_all(ws.id)
    assert {x.status for x in await orgo.computers.list(ws.id)} == {"running"}
    assert fake.computer(c.id).vnc_password != old
    await orgo.workspaces.restart_all(ws.id)
    assert fake.computer(second.id).action_names() == ["stop", "start", "restart"]
    with pytest.raises(NotFoundError):
        await orgo.workspaces.stop_all("5f8b6a2c-0000-4000-8000-000000000000")


async def test_a_dropped_upload_connection_is_a_typed_error(
    fake: FakeOrgo, orgo: AsyncOrgo
) -> None:
    ws, _ = await _computer(orgo)
    fake.faults.add("POST", "/files/upload", kind="drop")
    with pytest.raises(APIConnectionError):
        await orgo.files.upload(ws.id, b"x" * 1000, filename="a.bin")
    assert len(fake.requests_to("POST", "/files/upload")) == 1
