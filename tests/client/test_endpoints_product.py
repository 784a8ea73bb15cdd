"""Files, templates, chat, threads, the hosted agent and the legacy workspace endpoints:
exact method, path, query, body and headers, and the decoded result.

Runs against the recording server of ``tests/conftest.py`` (a real aiohttp server on
loopback); the answers are the reference's documented JSON examples (orgo-api.md §§3,
8-10). Multipart bodies are parsed with the standard library's ``email`` parser, not
with any of our code.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import WSMsgType, web

from orgo_async import (
    AsyncOrgo,
    BuildState,
    ChatCompletion,
    ConflictError,
    CreditsExhaustedError,
    NotFoundError,
    ResultEvent,
    StatusEvent,
    TemplateValidationError,
    TextEvent,
    ToolUseEvent,
)
from tests.conftest import API_KEY, RecordingServer, serving

WSID = "550e8400-e29b-41d4-a716-446655440000"
CID = "a3bb189e-8bf9-3888-9912-ace4e6543002"
FID = "0b7d3f5e-1c2a-4e59-9d1b-6f3e2a1c9b88"
FILE = {
    "id": FID,
    "filename": "results.txt",
    "size_bytes": 11,
    "content_type": "text/plain",
    "created_at": "2026-04-07T10:35:00Z",
}
REF = "default/my-template@1.0.0"
DOC: dict[str, Any] = {
    "api_version": "orgo.ai/v1",
    "template": {"name": "my-template", "version": "1.0.0"},
    "hardware": {"cpu": 2, "ram_gb": 8},
}
ITEM = {
    "ref": REF,
    "digest": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "published": "2026-06-08T17:00:00Z",
    "template": DOC,
}


def _multipart(req: Any) -> dict[str, Message]:
    """The form parts of a recorded multipart body, by name (stdlib parser)."""
    raw = f"Content-Type: {req.headers['Content-Type']}\r\n\r\n".encode() + req.body
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    assert msg.is_multipart()
    parts: dict[str, Message] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        assert isinstance(name, str)
        parts[name] = part
    return parts


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- files (§8) --------------------------------------------------------------------------


async def test_upload_bytes_multipart(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("POST", "/api/files/upload", json={"file": FILE})
    f = await client.files.upload(WSID, b"hello world", filename="results.txt", computer_id=CID)
    req = server.last()
    assert (req.method, req.path, req.query) == ("POST", "/api/files/upload", {})
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"
    assert req.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(req.headers["Content-Length"]) == len(req.body)
    parts = _multipart(req)
    assert sorted(parts) == ["desktopId", "file", "projectId", "workspaceId"]
    assert parts["projectId"].get_payload(decode=True) == WSID.encode()
    assert parts["workspaceId"].get_payload(decode=True) == WSID.encode()
    assert parts["desktopId"].get_payload(decode=True) == CID.encode()
    assert parts["file"].get_filename() == "results.txt"
    assert parts["file"].get_content_type() == "text/plain"
    assert parts["file"].get_payload(decode=True) == b"hello world"
    assert f.id == FID and f.size_bytes == 11
    assert f.created_at == datetime(2026, 4, 7, 10, 35, tzinfo=UTC)


async def test_upload_path_and_iterator(
    server: RecordingServer, client: AsyncOrgo, tmp_path: Path
) -> None:
    server.respond("POST", "/api/files/upload", json={"file": FILE})
    path = tmp_path / 'we"ird\nname.bin'
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    await client.files.upload(WSID, path)
    parts = _multipart(server.last())
    assert "desktopId" not in parts
    assert parts["file"].get_payload(decode=True) == data
    assert parts["file"].get_content_type() == "application/octet-stream"
    # '"' and the newline are escaped (RFC 7578), so the header cannot be broken out of.
    assert parts["file"]["Content-Disposition"].count("\n") == 0
    assert 'filename="we%22ird%0Aname.bin"' in parts["file"]["Content-Disposition"]

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([65 + i]) * 1000

    await client.files.upload(WSID, chunks(), filename="gen.csv")
    req = server.last()
    assert req.headers.get("Transfer-Encoding") == "chunked"  # size unknown up front
    parts = _multipart(req)
    assert parts["file"].get_payload(decode=True) == b"".join(
        bytes([65 + i]) * 1000 for i in range(5)
    )
    assert parts["file"].get_content_type() == "text/csv"


async def test_export_list_download_delete(server: RecordingServer, client: AsyncOrgo) -> None:
    signed = f"{server.origin}/storage/o/{FID}?X-Amz-Signature=abc123&X-Amz-Expires=3600"
    server.respond(
        "POST",
        "/api/files/export",
        json={"success": True, "file": {**FILE, "source": "export"}, "url": signed},
    )
    exported = await client.files.export(CID, "Desktop/results.txt")
    req = server.last()
    assert (req.method, req.path) == ("POST", "/api/files/export")
    assert req.json == {"desktopId": CID, "path": "Desktop/results.txt"}
    assert exported.file.source == "export" and exported.url == signed
    assert "abc123" not in repr(exported)  # the signature stays out of reprs

    server.respond("GET", "/api/files", json={"files": [{**FILE, "source": "upload"}]})
    listed = await client.files.list(WSID)
    assert (server.last().path, server.last().query) == ("/api/files", {"projectId": WSID})
    assert [f.source for f in listed] == ["upload"]
    await client.files.list(WSID, CID)
    assert server.last().query == {"projectId": WSID, "desktopId": CID}

    server.respond("GET", "/api/files/download", json={"url": signed})
    server.respond(
        "GET", f"/storage/o/{FID}", body=b"hello world", headers={"Content-Type": "text/plain"}
    )
    data = await client.files.download(FID)
    api_req, storage_req = server.requests[-2:]
    assert (api_req.path, api_req.query) == ("/api/files/download", {"id": FID})
    assert storage_req.path == f"/storage/o/{FID}"
    assert storage_req.query == {"X-Amz-Signature": "abc123", "X-Amz-Expires": "3600"}
    assert "Authorization" not in storage_req.headers  # the key never goes to storage
    assert data == b"hello world"

    server.respond("DELETE", "/api/files/delete", json={"success": True})
    assert (await client.files.delete(FID)).success
    assert (server.last().method, server.last().query) == ("DELETE", {"id": FID})


async def test_download_to_a_path_never_sends_default_headers(
    server: RecordingServer, tmp_path: Path
) -> None:
    async with AsyncOrgo(
        api_key=API_KEY,
        base_url=server.base_url,
        max_retries=0,
        default_headers={"X-Team-Secret": "s3cr3t-header"},
    ) as orgo:
        signed = f"{server.origin}/blob?sig=1"
        server.respond("GET", "/api/files/download", json={"url": signed})
        server.respond("GET", "/blob", body=b"x" * 300_000)
        out = await orgo.files.download(FID, tmp_path / "out.bin")
    assert out == tmp_path / "out.bin" and out.read_bytes() == b"x" * 300_000
    assert server.requests[0].headers["X-Team-Secret"] == "s3cr3t-header"
    assert "X-Team-Secret" not in server.requests[1].headers
    assert "Authorization" not in server.requests[1].headers
    assert _names(tmp_path) == ["out.bin"]  # no partial file left behind


# -- templates (§9) ----------------------------------------------------------------------


async def test_validate_and_publish(server: RecordingServer, client: AsyncOrgo) -> None:
    normalized = {**DOC, "template": {**DOC["template"], "namespace": "default"}}
    server.respond("POST", "/api/templates/validate", json={"ok": True, "template": normalized})
    assert await client.templates.validate(DOC) == normalized
    req = server.last()
    assert (req.method, req.path, req.json) == ("POST", "/api/templates/validate", DOC)
    assert req.headers["Content-Type"] == "application/json"

    errors = [
        {
            "field": "hardware.cpu",
            "code": "invalid_enum",
            "message": "cpu must be 1-16",
            "hint": "2",
        },
        {"field": "template.name", "code": "required", "message": "name is required"},
    ]
    server.respond("POST", "/api/templates/validate", json={"ok": False, "errors": errors})
    with pytest.raises(TemplateValidationError) as e:
        await client.templates.validate(DOC)
    assert [(x.field, x.code, x.hint) for x in e.value.errors] == [
        ("hardware.cpu", "invalid_enum", "2"),
        ("template.name", "required", None),
    ]
    assert "hardware.cpu" in str(e.value) and "template.name" in str(e.value)

    server.respond("POST", "/api/templates", status=201, json={**ITEM, "auto_build": "building"})
    pub = await client.templates.publish(DOC, auto_build=True, force=True)
    assert (server.last().path, server.last().query) == (
        "/api/templates",
        {"auto_build": "true", "force": "true"},
    )
    assert server.last().json == DOC
    assert pub.ref == REF and pub.auto_build == "building"
    await client.templates.publish(DOC)
    assert server.last().query == {}

    server.respond("POST", "/api/templates", status=422, json={"ok": False, "errors": errors})
    with pytest.raises(TemplateValidationError) as e422:
        await client.templates.publish(DOC)
    assert e422.value.status_code == 422 and len(e422.value.errors) == 2


async def test_publish_yaml_text_and_files(
    server: RecordingServer, client: AsyncOrgo, tmp_path: Path
) -> None:
    server.respond("POST", "/api/templates", status=201, json=ITEM)
    yaml_text = "api_version: orgo.ai/v1\ntemplate:\n  name: my-template\n  version: 1.0.0\n"
    await client.templates.publish(yaml_text)
    assert server.last().json == {
        "api_version": "orgo.ai/v1",
        "template": {"name": "my-template", "version": "1.0.0"},
    }
    (tmp_path / "t.yaml").write_text(yaml_text)
    (tmp_path / "t.json").write_text(json.dumps(DOC))
    await client.templates.publish(tmp_path / "t.yaml")
    assert server.last().json["template"]["name"] == "my-template"
    await client.templates.publish(str(tmp_path / "t.json"))
    assert server.last().json == DOC
    count = len(server.requests)
    with pytest.raises(ValueError, match="no such template file"):
        await client.templates.publish(str(tmp_path / "missing.yaml"))
    with pytest.raises(TypeError):
        await client.templates.publish(42)  # type: ignore[arg-type]
    assert len(server.requests) == count  # nothing was sent


async def test_registry_reads(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("GET", "/api/templates", json={"templates": [ITEM]})
    items = await client.templates.list()
    assert (server.last().path, server.last().query) == ("/api/templates", {})
    assert items[0].ref == REF and items[0].name == "my-template" and items[0].version == "1.0.0"
    assert items[0].template == DOC
    await client.templates.list(namespace="acme")
    assert server.last().query == {"namespace": "acme"}

    server.respond("GET", "/api/templates/default/my-template", json={"versions": [ITEM]})
    assert [v.ref for v in await client.templates.versions("default/my-template")] == [REF]

    server.respond("GET", "/api/templates/default/my-template/1.0.0", json=ITEM)
    got = await client.templates.get(REF)
    assert (server.last().method, got.digest) == ("GET", ITEM["digest"])

    server.respond("DELETE", "/api/templates/default/my-template/1.0.0", json={"deleted": True})
    assert (await client.templates.delete(REF)).deleted
    assert server.last().method == "DELETE"

    curated = {**ITEM, "ref": "system/claude-code@1.0.0"}
    server.respond("GET", "/api/templates/global", json={"templates": [curated]})
    assert [t.namespace for t in await client.templates.curated()] == ["system"]
    server.respond("GET", "/api/templates/global/system/claude-code", json={"versions": [curated]})
    assert len(await client.templates.curated_versions("system/claude-code")) == 1
    assert server.last().path == "/api/templates/global/system/claude-code"

    server.respond("GET", "/api/template-schema", json={"type": "object", "required": ["template"]})
    assert (await client.templates.schema())["type"] == "object"


async def test_builds(server: RecordingServer, client: AsyncOrgo) -> None:
    base = "/api/templates/default/my-template/1.0.0/build"
    server.respond("POST", base, status=202, json={"ref": REF, "digest": "d", "status": "building"})
    started = await client.templates.build(REF)
    assert (server.last().method, server.last().path, server.last().body) == ("POST", base, b"")
    assert started.status == BuildState.BUILDING and not started.reused

    server.respond(
        "GET",
        base,
        json={
            "ref": REF,
            "digest": "d",
            "status": "ready",
            "golden_dir": "/golden/x",
            "build_time_ms": 118400,
            "reused": False,
        },
    )
    status = await client.templates.build_status(REF)
    assert status.done and status.build_time_ms == 118400 and status.golden_dir == "/golden/x"
    assert (await client.templates.wait_built(REF, timeout=5)).status == "ready"

    server.respond("DELETE", base, status=202, json={"status": "cancelling"})
    assert (await client.templates.cancel_build(REF)).status == "cancelling"
    server.respond("DELETE", base, status=404, json={"status": "idle"})
    assert (await client.templates.cancel_build(REF)).status == "idle"
    server.respond("DELETE", base, status=404, json={"error": "Template not found"})
    with pytest.raises(NotFoundError):
        await client.templates.cancel_build(REF)

    frames = [
        {
            "ts": "2026-06-08T17:00:01Z",
            "level": "info",
            "phase": "install",
            "source": "apt",
            "line": "Get:1",
        },
        {
            "ts": "2026-06-08T17:01:58Z",
            "level": "success",
            "phase": "ready",
            "line": "golden snapshot ready in 118.4s",
        },
    ]
    sse = b"".join(b"data: " + msgspec.json.encode(f) + b"\n\n" for f in frames)
    server.respond(
        "GET",
        base + "/events",
        body=b": hi\n\n" + sse,
        headers={"Content-Type": "text/event-stream"},
    )
    async with client.templates.build_events(REF) as events:
        got = [e async for e in events]
    assert server.last().headers["Accept"] == "text/event-stream"
    assert [(e.phase, e.source, e.line) for e in got] == [
        ("install", "apt", "Get:1"),
        ("ready", None, "golden snapshot ready in 118.4s"),
    ]
    assert got[1].is_ready and got[0].ts == datetime(2026, 6, 8, 17, 0, 1, tzinfo=UTC)


async def test_runs_and_legacy_builds(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond(
        "POST",
        "/api/templates/run",
        json={
            "id": "vm-1",
            "desktop_id": "a3881618",
            "status": "running",
            "vnc_password": "a06db12a8683df96",
            "public_host": "www.orgo.ai",
            "resolution": "1280x720x24",
        },
    )
    run = await client.templates.run(REF)
    assert server.last().json == {"ref": REF}
    assert run.desktop_id == "a3881618" and run.vnc_password == "a06db12a8683df96"
    assert "a06db12a8683df96" not in repr(run) and "a06db12a8683df96" not in str(run)
    server.respond("DELETE", "/api/templates/run", json={})
    assert (await client.templates.stop_run("a3881618")).success
    # A server echoing the preview's password in an error: redacted (the registry knows it).
    server.respond(
        "DELETE", "/api/templates/run", status=409, json={"error": "a06db12a8683df96 is busy"}
    )
    with pytest.raises(ConflictError) as echoed:
        await client.templates.stop_run("a3881618")
    assert "a06db12a8683df96" not in str(echoed.value) and "*** is busy" in str(echoed.value)
    assert (server.last().method, server.last().query) == ("DELETE", {"id": "a3881618"})

    build = {
        "id": "b1",
        "tag": "data-science-1a2b",
        "imageRef": "registry.fly.io/orgoforge:data-science-1a2b",
        "buildkitUrl": "tcp://buildkit:1234",
        "status": "pending",
    }
    server.respond("POST", "/api/builds/create", json={"success": True, "build": build})
    created = await client.templates.legacy.create(WSID, "data-science", org_id="org-1")
    assert server.last().json == {"orgId": "org-1", "projectId": WSID, "name": "data-science"}
    assert created.image_ref == build["imageRef"] and created.tag == build["tag"]

    server.respond("POST", "/api/builds/update", json={"success": True})
    await client.templates.legacy.update("b1", "failed", error_message="oops", logs="log")
    assert server.last().json == {
        "buildId": "b1",
        "status": "failed",
        "errorMessage": "oops",
        "logs": "log",
    }

    server.respond("GET", f"/api/workspaces/{WSID}", json={"id": WSID, "user_id": "org-9"})
    server.respond("GET", "/api/builds/latest", json={"build": {**build, "status": "completed"}})
    latest = await client.templates.legacy.latest(WSID, "data-science")
    assert server.last().query == {"orgId": "org-9", "projectId": WSID, "name": "data-science"}
    assert latest is not None and latest.status == "completed"
    server.respond("GET", "/api/builds/latest", json={"build": None})
    assert await client.templates.legacy.latest(WSID, "x", org_id="o") is None


# -- chat (§10.1, §10.2) -----------------------------------------------------------------

COMPLETION = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1775558100,
    "model": "claude-sonnet-4.6",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Firefox is open."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 1200, "completion_tokens": 80, "total_tokens": 1280},
    "orgo": {"thread_id": "thr_abc", "steps": 4, "cost_cents": 3, "credit_balance_cents": 497},
}


async def test_completion(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("POST", "/api/v1/chat/completions", json=COMPLETION)
    done = await client.chat.create(
        CID,
        [{"role": "user", "content": "Open Firefox"}],
        model="claude-opus-4.6",
        thread_id="thr_abc",
        max_steps=10,
        anthropic_api_key="sk-ant-byok-123456",
    )
    req = server.last()
    assert (req.method, req.path) == ("POST", "/api/v1/chat/completions")
    assert req.json == {
        "computer_id": CID,
        "messages": [{"role": "user", "content": "Open Firefox"}],
        "model": "claude-opus-4.6",
        "thread_id": "thr_abc",
        "max_steps": 10,
    }
    assert req.headers["x-anthropic-key"] == "sk-ant-byok-123456"
    assert isinstance(done, ChatCompletion) and done.content == "Firefox is open."
    assert done.usage is not None and done.usage.total_tokens == 1280
    assert done.orgo is not None and done.orgo.steps == 4 and done.thread_id == "thr_abc"

    await client.chat.create(CID, "just a string")
    assert server.last().json == {
        "computer_id": CID,
        "messages": [{"role": "user", "content": "just a string"}],
    }
    assert "x-anthropic-key" not in server.last().headers


async def test_completion_errors_nested_shape(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond(
        "POST",
        "/api/v1/chat/completions",
        status=402,
        json={
            "error": {
                "type": "insufficient_credits",
                "message": "Credits exhausted",
                "code": "credits_exhausted",
                "balance_cents": 0,
            }
        },
    )
    with pytest.raises(CreditsExhaustedError) as e:
        await client.chat.create(CID, "hi")
    assert e.value.status_code == 402 and e.value.balance_cents == 0
    assert e.value.code == "credits_exhausted" and e.value.error_type == "insufficient_credits"
    assert e.value.message == "Credits exhausted"
    server.respond(
        "POST",
        "/api/v1/chat/completions",
        status=404,
        json={"error": {"type": "invalid_request", "message": "no", "code": "computer_not_found"}},
    )
    with pytest.raises(NotFoundError) as nf:
        await client.chat.create(CID, "hi")
    assert nf.value.code == "computer_not_found"


async def test_completion_stream(server: RecordingServer, client: AsyncOrgo) -> None:
    def chunk(delta: dict[str, str], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "claude-sonnet-4.6",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + msgspec.json.encode(body) + b"\n\n"

    sse = (
        chunk({"role": "assistant"})
        + chunk({"content": "Fire"})
        + chunk({"content": "fox"})
        + chunk({}, "stop")
        + b"data: [DONE]\n\n"
    )
    server.respond(
        "POST", "/api/v1/chat/completions", body=sse, headers={"Content-Type": "text/event-stream"}
    )
    async with client.chat.stream(CID, "Open Firefox") as chunks:
        got = [c async for c in chunks]
    req = server.last()
    assert req.json == {
        "computer_id": CID,
        "messages": [{"role": "user", "content": "Open Firefox"}],
        "stream": True,
    }
    assert req.headers["Accept"] == "text/event-stream"
    assert "".join(c.content for c in got) == "Firefox"
    assert got[0].choices[0].delta.role == "assistant" and got[-1].finish_reason == "stop"


async def test_threads(server: RecordingServer, client: AsyncOrgo) -> None:
    thread = {
        "id": "local-1",
        "remoteId": "thr_1",
        "status": "active",
        "title": "Search",
        "messages": [{"role": "user", "content": "hi"}],
        "updated_at": "2026-04-07T10:35:00Z",
    }
    server.respond("GET", "/api/chat/threads", json={"threads": [thread]})
    listed = await client.chat.threads.list(CID)
    assert (server.last().path, server.last().query) == ("/api/chat/threads", {"desktopId": CID})
    assert listed[0].remote_id == "thr_1" and listed[0].thread_id == "thr_1"
    assert listed[0].messages[0].content == "hi"

    server.respond(
        "POST", "/api/chat/threads", status=201, json={"remoteId": "thr_2", "externalId": "l2"}
    )
    created = await client.chat.threads.create(CID, local_id="l2")
    assert server.last().json == {"desktopId": CID, "localId": "l2"}
    assert (created.remote_id, created.external_id) == ("thr_2", "l2")

    server.respond(
        "GET", "/api/chat/threads/thr_1", json={k: v for k, v in thread.items() if k != "id"}
    )
    assert (await client.chat.threads.get("thr_1")).title == "Search"

    server.respond(
        "PATCH", "/api/chat/threads/thr_1", json={"remoteId": "thr_1", "status": "archived"}
    )
    updated = await client.chat.threads.update(
        "thr_1", title="New", messages=[{"role": "assistant", "content": "x"}], archive=True
    )
    assert server.last().method == "PATCH"
    assert server.last().json == {
        "title": "New",
        "messages": [{"role": "assistant", "content": "x"}],
        "archive": True,
    }
    assert updated.status == "archived"
    await client.chat.threads.update("thr_1", unarchive=True)
    assert server.last().json == {"unarchive": True}

    server.respond("DELETE", "/api/chat/threads/thr_1", json={"success": True})
    assert (await client.chat.threads.delete("thr_1")).success

    server.respond(
        "POST",
        "/api/chat/threads/thr_1/title",
        body=b'0:"GitHub "\n0:"search session"\n',
        headers={"Content-Type": "text/plain"},
    )
    title = await client.chat.threads.title("thr_1", [{"role": "user", "content": "find repos"}])
    assert title == "GitHub search session"
    assert server.last().json == {"messages": [{"role": "user", "content": "find repos"}]}


# -- legacy workspace endpoints (§3.5) ---------------------------------------------------


async def test_workspace_by_name_and_power(server: RecordingServer, client: AsyncOrgo) -> None:
    ws = {"id": WSID, "name": "my prod", "user_id": "u", "status": "active"}
    server.respond("GET", "/api/projects/by-name/my prod", json=ws)
    found = await client.workspaces.get_by_name("my prod")
    assert found is not None and found.id == WSID
    assert server.last().raw_path == "/api/projects/by-name/my%20prod"
    assert len(server.requests) == 1

    # A 404 from the legacy route proves nothing: list and filter.
    server.respond("GET", "/api/projects/by-name/other", status=404, json={"error": "Not found"})
    server.respond("GET", "/api/workspaces", json={"workspaces": [{**ws, "name": "other"}]})
    assert (await client.workspaces.get_by_name("other")) is not None
    assert [r.path for r in server.requests[-2:]] == [
        "/api/projects/by-name/other",
        "/api/workspaces",
    ]
    # A name that cannot be a path segment goes straight to the list.
    server.respond("GET", "/api/workspaces", json={"workspaces": [{**ws, "name": "a/b"}]})
    assert (await client.workspaces.get_by_name("a/b")) is not None
    assert server.last().path == "/api/workspaces"

    for op in ("start", "stop", "restart"):
        server.respond(
            "POST", f"/api/projects/{WSID}/{op}", json={"success": True, "computers": []}
        )
        result = await getattr(client.workspaces, f"{op}_all")(WSID)
        assert (server.last().method, server.last().path, server.last().body) == (
            "POST",
            f"/api/projects/{WSID}/{op}",
            b"",
        )
        assert result.success


# -- the hosted agent WebSocket (§10.3) ---------------------------------------------------


@pytest.fixture
async def agent_server() -> AsyncIterator[tuple[str, list[Any]]]:
    """A WebSocket server speaking the documented frames; records what it received."""
    received: list[Any] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        received.append(dict(request.query))
        msg = await ws.receive()
        assert msg.type == WSMsgType.TEXT
        received.append(json.loads(msg.data))
        for frame in (
            {"type": "status", "data": "Connecting"},
            {"type": "tool_use", "data": {"action": "screenshot", "params": {}}},
            {"type": "mystery", "data": 1},
            {"type": "text", "data": "All done"},
            {"type": "result", "data": {"success": True, "iterations": 1, "messages": []}},
        ):
            await ws.send_str(json.dumps(frame))
        closing = await ws.receive()
        received.append(closing.type.name)
        return ws

    app = web.Application()
    app.router.add_get("/ws/prompt", handler)
    runner = web.AppRunner(app)
    async with serving(runner) as port:
        yield f"ws://127.0.0.1:{port}/ws/prompt", received


async def test_agent_prompt_frames(agent_server: tuple[str, list[Any]]) -> None:
    url, received = agent_server
    async with AsyncOrgo(api_key=API_KEY, base_url="http://127.0.0.1:9/api", agent_url=url) as orgo:
        async with orgo.agent.prompt(CID, "Open Firefox", max_iterations=3, model="m") as run:
            events = [e async for e in run]
        assert "token" not in repr(run) and API_KEY not in repr(run)
    assert received[0] == {"token": API_KEY}
    assert received[1] == {
        "type": "start",
        "config": {
            "computer_id": CID,
            "instruction": "Open Firefox",
            "model": "m",
            "max_iterations": 3,
        },
    }
    assert received[2] == "CLOSE"  # the client closed after the result
    assert isinstance(events[0], StatusEvent) and events[0].data == "Connecting"
    assert isinstance(events[1], ToolUseEvent) and events[1].data.action == "screenshot"
    assert type(events[2]).__name__ == "Unknown"
    assert isinstance(events[3], TextEvent) and isinstance(events[4], ResultEvent)
    assert run.result is not None and run.result.success and run.result.iterations == 1


# -- bad input and unexpected answers ------------------------------------------------------


async def test_bad_input_never_reaches_the_server(
    server: RecordingServer, client: AsyncOrgo
) -> None:
    cases: list[Any] = [
        lambda: client.files.delete("../etc"),
        lambda: client.files.download("a/b"),
        lambda: client.files.export(CID, ""),
        lambda: client.files.list(WSID, "x?y"),
        lambda: client.templates.get("a/b/c@1.0.0"),
        lambda: client.templates.build("default/t@latest"),
        lambda: client.templates.versions("no-namespace"),
        lambda: client.templates.run("default/t"),
        lambda: client.templates.legacy.update("b1", "done"),
        lambda: client.chat.create(CID, []),
        lambda: client.chat.create(CID, [{"role": "assistant", "content": "x"}]),
        lambda: client.chat.create(CID, [{"role": "system", "content": "x"}]),
        lambda: client.chat.create(CID, "hi", max_steps=0),
        lambda: client.chat.create("bad id", "hi"),
        lambda: client.chat.threads.get("thr/1"),
        lambda: client.chat.threads.update("thr_1"),
        lambda: client.chat.threads.update("thr_1", archive=True, unarchive=True),
        lambda: client.agent.run(CID, " "),
        lambda: client.agent.run("../x", "hi"),
        lambda: client.agent.run(CID, "hi", max_iterations=0),
        lambda: client.workspaces.get_by_name(""),
        lambda: client.computers.create(workspace_id=WSID, name="a", template_ref="x@1"),
    ]
    for make in cases:
        with pytest.raises((ValueError, TypeError)):
            await make()
    assert server.requests == []
    with pytest.raises(ValueError, match="agent_url"):
        AsyncOrgo(api_key=API_KEY, base_url=server.base_url, agent_url="https://agent.orgo.ai")


async def test_unknown_values_missing_fields_and_malformed_answers(
    server: RecordingServer, client: AsyncOrgo
) -> None:
    from orgo_async import APIDecodeError

    base = "/api/templates/default/my-template/1.0.0/build"
    server.respond("GET", base, json={"status": "queued", "position": 3})
    status = await client.templates.build_status(REF)
    assert status.status == "queued" and not status.done and status.ref is None
    server.respond("GET", "/api/files", json={"files": [{"id": FID, "source": "generated"}]})
    [only] = await client.files.list(WSID)
    assert only.source == "generated" and only.filename is None
    server.respond(
        "GET", "/api/chat/threads", json={"threads": [{"remoteId": "t", "status": "pinned"}]}
    )
    assert (await client.chat.threads.list(CID))[0].status == "pinned"

    server.respond("GET", "/api/files", body=b"<html>gateway</html>")
    with pytest.raises(APIDecodeError):
        await client.files.list(WSID)
    server.respond("GET", "/api/files/download", json={"link": "x"})
    with pytest.raises(APIDecodeError, match="url"):
        await client.files.download(FID)
    server.respond("POST", "/api/files/upload", json={"file": {"name": "no id"}})
    with pytest.raises(APIDecodeError, match="FileUpload"):
        await client.files.upload(WSID, b"x", filename="a")
    server.respond("POST", "/api/v1/chat/completions", body=b'{"id": "x", "choices": "none"}')
    with pytest.raises(APIDecodeError):
        await client.chat.create(CID, "hi")
    server.respond("POST", "/api/chat/threads/thr_1/title", body=b'3:"model overloaded"\n')
    with pytest.raises(APIDecodeError, match="model overloaded"):
        await client.chat.threads.title("thr_1", [{"role": "user", "content": "x"}])
