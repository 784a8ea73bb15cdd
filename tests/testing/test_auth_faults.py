"""Auth and workspace scopes (§1.2, §1.4), fault injection, request recording."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp
import pytest

from orgo_async.testing import FakeOrgo, WsFault
from orgo_async.testing._faults import Faults

from .conftest import Http

INVALID = "Invalid API key. Check it for typos or generate a new one at https://www.orgo.ai/start."


async def test_missing_and_invalid_keys(http: Http, fake: FakeOrgo) -> None:
    async with http.session.get(fake.base_url + "/workspaces") as r:
        assert r.status == 401
        body = await r.json()
    assert body["error"] == "Missing API key."
    uuid.UUID(body["request_id"])
    for header in ("Bearer sk_live_wrong", "Basic abc", "Bearer", fake.api_key):
        async with http.session.get(
            fake.base_url + "/workspaces", headers={"Authorization": header}
        ) as r:
            assert r.status == 401, header
            assert (await r.json())["error"] == INVALID
    status, _ = await http.call("GET", "/workspaces")
    assert status == 200
    key = fake.add_key()
    fake.revoke_key(key)
    status, body = await http.call("GET", "/workspaces", key=key)
    assert (status, body["error"]) == (401, INVALID)


async def test_key_never_in_repr(fake: FakeOrgo, http: Http) -> None:
    await http.call("GET", "/workspaces")
    assert fake.api_key not in repr(fake)
    assert fake.api_key not in repr(fake.requests[-1])
    assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.api_key}"


async def test_workspace_scoped_key(http: Http, fake: FakeOrgo) -> None:
    mine = await http.workspace("mine")
    other = await http.workspace("other")
    c_mine = await http.computer(mine["id"], "a")
    c_other = await http.computer(other["id"], "b")
    key = fake.add_key(mine["id"])

    status, body = await http.call("GET", "/workspaces", key=key)
    assert status == 200 and [w["id"] for w in body["workspaces"]] == [mine["id"]]
    status, body = await http.call("GET", f"/workspaces/{mine['id']}", key=key)
    assert status == 200
    status, body = await http.call(
        "POST", f"/computers/{c_mine['id']}/click", json={"x": 1, "y": 1}, key=key
    )
    assert status == 200

    expected = {
        "error": (
            f"This API key is scoped to workspace {mine['id']}. It cannot access workspace {other['id']}. "
            "Use an account-wide key, or create a key scoped to the target workspace."
        ),
        "code": "workspace_scope_mismatch",
        "key_workspace_id": mine["id"],
        "target_workspace_id": other["id"],
    }
    for method, path, payload in [
        ("GET", f"/workspaces/{other['id']}", None),
        ("DELETE", f"/workspaces/{other['id']}", None),
        ("GET", f"/computers/{c_other['id']}", None),
        ("POST", f"/computers/{c_other['id']}/bash", {"command": "ls"}),
        ("POST", "/computers", {"workspace_id": other["id"], "name": "x"}),
        ("PATCH", f"/computers/{c_mine['id']}/move", {"workspace_id": other["id"]}),
        ("GET", f"/desktops/{c_other['instance_id']}/proxy/health", None),
    ]:
        status, body = await http.call(method, path, json=payload, key=key)
        assert status == 403, (method, path)
        request_id = body.pop("request_id")
        uuid.UUID(request_id)
        assert body == expected, (method, path)
    status, body = await http.call("POST", "/workspaces", json={"name": "new"}, key=key)
    assert status == 403 and body["code"] == "workspace_scope_mismatch"
    assert body["target_workspace_id"] is None


async def test_other_accounts_see_nothing(http: Http, fake: FakeOrgo) -> None:
    ws = await http.workspace()
    c = await http.computer(ws["id"])
    stranger = fake.add_key(user_id=str(uuid.uuid4()))
    status, body = await http.call("GET", "/workspaces", key=stranger)
    assert (status, body) == (200, {"workspaces": []})
    status, body = await http.call("GET", f"/computers/{c['id']}", key=stranger)
    assert (status, body["error"]) == (404, "Computer not found")
    status, body = await http.call("GET", f"/workspaces/{ws['id']}", key=stranger)
    assert status == 404


# -- recording ---------------------------------------------------------------------------


async def test_every_request_is_recorded(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fake.requests.clear()
    await http.call(
        "POST",
        f"/computers/{running['id']}/click",
        json={"x": 3, "y": 4},
        params={"trace": "1"},
        headers={"X-Test": "yes"},
    )
    rec = fake.requests[-1]
    assert (rec.method, rec.path, rec.query) == (
        "POST",
        f"/api/computers/{running['id']}/click",
        {"trace": "1"},
    )
    assert rec.json == {"x": 3, "y": 4} and json.loads(rec.body) == {"x": 3, "y": 4}
    assert rec.headers["X-Test"] == "yes"
    uuid.UUID(rec.request_id)
    assert fake.requests_to("POST", f"/computers/{running['id']}/click") == [rec]


# -- faults ------------------------------------------------------------------------------


async def test_status_sequence_then_pass_through(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fault = fake.faults.add("GET", "/computers/{id}", statuses=[503, 503])
    results = [(await http.call("GET", f"/computers/{running['id']}"))[0] for _ in range(3)]
    assert results == [503, 503, 200]
    assert fault.hits == 2 and len(fake.faults) == 0
    status, body = await http.call("GET", f"/computers/{running['id']}")
    assert status == 200 and body["id"] == running["id"]


async def test_fault_error_body_and_other_routes_unaffected(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fake.faults.statuses("POST", "/api/computers/{id}/click", 500)
    status, body = await http.call("GET", f"/computers/{running['id']}")
    assert status == 200  # another route, another verb
    status, body = await http.call(
        "POST", f"/computers/{running['id']}/click", json={"x": 1, "y": 1}
    )
    assert status == 500 and body["error"] == "Internal server error"
    uuid.UUID(body["request_id"])
    assert fake.computer(running["id"]).actions == []  # the fault answered, not the desktop


async def test_rate_limit_with_retry_after(http: Http, fake: FakeOrgo) -> None:
    fake.faults.rate_limit("*", "/workspaces", retry_after=2, times=2)
    for _ in range(2):
        async with http.session.get(
            fake.base_url + "/workspaces", headers={"Authorization": f"Bearer {fake.api_key}"}
        ) as r:
            assert r.status == 429 and r.headers["Retry-After"] == "2"
            assert (await r.json())["error"] == "Too many requests"
    status, _ = await http.call("GET", "/workspaces")
    assert status == 200
    fake.faults.add("GET", "/workspaces", statuses=[429], retry_after=0.5)
    async with http.session.get(
        fake.base_url + "/workspaces", headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as r:
        assert r.headers["Retry-After"] == "0.5"


async def test_latency_fault_applies_then_expires(http: Http, fake: FakeOrgo) -> None:
    fault = fake.faults.latency("GET", "/workspaces", 0.01, times=2)
    for _ in range(3):
        status, _ = await http.call("GET", "/workspaces")
        assert status == 200
    assert fault.hits == 2 and fake.faults.active == []


async def test_latency_is_observable_by_a_client_timeout(http: Http, fake: FakeOrgo) -> None:
    fake.faults.latency("GET", "/workspaces", 5)
    with pytest.raises(TimeoutError):
        async with http.session.get(
            fake.base_url + "/workspaces",
            headers={"Authorization": f"Bearer {fake.api_key}"},
            timeout=aiohttp.ClientTimeout(total=0.2),
        ) as r:
            await r.read()


async def test_dropped_mid_body(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    fake.faults.drop("GET", "/computers/{id}")
    with pytest.raises(aiohttp.ClientPayloadError):
        async with http.session.get(
            f"{fake.base_url}/computers/{running['id']}",
            headers={"Authorization": f"Bearer {fake.api_key}"},
        ) as r:
            assert r.status == 200
            await r.read()
    status, body = await http.call("GET", f"/computers/{running['id']}")
    assert status == 200 and body["id"] == running["id"]


async def test_truncated_and_malformed(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    fake.faults.truncated("GET", "/computers/{id}")
    fake.faults.malformed("GET", "/workspaces")
    async with http.session.get(
        f"{fake.base_url}/computers/{running['id']}",
        headers={"Authorization": f"Bearer {fake.api_key}"},
    ) as r:
        raw = await r.read()
        assert r.status == 200 and r.content_type == "application/json"
    assert raw.startswith(b'{"id":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw)
    async with http.session.get(
        f"{fake.base_url}/workspaces", headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as r:
        raw = await r.read()
    assert raw == b"<html>oops</html>"


async def test_status_then_kind(http: Http, fake: FakeOrgo) -> None:
    fault = fake.faults.add("GET", "/workspaces", statuses=[502], kind="malformed")
    assert fault.times == 2
    status, _ = await http.call("GET", "/workspaces")
    assert status == 502
    async with http.session.get(
        f"{fake.base_url}/workspaces", headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as r:
        assert await r.read() == b"<html>oops</html>"
    status, _ = await http.call("GET", "/workspaces")
    assert status == 200


def test_fault_table_validation_and_matching() -> None:
    faults = Faults()
    with pytest.raises(ValueError):
        faults.add("GET", "/x")
    with pytest.raises(ValueError):
        faults.add("GET", "/x", statuses=[99])
    with pytest.raises(ValueError):
        faults.add("GET", "/x", kind="explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        faults.add("GET", "/x", latency=-1)
    f = faults.add("*", "/computers/{id}/click", statuses=[500])
    assert f.matches("POST", "/computers/abc/click")
    assert f.matches("GET", "/computers/abc/click/")
    assert not f.matches("POST", "/computers/abc/def/click")
    assert not f.matches("POST", "/computers/abc")
    assert faults.take("POST", "/computers/x") is None
    applied = faults.take("POST", "/computers/x/click")
    assert applied is not None and applied.status == 500
    assert faults.take("POST", "/computers/x/click") is None
    faults.latency("GET", "/a", 1)
    faults.clear()
    assert len(faults) == 0


async def test_ws_fault_and_rotation_hooks(fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    fault = fake.add_ws_fault(cid, "terminal", 4500, after_frames=3, times=2)
    comp = fake.computer(cid)
    assert isinstance(fault, WsFault) and comp.ws_faults == [fault]
    assert comp.take_ws_fault("audio") is None
    assert comp.take_ws_fault("terminal") is fault
    assert comp.take_ws_fault("terminal") is fault
    assert comp.take_ws_fault("terminal") is None
    rotated: list[str] = []
    comp.on_rotate.append(lambda: rotated.append(comp.vnc_password))
    old = comp.vnc_password
    new = fake.rotate_password(cid)
    assert new != old and rotated == [new] and comp.vnc_password == new


async def test_global_latency(fake: FakeOrgo, http: Http) -> None:
    fake.latency = 0.01
    status, _ = await asyncio.wait_for(http.call("GET", "/workspaces"), 5)
    assert status == 200


async def test_bounded_recording_and_storage(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fake.max_recorded = 3
    fake.max_stored_screenshots = 2
    paths = []
    for _ in range(4):
        _, body = await http.call("GET", f"/computers/{running['id']}/screenshot")
        paths.append(body["metadata"]["storage_path"])
    assert len(fake.requests) == 3
    assert list(fake.storage) == paths[-2:]
    status, _ = await http.call("GET", "/storage/" + paths[0])
    assert status == 404


async def test_route_bug_answers_json_500(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fake.computer(running["id"]).resolution = "garbage"  # width/height cannot parse
    status, body = await http.call("GET", f"/computers/{running['id']}/screenshot")
    assert status == 500 and body["error"] == "Internal server error"
    uuid.UUID(body["request_id"])
