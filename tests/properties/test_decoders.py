"""Bad input from the server: every decoder gives a model or a typed error, nothing else.

* every response model of ``_models.py``, fed arbitrary bytes, arbitrary JSON and mutated
  valid documents, through the pipeline's decode step: a Struct or ``APIDecodeError``;
* every non-2xx status with any body: the right ``APIStatusError`` subclass, and its
  message never shows a registered secret nor the value of a secret-shaped field.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from hypothesis import example, given
from hypothesis import strategies as st

from orgo_async import (
    ActionResult,
    APIDecodeError,
    APIStatusError,
    AuthenticationError,
    AutoStop,
    BadRequestError,
    BashResult,
    Computer,
    ConflictError,
    CreditsExhaustedError,
    ExecResult,
    FieldError,
    InternalServerError,
    MoveResult,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResizeResult,
    ServiceUnavailableError,
    StreamStartResult,
    StreamStatus,
    StreamStopResult,
    Success,
    TemplateValidationError,
    UnprocessableEntityError,
    Workspace,
)
from orgo_async._decode import decode_response
from orgo_async._http import HTTPPipeline, RequestOptions
from orgo_async._models import ErrorBody, ScreenshotResponse, VncPassword, WorkspaceList
from orgo_async._secrets import Secret
from orgo_async._status_errors import status_error
from orgo_async._transport import Request, Response, SharedSession

# One valid document per model, in the reference's shapes (orgo-api.md §§2-7).
VALID: dict[type[Any], dict[str, Any]] = {
    Computer: {
        "id": "a3bb189e-8bf9-3888-9912-ace4e6543002",
        "name": "agent-1",
        "status": "running",
        "os": "linux",
        "ram": 4,
        "cpu": 1,
        "created_at": "2026-04-07T10:35:00Z",
        "vnc_password": "a06db12a8683df96",
        "instance_details": {"resolution": "1280x720x24"},
    },
    Workspace: {
        "id": "w1",
        "name": "prod",
        "status": "active",
        "created_at": "2026-04-07T10:30:00Z",
        "desktops": [{"id": "c1", "status": "running"}],
    },
    WorkspaceList: {"workspaces": [{"id": "w1", "desktops": []}]},
    Success: {"success": True, "status": "starting"},
    VncPassword: {"password": "0a017c595fa7689753a3"},
    MoveResult: {"success": True, "workspace_id": "w2"},
    ResizeResult: {
        "vcpus": 4,
        "mem_gb": 8,
        "results": {"vcpus": {"requested": 4, "applied": 4, "ok": True}},
        "partial": False,
    },
    AutoStop: {"auto_stop_minutes": 0, "configurable": True},
    ActionResult: {"success": True, "action": "click", "details": {"x": 1, "y": 2}},
    BashResult: {"success": True, "output": "total 32\n", "exit_code": 0},
    ExecResult: {"output": "", "success": False, "error": "e", "error_type": "NameError"},
    ScreenshotResponse: {
        "success": True,
        "image": "iVBORw0KGgo=",
        "metadata": {"id": "m", "timestamp": "2026-04-20T12:00:00Z", "size": 1},
    },
    StreamStartResult: {"success": True, "status": "streaming", "pid": 12345},
    StreamStopResult: {"success": False, "error": "No active stream to stop"},
    StreamStatus: {"status": "streaming", "start_time": "2024-01-20T10:30:00Z", "pid": 1},
    ErrorBody: {"error": {"type": "t", "message": "m", "code": "c"}, "request_id": "r"},
}
MODELS = list(VALID)

_PIPELINE = HTTPPipeline(
    base_url="http://orgo.test/api",
    api_key=Secret("sk_live_properties_0001"),
    options=RequestOptions(),
    transport=SharedSession(session=None, max_connections=1, max_connections_per_host=0, ssl=None),
)
_REQUEST: Request = _PIPELINE.build("GET", "/computers/x")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2026-04-07T10:35:00Z", "not-a-date", "1280x720x24", "running"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(sorted({k for doc in VALID.values() for k in doc}))
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def _decode(tp: type[Any], body: bytes) -> Any:
    return decode_response(tp, Response(200, {}, body), _REQUEST)


def _check(tp: type[Any], body: bytes) -> None:
    try:
        value = _decode(tp, body)
    except APIDecodeError as e:
        assert e.status_code == 200 and e.body == body
        str(e), repr(e)  # rendering the error never fails either
        return
    assert isinstance(value, tp)


@given(st.sampled_from(MODELS), st.binary(max_size=200))
@example(Computer, b"")
@example(Computer, b"   ")
@example(Computer, b"[" * 2000)
@example(Success, b"\xff\xfe{}")
def test_arbitrary_bytes(tp: type[Any], body: bytes) -> None:
    _check(tp, body)


@given(st.sampled_from(MODELS), json_values)
def test_arbitrary_json(tp: type[Any], value: Any) -> None:
    _check(tp, msgspec.json.encode(value))


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[type[Any], bytes]:
    tp = draw(st.sampled_from(MODELS))
    doc = dict(VALID[tp])
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["set", "drop", "add"]))
        if op == "set" and doc:
            doc[draw(st.sampled_from(sorted(doc)))] = draw(json_values)
        elif op == "drop" and doc:
            del doc[draw(st.sampled_from(sorted(doc)))]
        else:
            doc[draw(st.text(max_size=10))] = draw(json_values)
    raw = bytearray(msgspec.json.encode(doc))
    byte_op = draw(st.sampled_from(["none", "truncate", "flip", "insert"]))
    if byte_op == "truncate":
        del raw[draw(st.integers(0, len(raw))) :]
    elif byte_op == "flip" and raw:
        i = draw(st.integers(0, len(raw) - 1))
        raw[i] = draw(st.integers(0, 255))
    elif byte_op == "insert":
        i = draw(st.integers(0, len(raw)))
        raw[i:i] = draw(st.binary(min_size=1, max_size=4))
    return tp, bytes(raw)


@given(mutated_documents())
def test_mutated_valid_documents(case: tuple[type[Any], bytes]) -> None:
    _check(*case)


def test_valid_documents_decode() -> None:
    """The baseline of the mutations: each document is valid for its model."""
    for tp, doc in VALID.items():
        assert isinstance(_decode(tp, msgspec.json.encode(doc)), tp)


# -- error bodies -------------------------------------------------------------------------

# The documented status -> exception mapping (orgo-api.md §1.5), written out.
EXPECTED: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: CreditsExhaustedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}

REGISTERED = "sk_live_registered_" + uuid.uuid4().hex[:12]
Secret(REGISTERED)  # as the client does with its key
UNREGISTERED = "QX" + uuid.uuid4().hex[:14].upper()  # a vnc_password never decoded

statuses = st.integers(100, 599).filter(lambda s: not 200 <= s < 300)
text_with_secret = st.builds(
    "{}{}{}".format, st.text(max_size=30), st.just(REGISTERED), st.text(max_size=30)
)
error_shapes = st.fixed_dictionaries(
    {},
    optional={
        "error": st.one_of(
            text_with_secret,
            st.text(max_size=40),
            st.fixed_dictionaries(
                {}, optional={"type": st.text(), "message": text_with_secret, "code": st.text()}
            ),
            json_values,
        ),
        "message": text_with_secret | json_values,
        "request_id": st.text(max_size=10) | json_values,
        "code": st.text(max_size=10) | json_values,
        "upstream_status": st.integers(0, 600) | json_values,
        "ok": st.booleans(),
        "errors": st.lists(
            st.fixed_dictionaries(
                {},
                optional={"field": st.text(), "code": st.text(), "message": text_with_secret},
            ),
            max_size=3,
        ),
        "detail": st.fixed_dictionaries({"vnc_password": st.just(UNREGISTERED)}),
        "vnc_password": st.just(UNREGISTERED),
    },
)
error_bodies = st.one_of(
    error_shapes.map(msgspec.json.encode),
    error_shapes.map(lambda d: msgspec.json.encode(d)[: len(msgspec.json.encode(d)) // 2]),
    st.binary(max_size=100),
    text_with_secret.map(str.encode),
    st.builds(
        "<html>{} vnc_password={}&x={}</html>".format,
        st.text(max_size=20),
        st.just(UNREGISTERED),
        st.just(REGISTERED),
    ).map(str.encode),
)


@given(statuses, error_bodies)
@example(502, b"<html>Bad gateway</html>")
@example(422, b'{"ok": false, "errors": [{"field": "name", "message": "required"}]}')
def test_any_status_any_body_maps_to_the_right_error(status: int, body: bytes) -> None:
    err = status_error(status, body, {"X-Request-Id": "req-1"}, method="GET", url="/x")
    want = EXPECTED.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    if type(err) is TemplateValidationError:
        # The one refinement by body: a 422 carrying the template shape's errors array.
        assert want is UnprocessableEntityError
        assert len(err.errors) == len(err.data["errors"])
        assert all(isinstance(e, FieldError) for e in err.errors)
    else:
        assert type(err) is want
    if isinstance(err, CreditsExhaustedError):
        assert err.balance_cents is None or type(err.balance_cents) is int
    if isinstance(err, PermissionDeniedError):
        assert err.key_workspace_id is None or isinstance(err.key_workspace_id, str)
    assert err.error_type is None or isinstance(err.error_type, str)
    assert err.status_code == status and err.body == body
    assert isinstance(err.message, str) and err.message
    assert err.request_id is None or isinstance(err.request_id, str)
    assert err.upstream_status is None or isinstance(err.upstream_status, int)
    for text in (str(err), repr(err), err.message, *map(str, err.args)):
        assert REGISTERED not in text, text
        assert UNREGISTERED[:2] not in text, text


def test_documented_error_shapes_give_their_message_and_code() -> None:
    chat = status_error(
        400, b'{"error": {"type": "invalid_request", "message": "m", "code": "missing"}}', {}
    )
    assert (chat.message, chat.code, chat.error_type) == ("m", "missing", "invalid_request")
    assert type(chat) is BadRequestError
    template = status_error(
        422,
        b'{"ok": false, "errors": [{"field": "spec.cpu", "code": "range", "message": "too big"},'
        b' {"message": "no name"}]}',
        {},
    )
    assert isinstance(template, TemplateValidationError)
    assert template.errors == [
        FieldError("spec.cpu", "range", "too big"),
        FieldError(message="no name"),
    ]
    assert template.message == (
        "template validation failed with 2 error(s): spec.cpu: too big [range]; no name [invalid]"
    )
    assert template.code == "range" and template.data["ok"] is False
    # The same shape with another status is not a template validation error.
    assert type(status_error(400, b'{"ok": false, "errors": []}', {})) is BadRequestError
    credits = status_error(
        402,
        b'{"error": {"type": "insufficient_credits", "message": "out", "code": "credits_exhausted",'
        b' "balance_cents": 7}}',
        {},
    )
    assert isinstance(credits, CreditsExhaustedError) and credits.balance_cents == 7
    assert (credits.code, credits.error_type) == ("credits_exhausted", "insufficient_credits")
    beside = status_error(402, b'{"error": "out", "balance_cents": 0}', {})
    assert isinstance(beside, CreditsExhaustedError) and beside.balance_cents == 0
    assert isinstance(status_error(402, b"", {}), CreditsExhaustedError)
    scope = status_error(
        403,
        b'{"error": "scoped", "code": "workspace_scope_mismatch",'
        b' "key_workspace_id": "a", "target_workspace_id": "b"}',
        {},
    )
    assert isinstance(scope, PermissionDeniedError) and scope.is_scope_mismatch
    assert (scope.key_workspace_id, scope.target_workspace_id) == ("a", "b")
    rest = status_error(
        409, b'{"error": "busy", "request_id": "r", "upstream_status": 409}', {"X-Request-Id": "h"}
    )
    assert (rest.message, rest.request_id, rest.upstream_status) == ("busy", "r", 409)
    odd = status_error(500, b'{"error": "boom", "request_id": 12}', {"X-Request-Id": "h"})
    # Off-spec types: the shape is not trusted, the body is still shown (scrubbed).
    assert odd.message.startswith("HTTP 500: ") and "boom" in odd.message
    assert odd.request_id == "h" and odd.data == {"error": "boom", "request_id": 12}
    html = status_error(502, b"<html>Bad gateway</html>", {})
    assert html.message == "HTTP 502: <html>Bad gateway</html>" and html.data == {}
    assert status_error(404, b"", {}).message == "HTTP 404"
