"""The Desktop API proxy (``orgo-api.md`` §12): HTTP into the desktop, with the API key.

Every request goes through the client's one pipeline, so the proxy gets the same auth
header, retries (only for idempotent methods), timeouts, error mapping and redaction as
every other REST call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from .._protocol import urls

if TYPE_CHECKING:
    from .._http import RawResponse
    from ._connection import Connection

__all__ = ["DesktopProxy"]

# Safe to retry: the pipeline only retries requests declared idempotent.
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class DesktopProxy:
    """``https://www.orgo.ai/api/desktops/{instance_id}/proxy/{endpoint}``.

    ::

        health = await conn.proxy.get("health")          # RawResponse: status, content, json()
        result = await conn.proxy.post("bash", json={"command": "ls"})

    Answers are :class:`~orgo_async.RawResponse`; non-2xx answers raise the same typed
    :class:`~orgo_async.APIStatusError` subclasses as the REST client.
    """

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def url(self, endpoint: str = "health") -> str:
        """The absolute proxy URL of ``endpoint``."""
        return self._conn.proxy_url(endpoint)

    async def request(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        idempotent: bool | None = None,
        max_retries: int | None = None,
    ) -> RawResponse:
        """Send ``method`` to ``endpoint`` inside the desktop.

        ``idempotent`` defaults from the method (GET, HEAD, OPTIONS, PUT, DELETE are
        retried on transient failures; POST and PATCH are not).
        """
        from .._http import RawResponse

        method = method.upper()
        client = self._conn._require_client()
        path = urls.proxy_path(self._conn._require_instance_id(), endpoint)
        return await client._pipeline.request(
            method,
            path,
            idempotent=method in _IDEMPOTENT if idempotent is None else idempotent,
            response_type=RawResponse,
            json=json,
            params=params,
            content=content,
            headers=headers,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def get(self, endpoint: str, **kwargs: Any) -> RawResponse:
        """``GET`` through the proxy."""
        return await self.request("GET", endpoint, **kwargs)

    async def head(self, endpoint: str, **kwargs: Any) -> RawResponse:
        """``HEAD`` through the proxy."""
        return await self.request("HEAD", endpoint, **kwargs)

    async def post(self, endpoint: str, **kwargs: Any) -> RawResponse:
        """``POST`` through the proxy (not retried unless ``idempotent=True``)."""
        return await self.request("POST", endpoint, **kwargs)

    async def put(self, endpoint: str, **kwargs: Any) -> RawResponse:
        """``PUT`` through the proxy."""
        return await self.request("PUT", endpoint, **kwargs)

    async def patch(self, endpoint: str, **kwargs: Any) -> RawResponse:
        """``PATCH`` through the proxy (not retried unless ``idempotent=True``)."""
        return await self.request("PATCH", endpoint, **kwargs)

    async def delete(self, endpoint: str, **kwargs: Any) -> RawResponse:
        """``DELETE`` through the proxy."""
        return await self.request("DELETE", endpoint, **kwargs)

    def __repr__(self) -> str:
        return f"<DesktopProxy {self._conn.api_base}/desktops/{self._conn.instance_id}/proxy/>"
