"""The example app in a real browser: Debian's headless Chromium, driven over DevTools.

What ``make example`` runs (Xvfb + x11vnc, the emulator tunnelling websockify to it, the
FastAPI app on uvicorn) is loaded in Chromium, which must show the Xvfb screen in noVNC's
canvas (a colour this test paints, then another), run a command typed into xterm.js and
print its output in the page, and never receive the API key or any vnc_password (HTML,
JS, JSON, event stream, WebSocket frames both ways, URLs and headers).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from .cdp import Chromium, Page, find_chromium
from .conftest import UvicornServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet_dashboard"
CHROMIUM = find_chromium()


def _why_not() -> str | None:
    from examples.fleet_dashboard.desktop import missing_tools

    if CHROMIUM is None:
        return "chromium is not installed (apt-get install -y chromium; .ci/run does)"
    missing = missing_tools()
    if missing:
        return (
            f"{', '.join(missing)} not installed (apt-get install -y xvfb x11vnc x11-xserver-utils)"
        )
    if not (EXAMPLE / "node_modules" / "@novnc" / "novnc" / "core" / "rfb.js").exists():
        return (
            f"noVNC/xterm.js not installed: run `npm ci` in {EXAMPLE} (make example and .ci/run do)"
        )
    return None


pytestmark.append(pytest.mark.skipif(_why_not() is not None, reason=str(_why_not())))


@pytest.fixture
async def page_on_example() -> AsyncIterator[tuple[Page, object, UvicornServer]]:
    from examples.fleet_dashboard.__main__ import demo_world
    from examples.fleet_dashboard.app import create_app

    assert CHROMIUM is not None
    async with demo_world(computers=2) as world:
        app = create_app(lambda: world.fake.client(), watch_interval=0.5)
        async with UvicornServer(app) as srv, await Chromium.launch(CHROMIUM) as browser:
            page = await browser.new_page()
            yield page, world, srv


def _rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]


async def _canvas_shows(page: Page, colour: str, timeout: float = 20) -> list[int]:
    """Wait until the middle of noVNC's canvas has ``colour`` (JPEG-tolerant); the pixel."""
    want = _rgb(colour)
    probe = """(() => {
        const c = document.querySelector('#screen canvas');
        if (!c || !c.width) return null;
        const p = c.getContext('2d').getImageData(c.width >> 1, c.height >> 1, 1, 1).data;
        return [p[0], p[1], p[2]];
    })()"""
    pixel: list[int] | None = None
    try:
        async with asyncio.timeout(timeout):
            while True:
                pixel = await page.evaluate(probe)
                if pixel and all(abs(a - b) <= 12 for a, b in zip(pixel, want, strict=True)):
                    return pixel
                await asyncio.sleep(0.2)
    except TimeoutError:
        raise AssertionError(f"canvas shows {pixel}, not {want}; console: {page.console}") from None


async def test_desktop_terminal_and_no_secret_in_the_browser(
    page_on_example: tuple[Page, object, UvicornServer], tmp_path: Path
) -> None:
    page, world, srv = page_on_example
    fake = world.fake  # type: ignore[attr-defined]
    desktop = world.desktop  # type: ignore[attr-defined]
    colour = f"#{random.randrange(40, 216):02x}{random.randrange(40, 216):02x}c8"
    await desktop.paint(colour)

    # Every password the computers will have had: these, and those minted by the restart.
    passwords = {c.vnc_password for c in fake.world.computers.values()}
    await page.goto(srv.url + "/")
    await page.wait_for("document.querySelectorAll('#fleet li').length === 2")
    await page.wait_for("document.getElementById('vnc-status').textContent === 'connected'")
    # noVNC's canvas shows the Xvfb screen, live: a second colour arrives too.
    await _canvas_shows(page, colour)
    await desktop.paint("#d04020")
    await _canvas_shows(page, "#d04020")

    # A command typed into xterm.js prints its output in the page.
    await page.wait_for("document.getElementById('term-status').textContent === 'connected'")
    await page.evaluate("window.orgoDemo.term.focus()")
    await page.type_text("echo browser-$((6*7))\r")
    rows = "document.querySelector('#terminal .xterm-rows').textContent"
    text = await page.wait_for(f"{rows}.includes('browser-42') && {rows}")
    assert "echo browser-$((6*7))" in text  # the echo of what was typed, then the output

    # Restart the computer on screen: the list follows (SSE from the app's watch()), and
    # noVNC reconnects through the relay, which fetched the rotated password itself.
    first = await page.evaluate("window.orgoDemo.current")
    status = "document.getElementById('vnc-status').textContent"
    await page.evaluate(f"fetch('/api/computers/{first}/restart', {{method: 'POST'}})")
    badge = f"document.querySelector('li[data-id=\"{first}\"] .badge').className"
    await page.wait_for(f"{badge}.includes('restarting')", timeout=10)
    await page.wait_for(f"{status}.startsWith('reconnecting')", timeout=15)
    await page.wait_for(f"{badge}.includes('running')", timeout=15)
    await page.wait_for(f"{status} === 'connected'", timeout=20)
    await desktop.paint("#20a040")
    await _canvas_shows(page, "#20a040")

    await page.screenshot(str(tmp_path / "dashboard.png"))
    await page.settle()
    received = page.received
    kinds = {where.split(" of ")[0] for where, _ in received.items}
    assert {"body", "ws frame received", "ws frame sent", "websocket url"} <= kinds
    assert any(where.endswith("/rfb.js") for where, _ in received.items)  # JS was captured
    assert any(data.startswith(b"RFB 003.008") for w, data in received.items if "ws frame" in w)
    passwords |= {c.vnc_password for c in fake.world.computers.values()}
    assert len(passwords) == 3  # two computers, one restarted
    secrets = [fake.api_key, *passwords]
    for secret in secrets:
        assert received.containing(secret) == [], "a secret reached the browser"
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000
