"""Workspaces, computers, clone, move, resize and auto-stop, over plain HTTP (the state
machine is in test_state_machine.py)."""

from __future__ import annotations

import io
import re
import uuid
from typing import Any

import pytest

from orgo_async.testing import FakeOrgo

from .conftest import Http

# The reference's JSON examples (orgo-api.md §2-§5), verbatim.
WORKSPACE_CREATE_EXAMPLE = {
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "name": "production",
    "user_id": "4d96f9a0-7727-4b63-889a-32544c206d7c",
    "status": "active",
    "icon_url": None,
    "created_at": "2026-04-07T10:30:00Z",
}
COMPUTER_CREATE_EXAMPLE = {
    "id": "a3bb189e-8bf9-3888-9912-ace4e6543002",
    "name": "agent-1",
    "workspace_id": "550e8400-e29b-41d4-a716-446655440000",
    "os": "linux",
    "ram": 4,
    "cpu": 1,
    "resolution": "1280x720x24",
    "status": "running",
    "url": "https://orgo.ai/workspaces/550e8400-e29b-41d4-a716-446655440000/computers/a3bb189e-8bf9-3888-9912-ace4e6543002",
    "created_at": "2026-04-07T10:35:00Z",
    "instance_id": "a3881618",
    "hostname": "www.orgo.ai",
    "connection_url": "https://www.orgo.ai/desktops/a3881618",
    "vnc_password": "a06db12a8683df96",
}
COMPUTER_GET_EXAMPLE = {
    "id": "a3bb189e-8bf9-3888-9912-ace4e6543002",
    "name": "agent-1",
    "project_name": "production",
    "os": "linux",
    "ram": 4,
    "cpu": 1,
    "disk_size_gb": 8,
    "status": "running",
    "url": "https://orgo.ai/workspaces/a3bb189e-8bf9-3888-9912-ace4e6543002",
    "created_at": "2026-04-07T10:35:00Z",
    "instance_id": "a3881618",
    "fly_instance_id": "a3881618",
    "hostname": "www.orgo.ai",
    "connection_url": "https://www.orgo.ai/desktops/a3881618",
    "vnc_password": "a06db12a8683df96",
}
CLONE_EXAMPLE = {
    "id": "b4cc290f-9bf9-3888-9912-ace4e6543003",
    "name": "agent-1 (clone)",
    "status": "running",
}
RESIZE_EXAMPLE = {
    "vcpus": 4,
    "mem_gb": 8,
    "disk_size_gb": 30,
    "bandwidth_limit_mbps": 1000,
    "results": {
        "vcpus": {"requested": 4, "applied": 4, "ok": True},
        "mem_mb": {"requested": 8192, "applied": 8192, "ok": True},
        "disk_gb": {"requested": 30, "applied": 30, "ok": True},
    },
    "partial": False,
}


def same_types(example: dict[str, Any], actual: dict[str, Any]) -> None:
    """Every documented key is present with a value of the documented JSON type."""
    for key, value in example.items():
        assert key in actual, f"missing {key!r} in {sorted(actual)}"
        if value is None or actual[key] is None:
            continue
        if isinstance(value, dict):
            same_types(value, actual[key])
        else:
            assert type(actual[key]) is type(value), (key, actual[key], value)


# -- workspaces -------------------------------------------------------------------------


async def test_workspace_create_matches_example(http: Http) -> None:
    status, body = await http.call("POST", "/workspaces", json={"name": "production"})
    assert status == 201
    same_types(WORKSPACE_CREATE_EXAMPLE, body)
    assert body["name"] == "production" and body["status"] == "active"
    uuid.UUID(body["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["created_at"])


async def test_workspace_list_get_delete_and_projects_alias(http: Http) -> None:
    ws = await http.workspace("production")
    c = await http.computer(ws["id"])
    status, listing = await http.call("GET", "/workspaces")
    assert status == 200 and list(listing) == ["workspaces"]
    assert [w["id"] for w in listing["workspaces"]] == [ws["id"]]
    assert [d["id"] for d in listing["workspaces"][0]["desktops"]] == [c["id"]]
    status, alias = await http.call("GET", "/projects")
    assert status == 200 and list(alias) == ["projects"]
    assert alias["projects"][0]["id"] == ws["id"]
    status, got = await http.call("GET", f"/projects/{ws['id']}")
    assert status == 200 and got["desktops"][0]["vnc_password"] == c["vnc_password"]
    same_types(COMPUTER_GET_EXAMPLE, got["desktops"][0])
    status, by_name = await http.call("GET", "/projects/by-name/production")
    assert status == 200 and by_name["id"] == ws["id"]
    status, body = await http.call("DELETE", f"/workspaces/{ws['id']}")
    assert (status, body) == (200, {"success": True})
    status, body = await http.call("GET", f"/computers/{c['id']}")
    assert status == 404 and body["error"] == "Computer not found"
    status, body = await http.call("GET", f"/workspaces/{ws['id']}")
    assert status == 404 and "request_id" in body


async def test_projects_create_via_alias(http: Http) -> None:
    status, body = await http.call("POST", "/projects", json={"name": "p"})
    assert status == 201 and body["user_id"]


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({}, "'name' is required"),
        ({"name": ""}, "'name' is required"),
        ({"name": 5}, "must be a string"),
        ({"name": "x", "status": "weird"}, "'status' must be one of"),
        ({"name": "x", "colour": "red"}, "Unknown field(s): colour"),
    ],
)
async def test_workspace_create_validation(http: Http, payload: Any, fragment: str) -> None:
    status, body = await http.call("POST", "/workspaces", json=payload)
    assert status == 400
    assert fragment in body["error"]
    uuid.UUID(body["request_id"])


async def test_workspace_duplicate_name(http: Http) -> None:
    await http.workspace("dup")
    status, body = await http.call("POST", "/workspaces", json={"name": "dup"})
    assert status == 400 and "already exists" in body["error"]


async def test_malformed_json_and_non_object_bodies(http: Http) -> None:
    status, body = await http.call(
        "POST", "/workspaces", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (status, body["error"]) == (400, "Invalid JSON body")
    status, body = await http.call("POST", "/workspaces", json=[1, 2])
    assert (status, body["error"]) == (400, "Request body must be a JSON object")


async def test_oversized_body_is_413(http: Http) -> None:
    big = b'{"name": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    status, body = await http.call("POST", "/workspaces", data=io.BytesIO(big))
    assert status == 413 and body["error"] == "Request body too large"


async def test_unknown_route_and_wrong_verb_are_json(http: Http) -> None:
    status, body = await http.call("GET", "/nope")
    assert status == 404 and body["error"] == "Not found"
    status, body = await http.call("PUT", "/workspaces")
    assert status == 405 and body["error"] == "Method not allowed"


# -- computers ------------------------------------------------------------------------


async def test_computer_create_matches_example(http: Http, fake: FakeOrgo) -> None:
    ws = await http.workspace("production")
    status, body = await http.call(
        "POST", "/computers", json={"workspace_id": ws["id"], "name": "agent-1"}
    )
    assert status == 201
    same_types(COMPUTER_CREATE_EXAMPLE, body)
    assert body["status"] == "running"  # instant timings: running at once, as v-C says
    assert re.fullmatch(r"[0-9a-f]{8}", body["instance_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", body["vnc_password"])
    assert body["connection_url"] == f"{fake.origin}/desktops/{body['instance_id']}"
    assert body["hostname"] == f"127.0.0.1:{fake.port}"
    assert body["instance_details"]["resolution"] == "1280x720x24"
    assert (body["ram"], body["cpu"], body["disk_size_gb"]) == (4, 1, 8)
    status, got = await http.call("GET", f"/computers/{body['id']}")
    assert status == 200
    same_types(COMPUTER_GET_EXAMPLE, got)
    assert got["project_name"] == "production"
    status, pw = await http.call("GET", f"/computers/{body['id']}/vnc-password")
    assert (status, pw) == (200, {"password": body["vnc_password"]})


async def test_create_accepts_official_sdk_body_and_project_id(http: Http) -> None:
    ws = await http.workspace()
    status, body = await http.call(
        "POST",
        "/computers",
        json={
            "workspace_id": ws["id"],
            "name": "c1",
            "os": "linux",
            "gpu": "none",
            "ram": 8,
            "cpu": 2,
        },
    )
    assert status == 201 and (body["ram"], body["cpu"], body["gpu"]) == (8, 2, "none")
    status, body = await http.call(
        "POST", "/computers", json={"project_id": ws["id"], "name": "c2"}
    )
    assert status == 201 and body["workspace_id"] == ws["id"]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"ram": 5}, "'ram' must be one of"),
        ({"cpu": 3}, "'cpu' must be one of"),
        ({"os": "macos"}, "'os' must be one of"),
        ({"gpu": "h100"}, "'gpu' must be one of"),
        ({"resolution": "big"}, "'resolution' must look like"),
        ({"auto_stop_minutes": -1}, "must be >= 0"),
        ({"template_ref": "nope"}, "namespace/name@version"),
        ({"ram": True}, "'ram' must be an integer"),
        ({"speed": 9}, "Unknown field(s): speed"),
    ],
)
async def test_computer_create_validation(http: Http, extra: Any, fragment: str) -> None:
    ws = await http.workspace()
    status, body = await http.call(
        "POST", "/computers", json={"workspace_id": ws["id"], "name": "c", **extra}
    )
    assert status == 400, body
    assert fragment in body["error"]


async def test_computer_create_errors(http: Http) -> None:
    status, body = await http.call("POST", "/computers", json={"name": "c"})
    assert (status, body["error"]) == (400, "'workspace_id' is required")
    status, body = await http.call(
        "POST", "/computers", json={"workspace_id": str(uuid.uuid4()), "name": "c"}
    )
    assert (status, body["error"]) == (404, "Workspace not found")
    ws = await http.workspace()
    await http.computer(ws["id"], "same")
    status, body = await http.call(
        "POST", "/computers", json={"workspace_id": ws["id"], "name": "same"}
    )
    assert status == 400 and "already exists" in body["error"]


async def test_plan_limits(http: Http, fake: FakeOrgo) -> None:
    fake.plan.max_computers = 1
    ws = await http.workspace()
    await http.computer(ws["id"], "one")
    status, body = await http.call(
        "POST", "/computers", json={"workspace_id": ws["id"], "name": "two"}
    )
    assert status == 403 and "Plan limit" in body["error"]


async def test_unknown_computer_is_404(http: Http) -> None:
    for method, suffix in [
        ("GET", ""),
        ("DELETE", ""),
        ("POST", "/click"),
        ("GET", "/screenshot"),
        ("POST", "/start"),
        ("PATCH", "/resize"),
        ("GET", "/vnc-password"),
    ]:
        status, body = await http.call(method, f"/computers/{uuid.uuid4()}{suffix}", json={})
        assert status == 404, (method, suffix)
        assert body["error"] == "Computer not found"


# -- clone, move, resize, auto-stop ---------------------------------------------------


async def test_clone_names_and_copies(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    names = []
    for _ in range(3):
        status, body = await http.call("POST", f"/computers/{cid}/clone")
        assert status == 201
        same_types(CLONE_EXAMPLE, body)
        names.append(body["name"])
        assert body["id"] != cid and body["instance_id"] != running["instance_id"]
        assert body["vnc_password"] != running["vnc_password"]
    assert names == ["agent-1 (clone)", "agent-1 (clone 2)", "agent-1 (clone 3)"]


async def test_move_between_workspaces(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    other = await http.workspace("other")
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/move", json={"workspace_id": other["id"]}
    )
    assert (status, body) == (
        200,
        {"success": True, "workspace_id": other["id"], "project_id": other["id"]},
    )
    assert fake.computer(cid).workspace_id == other["id"]
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/move", json={"project_id": other["id"]}
    )
    assert status == 400 and "already in that workspace" in body["error"]
    status, body = await http.call("PATCH", f"/computers/{cid}/move", json={})
    assert (status, body["error"]) == (400, "'workspace_id' is required")
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/move", json={"workspace_id": str(uuid.uuid4())}
    )
    assert status == 404


async def test_resize_semantics(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/resize", json={"vcpus": 4, "mem_gb": 8, "disk_size_gb": 30}
    )
    assert status == 200
    same_types(RESIZE_EXAMPLE, body)
    assert body["results"]["mem_mb"] == {"requested": 8192, "applied": 8192, "ok": True}
    assert body["partial"] is False
    fake.plan.max_vcpus = 4
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/resize", json={"vcpus": 8, "mem_gb": 16}
    )
    assert status == 207 and body["partial"] is True
    assert body["results"]["vcpus"]["ok"] is False and body["results"]["vcpus"]["applied"] == 4
    assert "error" in body["results"]["vcpus"]
    assert body["vcpus"] == 4 and body["mem_gb"] == 16
    status, body = await http.call("PATCH", f"/computers/{cid}/resize", json={"vcpus": 16})
    assert status == 422 and body["results"]["vcpus"]["ok"] is False
    for bad in ({"vcpus": 3}, {"mem_gb": 64}, {"disk_size_gb": 10}, {"vcpus": "4"}, {"ram": 8}):
        status, body = await http.call("PATCH", f"/computers/{cid}/resize", json=bad)
        assert status == 400, bad
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/resize", json={"auto_stop_minutes": 15}
    )
    assert status == 200 and body["auto_stop_minutes"] == 15 and "results" not in body
    await http.call("POST", f"/computers/{cid}/stop")
    status, body = await http.call("PATCH", f"/computers/{cid}/resize", json={"vcpus": 2})
    assert status == 409 and "must be running" in body["error"]


async def test_auto_stop(http: Http, running: dict[str, Any]) -> None:
    cid = running["id"]
    status, body = await http.call("GET", f"/computers/{cid}/auto-stop")
    assert (status, body) == (200, {"auto_stop_minutes": 0, "configurable": True})
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/auto-stop", json={"auto_stop_minutes": 15}
    )
    assert (status, body) == (200, {"auto_stop_minutes": 15, "auto_suspend_after": "15m"})
    status, body = await http.call("GET", f"/computers/{cid}/auto-stop")
    assert body["auto_stop_minutes"] == 15
    status, body = await http.call(
        "PATCH", f"/computers/{cid}/auto-stop", json={"auto_stop_minutes": 0}
    )
    assert body == {"auto_stop_minutes": 0, "auto_suspend_after": "0s"}
    for bad in ({}, {"auto_stop_minutes": -5}, {"auto_stop_minutes": 1.5}):
        status, body = await http.call("PATCH", f"/computers/{cid}/auto-stop", json=bad)
        assert status == 400, bad


async def test_ensure_running(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    await http.call("POST", f"/computers/{cid}/stop")
    status, body = await http.call("POST", f"/computers/{cid}/ensure-running")
    assert status == 200 and body["status"] == "running"
    assert body["instance_details"]["apiPort"] == fake.port
