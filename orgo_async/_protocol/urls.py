"""Building the per-computer URLs (``orgo-api.md`` §11.1, §12): plain string work.

* WebSockets: ``connection_url`` with the scheme switched (``https`` -> ``wss``, ``http``
  -> ``ws``) plus ``/ws/<channel>`` and a URL-encoded query whose ``token`` is the
  ``vnc_password``. When a computer has no ``connection_url`` (older answers), the
  documented form is rebuilt from ``hostname`` and ``instance_id`` (or its deprecated
  alias ``fly_instance_id``): ``https://{hostname}/desktops/{instance_id}``.
* Desktop proxy: ``{api_base}/desktops/{instance_id}/proxy/{endpoint}``.

URLs carrying a token are only ever shown through :func:`redact_url`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "CHANNEL_PATHS",
    "api_base_from",
    "connection_base",
    "proxy_path",
    "redact_url",
    "ws_url",
]

CHANNEL_PATHS: Final = {
    "websockify": "/ws/websockify",
    "terminal": "/ws/terminal",
    "audio": "/ws/audio",
    "events": "/ws/events",
}

_SCHEMES: Final = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}
# instance ids are short hex in practice; allow what a path segment can hold safely.
# Matched with fullmatch: ``$`` would also accept a trailing newline.
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_HOST: Final = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")
_TOKEN_IN_QUERY: Final = re.compile(r"((?:^|[?&])token=)[^&#]*")


def _check_id(instance_id: str) -> str:
    if not _ID.fullmatch(instance_id):
        raise ValueError(f"invalid instance_id {instance_id!r}")
    return instance_id


def _check_connection_url(connection_url: str) -> str:
    shown = connection_url if len(connection_url) <= 200 else connection_url[:200] + "..."
    parts = urlsplit(connection_url)  # ValueError for a malformed IPv6 host
    if parts.scheme not in _SCHEMES or not _HOST.fullmatch(parts.netloc):
        raise ValueError(f"connection_url must be an http(s) URL, not {shown!r}")
    _ = parts.port  # ValueError for a port out of range
    if parts.query or parts.fragment:
        raise ValueError("connection_url must not carry a query or fragment")
    path = parts.path.rstrip("/")
    prefix, _, last = path.rpartition("/")
    if prefix != "/desktops" or not _ID.fullmatch(last):
        raise ValueError(
            f"connection_url must look like https://host/desktops/{{instance_id}}, not {shown!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def connection_base(
    connection_url: str | None,
    hostname: str | None = None,
    instance_id: str | None = None,
) -> str:
    """The per-computer base URL (``https://host/desktops/{instance_id}``), no trailing slash.

    ``connection_url`` wins; otherwise the documented form is rebuilt from ``hostname``
    and ``instance_id``. ``ValueError`` if neither is possible, or if ``connection_url``
    is not of the documented shape ``http(s)://host[:port]/desktops/{id}``: the token is
    only ever sent to a ``/desktops/{id}/ws/...`` path.
    """
    if connection_url:
        return _check_connection_url(connection_url)
    if hostname and instance_id:
        if not _HOST.fullmatch(hostname):
            raise ValueError(f"invalid hostname {hostname!r}")
        return f"https://{hostname}/desktops/{_check_id(instance_id)}"
    raise ValueError(
        "the computer has no connection_url, and no hostname + instance_id to build one "
        "from; fetch it with client.computers.get(id) first"
    )


def ws_url(base: str, channel: str, token: str, query: Mapping[str, object] | None = None) -> str:
    """The WebSocket URL of ``channel`` under ``base`` with ``token`` and ``query`` encoded."""
    path = CHANNEL_PATHS.get(channel)
    if path is None:
        raise ValueError(f"unknown channel {channel!r}; expected one of {sorted(CHANNEL_PATHS)}")
    parts = urlsplit(base)
    scheme = _SCHEMES.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"unsupported scheme {parts.scheme!r}")
    items: list[tuple[str, str]] = [("token", token)]
    for key, value in (query or {}).items():
        items.append((key, str(value)))
    # quote_via=quote encodes spaces as %20 and every reserved character in the token.
    encoded = urlencode(items, quote_via=quote, safe="")
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + path, encoded, ""))


def redact_url(url: str) -> str:
    """``url`` with the ``token`` query value replaced by ``***``."""
    return _TOKEN_IN_QUERY.sub(r"\1***", url)


def api_base_from(base: str) -> str:
    """The REST base (``{origin}/api``) for a connection base, when there is no client."""
    parts = urlsplit(base)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}/api"


def proxy_path(instance_id: str, endpoint: str) -> str:
    """``/desktops/{instance_id}/proxy/{endpoint}``, relative to the REST base.

    ``endpoint`` is a path inside the desktop (``health``, ``a/b``); it is percent-encoded
    segment by segment, and ``..`` or an absolute URL is refused so a caller-supplied value
    cannot walk out of the proxy into other API paths that would get the API key.
    """
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be a str, not {type(endpoint).__name__}")
    if "://" in endpoint or "?" in endpoint or "#" in endpoint:
        raise ValueError(
            f"endpoint must be a path inside the desktop (pass params= for a query), "
            f"not {endpoint!r}"
        )
    segments = endpoint.lstrip("/").split("/")
    if any(s in (".", "..") for s in segments):
        raise ValueError(f"endpoint must not contain '.' or '..' segments: {endpoint!r}")
    path = "/".join(quote(s, safe="") for s in segments)
    return f"/desktops/{quote(_check_id(instance_id), safe='')}/proxy/{path}"
