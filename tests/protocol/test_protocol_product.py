"""Template refs and documents, hosted-agent frames and the title stream, without I/O."""

from __future__ import annotations

import builtins
import json
import sys
from typing import Any

import pytest

from orgo_async import ChannelProtocolError
from orgo_async._protocol import agent, chat, templates
from orgo_async._protocol.codec import Unknown

# -- template refs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "parts"),
    [
        ("default/my-template@1.0.0", ("default", "my-template", "1.0.0")),
        ("system/claude-code@1.0.0", ("system", "claude-code", "1.0.0")),
        ("acme/agent_v2@10.20.30-rc.1+build.5", ("acme", "agent_v2", "10.20.30-rc.1+build.5")),
    ],
)
def test_valid_refs(ref: str, parts: tuple[str, str, str]) -> None:
    parsed = templates.parse_ref(ref)
    assert (parsed.namespace, parsed.name, parsed.version) == parts
    assert str(parsed) == ref
    assert templates.parse_ref(parsed) == parsed


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "my-template@1.0.0",  # no namespace
        "default/my-template",  # no version
        "default/my-template@1.0",  # not semver
        "default/my-template@01.0.0",  # leading zero
        "a/b/c@1.0.0",  # three segments: another URL
        "default/../x@1.0.0",
        "default/my template@1.0.0",
        "default/x@1.0.0?y=1",
        "-x/y@1.0.0",
        "default/x@1.0.0#frag",
    ],
)
def test_invalid_refs_are_refused_before_any_request(ref: str) -> None:
    with pytest.raises(ValueError, match="template"):
        templates.parse_ref(ref)


def test_ref_type_errors() -> None:
    with pytest.raises(TypeError):
        templates.parse_ref(123)  # type: ignore[arg-type]


def test_parse_name_accepts_a_full_ref() -> None:
    assert templates.parse_name("default/t") == ("default", "t")
    assert templates.parse_name("default/t@1.2.3") == ("default", "t")
    with pytest.raises(ValueError):
        templates.parse_name("default")


# -- template documents ------------------------------------------------------------------

YAML_DOC = """\
api_version: orgo.ai/v1
template:
  name: data-science
  version: 1.0.0
hardware:
  cpu: 2
  ram_gb: 8
"""


def test_json_and_yaml_text() -> None:
    doc = templates.parse_document_text('{"api_version": "orgo.ai/v1", "template": {}}')
    assert doc == {"api_version": "orgo.ai/v1", "template": {}}
    parsed = templates.parse_document_text(YAML_DOC)
    assert parsed["template"] == {"name": "data-science", "version": "1.0.0"}
    assert parsed["hardware"] == {"cpu": 2, "ram_gb": 8}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ("- a\n- b\n", "must be a mapping"),
        ("key: [unclosed\n", "not valid YAML"),
        ("1: one\n", "keys must be strings"),
    ],
)
def test_bad_documents(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        templates.parse_document_text(text)


def test_yaml_without_pyyaml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_yaml(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "yaml":
            raise ImportError("No module named 'yaml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "yaml", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_yaml)
    with pytest.raises(ImportError, match=r"orgo-async\[yaml\]"):
        templates.parse_document_text(YAML_DOC)
    # JSON still works without PyYAML.
    assert templates.parse_document_text('{"a": 1}') == {"a": 1}


def test_looks_like_path() -> None:
    assert templates.looks_like_path("template.yaml")
    assert templates.looks_like_path("dir/t.YML")
    assert templates.looks_like_path("t.json")
    assert not templates.looks_like_path(YAML_DOC)
    assert not templates.looks_like_path("api_version: x")


# -- hosted agent frames -------------------------------------------------------------------


def test_start_message_sends_only_what_was_set() -> None:
    cfg = agent.AgentConfig(computer_id="c1", instruction="Open Firefox", max_iterations=5)
    assert json.loads(agent.encode_start(cfg)) == {
        "type": "start",
        "config": {"computer_id": "c1", "instruction": "Open Firefox", "max_iterations": 5},
    }
    assert json.loads(agent.PING) == {"type": "ping"}


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"type":"status","data":"Iteration 1"}', agent.StatusEvent(data="Iteration 1")),
        ('{"type":"thinking","data":"hmm"}', agent.ThinkingEvent(data="hmm")),
        ('{"type":"text","data":"Done"}', agent.TextEvent(data="Done")),
        (
            '{"type":"tool_use","data":{"action":"left_click","params":{"coordinate":[1,2]}}}',
            agent.ToolUseEvent(
                data=agent.ToolUse(action="left_click", params={"coordinate": [1, 2]})
            ),
        ),
        (
            '{"type":"tool_result","data":{"output":"ok"}}',
            agent.ToolResultEvent(data={"output": "ok"}),
        ),
        (
            '{"type":"screenshot","data":{"size":1234}}',
            agent.ScreenshotEvent(data=agent.ScreenshotInfo(size=1234)),
        ),
        ('{"type":"iteration","data":3}', agent.IterationEvent(data=3)),
        ('{"type":"pong"}', agent.PongEvent()),
        ('{"type":"error","data":"boom"}', agent.ErrorEvent(data="boom")),
        (
            '{"type":"result","data":{"success":true,"iterations":2,"messages":[{"role":"user"}]}}',
            agent.ResultEvent(
                data=agent.AgentResult(success=True, iterations=2, messages=[{"role": "user"}])
            ),
        ),
        (
            b'{"type":"result","data":{"success":false,"error":"no credits"},"extra":1}',
            agent.ResultEvent(data=agent.AgentResult(success=False, error="no credits")),
        ),
    ],
)
def test_every_documented_frame_decodes(frame: str | bytes, expected: Any) -> None:
    assert agent.decoder().decode(frame) == expected


def test_error_event_message_from_object() -> None:
    event = agent.decoder().decode('{"type":"error","data":{"message":"bad","code":"x"}}')
    assert isinstance(event, agent.ErrorEvent) and event.message == "bad"


def test_unknown_frame_type_is_kept_not_fatal() -> None:
    event = agent.decoder().decode('{"type":"video","data":{"fps":30}}')
    assert isinstance(event, Unknown) and event.type == "video"
    assert event.data == {"type": "video", "data": {"fps": 30}}


@pytest.mark.parametrize(
    "frame",
    [
        "not json",
        "[1, 2]",
        '{"data": 1}',
        '{"type":"iteration","data":"three"}',
        '{"type":"tool_use","data":"click"}',
        '{"type":"result","data":{"success":"yes"}}',
    ],
)
def test_malformed_frames_are_protocol_errors(frame: str) -> None:
    with pytest.raises(ChannelProtocolError) as e:
        agent.decoder().decode(frame)
    assert e.value.channel == "agent"


def test_oversized_frame_is_a_protocol_error() -> None:
    with pytest.raises(ChannelProtocolError, match="exceeds"):
        agent.decoder(max_size=100).decode('{"type":"text","data":"' + "x" * 200 + '"}')


# -- thread title stream -----------------------------------------------------------------


def test_title_stream_parts_across_chunks() -> None:
    raw = b'0:"GitHub "\n0:"search "\n0:"sess\xc3\xa9ion"\nd:{"finishReason":"stop"}\n'
    decoder = chat.TitleStreamDecoder()
    pieces: list[str] = []
    for i in range(0, len(raw), 3):
        pieces.extend(decoder.feed(raw[i : i + 3]))
    pieces.extend(decoder.close())
    assert pieces == ["GitHub ", "search ", "sess\u00e9ion"]


def test_title_stream_plain_text_and_last_line_without_newline() -> None:
    decoder = chat.TitleStreamDecoder()
    assert decoder.feed(b"A plain: title\n") == ["A plain: title"]
    assert decoder.feed(b'0:"end"') == []
    assert decoder.close() == ["end"]


def test_title_stream_error_part() -> None:
    with pytest.raises(chat.TitleStreamError, match="rate limited"):
        chat.TitleStreamDecoder().feed(b'3:"rate limited"\n')


def test_chat_error_codes_map_to_documented_statuses() -> None:
    assert chat.CODE_STATUS["credits_exhausted"] == 402
    assert chat.CODE_STATUS["computer_not_found"] == 404
    assert chat.CODE_STATUS["invalid_api_key"] == 401
    assert all(chat.CODE_STATUS[c] == 400 for c in ("invalid_json", "empty_messages"))
