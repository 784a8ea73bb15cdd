"""A small Chrome DevTools Protocol driver on ``websockets``: Debian's headless Chromium,
no browser download, no playwright.

``async with Chromium.launch() as browser: page = await browser.new_page()``; a page
records what the browser received (responses with their bodies, WebSocket frames both
ways) in :attr:`Page.received` for the secrets check.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

__all__ = ["CDPError", "Chromium", "Page", "find_chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1280,1000",
)


def find_chromium() -> str | None:
    """Debian's ``chromium`` (or another name for the same browser) on ``PATH``."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _read_words(path: str) -> list[str]:
    try:
        with open(path) as f:
            return f.read().split()
    except OSError:
        return []


class CDPError(Exception):
    """A DevTools command failed."""


@dataclass
class Received:
    """Everything the page received or sent, as text or bytes, with where it came from."""

    items: list[tuple[str, bytes]] = field(default_factory=list)

    def add(self, where: str, data: bytes | str) -> None:
        self.items.append((where, data.encode() if isinstance(data, str) else data))

    def containing(self, secret: str) -> list[str]:
        """Where ``secret`` appears (as UTF-8 bytes)."""
        needle = secret.encode()
        return [where for where, data in self.items if needle in data]


class Chromium:
    """A headless Chromium process and its browser-level DevTools connection."""

    def __init__(self, proc: asyncio.subprocess.Process, profile: str) -> None:
        self._proc = proc
        self._profile = profile
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    async def launch(cls, executable: str) -> Chromium:
        profile = tempfile.mkdtemp(prefix="orgo-cdp-")
        proc = await asyncio.create_subprocess_exec(
            executable, *FLAGS, f"--user-data-dir={profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        browser = cls(proc, profile)
        try:
            await browser._connect()
        except BaseException:
            await browser.close()
            raise
        return browser

    async def _connect(self) -> None:
        port_file = os.path.join(self._profile, "DevToolsActivePort")
        async with asyncio.timeout(30):
            # Chromium writes the file once its DevTools server listens: poll for it.
            while len(words := _read_words(port_file)) < 2:
                if self._proc.returncode is not None:
                    raise RuntimeError(f"chromium exited with {self._proc.returncode}")
                await asyncio.sleep(0.05)
        port, path = words[:2]
        self._ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for raw in self._ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self._pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    if "error" in msg:
                        fut.set_exception(CDPError(json.dumps(msg["error"])))
                    else:
                        fut.set_result(msg.get("result", {}))
            elif (page := self._pages.get(msg.get("sessionId", ""))) is not None:
                page._on_event(msg["method"], msg.get("params", {}))

    async def send(self, method: str, params: dict[str, Any] | None = None,
                   session: str | None = None, timeout: float = 30) -> dict[str, Any]:  # fmt: skip
        """Run a DevTools command; its result."""
        assert self._ws is not None
        ident = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = fut
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        await self._ws.send(json.dumps(msg))
        async with asyncio.timeout(timeout):
            return await fut

    async def new_page(self) -> Page:
        """A fresh tab with Network, Page and Runtime events on."""
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        self._pages[page.session] = page
        for domain in ("Network", "Page", "Runtime"):
            await page.send(f"{domain}.enable")
        return page

    async def close(self) -> None:
        """Close the connection, end the browser, remove its profile."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await self._proc.wait()
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)

    async def __aenter__(self) -> Chromium:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class Page:
    """One tab. :attr:`received` fills as the page loads and talks."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session
        self.received = Received()
        self.console: list[str] = []
        self._loaded = asyncio.Event()
        self._bodies: list[asyncio.Task[None]] = []
        self._urls: dict[str, str] = {}

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.browser.send(method, params, self.session)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        rec = self.received
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Network.requestWillBeSent":
            req = params["request"]
            rec.add("request url", req["url"])
            rec.add("request headers", json.dumps(req.get("headers", {})))
            if "postData" in req:
                rec.add("request body", req["postData"])
        elif method == "Network.responseReceived":
            self._urls[params["requestId"]] = params["response"]["url"]
            rec.add("response headers", json.dumps(params["response"].get("headers", {})))
        elif method == "Network.loadingFinished":
            self._bodies.append(asyncio.create_task(self._body(params["requestId"])))
        elif method == "Network.webSocketCreated":
            rec.add("websocket url", params["url"])
        elif method in ("Network.webSocketFrameReceived", "Network.webSocketFrameSent"):
            frame = params["response"]
            data = frame["payloadData"]
            where = "ws frame " + method.rsplit("Frame", 1)[1].lower()
            rec.add(where, base64.b64decode(data) if frame.get("opcode") == 2 else data)
        elif method == "Network.eventSourceMessageReceived":
            rec.add("event source", params.get("data", ""))
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", "")) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            self.console.append("exception: " + json.dumps(params["exceptionDetails"])[:500])

    async def _body(self, request_id: str) -> None:
        with contextlib.suppress(CDPError, TimeoutError):
            body = await self.send("Network.getResponseBody", {"requestId": request_id})
            raw = body["body"]
            data = base64.b64decode(raw) if body.get("base64Encoded") else raw
            self.received.add("body of " + self._urls.get(request_id, request_id), data)

    async def goto(self, url: str, timeout: float = 30) -> None:
        self._loaded.clear()
        await self.send("Page.navigate", {"url": url})
        async with asyncio.timeout(timeout):
            await self._loaded.wait()

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises are awaited)."""
        result = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in result:
            raise CDPError(json.dumps(result["exceptionDetails"])[:1000])
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20, interval: float = 0.1) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        async with asyncio.timeout(timeout):
            while True:
                value = await self.evaluate(expression)
                if value:
                    return value
                await asyncio.sleep(interval)

    async def type_text(self, text: str) -> None:
        """Type into the focused element, Enter as ``\\r``: real key events."""
        for ch in text:
            if ch == "\r":
                for kind in ("keyDown", "keyUp"):
                    await self.send("Input.dispatchKeyEvent", {
                        "type": kind, "key": "Enter", "code": "Enter",
                        "windowsVirtualKeyCode": 13, "text": "\r" if kind == "keyDown" else "",
                    })  # fmt: skip
            else:
                await self.send(
                    "Input.dispatchKeyEvent", {"type": "keyDown", "text": ch, "key": ch}
                )
                await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": ch})

    async def screenshot(self, path: str) -> None:
        shot = await self.send("Page.captureScreenshot", {"format": "png"})
        with open(path, "wb") as f:  # noqa: ASYNC230 - a test artefact
            f.write(base64.b64decode(shot["data"]))

    async def settle(self) -> None:
        """Wait for the response bodies being fetched."""
        if self._bodies:
            await asyncio.gather(*self._bodies)
