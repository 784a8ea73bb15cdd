"""A secret in an error message (issue 8, defect 1).

``GET /computers/{id}`` answers a body that is cut off or malformed: decoding fails
before the ``vnc_password`` could be registered for redaction, yet the error's
``str``/``repr``/``args``, its message and the DEBUG log must not show any part of it.
Every body goes through the real pipeline against a real server on loopback, cut at
every offset from the start of the key to the end of the value.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from orgo_async import APIDecodeError, APIStatusError, AsyncOrgo
from orgo_async._errors import excerpt
from tests.conftest import API_KEY, RecordingServer

CID = "a3bb189e-8bf9-3888-9912-ace4e6543002"
PATH = f"/api/computers/{CID}"


def fresh_password() -> str:
    # Never registered before (uuid), and its first two characters ("QX") appear
    # nowhere else in the bodies or messages, so any visible part of it is caught.
    return "QX" + uuid.uuid4().hex[:14].upper()


def _texts(err: BaseException, caplog: pytest.LogCaptureFixture) -> Iterator[str]:
    yield str(err)
    yield repr(err)
    yield from (str(a) for a in err.args)
    yield getattr(err, "message", "")
    yield getattr(err, "excerpt", "")
    logging.getLogger("orgo_async").debug("request failed", exc_info=err)
    yield caplog.text
    yield from (r.getMessage() for r in caplog.records)


def _assert_hidden(password: str, err: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    for text in _texts(err, caplog):
        assert password[:2] not in text, text


def _cuts(body: str, password: str) -> Iterator[tuple[int, str]]:
    """``body`` cut at every offset from the key's first character to the value's end."""
    start = body.lower().index("vnc_password") - 1
    end = body.index(password) + len(password) + 1
    for cut in range(start, end + 1):
        yield cut, body[:cut]


@pytest.mark.parametrize(
    "template",
    [
        # The documented object, compact and pretty-printed.
        '{{"id": "{cid}", "status": "running", "vnc_password": "{pw}", "os": "linux"}}',
        '{{\n  "id" : "{cid}",\n  "vnc_password" :  "{pw}",\n  "status": "running"\n}}',
        # Escaped JSON inside a string (a proxy wrapping the desktop's answer).
        '{{"id": "{cid}", "detail": "{{\\"vnc_password\\":\\"{pw}\\",\\"x\\":1}}"}}',
        # Upper-case key, single quotes (not JSON at all).
        "{{'id': '{cid}', 'VNC_PASSWORD': '{pw}'}}",
    ],
)
async def test_cut_body_never_shows_the_password(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, template: str
) -> None:
    password = fresh_password()
    body = template.format(cid=CID, pw=password)
    caplog.set_level(logging.DEBUG, logger="orgo_async")
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        for cut, text in _cuts(body, password):
            server.respond("GET", PATH, body=text.encode())
            caplog.clear()
            with pytest.raises(APIDecodeError) as info:
                await orgo.computers.get(CID)
            err = info.value
            assert err.status_code == 200 and err.body == text.encode(), cut  # raw kept
            assert "-> 200" in caplog.text  # the DEBUG line did run
            _assert_hidden(password, err, caplog)


async def test_excerpt_shows_the_rest_of_the_body(server: RecordingServer) -> None:
    """Scrubbing hides the value only: the message still says what came back."""
    password = fresh_password()
    body = f'{{"id": "{CID}", "vnc_password": "{password}", "status": '
    server.respond("GET", PATH, body=body.encode())
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        with pytest.raises(APIDecodeError) as info:
            await orgo.computers.get(CID)
    assert info.value.excerpt == f'{{"id": "{CID}", "vnc_password": "***", "status": '
    assert "malformed JSON" in str(info.value)


@pytest.mark.parametrize(
    ("prefix", "suffix"),
    [
        # Latin-1 bytes are not UTF-8: the body fails to decode at byte 9.
        (b'{"name": "caf\xe9", ', b', "status": "running"}'),
        # A big body: the password is early, the malformed part a megabyte later.
        (b'{"id": "x", ', b', "pad": "' + b"a" * 1_000_000 + b'" "oops"}'),
        # Wrong type rather than malformed: a ValidationError, not a DecodeError.
        (b'{"id": 12, ', b"}"),
    ],
)
async def test_password_hidden_whatever_the_encoding_and_size(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, prefix: bytes, suffix: bytes
) -> None:
    password = fresh_password()
    body = prefix + b'"vnc_password": "' + password.encode() + b'"' + suffix
    server.respond("GET", PATH, body=body)
    caplog.set_level(logging.DEBUG, logger="orgo_async")
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        with pytest.raises(APIDecodeError) as info:
            await orgo.computers.get(CID)
    assert "vnc_password" in info.value.excerpt  # the password was in the visible part
    _assert_hidden(password, info.value, caplog)


@pytest.mark.parametrize(
    "body",
    [
        "<html>upstream said vnc_password={pw}&retry=1</html>",
        "Authorization: Bearer {pw}",
        '{{"ok": false, "detail": {{"token": "{pw}"}}}}',
        '["apiKey", "x"] secret: {pw}',
    ],
)
async def test_status_error_messages_are_scrubbed(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    """A non-2xx body with no message field shows a scrubbed excerpt."""
    password = fresh_password()
    server.respond("GET", PATH, status=502, body=body.format(pw=password).encode())
    caplog.set_level(logging.DEBUG, logger="orgo_async")
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        with pytest.raises(APIStatusError) as info:
            await orgo.computers.get(CID)
    assert info.value.status_code == 502 and "HTTP 502" in info.value.message
    assert password.encode() in info.value.body  # the caller still has the raw bytes
    _assert_hidden(password, info.value, caplog)


def test_excerpt_cut_inside_a_known_secret_hides_it_whole() -> None:
    """A registered secret crossing the excerpt's limit is not shown in part."""
    from orgo_async._secrets import Secret

    password = fresh_password()
    Secret(password)  # registered (as decoding a Computer would)
    body = "x" * 190 + " echoed " + password + " back"
    shown = excerpt(body.encode(), limit=200)
    assert password[:2] not in shown and shown.endswith("…")
