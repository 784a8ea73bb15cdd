"""The terminal channel: a PTY on the computer's shell (``orgo-api.md`` §11.4)."""

from __future__ import annotations

import asyncio
import re
import secrets
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .._errors import ChannelProtocolError, HeartbeatTimeoutError, SessionLostError
from .._protocol import close_codes, terminal
from .._protocol.close_codes import CloseKind
from .._protocol.codec import Unknown
from .._protocol.lifecycle import ChannelFailure
from ._buffered import BufferedChannel

if TYPE_CHECKING:
    from ._credentials import CredentialsLike
    from ._options import ChannelOptions

__all__ = ["RunResult", "Terminal", "strip_ansi"]

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), other two-byte escapes, and the
# lone control characters a shell emits around a prompt.
_ANSI: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[PX^_][^\x1b]*\x1b\\"
    r"|\x1b[@-Z\\-_]"
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
)


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences, with ``\\r\\n`` turned into ``\\n``."""
    text = _ANSI.sub("", text)
    return text.replace("\r\n", "\n").replace("\r", "")


@dataclass(frozen=True, slots=True)
class RunResult:
    """What :meth:`Terminal.run` returns.

    ``output`` is the command's output with ANSI escapes removed and ``\\n`` line ends;
    ``raw_output`` is exactly what the terminal printed between the markers.
    """

    command: str
    output: str
    exit_code: int
    raw_output: str


class Terminal(BufferedChannel[str, str]):
    """A PTY attached to the computer's shell.

    ::

        async with conn.terminal(cols=120, rows=40) as term:
            await term.send("ls -la\\r")
            await term.resize(100, 30)
            result = await term.run("uname -a", timeout=10)
            print(result.exit_code, result.output)
            async for chunk in term:          # output text as it arrives
                ...

    Iteration ends when the shell exits (:attr:`exit_code` is then set) or the server
    closes normally. The shell session cannot resume: a dropped connection, a restart
    (4401 on a running session) or a dead heartbeat raises
    :class:`~orgo_async.SessionLostError` (or the typed error of the close code), never a
    silent fresh shell.
    """

    name = "terminal"
    resumable = False
    # Measured on loopback (websockets 17): deflate cuts terminal output to ~14-23 % of
    # its size on the wire and still decodes ~57 MB/s, far above what a PTY produces.
    compression = "deflate"
    ping_frame = terminal.PING

    def __init__(
        self,
        credentials: CredentialsLike,
        options: ChannelOptions,
        *,
        cols: int,
        rows: int,
        buffer: int,
        compression: bool | None = None,
    ) -> None:
        terminal.check_size(cols, rows)
        super().__init__(credentials, options, buffer=buffer, drop_oldest=False, eof="")
        self._offer_compression(compression)
        self.cols = cols
        self.rows = rows
        self.exit_code: int | None = None
        self.errors: list[str] = []
        """``error`` messages the server sent (e.g. ``Connection failed``)."""
        self._decoder = terminal.decoder(options.max_size)
        # Input sent before the server said anything: replayed if that socket turns out
        # to have been rejected (4401 before any output) and is replaced.
        self._unconfirmed: list[bytes] | None = []
        self._run_lock = asyncio.Lock()

    def _query(self) -> dict[str, object]:
        return {"cols": self.cols, "rows": self.rows}

    # -- frames --------------------------------------------------------------------------

    async def _on_text(self, frame: str) -> None:
        self._unconfirmed = None
        msg = self._decoder.decode(frame)
        if isinstance(msg, terminal.Output):
            await self._buffer.put(msg.data)
        elif isinstance(msg, terminal.Pong):
            self._on_pong()
        elif isinstance(msg, terminal.Exit):
            self.exit_code = msg.code
            # The shell is gone: end the stream now (whether the server closes after an
            # exit is not documented) and let the reader close our side.
            self._buffer.finish(None)
            self._stop_reading()
        elif isinstance(msg, terminal.Error):
            self.errors.append(msg.message)
        elif isinstance(msg, Unknown):
            self._note_unknown(msg)

    async def _on_binary(self, frame: bytes) -> None:
        raise self._decoder.error("unexpected binary frame (the terminal speaks JSON text)")

    async def _on_reconnected(self) -> None:
        pending, self._unconfirmed = self._unconfirmed or [], []
        ws = self._ws
        if ws is not None:
            # Re-send, in order, what the rejected socket swallowed.
            for frame in pending:
                await ws.send(frame, text=True)

    def _loss_error(self, failure: ChannelFailure) -> BaseException:
        code = failure.code
        if code in (close_codes.NOT_RUNNING, close_codes.START_FAILED, close_codes.GOING_AWAY):
            return failure.error
        if isinstance(failure.error, ChannelProtocolError):
            return failure.error
        if isinstance(failure.error, HeartbeatTimeoutError):
            return failure.error
        if failure.kind is CloseKind.TOKEN:
            why = "the token was revoked (the computer restarted)"
        else:
            why = str(failure.error).removeprefix("terminal: ")
        error = SessionLostError(
            f"terminal: the shell session is lost ({why}); it cannot resume, open a new "
            "terminal for a fresh shell",
            channel=self.name,
            code=code,
            reason=failure.error.reason,
        )
        error.__cause__ = failure.error
        return error

    # -- public --------------------------------------------------------------------------

    async def send(self, data: str) -> None:
        """Type ``data`` (``\\r`` is Enter; ``\\x03`` is Ctrl-C)."""
        frame = terminal.encode_input(data)
        if self._unconfirmed is not None:
            self._unconfirmed.append(frame)
        await self._send(frame, text=True)

    async def resize(self, cols: int, rows: int) -> None:
        """Resize the PTY."""
        frame = terminal.encode_resize(cols, rows)
        await self._send(frame, text=True)
        self.cols, self.rows = cols, rows

    async def run(self, command: str, *, timeout: float | None = 30.0) -> RunResult:
        """Run ``command`` in the shell and return its output and exit status.

        The command is wrapped between two markers carrying a random id, written so
        the terminal's echo of the typed line never contains them; the output between
        the markers is the command's. No sleeping, no prompt guessing. On timeout the
        command is interrupted with Ctrl-C and :class:`TimeoutError` is raised. Do not
        iterate the terminal concurrently with ``run``.
        """
        if not isinstance(command, str):
            raise TypeError("command must be a str")
        async with self._run_lock:
            marker = "ORGO" + secrets.token_hex(8)
            # `printf '%s_B\n' MARK` prints MARK_B, but its echo shows `'%s_B\n' MARK`.
            await self.send(
                f"printf '%s_B\\n' {marker}; eval {shlex.quote(command)}; "
                f"printf '%s_E%s\\n' {marker} \"$?\"\r"
            )
            try:
                async with asyncio.timeout(timeout):
                    return await self._collect(command, marker)
            except TimeoutError:
                if not self.closed:
                    await self.send("\x03")
                raise TimeoutError(
                    f"terminal: {command!r} did not finish within {timeout} s "
                    "(interrupted with Ctrl-C)"
                ) from None

    async def _collect(self, command: str, marker: str) -> RunResult:
        """Read output up to ``marker``'s end line; what follows it stays buffered."""
        begin = re.compile(re.escape(marker) + r"_B\r?\n")
        end = re.compile(re.escape(marker) + r"_E(\d+)\r?\n")
        text = ""
        start: int | None = None
        scan = 0
        while True:
            chunk = await self._take()
            if chunk is None:
                status = f" (exit {self.exit_code})" if self.exit_code is not None else ""
                raise SessionLostError(
                    f"terminal: the shell ended while running {command!r}{status}",
                    channel=self.name,
                )
            text += chunk
            if start is None:
                m = begin.search(text)
                if m is None:
                    continue
                start = scan = m.end()
            # Resume the search a little before the last scan: the end line may straddle.
            m = end.search(text, max(start, scan - len(marker) - 24))
            if m is None:
                scan = len(text)
                continue
            if rest := text[m.end() :]:
                self._buffer.push_front(rest)
            raw = text[start : m.start()]
            return RunResult(
                command=command,
                output=strip_ansi(raw),
                exit_code=int(m.group(1)),
                raw_output=raw,
            )
