"""Every JSON example of orgo-api.md §§1-7 decodes exactly into the SDK's structs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from orgo_async import (
    ActionResult,
    AutoStop,
    BashResult,
    Computer,
    ExecResult,
    MoveResult,
    ResizeResult,
    StreamStartResult,
    StreamStatus,
    StreamStopResult,
    Success,
    Workspace,
)
from orgo_async._models import ErrorBody, ScreenshotResponse, VncPassword, WorkspaceList

GET_COMPUTER = b"""{
  "id": "a3bb189e-8bf9-3888-9912-ace4e6543002", "name": "agent-1", "project_name": "production",
  "os": "linux", "ram": 4, "cpu": 1, "disk_size_gb": 8, "status": "running",
  "url": "https://orgo.ai/workspaces/a3bb189e-8bf9-3888-9912-ace4e6543002",
  "created_at": "2026-04-07T10:35:00Z", "instance_id": "a3881618", "fly_instance_id": "a3881618",
  "hostname": "www.orgo.ai", "connection_url": "https://www.orgo.ai/desktops/a3881618",
  "vnc_password": "a06db12a8683df96"
}"""

LEGACY_PROJECT = b"""{ "id": "p1", "name": "computer-abc123", "user_id": "u1", "status": "active",
  "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
  "desktops": [ { "id": "d1", "project_id": "p1", "fly_instance_id": "f1",
      "status": "initializing",
      "instance_details": { "webUrl": "https://computer-abc123.orgo.dev",
        "vncHost": "computer-abc123.orgo.dev", "vncPort": 6080, "webPort": 6080,
        "id": "i", "name": "n", "machineId": "m" },
      "config": { "cpu": 2, "ram": 2 }, "created_at": "2026-01-01T00:00:00Z",
      "updated_at": "2026-01-01T00:00:00Z" } ] }"""


def test_get_computer_example() -> None:
    c = msgspec.json.decode(GET_COMPUTER, type=Computer)
    assert c.id == "a3bb189e-8bf9-3888-9912-ace4e6543002"
    assert (c.name, c.project_name, c.os, c.ram, c.cpu, c.disk_size_gb) == (
        "agent-1",
        "production",
        "linux",
        4,
        1,
        8,
    )
    assert c.created_at == datetime(2026, 4, 7, 10, 35, tzinfo=UTC)
    assert (c.instance_id, c.fly_instance_id, c.hostname) == ("a3881618", "a3881618", "www.orgo.ai")
    assert c.connection_url == "https://www.orgo.ai/desktops/a3881618"
    assert c.vnc_password == "a06db12a8683df96"
    assert "a06db12a8683df96" not in repr(c) and "a06db12a8683df96" not in str(c)
    # Everything decoded round-trips: no field of the example was dropped.
    assert msgspec.json.decode(msgspec.json.encode(c)) == msgspec.json.decode(GET_COMPUTER)


def test_legacy_project_with_instance_details() -> None:
    ws = msgspec.json.decode(LEGACY_PROJECT, type=Workspace)
    d = ws.desktops[0]
    assert d.status == "initializing" and d.project_id == "p1"
    assert d.instance_details is not None and d.instance_details["vncPort"] == 6080


@pytest.mark.parametrize(
    ("tp", "raw", "expected"),
    [
        (
            Workspace,
            b'{ "id": "550e8400-e29b-41d4-a716-446655440000", "name": "production", "user_id": "4d96f9a0-7727-4b63-889a-32544c206d7c", "status": "active", "icon_url": null, "created_at": "2026-04-07T10:30:00Z" }',
            {"name": "production", "status": "active", "icon_url": None},
        ),
        (
            WorkspaceList,
            b'{"workspaces": [{"id": "w", "name": "n", "desktops": [{"id":"c","name":"x","os":"linux","ram":4,"cpu":1,"status":"running"}]}]}',
            {},
        ),
        (Success, b'{"success": true}', {"success": True}),
        (Success, b'{"success": true, "status": "starting"}', {"status": "starting"}),
        (
            VncPassword,
            b'{"password": "0a017c595fa7689753a3"}',
            {"password": "0a017c595fa7689753a3"},
        ),
        (
            Computer,
            b'{ "id": "b4cc290f-9bf9-3888-9912-ace4e6543003", "name": "agent-1 (clone)", "status": "running" }',
            {"name": "agent-1 (clone)", "status": "running"},
        ),
        (
            MoveResult,
            b'{"success": true, "project_id": "550e8400-e29b-41d4-a716-446655440099"}',
            {"project_id": "550e8400-e29b-41d4-a716-446655440099", "workspace_id": None},
        ),
        (
            ResizeResult,
            b'{"vcpus": 4, "mem_gb": 8, "disk_size_gb": 30, "bandwidth_limit_mbps": 1000, "results": {"vcpus": {"requested": 4, "applied": 4, "ok": true}}, "partial": false}',
            {
                "vcpus": 4,
                "mem_gb": 8,
                "disk_size_gb": 30,
                "bandwidth_limit_mbps": 1000,
                "partial": False,
            },
        ),
        (
            ResizeResult,
            b'{"vcpus": 4, "mem_gb": 8, "disk_size_gb": 30, "bandwidth_limit_mbps": 1000}',
            {"results": None},
        ),
        (
            AutoStop,
            b'{"auto_stop_minutes": 0, "configurable": true}',
            {"auto_stop_minutes": 0, "configurable": True},
        ),
        (
            AutoStop,
            b'{"auto_stop_minutes": 0, "auto_suspend_after": "0s"}',
            {"auto_suspend_after": "0s"},
        ),
        (
            ScreenshotResponse,
            b'{"success": true, "image": "https://storage.orgo.ai/screenshots/4d96f9a0/2026-04-20/abc123.png", "metadata": {"id": "9f2b7c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d", "timestamp": "2026-04-20T12:00:00Z", "size": 187342, "storage_path": "screenshots/4d96f9a0/2026-04-20/abc123.png"}}',
            {"success": True},
        ),
        (
            ScreenshotResponse,
            b'{"success": true, "image": "iVBORw0KGgo=", "mime_type": "image/png", "width": 1280, "height": 720}',
            {"mime_type": "image/png", "width": 1280, "height": 720},
        ),
        (
            ActionResult,
            b'{"success": true, "action": "click", "details": {"x": 100, "y": 200, "button": "left", "double": false}}',
            {"action": "click", "details": {"x": 100, "y": 200, "button": "left", "double": False}},
        ),
        (
            ActionResult,
            b'{"success": true, "action": "drag", "details": {"start_x":100,"start_y":100,"end_x":300,"end_y":200}}',
            {"action": "drag"},
        ),
        (
            ActionResult,
            b'{"success": true, "action": "scroll", "details": {"direction": "down", "amount": 3}}',
            {"action": "scroll"},
        ),
        (
            ActionResult,
            b'{"success": true, "action": "type", "details": {"text_length": 13}}',
            {"details": {"text_length": 13}},
        ),
        (
            ActionResult,
            b'{"success": true, "action": "key_press", "details": {"key": "Enter"}}',
            {"action": "key_press"},
        ),
        (ActionResult, b'{"success": true, "action": "wait"}', {"action": "wait", "details": {}}),
        (ActionResult, b'{"success": true}', {"action": None}),
        (
            BashResult,
            b'{ "success": true, "action": "bash", "command": "ls -la /home/user", "output": "total 32\\n...", "exit_code": 0 }',
            {"command": "ls -la /home/user", "output": "total 32\n...", "exit_code": 0},
        ),
        (BashResult, b'{"output": "hi", "success": true}', {"exit_code": None}),
        (
            ExecResult,
            b'{ "output": "/home/user\\n", "success": true, "action": "exec", "timeout": false }',
            {"output": "/home/user\n", "timeout": False},
        ),
        (
            ExecResult,
            b'{ "output": "", "success": false, "action": "exec", "error": "name \'undefined_var\' is not defined", "error_type": "NameError" }',
            {"success": False, "error_type": "NameError"},
        ),
        (
            StreamStartResult,
            b'{"success": true, "status": "streaming", "pid": 12345}',
            {"pid": 12345},
        ),
        (StreamStopResult, b'{"success": true}', {"success": True}),
        (
            StreamStopResult,
            b'{"success": false, "error": "No active stream to stop"}',
            {"success": False, "error": "No active stream to stop"},
        ),
        (
            StreamStatus,
            b'{"status": "streaming", "start_time": "2024-01-20T10:30:00Z", "pid": 12345}',
            {
                "status": "streaming",
                "pid": 12345,
                "start_time": datetime(2024, 1, 20, 10, 30, tzinfo=UTC),
            },
        ),
        (StreamStatus, b'{"status": "idle"}', {"status": "idle"}),
        (
            StreamStatus,
            b'{"status": "terminated", "message": "Stream process was terminated unexpectedly"}',
            {"status": "terminated"},
        ),
        (
            ErrorBody,
            b'{ "error": "Invalid API key.", "request_id": "f0c2c4a8-9d8e-4d2f-b8a6-2a9a4c2d4b1f" }',
            {"request_id": "f0c2c4a8-9d8e-4d2f-b8a6-2a9a4c2d4b1f"},
        ),
        (
            ErrorBody,
            b'{"error": "screen is unavailable", "request_id": "r", "upstream_status": 409}',
            {"upstream_status": 409},
        ),
    ],
)
def test_documented_examples(tp: type[Any], raw: bytes, expected: dict[str, Any]) -> None:
    value = msgspec.json.decode(raw, type=tp)
    for key, want in expected.items():
        got = getattr(value, key)
        if isinstance(got, msgspec.Struct) or (
            isinstance(got, dict) and got and isinstance(next(iter(got.values())), msgspec.Struct)
        ):
            got = msgspec.to_builtins(got)
        assert got == want, key


def test_error_body_nested_and_scope() -> None:
    nested = msgspec.json.decode(
        b'{"error": {"type": "invalid_request", "message": "m", "code": "missing_computer_id"}}',
        type=ErrorBody,
    )
    assert nested.text() == "m" and nested.error_code() == "missing_computer_id"
    scope = msgspec.json.decode(
        b'{"error": "scoped", "code": "workspace_scope_mismatch", "key_workspace_id": "a", "target_workspace_id": "b"}',
        type=ErrorBody,
    )
    assert scope.error_code() == "workspace_scope_mismatch" and scope.target_workspace_id == "b"


def test_cpu_half_and_size_from_instance_details() -> None:
    c = msgspec.json.decode(
        b'{"id": "x", "cpu": 0.5, "instance_details": {"resolution": "1024x768x24"}}', type=Computer
    )
    assert c.cpu == 0.5 and c.size == (1024, 768) and c.status == "unknown"
