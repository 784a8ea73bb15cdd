"""Fixtures for the emulator's own tests: a started FakeOrgo and a plain aiohttp session.

These tests talk to the emulator with bare aiohttp (not the SDK client), so the emulator
is checked against the reference on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from orgo_async.testing import FakeOrgo, Timings


class Http:
    """A tiny JSON client: ``await http.call("POST", "/computers", json=...)``."""

    def __init__(self, session: aiohttp.ClientSession, fake: FakeOrgo) -> None:
        self.session = session
        self.fake = fake

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        url = path if path.startswith("http") else self.fake.base_url + path
        hdrs = {"Authorization": f"Bearer {key or self.fake.api_key}", **(headers or {})}
        async with self.session.request(
            method, url, json=json, data=data, headers=hdrs, params=params
        ) as resp:
            raw = await resp.read()
            body = await resp.json(content_type=None) if raw else None
            return resp.status, body

    async def workspace(self, name: str = "ws") -> dict[str, Any]:
        status, body = await self.call("POST", "/workspaces", json={"name": name})
        assert status == 201, body
        return dict(body)

    async def computer(self, ws_id: str, name: str = "agent-1", **extra: Any) -> dict[str, Any]:
        status, body = await self.call(
            "POST", "/computers", json={"workspace_id": ws_id, "name": name, **extra}
        )
        assert status == 201, body
        return dict(body)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOrgo]:
    async with FakeOrgo(timings=Timings.instant()) as f:
        yield f


@pytest.fixture
async def http(fake: FakeOrgo) -> AsyncIterator[Http]:
    async with aiohttp.ClientSession() as session:
        yield Http(session, fake)


@pytest.fixture
async def running(http: Http) -> dict[str, Any]:
    """A running computer (the emulator's timings are instant)."""
    ws = await http.workspace()
    c = await http.computer(ws["id"])
    assert c["status"] == "running"
    return c
