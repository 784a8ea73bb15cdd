"""stub"""

from __future__ import annotations

from ._ws import FakeLike, WsSession


async def terminal_channel(session: WsSession, fake: FakeLike) -> None:
    """stub"""
    session.request_close(4500, "not implemented")
