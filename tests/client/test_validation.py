"""Bad input from the caller is refused with a clear error before any request is made."""

from __future__ import annotations

from typing import Any

import pytest

from orgo_async import AsyncOrgo
from tests.conftest import RecordingServer

CID = "a3bb189e-8bf9-3888-9912-ace4e6543002"


@pytest.mark.parametrize(
    "bad", ["", ".", "..", "a/b", "../x", "a?b", "a#b", "a%2Fb", "a b", "a\nb", "x" * 300]
)
async def test_bad_ids_are_refused(server: RecordingServer, client: AsyncOrgo, bad: str) -> None:
    with pytest.raises(ValueError):
        await client.computers.get(bad)
    with pytest.raises(ValueError):
        await client.computers.click(bad, 1, 1)
    with pytest.raises(ValueError):
        await client.workspaces.delete(bad)
    assert server.requests == []


async def test_non_string_id_is_a_type_error(server: RecordingServer, client: AsyncOrgo) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        await client.computers.get(123)  # type: ignore[arg-type]
    assert server.requests == []


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("create", {"workspace_id": "ws", "name": ""}),
        ("create", {"workspace_id": "ws", "name": "a", "ram": 3}),
        ("create", {"workspace_id": "ws", "name": "a", "cpu": 3}),
        ("create", {"workspace_id": "ws", "name": "a", "cpu": True}),
        ("create", {"workspace_id": "ws", "name": "a", "os": "beos"}),
        ("create", {"workspace_id": "ws", "name": "a", "resolution": "big"}),
        ("create", {"workspace_id": "ws", "name": "a", "disk_size_gb": 0}),
        ("create", {"workspace_id": "ws", "name": "a", "auto_stop_minutes": -1}),
        ("create", {"workspace_id": "ws", "name": "a", "template_ref": "nope"}),
        ("create", {"workspace_id": "../ws", "name": "a"}),
    ],
)
async def test_create_validation(
    server: RecordingServer, client: AsyncOrgo, call: str, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        await getattr(client.computers, call)(**kwargs)
    assert server.requests == []


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("click", (CID, -1, 0), {}),
        ("click", (CID, 0, 1.5), {}),
        ("click", (CID, 0, 0), {"button": "side"}),
        ("drag", (CID, 0, 0, -5, 0), {}),
        ("drag", (CID, 0, 0, 5, 0), {"button": "middle"}),
        ("drag", (CID, 0, 0, 5, 0), {"duration": -1}),
        ("scroll", (CID, "left"), {}),
        ("scroll", (CID, "up", 0), {}),
        ("type", (CID, ""), {}),
        ("type", (CID, "x"), {"delay_ms": -1}),
        ("key", (CID, "  "), {}),
        ("wait", (CID, 61), {}),
        ("wait", (CID, -0.1), {}),
        ("bash", (CID, ""), {}),
        ("bash", (CID, "ls"), {"timeout": 0}),
        ("exec", (CID, "print(1)"), {"timeout": 301}),
        ("exec", (CID, ""), {}),
        ("move_mouse", (CID, 1, -1), {}),
        ("resize", (CID,), {}),
        ("resize", (CID,), {"mem_gb": 64}),
        ("resize", (CID,), {"vcpus": 3}),
        ("set_auto_stop", (CID, -5), {}),
        ("stream_start", (CID, ""), {}),
        ("screenshot", (CID,), {"format": "gif"}),
        ("move", (CID, ""), {}),
    ],
)
async def test_action_validation(
    server: RecordingServer,
    client: AsyncOrgo,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> None:
    with pytest.raises(ValueError):
        await getattr(client.computers, method)(*args, **kwargs)
    assert server.requests == []


async def test_workspace_validation(server: RecordingServer, client: AsyncOrgo) -> None:
    with pytest.raises(ValueError):
        await client.workspaces.create(name="")
    with pytest.raises(ValueError):
        await client.workspaces.create(name="x", status="archived")
    assert server.requests == []
