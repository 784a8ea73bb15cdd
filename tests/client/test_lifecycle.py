"""Client lifecycle: lazy session, ownership, event-loop binding, warnings, configuration."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
import warnings

import aiohttp
import pytest

from orgo_async import APIConnectionError, AsyncOrgo
from tests.conftest import API_KEY, RecordingServer


async def test_session_is_lazy_and_closed_by_async_with(server: RecordingServer) -> None:
    orgo = AsyncOrgo(api_key=API_KEY, base_url=server.base_url)
    assert orgo.session is None  # nothing opened yet
    async with orgo:
        await orgo.workspaces.list()
        session = orgo.session
        assert session is not None and not session.closed
    assert session.closed and orgo.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await orgo.workspaces.list()


async def test_explicit_close_without_context_manager(server: RecordingServer) -> None:
    orgo = AsyncOrgo(api_key=API_KEY, base_url=server.base_url)
    await orgo.workspaces.list()
    await orgo.close()
    await orgo.close()  # idempotent
    assert orgo.session is not None and orgo.session.closed


async def test_caller_owned_session_is_never_closed(server: RecordingServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, session=session) as orgo:
            assert orgo.session is session
            await orgo.workspaces.list()
        assert not session.closed
        async with session.get(server.base_url + "/workspaces") as resp:
            assert resp.status == 200


def test_client_built_at_import_time_then_used_inside_a_loop() -> None:
    """Building the client needs no running loop (module level, FastAPI settings...)."""
    orgo = AsyncOrgo(api_key=API_KEY, base_url="http://127.0.0.1:9/api", max_retries=0)
    assert orgo.session is None

    async def use() -> bool:
        with pytest.raises(APIConnectionError):  # nothing listens on port 9
            await orgo.workspaces.list()
        session = orgo.session
        assert session is not None and not session.closed
        await orgo.close()
        return session.closed

    assert asyncio.run(use()) is True


async def test_second_event_loop_is_refused(server: RecordingServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        await orgo.workspaces.list()
        errors: list[BaseException] = []

        def other_thread() -> None:
            async def call() -> None:
                await orgo.workspaces.list()

            try:
                asyncio.run(call())
            except BaseException as e:
                errors.append(e)

        t = threading.Thread(target=other_thread)
        t.start()
        t.join(10)
    assert len(errors) == 1 and isinstance(errors[0], RuntimeError)
    assert "another event loop" in str(errors[0])


async def test_unclosed_client_warns_and_does_not_close(server: RecordingServer) -> None:
    orgo = AsyncOrgo(api_key=API_KEY, base_url=server.base_url)
    await orgo.workspaces.list()
    session = orgo.session
    assert session is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        orgo.__del__()
    assert any(
        issubclass(w.category, ResourceWarning) and "Unclosed client" in str(w.message)
        for w in caught
    )
    assert all(API_KEY not in str(w.message) for w in caught)
    assert not session.closed  # __del__ only warns
    await orgo.close()


async def test_closed_client_does_not_warn(server: RecordingServer) -> None:
    orgo = AsyncOrgo(api_key=API_KEY, base_url=server.base_url)
    await orgo.workspaces.list()
    await orgo.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        orgo.__del__()
        del orgo
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


async def test_with_options_shares_the_session(server: RecordingServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, timeout=30) as orgo:
        fast = orgo.with_options(timeout=5, max_retries=0)
        assert (fast.timeout, fast.max_retries) == (5, 0)
        assert (orgo.timeout, orgo.max_retries) == (30, 2)
        await fast.workspaces.list()
        await orgo.workspaces.list()
        assert fast.session is orgo.session and orgo.session is not None
        assert fast.computers is fast.computers  # resources are built once


def test_configuration_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGO_API_KEY", "sk_live_from_env_123")
    monkeypatch.setenv("ORGO_BASE_URL", "http://127.0.0.1:1/api/")
    orgo = AsyncOrgo()
    assert orgo.base_url == "http://127.0.0.1:1/api"
    assert "sk_live_from_env_123" not in repr(orgo)
    monkeypatch.delenv("ORGO_API_KEY")
    monkeypatch.delenv("ORGO_BASE_URL")
    assert AsyncOrgo(api_key="k" * 10).base_url == "https://www.orgo.ai/api"
    with pytest.raises(ValueError, match="no API key"):
        AsyncOrgo()
    with pytest.raises(ValueError, match="base_url"):
        AsyncOrgo(api_key="k" * 10, base_url="ftp://x")
    with pytest.raises(TypeError):
        AsyncOrgo(api_key=12345)  # type: ignore[arg-type]


async def test_thousands_of_concurrent_tasks_share_one_client(server: RecordingServer) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_connections=20) as orgo:
        results = await asyncio.gather(*(orgo.workspaces.list() for _ in range(2000)))
    assert len(results) == 2000 and len(server.requests) == 2000


def test_import_is_light() -> None:
    code = (
        "import sys, orgo_async; "
        "heavy = [m for m in ('aiohttp', 'websockets', 'msgspec') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
