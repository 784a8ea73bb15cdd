"""Parsing and building every channel message without any socket."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
import pytest

from orgo_async import ChannelProtocolError
from orgo_async._protocol import Unknown, audio, events, terminal
from orgo_async._protocol.codec import tags_of

# -- terminal ----------------------------------------------------------------------------


def test_terminal_client_frames_match_the_reference() -> None:
    assert json.loads(terminal.encode_input("ls -la\r")) == {"type": "input", "data": "ls -la\r"}
    assert json.loads(terminal.encode_resize(120, 40)) == {
        "type": "resize",
        "cols": 120,
        "rows": 40,
    }
    assert json.loads(terminal.PING) == {"type": "ping"}


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            '{"type":"output","data":"\\u001b[32mhi\\u001b[0m\\r\\n"}',
            terminal.Output("\x1b[32mhi\x1b[0m\r\n"),
        ),
        ('{"type":"error","message":"Connection failed"}', terminal.Error("Connection failed")),
        ('{"type":"exit","code":0}', terminal.Exit(0)),
        ('{"type":"exit","code":130}', terminal.Exit(130)),
        ('{"type":"pong"}', terminal.Pong()),
        (b'{"type":"pong","extra":1}', terminal.Pong()),
    ],
)
def test_terminal_server_frames(frame: str | bytes, expected: object) -> None:
    assert terminal.decoder().decode(frame) == expected


def test_terminal_type_property() -> None:
    msg = terminal.decoder().decode('{"type":"output","data":"x"}')
    assert msg.type == "output"


def test_terminal_unknown_type_is_a_value() -> None:
    msg = terminal.decoder().decode('{"type":"bell","volume":3}')
    assert msg == Unknown(type="bell", data={"type": "bell", "volume": 3})


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "",
        "[1,2]",
        '"output"',
        '{"data":"x"}',
        '{"type":5}',
        '{"type":"output","data":5}',
        '{"type":"output"}',
        '{"type":"exit","code":"zero"}',
        '{"type":"error"}',
    ],
)
def test_terminal_bad_frames_are_protocol_errors(frame: str) -> None:
    with pytest.raises(ChannelProtocolError) as info:
        terminal.decoder().decode(frame)
    assert info.value.channel == "terminal"


def test_terminal_oversized_frame() -> None:
    dec = terminal.decoder(max_size=100)
    dec.decode('{"type":"output","data":"' + "x" * 60 + '"}')
    with pytest.raises(ChannelProtocolError, match="max_size"):
        dec.decode('{"type":"output","data":"' + "x" * 100 + '"}')


@pytest.mark.parametrize(("cols", "rows"), [(0, 24), (80, 0), (-1, 5), (80, 10_001)])
def test_terminal_resize_rejects_bad_sizes(cols: int, rows: int) -> None:
    with pytest.raises(ValueError):
        terminal.encode_resize(cols, rows)


def test_terminal_resize_rejects_non_ints() -> None:
    with pytest.raises(TypeError):
        terminal.encode_resize(80.5, 24)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        terminal.encode_resize(True, 24)


def test_terminal_input_rejects_bytes() -> None:
    with pytest.raises(TypeError):
        terminal.encode_input(b"ls\r")  # type: ignore[arg-type]


# -- audio -------------------------------------------------------------------------------


def test_audio_client_frames() -> None:
    assert json.loads(audio.STOP) == {"type": "stop"}
    assert json.loads(audio.PING) == {"type": "ping"}


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"type":"started","sample_rate":24000,"channels":1}', audio.Started(24000, 1)),
        ('{"type":"started","sample_rate":48000,"channels":2}', audio.Started(48000, 2)),
        ('{"type":"pong"}', audio.Pong()),
        (
            '{"type":"error","message":"Failed to start audio capture"}',
            audio.Error("Failed to start audio capture"),
        ),
    ],
)
def test_audio_server_frames(frame: str, expected: object) -> None:
    assert audio.decoder().decode(frame) == expected


def test_audio_unknown_and_bad() -> None:
    dec = audio.decoder()
    assert isinstance(dec.decode('{"type":"level","db":-3}'), Unknown)
    for bad in ['{"type":"started","sample_rate":"fast","channels":1}', "nope", "{}"]:
        with pytest.raises(ChannelProtocolError):
            dec.decode(bad)


def test_audio_arithmetic() -> None:
    assert audio.frame_bytes(24000, 1) == 960  # documented
    assert audio.frame_bytes(48000, 2) == 3840
    assert audio.bytes_for_seconds(1, 24000, 1) == 48000
    assert audio.bytes_for_seconds(0.5, 48000, 2) == 96000
    with pytest.raises(ValueError):
        audio.bytes_for_seconds(-1, 24000, 1)


@pytest.mark.parametrize(
    ("rate", "channels", "exc"),
    [(0, 1, ValueError), (24000, 3, ValueError), (24000, 0, ValueError), ("24000", 1, TypeError)],
)
def test_audio_check_params(rate: object, channels: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        audio.check_params(rate, channels)  # type: ignore[arg-type]


def test_wav_header_matches_stdlib_wave(tmp_path: object) -> None:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(b"\x01\x00" * 2 * 100)
    data = buf.getvalue()
    assert data[:44] == audio.wav_header(48000, 2, 400)


# -- events ------------------------------------------------------------------------------


def test_events_client_frames() -> None:
    assert json.loads(events.encode_subscribe(["window_focus", "clipboard", "window_focus"])) == {
        "type": "subscribe",
        "event_types": ["window_focus", "clipboard"],
    }
    assert json.loads(events.encode_unsubscribe(["clipboard"])) == {
        "type": "unsubscribe",
        "event_types": ["clipboard"],
    }
    assert json.loads(events.PING) == {"type": "ping"}
    with pytest.raises(TypeError):
        events.encode_subscribe("window_focus")
    with pytest.raises(TypeError):
        events.encode_subscribe([""])


CATALOG = {
    "window_focus": ({"window_id": "0x3200004", "title": "Google Chrome"}, events.WindowFocus),
    "window_open": ({"window_id": "0x1", "title": "xterm"}, events.WindowOpen),
    "window_close": ({"window_id": "0x1"}, events.WindowClose),
    "clipboard": ({"content": "hello"}, events.Clipboard),
    "file_change": ({"path": "/home/user/Desktop/a.txt", "action": "created"}, events.FileChange),
    "screen_change": ({"width": 1280, "height": 720}, events.ScreenChange),
    "audio_stream_start": ({}, events.AudioStreamStart),
    "audio_stream_stop": ({}, events.AudioStreamStop),
    "process_start": ({"pid": 42, "name": "firefox"}, events.ProcessStart),
    "process_stop": ({"pid": 42, "name": "firefox"}, events.ProcessStop),
    "idle": ({"idle_seconds": 30}, events.Idle),
    "active": ({}, events.Active),
}


def test_event_catalog_is_complete() -> None:
    assert set(CATALOG) == set(events.EVENT_TYPES) == tags_of(events.Event)


@pytest.mark.parametrize("kind", sorted(CATALOG))
def test_every_event_type_decodes(kind: str) -> None:
    data, cls = CATALOG[kind]
    frame = json.dumps(
        {
            "type": "event",
            "event": {"type": kind, "timestamp": "2026-03-03T12:00:00.123Z", "data": data},
        }
    )
    ev = events.EventsDecoder().decode(frame)
    assert isinstance(ev, cls)
    assert ev.type == kind
    assert ev.timestamp == datetime(2026, 3, 3, 12, 0, 0, 123000, tzinfo=UTC)
    assert msgspec.to_builtins(ev.data) == data


def test_event_typed_data() -> None:
    ev = events.EventsDecoder().decode(
        '{"type":"event","event":{"type":"file_change","data":{"path":"/p","action":"deleted"}}}'
    )
    assert isinstance(ev, events.FileChange)
    assert ev.data.path == "/p"
    assert ev.data.action == "deleted"
    assert ev.timestamp is None


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"type":"subscribed","message":"ok"}', events.Subscribed("ok")),
        ('{"type":"unsubscribed","message":"ok"}', events.Unsubscribed("ok")),
        ('{"type":"pong"}', events.Pong()),
        (
            '{"type":"error","message":"Unknown event type: invalid_type"}',
            events.Error("Unknown event type: invalid_type"),
        ),
    ],
)
def test_events_control_frames(frame: str, expected: object) -> None:
    assert events.EventsDecoder().decode(frame) == expected


def test_unknown_event_type_is_surfaced() -> None:
    ev = events.EventsDecoder().decode(
        '{"type":"event","event":{"type":"gpu_hot","timestamp":"2026-03-03T12:00:00Z",'
        '"data":{"celsius":90}}}'
    )
    assert isinstance(ev, events.UnknownEvent)
    assert ev.type == "gpu_hot"
    assert ev.data == {"celsius": 90}
    assert ev.timestamp is not None and ev.timestamp.year == 2026


def test_unknown_control_message_is_surfaced() -> None:
    msg = events.EventsDecoder().decode('{"type":"rate_limited","retry":3}')
    assert isinstance(msg, Unknown)
    assert msg.type == "rate_limited"


@pytest.mark.parametrize(
    "frame",
    [
        "{{",
        '{"type":"event"}',
        '{"type":"event","event":"window_focus"}',
        '{"type":"event","event":{"type":"window_focus","data":{"title":7}}}',
        '{"type":"event","event":{"type":"file_change","data":[]}}',
        '{"type":"event","event":{"type":"new_kind","data":[1]}}',
        '{"type":"subscribed","message":3}',
    ],
)
def test_events_bad_frames(frame: str) -> None:
    with pytest.raises(ChannelProtocolError) as info:
        events.EventsDecoder().decode(frame)
    assert info.value.channel == "events"


def test_events_oversized() -> None:
    with pytest.raises(ChannelProtocolError, match="max_size"):
        events.EventsDecoder(max_size=64).decode(
            '{"type":"event","event":{"type":"clipboard","data":{"content":"' + "a" * 64 + '"}}}'
        )


def test_decoders_are_built_once() -> None:
    assert terminal.decoder() is terminal.decoder()
    assert audio.decoder(4096) is audio.decoder(4096)
    assert events.decoder() is events.decoder()
    assert terminal.decoder(4096) is not terminal.decoder()
