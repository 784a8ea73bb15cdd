"""The ``orgo-async`` command.

Subcommands live in private modules that each provide ``add_arguments(parser)`` and
``run(args) -> int``: ``fake-server`` (:mod:`._fake_server`) and ``demo``
(:mod:`._demo`, registered only when that module is present). Modules are imported
lazily by name so ``orgo-async --help`` stays fast and a broken subcommand cannot take
the others down.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["build_parser", "main"]

# (subcommand, module, one-line help), in the order --help lists them.
_SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("demo", "._demo", "start the embedded emulator and show the whole SDK working"),
    ("fake-server", "._fake_server", "run the Orgo emulator standalone (REST + WebSockets)"),
    ("vnc-bridge", "._vnc_bridge", "serve a local port for native VNC viewers (via websockify)"),
)


def _load(module: str) -> ModuleType | None:
    name = __name__ + module
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="orgo-async", description="The asyncio-native Python SDK for the Orgo API."
    )
    parser.add_argument("--version", action="version", version=f"orgo-async {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in _SUBCOMMANDS:
        mod = _load(module)
        if mod is None:
            continue
        sub = subs.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(sub)
        sub.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``orgo-async``; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(run(args))
    except KeyboardInterrupt:
        return 130
