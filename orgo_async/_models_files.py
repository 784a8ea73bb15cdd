"""msgspec Structs for the files endpoints (``orgo-api.md`` §8). No I/O.

The same decoding rules as :mod:`orgo_async._models`: unknown fields ignored, optional
fields defaulted, enum-like values kept as plain ``str``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

__all__ = [
    "DownloadURL",
    "FileExport",
    "FileList",
    "FileSource",
    "FileUpload",
    "StoredFile",
]


class _Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of the files models: keyword-only, unknown fields ignored."""


def _hide_query(url: str) -> str:
    # A pre-signed URL's query is its credential (valid for an hour): keep it out of reprs.
    base, sep, _ = url.partition("?")
    return f"{base}?***" if sep else base


class FileSource(StrEnum):
    """Known values of :attr:`StoredFile.source`."""

    UPLOAD = "upload"
    EXPORT = "export"


class StoredFile(_Model):
    """A file stored in a workspace: ``{id, filename, size_bytes, content_type, created_at}``
    (+ ``source``, ``upload`` or ``export``, in listings)."""

    id: str
    filename: str | None = None
    size_bytes: int | None = None
    content_type: str | None = None
    created_at: datetime | None = None
    source: str | None = None


class FileUpload(_Model):
    """``POST /files/upload``: ``{"file": {...}}``."""

    file: StoredFile


class FileExport(_Model):
    """``POST /files/export``: the stored copy and a pre-signed download ``url`` (1 hour).

    ``repr`` hides the URL's query string (its signature).
    """

    file: StoredFile
    url: str
    success: bool = True

    def __repr__(self) -> str:
        return f"FileExport(file={self.file!r}, url={_hide_query(self.url)!r})"


class FileList(_Model):
    """``GET /files``: ``{"files": [...]}``."""

    files: list[StoredFile] = msgspec.field(default_factory=list)


class DownloadURL(_Model):
    """``GET /files/download``: a pre-signed URL, valid for an hour. ``repr`` hides its
    query string (the signature)."""

    url: str

    def __repr__(self) -> str:
        return f"DownloadURL(url={_hide_query(self.url)!r})"
