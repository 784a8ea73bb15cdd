"""The Desktop API proxy (``orgo-api.md`` §12): HTTP into the desktop, with the API key.

Every request goes through the client's one pipeline, so the proxy gets the same auth
header, retries (only for idempotent methods), timeouts, error mapping and redaction as
every other REST call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

from .._protocol import urls

if TYPE_CHECKING:
    from .._response import RawResponse

__all__ = ["DesktopProxy", "ProxyPipeline"]

# Safe to retry: the pipeline only retries requests declared idempotent.
_IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ProxyPipeline(Protocol):
    """What the proxy needs of the client's request pipeline (``HTTPPipeline`` fits)."""

    @property
    def base_url(self) -> str:
        """The REST base URL (``https://www.orgo.ai/api``)."""

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        response_type: type[RawResponse],
        json: Any = ...,
        params: Mapping[str, str] | None = ...,
        content: bytes | None = ...,
        headers: Mapping[str, str] | None = ...,
        timeout: float | None = ...,
        max_retries: int | None = ...,
    ) -> RawResponse:
        """Send one request (with the API key, retries, error mapping) and decode it."""


class DesktopProxy:
    """``https://www.orgo.ai/api/desktops/{instance_id}/proxy/{endpoint}``.

    ::

        health = await conn.proxy.get("health")          # RawResponse: status, content, json()
        result = await conn.proxy.post("bash", json={"command": "ls"})

    Answers are :class:`~orgo_async.RawResponse`; non-2xx answers raise the same typed
    :class:`~orgo_async.APIStatusError` subclasses as the REST client.
    """

    __slots__ = ("_instance_id", "_pipeline", "api_base")

    def __init__(
        self, pipeline: ProxyPipeline | None, instance_id: str | None, *, api_base: str
    ) -> None:
        self._pipeline = pipeline
        self._instance_id = instance_id
        self.api_base = api_base
        """The REST base the proxy paths hang off."""

    def path(self, endpoint: str = "health") -> str:
        """``/desktops/{instance_id}/proxy/{endpoint}``, relative to :attr:`api_base`."""
        if not self._instance_id:
            raise ValueError("the computer has no instance_id; the Desktop proxy needs it")
        return urls.proxy_path(self._instance_id, endpoint)

    def url(self, endpoint: str = "health") -> str:
        """The absolute proxy URL of ``endpoint`` (no secret in it)."""
        return self.api_base + self.path(endpoint)

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
        from .._response import RawResponse

        method = method.upper()
        pipeline = self._pipeline
        if pipeline is None:
            raise RuntimeError(
                "the Desktop API proxy authenticates with the API key: create the "
                "connection with a client (orgo.connection(computer))"
            )
        return await pipeline.request(
            method,
            self.path(endpoint),
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
        return f"<DesktopProxy {self.api_base}/desktops/{self._instance_id}/proxy/>"
