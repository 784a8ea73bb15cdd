"""``python -m examples.fleet_dashboard`` (what ``make example`` runs): the dashboard
against the emulator, whose websockify tunnels to a real x11vnc on Xvfb.

Starts Xvfb + x11vnc, the emulator with a workspace of three computers (their rotating
passwords kept in x11vnc's password file), and the app on http://127.0.0.1:8000. The
terminal is a real local shell (the emulator's, for loopback clients). Ctrl-C stops all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from orgo_async.testing import FakeOrgo, Timings

from .desktop import Desktop

__all__ = ["DemoWorld", "demo_world", "main"]


@dataclass
class DemoWorld:
    """What :func:`demo_world` set up."""

    desktop: Desktop
    fake: FakeOrgo
    computer_ids: list[str]


@contextlib.asynccontextmanager
async def demo_world(computers: int = 3, colour: str = "#1e5aa8") -> AsyncIterator[DemoWorld]:
    """Xvfb + x11vnc, and the emulator tunnelling every computer's websockify to it."""
    async with Desktop(1024, 768) as desktop:
        await desktop.paint(colour)
        # Restarts take a visible moment, so the live status has something to show.
        timings = Timings(create=0.0, boot=1.0, stop=1.0, restart=2.0)
        async with FakeOrgo(vnc_target=("127.0.0.1", desktop.port), timings=timings) as fake:
            ws = fake.add_workspace("demo-fleet")
            ids = [fake.add_computer(ws.id, f"agent-{i + 1}").id for i in range(computers)]
            sync = asyncio.create_task(_sync_passwords(fake, desktop))
            try:
                yield DemoWorld(desktop, fake, ids)
            finally:
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sync


async def _sync_passwords(fake: FakeOrgo, desktop: Desktop) -> None:
    # Every restart mints a new vnc_password; x11vnc must accept the current ones.
    known: list[str] = []
    while True:
        current = sorted(c.vnc_password for c in fake.world.computers.values())
        if current != known:
            desktop.set_passwords(current)
            known = current
        await asyncio.sleep(0.2)


async def main(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the whole demo until cancelled."""
    import uvicorn

    from .app import create_app

    async with demo_world() as world:
        app = create_app(lambda: world.fake.client())
        config = uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on")
        print(f"\n  Fleet dashboard: http://{host}:{port}/   (Ctrl-C to stop)\n", flush=True)
        await uvicorn.Server(config).serve()


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.fleet_dashboard")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.host, args.port))


if __name__ == "__main__":
    cli()
