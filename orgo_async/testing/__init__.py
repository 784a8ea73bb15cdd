"""``orgo_async.testing``: a faithful local Orgo emulator for tests, demos and other SDKs.

::

    from orgo_async.testing import FakeOrgo

    async with FakeOrgo() as fake:              # 127.0.0.1, a free port
        async with fake.client() as orgo:       # AsyncOrgo pointed at it
            ...
        fake.computer(cid).actions              # what the desktop was asked to do

The pytest plugin (``orgo_async.testing._plugin``, registered as an entry point) gives
every test suite the ``fake_orgo`` and ``orgo_client`` fixtures. ``orgo-async
fake-server`` runs the emulator standalone.

The emulator is an independent oracle: it writes responses from the API reference's
documented shapes and never imports the SDK's models, protocol or client modules.
"""

from __future__ import annotations

from ._faults import Fault, FaultKind, Faults
from ._png import Screen, encode_png, render_screen
from ._server import (
    EXEC_WARNING,
    BashHandler,
    ExecHandler,
    FakeOrgo,
    PlanLimits,
    RecordedRequest,
    Timings,
)
from ._state import Action, ApiKey, EventHub, FakeComputer, FakeWorkspace, World, WsFault

__all__ = [
    "EXEC_WARNING",
    "Action",
    "ApiKey",
    "BashHandler",
    "EventHub",
    "ExecHandler",
    "FakeComputer",
    "FakeOrgo",
    "FakeWorkspace",
    "Fault",
    "FaultKind",
    "Faults",
    "PlanLimits",
    "RecordedRequest",
    "Screen",
    "Timings",
    "World",
    "WsFault",
    "encode_png",
    "render_screen",
]
