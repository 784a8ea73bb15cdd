"""The emulator's files, templates, chat and hosted-agent routes, checked with bare aiohttp
against the reference's documented shapes (no SDK code on the client side)."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest

from orgo_async.testing import FakeOrgo
from orgo_async.testing._rest_files import parse_multipart
from tests.testing.conftest import Http

DOC = {"api_version": "orgo.ai/v1", "template": {"name": "t", "version": "1.0.0"}}


def _form(fields: dict[str, Any]) -> aiohttp.FormData:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, tuple):
            # BytesIO: aiohttp refuses large bytes values in a form.
            form.add_field(name, io.BytesIO(value[1]), filename=value[0], content_type="text/plain")
        else:
            form.add_field(name, value)
    return form


# -- files -------------------------------------------------------------------------------


async def test_upload_shapes_and_limits(
    http: Http, running: dict[str, Any], fake: FakeOrgo
) -> None:
    ws_id = running["workspace_id"]
    status, body = await http.call(
        "POST",
        "/files/upload",
        data=_form(
            {"file": ("notes.txt", b"hello"), "projectId": ws_id, "desktopId": running["id"]}
        ),
    )
    assert status == 200
    assert set(body["file"]) == {
        "id",
        "filename",
        "size_bytes",
        "content_type",
        "created_at",
        "source",
    }
    assert body["file"]["size_bytes"] == 5 and body["file"]["filename"] == "notes.txt"
    # The migrate guide's field name works too.
    status, _ = await http.call(
        "POST", "/files/upload", data=_form({"file": ("a.txt", b"x"), "workspaceId": ws_id})
    )
    assert status == 200

    cases: list[tuple[Any, str]] = [
        (_form({"projectId": ws_id}), "file is required"),
        (_form({"file": ("a.txt", b"x")}), "projectId is required"),
        (_form({"file": ("a.txt", b"x"), "projectId": ws_id, "colour": "red"}), "Unknown field"),
        (_form({"file": ("..", b"x"), "projectId": ws_id}), "Invalid filename"),
        (b'{"json": "no"}', "multipart/form-data"),
    ]
    for data, message in cases:
        status, body = await http.call("POST", "/files/upload", data=data)
        assert (status, message in body["error"]) == (400, True), body

    big = b"x" * (10 * 1024 * 1024 + 1)
    status, body = await http.call(
        "POST", "/files/upload", data=_form({"file": ("big.bin", big), "projectId": ws_id})
    )
    assert status == 400 and "File too large" in body["error"]
    huge = b"x" * (11 * 1024 * 1024)
    status, body = await http.call(
        "POST", "/files/upload", data=_form({"file": ("huge.bin", huge), "projectId": ws_id})
    )
    assert status == 413


def test_the_multipart_parser_is_strict() -> None:
    ok = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'
    assert [(p.name, p.data) for p in parse_multipart(ok, "multipart/form-data; boundary=b")] == [
        ("a", b"1")
    ]
    with pytest.raises(ValueError, match="boundary"):
        parse_multipart(ok, "multipart/form-data")
    with pytest.raises(ValueError, match="truncated"):
        parse_multipart(ok[:-8], "multipart/form-data; boundary=b")
    with pytest.raises(ValueError, match="name="):
        parse_multipart(
            b"--b\r\nContent-Disposition: form-data\r\n\r\n1\r\n--b--\r\n",
            'multipart/form-data; boundary="b"',
        )


async def test_storage_host_takes_no_key_and_checks_signatures(
    http: Http, running: dict[str, Any], fake: FakeOrgo
) -> None:
    status, body = await http.call(
        "POST",
        "/files/upload",
        data=_form({"file": ("a.txt", b"secret data"), "projectId": running["workspace_id"]}),
    )
    assert status == 200
    status, body = await http.call("GET", "/files/download", params={"id": body["file"]["id"]})
    assert status == 200
    url = body["url"]
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as resp:
            assert (resp.status, await resp.read()) == (200, b"secret data")
        async with s.get(url, headers={"Authorization": f"Bearer {fake.api_key}"}) as resp:
            assert resp.status == 400 and b"Only one auth mechanism" in await resp.read()
        async with s.get(url.replace("signature=", "signature=0")) as resp:
            assert resp.status == 403 and b"signature does not match" in await resp.read()
    fake.files.url_ttl = -10
    _, expired = await http.call(
        "GET", "/files/download", params={"id": url.split("/")[-1].split("?")[0]}
    )
    async with aiohttp.ClientSession() as s, s.get(expired["url"]) as resp:
        assert resp.status == 403 and b"expired" in await resp.read()


# -- templates ---------------------------------------------------------------------------


async def test_template_bodies_json_and_yaml(http: Http) -> None:
    status, body = await http.call(
        "POST",
        "/templates/validate",
        data=b"api_version: orgo.ai/v1\ntemplate:\n  name: y\n  version: 1.0.0\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert status == 200 and body["ok"] is True and body["template"]["template"]["name"] == "y"
    status, body = await http.call("POST", "/templates/validate", json={"template": {}})
    assert status == 200 and body["ok"] is False
    assert all(set(e) >= {"field", "code", "message"} for e in body["errors"])
    status, body = await http.call("POST", "/templates", data=b"")
    assert status == 400 and "Empty" in body["error"]
    status, body = await http.call(
        "POST", "/templates", data=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and "Unparseable" in body["error"]
    status, body = await http.call("POST", "/templates", json={"template": {}})
    assert status == 422 and body["ok"] is False and body["errors"]
    status, body = await http.call("POST", "/templates", json=DOC)
    assert status == 201 and set(body) == {"ref", "digest", "published"}


async def test_build_start_cancel_and_event_stream_shapes(http: Http, fake: FakeOrgo) -> None:
    await http.call("POST", "/templates", json=DOC)
    base = "/templates/default/t/1.0.0/build"
    status, body = await http.call("GET", base + "/events")
    assert status == 404
    status, body = await http.call("DELETE", base)
    assert (status, body) == (404, {"status": "idle"})
    status, body = await http.call("POST", base)
    assert status == 202 and body["status"] == "building" and body["ref"] == "default/t@1.0.0"
    async with (
        aiohttp.ClientSession() as s,
        s.get(
            fake.base_url + base + "/events", headers={"Authorization": f"Bearer {fake.api_key}"}
        ) as resp,
    ):
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        raw = (await resp.read()).decode()
    frames = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]
    assert frames[-1]["phase"] == "ready" and frames[-1]["level"] == "success"
    assert all(set(f) >= {"ts", "level", "phase", "line"} for f in frames)
    status, body = await http.call("GET", base)
    assert body["status"] == "ready" and "golden_dir" in body and "build_time_ms" in body


async def test_global_routes_are_not_shadowed(http: Http) -> None:
    status, body = await http.call("GET", "/templates/global/system/openclaw")
    assert status == 200 and [v["ref"] for v in body["versions"]] == ["system/openclaw@1.0.0"]
    status, body = await http.call("GET", "/templates/system/openclaw/1.0.0")
    assert status == 200 and body["ref"] == "system/openclaw@1.0.0"


async def test_legacy_build_shapes(http: Http) -> None:
    ws = await http.workspace("templates")
    status, body = await http.call(
        "POST", "/builds/create", json={"orgId": ws["user_id"], "projectId": ws["id"], "name": "ds"}
    )
    assert status == 200 and body["success"] is True
    assert set(body["build"]) >= {"id", "tag", "imageRef", "buildkitUrl", "status"}
    assert body["build"]["imageRef"].startswith("registry.fly.io/orgoforge:")
    params = {"orgId": ws["user_id"], "projectId": ws["id"], "name": "ds"}
    assert (await http.call("GET", "/builds/latest", params=params))[1] == {"build": None}
    status, _ = await http.call(
        "POST", "/builds/update", json={"buildId": body["build"]["id"], "status": "done"}
    )
    assert status == 400
    status, _ = await http.call("GET", "/builds/latest", params={"orgId": "x"})
    assert status == 400


# -- chat --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{not json", "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "hi"}]}', "missing_computer_id"),
        (b'{"computer_id": "c", "messages": []}', "empty_messages"),
        (
            b'{"computer_id": "c", "messages": [{"role": "assistant", "content": "x"}]}',
            "invalid_message_order",
        ),
        (
            b'{"computer_id": "c", "model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}',
            "invalid_model",
        ),
        (
            b'{"computer_id": "c", "messages": [{"role": "user", "content": "x"}]}',
            "computer_not_found",
        ),
    ],
)
async def test_completion_errors_are_nested(http: Http, payload: bytes, code: str) -> None:
    status, body = await http.call(
        "POST", "/v1/chat/completions", data=payload, headers={"Content-Type": "application/json"}
    )
    assert set(body) == {"error"} and set(body["error"]) >= {"type", "message", "code"}
    assert body["error"]["code"] == code
    assert status == (404 if code == "computer_not_found" else 400)


async def test_completion_auth_error_is_nested_too(http: Http) -> None:
    status, body = await http.call("POST", "/v1/chat/completions", json={}, key="sk_live_nope")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"


async def test_context_overflow_and_credits(
    http: Http, running: dict[str, Any], fake: FakeOrgo
) -> None:
    long = {"computer_id": running["id"], "messages": [{"role": "user", "content": "x" * 200_001}]}
    status, body = await http.call("POST", "/v1/chat/completions", json=long)
    assert (status, body["error"]["code"]) == (400, "context_overflow")
    fake.agent.credits_cents = 0
    ok = {"computer_id": running["id"], "messages": [{"role": "user", "content": "hi"}]}
    status, body = await http.call("POST", "/v1/chat/completions", json=ok)
    assert status == 402 and body["error"]["code"] == "credits_exhausted"
    assert body["error"]["balance_cents"] == 0


async def test_completion_headers(http: Http, running: dict[str, Any], fake: FakeOrgo) -> None:
    ok = {"computer_id": running["id"], "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            fake.base_url + "/v1/chat/completions",
            json=ok,
            headers={"Authorization": f"Bearer {fake.api_key}"},
        ) as resp,
    ):
        body = await resp.json()
        assert resp.headers["X-Request-Id"] == body["id"] and body["id"].startswith("chatcmpl-")
        assert resp.headers["X-Thread-Id"] == body["orgo"]["thread_id"]
        assert body["orgo"]["thread_id"].startswith("thr_")


async def test_thread_errors_are_flat(http: Http) -> None:
    status, body = await http.call("GET", "/chat/threads")
    assert (status, body["error"]) == (400, "desktopId is required")
    status, body = await http.call("POST", "/chat/threads", json={})
    assert (status, body["error"]) == (400, "desktopId is required")
    status, body = await http.call("GET", "/chat/threads/thr_nope")
    assert status == 404 and isinstance(body["error"], str)


# -- the hosted agent socket --------------------------------------------------------------


async def test_agent_socket_raw(fake: FakeOrgo, running: dict[str, Any]) -> None:
    url = fake.agent_url
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(url, params={"token": "sk_live_bad"}) as ws:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401
        async with s.ws_connect(url, params={"token": fake.api_key}) as ws:
            await ws.send_str('{"type": "ping"}')
            assert json.loads((await ws.receive()).data) == {"type": "pong"}
            await ws.send_str('{"type": "begin"}')
            error = json.loads((await ws.receive()).data)
            result = json.loads((await ws.receive()).data)
            assert error["type"] == "error" and "start" in error["data"]
            assert result == {
                "type": "result",
                "data": {"success": False, "iterations": 0, "error": error["data"]},
            }
        async with s.ws_connect(url, params={"token": fake.api_key}) as ws:
            config = {"computer_id": running["id"], "instruction": "press Enter"}
            await ws.send_str(json.dumps({"type": "start", "config": config}))
            frames = []
            while True:
                frame = json.loads((await ws.receive()).data)
                frames.append(frame)
                if frame["type"] == "result":
                    break
    kinds = {f["type"] for f in frames}
    assert kinds >= {
        "status",
        "iteration",
        "thinking",
        "tool_use",
        "tool_result",
        "screenshot",
        "text",
    }
    assert frames[-1]["data"]["success"] is True and frames[-1]["data"]["iterations"] == 3
    assert fake.computer(running["id"]).action_names() == ["screenshot", "key", "screenshot"]


# -- template previews belong to the account that started them ---------------------------


async def _agent_first_frame(fake: FakeOrgo, key: str, computer_id: str) -> dict[str, Any]:
    """The first frame the hosted-agent socket answers a start for ``computer_id``."""
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(fake.agent_url, params={"token": key}) as ws,
    ):
        config = {"computer_id": computer_id, "instruction": "press Enter"}
        await ws.send_str(json.dumps({"type": "start", "config": config}))
        frame: dict[str, Any] = json.loads((await ws.receive(timeout=10)).data)
        return frame


async def test_a_preview_is_invisible_to_other_accounts(http: Http, fake: FakeOrgo) -> None:
    status, run = await http.call(
        "POST", "/templates/run", json={"ref": "system/claude-code@1.0.0"}
    )
    assert status == 200, run
    pid = run["id"]
    other = fake.add_key(user_id="another-account")
    # The owner reaches it like any computer ...
    assert (await http.call("GET", f"/computers/{pid}"))[0] == 200
    assert (await http.call("POST", f"/computers/{pid}/key", json={"key": "Enter"}))[0] == 200
    # ... another account's key gets the 404 of a computer that does not exist.
    for method, path, body in [
        ("GET", f"/computers/{pid}", None),
        ("GET", f"/computers/{pid}/vnc-password", None),
        ("POST", f"/computers/{pid}/click", {"x": 1, "y": 1}),
        ("POST", f"/computers/{pid}/bash", {"command": "id"}),
        ("GET", f"/computers/{pid}/screenshot", None),
        ("DELETE", f"/computers/{pid}", None),
    ]:
        status, answer = await http.call(method, path, json=body, key=other)
        assert (status, answer["error"]) == (404, "Computer not found"), (method, path)
    status, _ = await http.call(
        "DELETE", "/templates/run", params={"id": run["desktop_id"]}, key=other
    )
    assert status == 404
    assert fake.computer(pid).action_names() == ["key"]  # nothing of theirs went through
    # The hosted agent uses the same rule: it refuses the other key, runs for the owner.
    refused = await _agent_first_frame(fake, other, pid)
    assert refused == {"type": "error", "data": "Computer not found"}
    started = await _agent_first_frame(fake, fake.api_key, pid)
    assert started["type"] != "error", started
    # And stopping the preview deletes its computer as DELETE /computers/{id} would.
    status, _ = await http.call("DELETE", "/templates/run", params={"id": run["desktop_id"]})
    assert status == 200
    assert (await http.call("GET", f"/computers/{pid}"))[0] == 404


async def _close_code_when_removed(fake: FakeOrgo, computer_id: str, remove: Any) -> int | None:
    """The close code an open terminal socket of ``computer_id`` gets from ``remove()``."""
    c = fake.computer(computer_id)
    url = f"{fake.origin}/desktops/{c.instance_id}/ws/terminal"
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(url, params={"token": c.vnc_password}) as ws,
    ):
        await remove()
        while (await ws.receive(timeout=10)).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
        ):
            pass
        return ws.close_code


async def test_stopping_a_preview_deletes_it_as_a_delete_would(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    _, run = await http.call("POST", "/templates/run", json={"ref": "system/claude-code@1.0.0"})
    seen: list[str] = []
    fake.computer(run["id"]).on_status.append(seen.append)

    async def stop_preview() -> None:
        status, _ = await http.call("DELETE", "/templates/run", params={"id": run["desktop_id"]})
        assert status == 200

    async def delete_computer() -> None:
        assert (await http.call("DELETE", f"/computers/{running['id']}"))[0] == 200

    preview_code = await _close_code_when_removed(fake, run["id"], stop_preview)
    deleted_code = await _close_code_when_removed(fake, running["id"], delete_computer)
    assert preview_code == deleted_code == 1001  # the same going-away close
    assert seen == ["deleting"]
    assert (await http.call("GET", f"/computers/{run['id']}"))[0] == 404
