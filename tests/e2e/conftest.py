"""The emulator with instant transitions, and a client on it that never retries (so an
injected fault is seen as it is)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from orgo_async import AsyncOrgo
from orgo_async.testing import FakeOrgo, Timings


@pytest.fixture
async def fake() -> AsyncIterator[FakeOrgo]:
    async with FakeOrgo(timings=Timings.instant()) as f:
        yield f


@pytest.fixture
async def orgo(fake: FakeOrgo) -> AsyncIterator[AsyncOrgo]:
    async with fake.client(max_retries=0) as client:
        yield client
