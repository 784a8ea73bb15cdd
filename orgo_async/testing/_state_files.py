"""The emulator's file storage (``orgo-api.md`` §8): stored files and pre-signed URLs.

Plain data, no aiohttp. Pre-signed URLs are HMAC-signed ``(file id, expiry)`` pairs
served by the emulator's "storage host" (``/storage/files/{id}``), which, like a real
object store, takes no API key.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Final

from ._state import new_uuid, now_iso

__all__ = ["MAX_UPLOAD_BYTES", "FileStore", "StoredFileRecord"]

#: The documented limit, "10 MB", as 10 MiB.
MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024


@dataclass
class StoredFileRecord:
    """One stored file; :meth:`json` is the documented file object."""

    id: str
    workspace_id: str
    filename: str
    data: bytes
    content_type: str
    source: str  # "upload" or "export"
    desktop_id: str | None = None
    created_at: str = field(default_factory=now_iso)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "size_bytes": len(self.data),
            "content_type": self.content_type,
            "created_at": self.created_at,
            "source": self.source,
        }


@dataclass
class FileStore:
    """Every stored file, and the key that signs download URLs (``url_ttl`` seconds)."""

    files: dict[str, StoredFileRecord] = field(default_factory=dict)
    url_ttl: float = 3600.0
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def add(
        self,
        workspace_id: str,
        filename: str,
        data: bytes,
        source: str,
        *,
        desktop_id: str | None = None,
        content_type: str | None = None,
    ) -> StoredFileRecord:
        ctype = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        record = StoredFileRecord(
            id=new_uuid(),
            workspace_id=workspace_id,
            filename=filename,
            data=data,
            content_type=ctype,
            source=source,
            desktop_id=desktop_id,
        )
        self.files[record.id] = record
        return record

    def signature(self, file_id: str, expires: int) -> str:
        return hmac.new(self._key, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def signed_path(self, file_id: str) -> str:
        """``/storage/files/{id}?expires=...&signature=...`` (relative to the origin)."""
        expires = int(time.time() + self.url_ttl)
        signature = self.signature(file_id, expires)
        return f"/storage/files/{file_id}?expires={expires}&signature={signature}"

    def check(self, file_id: str, expires: str, signature: str) -> str | None:
        """``None`` when the signed URL is good, else why not."""
        if not expires.isdigit():
            return "Malformed expiry"
        if not hmac.compare_digest(self.signature(file_id, int(expires)), signature):
            return "The request signature does not match"
        if int(expires) < time.time():
            return "Request has expired"
        return None
