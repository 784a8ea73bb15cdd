"""A response kept as bytes: what the Desktop API proxy and binary downloads return."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from ._errors import APIDecodeError

__all__ = ["RawResponse"]


class RawResponse:
    """A successful answer as bytes, with its status, headers and URL.

    >>> r = await conn.proxy.get("health")  # doctest: +SKIP
    >>> r.status, r.content_type, r.json()  # doctest: +SKIP
    (200, 'application/json', {'status': 'ok'})
    """

    __slots__ = ("content", "headers", "status", "url")

    def __init__(self, status: int, headers: Mapping[str, str], content: bytes, url: str) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self.url = url

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.content.decode("utf-8", "replace")

    @property
    def content_type(self) -> str:
        """The media type of ``Content-Type``, without parameters (``""`` if absent)."""
        return self.headers.get("Content-Type", "").split(";")[0].strip()

    def json(self) -> Any:
        """The body decoded as JSON; :class:`APIDecodeError` if it is not JSON."""
        try:
            return msgspec.json.decode(self.content)
        except msgspec.DecodeError as e:
            raise APIDecodeError(
                f"response is not JSON: {e}", status_code=self.status, body=self.content
            ) from None

    def __repr__(self) -> str:
        # Never the body: it may hold secrets (the caller has .content).
        return f"RawResponse(status={self.status}, size={len(self.content)})"
