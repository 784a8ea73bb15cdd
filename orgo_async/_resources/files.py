"""``orgo.files``: upload, export, list, download and delete stored files (``orgo-api.md`` §8).

Uploads are ``multipart/form-data`` written chunk by chunk (a
:class:`~orgo_async._transport.StreamBody` sent through the pipeline):
a file read from a path or an async iterator never sits whole in memory. The 10 MB limit
is checked before anything is sent (for an iterator, as it is read: the upload is
aborted the moment it passes the limit). An upload is never retried once its body
started to go out.

Downloads fetch the pre-signed URL first, then stream the bytes from the storage host
**without** the API key (a pre-signed URL carries its own credential; the key must never
reach another host).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import mimetypes
import os
import secrets
import stat as stat_module
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import IO, Final, overload

from .._http import HTTPPipeline
from .._models import Success
from .._models_files import DownloadURL, FileExport, FileList, FileUpload, StoredFile
from .._routes import ALREADY_GONE, Route, check_id
from .._streaming import stream
from .._transport import StreamBody

__all__ = ["MAX_UPLOAD_BYTES", "Files"]

#: The documented upload limit, "10 MB", read as 10 MiB: the server has the last word, so
#: the client only refuses what can never pass.
MAX_UPLOAD_BYTES: Final = 10 * 1024 * 1024

# Bigger than the socket's chunks: each read is a hop to the executor thread.
_FILE_CHUNK: Final = 256 * 1024

_UPLOAD = Route("POST", "/files/upload", idempotent=False)
_EXPORT = Route("POST", "/files/export", idempotent=False)
_LIST = Route("GET", "/files", idempotent=True)
_DOWNLOAD = Route("GET", "/files/download", idempotent=True)
_DELETE = Route("DELETE", "/files/delete", idempotent=True, settled_on_retry=ALREADY_GONE)
_STORAGE = Route("GET", "", idempotent=True)

UploadSource = str | os.PathLike[str] | bytes | bytearray | memoryview | AsyncIterable[bytes]


class Files:
    """Files stored in a workspace: uploaded to it, or exported from a computer.

    >>> f = await orgo.files.upload(ws.id, "report.pdf", computer_id=c.id)  # doctest: +SKIP
    >>> data = await orgo.files.download(f.id)                                # doctest: +SKIP
    """

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline

    async def upload(
        self,
        workspace_id: str,
        file: UploadSource,
        *,
        computer_id: str | None = None,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> StoredFile:
        """Upload a file (at most 10 MB) to a workspace, and to a computer's desktop when
        ``computer_id`` is given.

        ``file`` is a path (``str`` or ``os.PathLike``), ``bytes``, or an async iterator of
        ``bytes`` (then ``filename`` is required). ``ValueError`` before anything is sent
        when the file is too large or missing; for an iterator, as soon as it yields more
        than the limit. The workspace goes as ``projectId`` (the reference) and as
        ``workspaceId`` (the migration guide's name, §15.2 #18).
        """
        check_id(workspace_id, "workspace_id")
        if computer_id is not None:
            check_id(computer_id, "computer_id")
        body, name = await _upload_source(file, filename)
        fields = {"projectId": workspace_id, "workspaceId": workspace_id}
        if computer_id is not None:
            fields["desktopId"] = computer_id
        ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        multipart = _multipart(fields, name, ctype, body)
        return (
            await self._pipeline.call(_UPLOAD, content=multipart, response_type=FileUpload)
        ).file

    async def export(self, computer_id: str, path: str) -> FileExport:
        """Copy a file from a running computer into storage; returns it and a pre-signed
        ``url`` (valid 1 hour). ``path`` is relative to the home directory, ``~/...`` or
        absolute under ``/home/user`` (anything else is a 403)."""
        check_id(computer_id, "computer_id")
        if not isinstance(path, str) or not path.strip():
            raise ValueError("path must be a non-empty str such as 'Desktop/results.txt'")
        body = {"desktopId": computer_id, "path": path}
        return await self._pipeline.call(_EXPORT, json=body, response_type=FileExport)

    async def list(
        self, workspace_id: str, computer_id: str | None = None
    ) -> builtins.list[StoredFile]:
        """The files of a workspace (of one computer, with ``computer_id``)."""
        params = {"projectId": check_id(workspace_id, "workspace_id")}
        if computer_id is not None:
            params["desktopId"] = check_id(computer_id, "computer_id")
        return (await self._pipeline.call(_LIST, params=params, response_type=FileList)).files

    async def download_url(self, file_id: str) -> str:
        """A pre-signed URL for the file, valid for an hour. Treat it as a secret."""
        params = {"id": check_id(file_id, "file_id")}
        return (await self._pipeline.call(_DOWNLOAD, params=params, response_type=DownloadURL)).url

    @overload
    async def download(self, file_id: str, dest: None = None) -> bytes: ...

    @overload
    async def download(self, file_id: str, dest: str | os.PathLike[str]) -> Path: ...

    async def download(
        self, file_id: str, dest: str | os.PathLike[str] | None = None
    ) -> bytes | Path:
        """Download a stored file: its bytes, or written to ``dest`` (a file path) and that
        path returned.

        The bytes come from the pre-signed URL, streamed, without the API key. Written to a
        temporary file next to ``dest`` and renamed at the end, so a failed download never
        leaves a partial file behind.
        """
        url = await self.download_url(file_id)
        if url.startswith("/"):
            url = self._pipeline.origin + url
        if not url.startswith(("https://", "http://")):
            raise ValueError("the download URL is neither absolute nor on the API's origin")
        async with stream(self._pipeline, _STORAGE, url=url, auth=False, accept="*/*") as resp:
            if dest is None:
                return await resp.read()
            target = Path(dest)
            await _write_atomically(target, resp.iter_chunks())
            return target

    async def delete(self, file_id: str) -> Success:
        """Delete a stored file."""
        params = {"id": check_id(file_id, "file_id")}
        return await self._pipeline.call(_DELETE, params=params, response_type=Success)


# -- upload bodies ------------------------------------------------------------------------


async def _upload_source(file: UploadSource, filename: str | None) -> tuple[StreamBody, str]:
    """The file part's body and name, checked against the size limit."""
    if filename is not None and (not isinstance(filename, str) or not filename.strip()):
        raise ValueError("filename must be a non-empty str")
    if isinstance(file, bytes | bytearray | memoryview):
        data = bytes(file)
        _check_size(len(data))
        if filename is None:
            raise ValueError("filename is required when uploading bytes")

        async def one() -> AsyncIterator[bytes]:
            yield data

        return StreamBody(one, content_type="", size=len(data)), filename
    if isinstance(file, str | os.PathLike):
        path = Path(file)
        try:
            stat = await asyncio.to_thread(path.stat)
        except FileNotFoundError:
            raise ValueError(f"no such file: {str(path)!r}") from None
        if not stat_module.S_ISREG(stat.st_mode):
            raise ValueError(f"not a regular file: {str(path)!r}")
        _check_size(stat.st_size)
        return (
            StreamBody(_file_chunks(path, stat.st_size), content_type="", size=stat.st_size),
            filename or path.name,
        )
    if isinstance(file, AsyncIterable):
        if filename is None:
            raise ValueError("filename is required when uploading from an iterator")
        source = file
        return StreamBody(lambda: _limited(source), content_type=""), filename
    raise TypeError(
        f"file must be a path, bytes, or an async iterator of bytes, not {type(file).__name__}"
    )


def _check_size(size: int) -> None:
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(
            f"file is {size} bytes; uploads are limited to {MAX_UPLOAD_BYTES} bytes (10 MB)"
        )


def _file_chunks(path: Path, size: int) -> Callable[[], AsyncIterator[bytes]]:
    """Reads the file in the default executor, chunk by chunk (each call reopens it)."""

    async def chunks() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        f: IO[bytes] = await asyncio.to_thread(path.open, "rb")
        try:
            sent = 0
            while chunk := await loop.run_in_executor(None, f.read, _FILE_CHUNK):
                sent += len(chunk)
                if sent > size:
                    break
                yield chunk
            if sent != size:
                # Content-Length was promised from stat(); a file that changed meanwhile
                # would send a body the server cannot frame.
                raise ValueError(f"{str(path)!r} changed size while it was being uploaded")
        finally:
            await asyncio.to_thread(f.close)

    return chunks


async def _limited(source: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    total = 0
    async for chunk in source:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"the upload iterator yielded {type(chunk).__name__}, not bytes")
        total += len(chunk)
        _check_size(total)
        yield bytes(chunk)


def _quote_param(value: str) -> str:
    # RFC 7578 / HTML form encoding of a quoted parameter: escape '"', CR and LF.
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _multipart(
    fields: dict[str, str], filename: str, content_type: str, file: StreamBody
) -> StreamBody:
    """``multipart/form-data`` with ``fields`` and the file last, produced as it is sent."""
    boundary = "----orgo-async-" + secrets.token_hex(16)
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{_quote_param(filename)}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        async for chunk in file.open():
            yield chunk
        yield tail

    size = None if file.size is None else len(head) + file.size + len(tail)
    return StreamBody(chunks, content_type=f"multipart/form-data; boundary={boundary}", size=size)


async def _write_atomically(target: Path, chunks: AsyncIterator[bytes]) -> None:
    loop = asyncio.get_running_loop()
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    f: IO[bytes] = await asyncio.to_thread(tmp.open, "wb")
    try:
        async for chunk in chunks:
            await loop.run_in_executor(None, f.write, chunk)
        await asyncio.to_thread(f.close)
        await asyncio.to_thread(os.replace, tmp, target)
    except BaseException:
        await asyncio.to_thread(f.close)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(tmp.unlink)
        raise
