"""What every API subcommand shares: the common options, the client, errors -> exit codes.

A subcommand module registers leaf parsers with :func:`leaf`, each bound to an async
handler ``handler(orgo, args, out) -> int``; :func:`run_handler` builds the
:class:`~orgo_async.AsyncOrgo` from the environment (``ORGO_API_KEY``,
``ORGO_BASE_URL`` or ``--base-url``) and runs the handler in a fresh event loop.
:func:`describe_error` turns any exception into the one line the user sees and the exit
code, so no traceback reaches the terminal unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ComputerStateError,
    NotFoundError,
    OrgoError,
    PermissionDeniedError,
    TokenRejectedError,
    WaitTimeoutError,
)

if TYPE_CHECKING:
    from .. import AsyncOrgo
    from ._output import Output

__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_CONNECTION",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "CLIError",
    "Handler",
    "add_common_options",
    "confirm",
    "describe_error",
    "leaf",
    "run_handler",
]

# Exit codes (README "Command line"). 2 is argparse's own code for bad usage.
EXIT_API = 1  # the API or a channel failed (any other OrgoError), or a local I/O error
EXIT_USAGE = 2  # bad arguments, no API key, a value the SDK refused before sending
EXIT_NOT_FOUND = 3  # 404: no such workspace or computer (for this key)
EXIT_AUTH = 4  # 401/403 or a rejected VNC token
EXIT_TIMEOUT = 5  # a wait or a request ran out of time
EXIT_CONNECTION = 6  # the API could not be reached
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGINT, as shells report it

Handler = Callable[["AsyncOrgo", argparse.Namespace, "Output"], Awaitable[int]]


class CLIError(Exception):
    """A failure the command itself detected (e.g. a refused deletion): one line, a code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_common_options(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``--json``, ``--show-secrets``, ``--base-url`` and ``--debug``.

    They are accepted before or after the subcommand. On leaf parsers the defaults are
    ``SUPPRESS``, so a flag given before the subcommand is not reset by the leaf.
    """
    default: Any = None if top else argparse.SUPPRESS
    flag: Any = False if top else argparse.SUPPRESS
    group = parser.add_argument_group("common options")
    group.add_argument(
        "--json", action="store_true", default=flag, help="print JSON (stable keys) instead"
    )
    group.add_argument(
        "--show-secrets",
        action="store_true",
        default=flag,
        help="include secrets (vnc_password) in the output; hidden by default",
    )
    group.add_argument(
        "--base-url",
        default=default,
        metavar="URL",
        help="API base URL (default: $ORGO_BASE_URL, then https://www.orgo.ai/api)",
    )
    group.add_argument(
        "--debug", action="store_true", default=flag, help="show tracebacks and debug logs"
    )


def leaf(
    subs: Any, name: str, handler: Handler, help_text: str, **kwargs: Any
) -> argparse.ArgumentParser:
    """Add a leaf subcommand bound to ``handler`` (with the common options)."""
    parser: argparse.ArgumentParser = subs.add_parser(
        name, help=help_text, description=help_text, **kwargs
    )
    add_common_options(parser)
    parser.set_defaults(_handler=handler)
    return parser


def confirm(question: str, yes: bool) -> None:
    """Ask ``question`` on a terminal; without one, only ``--yes`` lets it through.

    Shared by every deleting command (``computers delete``, ``workspaces delete``).
    """
    if yes:
        return
    if not sys.stdin.isatty():
        raise CLIError("refusing to delete without --yes (stdin is not a terminal)")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CLIError("cancelled", exit_code=1)


def run_handler(args: argparse.Namespace) -> int:
    """Build the client and the output, run the leaf's handler; the exit code."""
    from ._output import Output

    out = Output.from_args(args)
    handler: Handler = args._handler

    async def main() -> int:
        from .. import AsyncOrgo

        async with AsyncOrgo(base_url=getattr(args, "base_url", None)) as orgo:
            return await handler(orgo, args, out)

    return asyncio.run(main())


_KINDS: tuple[tuple[type[BaseException], str, int], ...] = (
    (NotFoundError, "not found", EXIT_NOT_FOUND),
    (AuthenticationError, "authentication failed", EXIT_AUTH),
    (PermissionDeniedError, "permission denied", EXIT_AUTH),
    (TokenRejectedError, "token rejected", EXIT_AUTH),
    (WaitTimeoutError, "timed out", EXIT_TIMEOUT),
    (APITimeoutError, "timed out", EXIT_TIMEOUT),
    (ComputerStateError, "computer failed", EXIT_API),
    (APIConnectionError, "cannot reach the API", EXIT_CONNECTION),
    (APIStatusError, "API error", EXIT_API),
    (OrgoError, "error", EXIT_API),
    (TimeoutError, "timed out", EXIT_TIMEOUT),
    # The SDK validates arguments before sending (ValueError/TypeError), and AsyncOrgo
    # raises ValueError when there is no API key.
    (ValueError, "invalid argument", EXIT_USAGE),
    (TypeError, "invalid argument", EXIT_USAGE),
    (OSError, "error", EXIT_API),
)


def describe_error(exc: BaseException) -> tuple[str, int]:
    """The one line printed for ``exc`` (already redacted by the SDK) and the exit code."""
    if isinstance(exc, CLIError):
        return str(exc), exc.exit_code
    for kind, label, code in _KINDS:
        if isinstance(exc, kind):
            text = str(exc) or type(exc).__name__
            if isinstance(exc, OrgoError):
                text = f"{type(exc).__name__}: {text}"
            return f"{label}: {_one_line(text)}", code
    return f"internal error: {type(exc).__name__}: {_one_line(str(exc))} (--debug shows more)", 1


def _one_line(text: str) -> str:
    return " ".join(text.split())
