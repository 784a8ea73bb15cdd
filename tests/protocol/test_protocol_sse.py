"""The server-sent events decoder, without any socket (WHATWG event-stream rules)."""

from __future__ import annotations

import pytest

from orgo_async import APIDecodeError
from orgo_async._protocol.sse import ServerSentEvent, SSEDecoder

STREAM = (
    b"\xef\xbb\xbf: hello, a comment\r\n"
    b"event: log\r\n"
    b"id: 7\r\n"
    b"retry: 1500\r\n"
    b"data: first line\r\n"
    b"data:second line\r\n"
    b"\r\n"
    b'data: {"ts":"2026-06-08T17:01:58Z","phase":"ready"}\n'
    b"\n"
    b"data\r"
    b"\r"
    b"event: no-data-so-not-dispatched\n"
    b"\n"
    b"data: unterminated at the end"
)

EXPECTED = [
    ServerSentEvent(data="first line\nsecond line", event="log", id="7", retry=1500),
    ServerSentEvent(
        data='{"ts":"2026-06-08T17:01:58Z","phase":"ready"}', event="message", id="7", retry=1500
    ),
    ServerSentEvent(data="", event="message", id="7", retry=1500),
]


def _feed_all(chunks: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    out: list[ServerSentEvent] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    return out


def test_a_whole_stream() -> None:
    assert _feed_all([STREAM]) == EXPECTED


def test_byte_by_byte_is_the_same() -> None:
    # Split everywhere: CRLF across chunks, the BOM and UTF-8 sequences cut in two.
    assert _feed_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


@pytest.mark.parametrize("size", [2, 3, 5, 7, 64])
def test_any_chunking_is_the_same(size: int) -> None:
    assert _feed_all([STREAM[i : i + size] for i in range(0, len(STREAM), size)]) == EXPECTED


def test_utf8_split_inside_a_character() -> None:
    data = "data: caf\u00e9 \u2603\n\n".encode()
    cut = data.index("\u2603".encode()) + 1
    assert _feed_all([data[:cut], data[cut:]]) == [ServerSentEvent(data="caf\u00e9 \u2603")]


def test_a_cr_at_a_chunk_end_followed_by_lf_is_one_line_end() -> None:
    # "data: a\r" | "\n\r\n": if the CR and LF counted twice, an empty line would
    # dispatch early and the next event would lose nothing, but "b" would be separate.
    events = _feed_all([b"data: a\r", b"\ndata: b\r\n\r\n"])
    assert events == [ServerSentEvent(data="a\nb")]


def test_id_with_nul_is_ignored_and_unknown_fields_too() -> None:
    events = _feed_all([b"id: 1\n\nid: x\x00y\nfoo: bar\ndata: d\n\n"])
    assert events == [ServerSentEvent(data="d", id="1")]


def test_a_line_without_end_past_the_limit_is_a_decode_error() -> None:
    decoder = SSEDecoder(max_event_size=100, status_code=200)
    with pytest.raises(APIDecodeError) as e:
        decoder.feed(b"data: " + b"x" * 200)
    assert e.value.status_code == 200 and "longer than 100" in str(e.value)


def test_an_event_past_the_limit_is_a_decode_error() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(APIDecodeError):
        for _ in range(20):
            decoder.feed(b"data: 0123456789\n")


def test_last_event_id_is_kept() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 42\ndata: x\n\n")
    assert decoder.last_event_id == "42"
