"""VNC over websockify: the raw RFB byte stream, and a local TCP bridge for viewers
(``orgo-api.md`` §11.3)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Self

from .._errors import WebSocketError
from .._protocol.close_codes import NO_RECONNECT
from .._secrets import get_logger
from .._tasks import cancel_and_wait
from ._buffered import BufferedChannel

if TYPE_CHECKING:
    from ._credentials import CredentialsLike
    from ._options import ChannelOptions

__all__ = ["Vnc", "VncBridge"]

log = get_logger("orgo_async.connection")


class Vnc(BufferedChannel[bytes, bytes]):
    """The raw RFB stream: binary WebSocket frames both ways.

    ::

        async with conn.vnc() as vnc:
            version = await vnc.read()            # b"RFB 003.008\\n"
            await vnc.write(version)

    The VNC password is the same ``vnc_password`` (:attr:`Connection.token`); RFB
    authentication happens inside the stream. The stream is lossless (a slow reader
    pushes back on the server). After a reconnect (:attr:`reconnects` grows) the bytes
    are a new RFB session starting with the server's version string.
    """

    name = "websockify"
    resumable = True
    compression = None  # framebuffer data: permessage-deflate cut throughput ~40x
    json_heartbeat = False  # websockify speaks RFB: WebSocket ping frames instead
    subprotocols = ("binary",)

    def __init__(
        self, credentials: CredentialsLike, options: ChannelOptions, *, buffer: int
    ) -> None:
        super().__init__(credentials, options, buffer=buffer, drop_oldest=False, eof=b"")

    def _max_size(self) -> int:
        return self._options.vnc_max_size

    async def _on_text(self, frame: str) -> None:
        raise WebSocketError(
            "websockify: unexpected text frame (expected binary RFB data)", channel=self.name
        )

    async def _on_binary(self, frame: bytes) -> None:
        await self._buffer.put(frame)

    async def write(self, data: bytes) -> None:
        """Send RFB bytes (one binary frame)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("vnc data must be bytes")
        if not await self._send(bytes(data), text=False):
            raise WebSocketError(
                "websockify: reconnecting; the RFB session must start over", channel=self.name
            )


class VncBridge:
    """A local TCP server for native VNC viewers, tunnelled through websockify.

    ::

        async with conn.vnc_bridge(port=5901) as bridge:
            print(f"vncviewer {bridge.host}::{bridge.port}")   # password: conn.token.get()
            await bridge.serve_forever()

    Every viewer connection gets its own WebSocket (RFB sessions cannot be shared or
    resumed); when either side closes, the other is closed too. Listens on loopback
    by default: the tunnel carries the desktop, so do not expose it.
    """

    def __init__(
        self,
        credentials: CredentialsLike,
        options: ChannelOptions,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._creds = credentials
        # One RFB session per viewer: a dropped tunnel is not resumed behind its back.
        self._options = options.with_changes(reconnect=NO_RECONNECT)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.connections = 0
        """Viewer connections accepted so far."""

    async def start(self) -> Self:
        """Start listening; :attr:`port` is the bound port (useful with ``port=0``)."""
        if self._server is not None:
            return self
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("vnc bridge listening on %s:%d", self.host, self.port)
        return self

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        server = (await self.start())._server
        assert server is not None
        await server.serve_forever()

    async def aclose(self) -> None:
        """Stop listening and close every tunnel."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        await cancel_and_wait(list(self._handlers))
        if server is not None:
            await server.wait_closed()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            await self._tunnel(reader, writer)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        vnc = Vnc(self._creds, self._options, buffer=64)
        try:
            await vnc.open()
        except WebSocketError as e:
            log.warning("vnc bridge: could not open websockify: %s", e)
            return
        try:

            async def upstream() -> None:
                while data := await reader.read(65536):
                    await vnc.write(data)

            async def downstream() -> None:
                async for chunk in vnc:
                    writer.write(chunk)
                    await writer.drain()

            tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_and_wait(tasks)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    log.info("vnc bridge: tunnel ended: %s", t.exception())
        finally:
            await vnc.aclose()
