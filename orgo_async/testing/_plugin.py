"""pytest plugin (entry point ``orgo_async``): the ``fake_orgo`` and ``orgo_client`` fixtures.

Installed with the package, so ``pip install orgo-async[testing]`` is enough::

    async def test_agent(fake_orgo):
        async with fake_orgo.client() as orgo:
            ws = await orgo.workspaces.create(name="t")

The fixtures are async generators and need an asyncio pytest plugin (pytest-asyncio in
``auto`` mode, or marked tests). Without pytest-asyncio this module still loads: the
fixtures are then plain async generators that pytest will refuse to run with a clear
message from pytest itself, and nothing else breaks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from ._server import FakeOrgo

__all__ = ["fake_orgo", "orgo_client"]

_F = TypeVar("_F", bound=Callable[..., Any])

_decorator: Callable[..., Any]
try:  # pytest-asyncio's fixture decorator works in both strict and auto modes
    import pytest_asyncio

    _decorator = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - exercised only without pytest-asyncio
    _decorator = pytest.fixture


def _fixture(fn: _F) -> _F:
    return cast("_F", _decorator(fn))


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_orgo`` marker (options for the fixture's emulator)."""
    config.addinivalue_line(
        "markers",
        "fake_orgo(**options): keyword arguments for the fake_orgo fixture's FakeOrgo, "
        "e.g. @pytest.mark.fake_orgo(allow_exec=True)",
    )


@_fixture
async def fake_orgo(request: pytest.FixtureRequest) -> AsyncIterator[FakeOrgo]:
    """A started :class:`~orgo_async.testing.FakeOrgo` on loopback, closed after the test.

    State transitions are instant (``Timings.instant()``) so tests never wait for boots;
    set ``fake_orgo.timings`` to slower values to watch the state machine. Other options
    come from the marker: ``@pytest.mark.fake_orgo(latency=0.01, strict=False)``.
    """
    from ._server import FakeOrgo, Timings

    marker = request.node.get_closest_marker("fake_orgo")
    options: dict[str, Any] = {"timings": Timings.instant()}
    if marker is not None:
        options.update(marker.kwargs)
    fake = FakeOrgo(**options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()


@_fixture
async def orgo_client(fake_orgo: FakeOrgo) -> AsyncIterator[Any]:
    """An ``AsyncOrgo`` client pointed at :func:`fake_orgo` (no retries, so faults surface)."""
    async with fake_orgo.client(max_retries=0) as client:
        yield client
