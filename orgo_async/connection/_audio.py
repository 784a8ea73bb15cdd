"""The audio channel: PCM s16le from the desktop's speaker (``orgo-api.md`` §11.5)."""

from __future__ import annotations

import asyncio
import os
import wave
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._errors import ChannelStartError
from .._protocol import audio
from .._protocol.close_codes import CloseKind
from .._protocol.codec import Unknown
from .._protocol.lifecycle import ChannelFailure
from ._buffered import BufferedChannel

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ._credentials import CredentialsLike
    from ._options import ChannelOptions

__all__ = ["Audio", "Recording"]


@dataclass(frozen=True, slots=True)
class Recording:
    """What :meth:`Audio.record` wrote."""

    path: str
    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        """Duration of the recording."""
        return self.frames / self.sample_rate


class Audio(BufferedChannel[bytes, bytes]):
    """Live audio from the computer: binary PCM s16le (interleaved when stereo).

    ::

        async with conn.audio(sample_rate=48000, channels=2) as audio:
            print(audio.sample_rate, audio.channels)     # negotiated (``started``)
            await audio.record("out.wav", seconds=5)
            async for pcm in audio:
                ...

    A slow consumer loses the oldest messages first: :attr:`dropped` counts them. A
    dropped connection is reconnected with backoff (the token is refreshed once on 4401).
    """

    name = "audio"
    resumable = True
    compression = None  # PCM does not deflate; permessage-deflate halved throughput
    ping_frame = audio.PING

    def __init__(
        self,
        credentials: CredentialsLike,
        options: ChannelOptions,
        *,
        sample_rate: int,
        channels: int,
        buffer: int,
    ) -> None:
        audio.check_params(sample_rate, channels)
        super().__init__(credentials, options, buffer=buffer, drop_oldest=True, eof=b"")
        self.requested_sample_rate = sample_rate
        self.requested_channels = channels
        self.sample_rate = sample_rate
        """Negotiated sample rate (from the server's ``started`` message)."""
        self.channels = channels
        """Negotiated channel count."""
        self._started = False
        self._decoder = audio.decoder(options.max_size)
        self.dropped_bytes = 0
        """PCM bytes in the messages :attr:`dropped` counts."""

    @property
    def frame_bytes(self) -> int:
        """Bytes in one 20 ms frame at the negotiated format."""
        return audio.frame_bytes(self.sample_rate, self.channels)

    def _query(self) -> dict[str, object]:
        return {"sample_rate": self.requested_sample_rate, "channels": self.requested_channels}

    async def _handshake(self, ws: ClientConnection) -> None:
        while True:
            frame = await self._handshake_recv(ws)
            if isinstance(frame, bytes):
                raise ChannelFailure(
                    CloseKind.FATAL,
                    self._decoder.error("audio data arrived before the 'started' message"),
                )
            msg = self._decoder.decode(frame)
            if isinstance(msg, audio.Started):
                self._on_started(msg)
                return
            if isinstance(msg, audio.Error):
                raise ChannelFailure(
                    CloseKind.FATAL,
                    ChannelStartError(f"audio: {msg.message}", channel=self.name),
                )
            if isinstance(msg, audio.Pong):
                self._on_pong()
            elif isinstance(msg, Unknown):
                self._note_unknown(msg)

    def _on_started(self, msg: audio.Started) -> None:
        try:
            audio.check_params(msg.sample_rate, msg.channels)
        except (TypeError, ValueError) as e:
            error = self._decoder.error(f"bad 'started': {e}")
            raise ChannelFailure(CloseKind.FATAL, error) from None
        if self._started and (msg.sample_rate, msg.channels) != (self.sample_rate, self.channels):
            # A reconnect that changed the format would corrupt what the consumer holds.
            raise ChannelFailure(
                CloseKind.FATAL,
                self._decoder.error(
                    f"the format changed on reconnect from {self.sample_rate} Hz x "
                    f"{self.channels} to {msg.sample_rate} Hz x {msg.channels}"
                ),
            )
        self.sample_rate, self.channels = msg.sample_rate, msg.channels
        self._started = True

    async def _on_text(self, frame: str) -> None:
        msg = self._decoder.decode(frame)
        if isinstance(msg, audio.Pong):
            self._on_pong()
        elif isinstance(msg, audio.Error):
            raise ChannelStartError(f"audio: {msg.message}", channel=self.name)
        elif isinstance(msg, audio.Started):
            self._on_started(msg)
        elif isinstance(msg, Unknown):
            self._note_unknown(msg)

    async def _on_binary(self, frame: bytes) -> None:
        if len(frame) % (audio.SAMPLE_WIDTH * self.channels):
            raise self._decoder.error(
                f"a PCM message of {len(frame)} bytes is not a whole number of "
                f"{audio.SAMPLE_WIDTH * self.channels}-byte sample frames"
            )
        dropped = self._buffer.put_nowait(frame)
        if dropped is not None:
            self.dropped_bytes += len(dropped)

    async def _before_close(self, ws: ClientConnection) -> None:
        await ws.send(audio.STOP, text=True)

    # -- public --------------------------------------------------------------------------

    async def stop(self) -> None:
        """Ask the server to stop capturing (it closes with 1000), then close."""
        await self.aclose()

    async def record(
        self, path: str | os.PathLike[str], seconds: float, *, discard_buffered: bool = False
    ) -> Recording:
        """Write ``seconds`` of audio to a WAV file (stdlib :mod:`wave`).

        The header uses the negotiated sample rate and channel count. Audio already
        buffered counts towards the recording unless ``discard_buffered``. If the stream
        ends early the file is still a valid, shorter WAV; if the channel failed the
        error is raised after the file is closed.
        """
        if seconds <= 0:
            raise ValueError("seconds must be > 0")
        if discard_buffered:
            self._buffer.clear()
        rate, channels = self.sample_rate, self.channels
        need = audio.bytes_for_seconds(seconds, rate, channels)
        target = os.fspath(path)
        writer = await asyncio.to_thread(wave.open, target, "wb")
        written = 0
        try:
            writer.setnchannels(channels)
            writer.setsampwidth(audio.SAMPLE_WIDTH)
            writer.setframerate(rate)
            while written < need:
                chunk = await self._take()
                if chunk is None:
                    break
                take = chunk[: need - written]
                if len(take) < len(chunk):
                    self._buffer.push_front(chunk[len(take) :])
                writer.writeframesraw(take)
                written += len(take)
        finally:
            await asyncio.to_thread(writer.close)
        return Recording(
            path=target,
            sample_rate=rate,
            channels=channels,
            frames=written // (audio.SAMPLE_WIDTH * channels),
        )
