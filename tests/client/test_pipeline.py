"""The HTTP pipeline: error mapping, retries, Retry-After, timeouts, decoding, redaction.

Status mapping and retry arithmetic use ``aioresponses`` (unit tests of the pipeline);
what depends on real sockets (connection refused, dropped connections, timeouts) uses a
real server on loopback.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioresponses import aioresponses

import orgo_async
from orgo_async import (
    APIConnectionError,
    APIDecodeError,
    APIStatusError,
    APITimeoutError,
    AsyncOrgo,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FieldError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    TemplateValidationError,
    UnprocessableEntityError,
)
from orgo_async._retry import MAX_RETRY_AFTER, backoff_delay, parse_retry_after
from tests.conftest import API_KEY, RecordingServer

BASE = "http://orgo.test/api"
CID = "a3bb189e-8bf9-3888-9912-ace4e6543002"
COMPUTER = {"id": CID, "status": "running", "name": "agent-1"}


@pytest.fixture
async def orgo() -> AsyncIterator[AsyncOrgo]:
    client = AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=2)
    yield client
    await client.close()


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (405, APIStatusError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, InternalServerError),
        (502, InternalServerError),
        (503, ServiceUnavailableError),
        (504, InternalServerError),
    ],
)
async def test_status_maps_to_exception(status: int, exc: type[APIStatusError]) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=0) as orgo:
        with aioresponses() as m:
            m.get(
                f"{BASE}/computers/{CID}",
                status=status,
                payload={"error": "it failed", "request_id": "req-1", "upstream_status": 409},
            )
            with pytest.raises(exc) as info:
                await orgo.computers.get(CID)
    err = info.value
    assert type(err) is exc
    assert err.status_code == status and err.message == "it failed"
    assert err.request_id == "req-1" and err.upstream_status == 409
    assert b"it failed" in err.body
    assert str(err).startswith(f"{status}: it failed")
    assert f"/computers/{CID}" in str(err)


async def test_scope_mismatch_fields() -> None:
    body = {
        "error": "This API key is scoped to workspace ws-a. It cannot access workspace ws-b.",
        "code": "workspace_scope_mismatch",
        "key_workspace_id": "ws-a",
        "target_workspace_id": "ws-b",
    }
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE) as orgo:
        with aioresponses() as m:
            m.get(f"{BASE}/workspaces/ws-b", status=403, payload=body)
            with pytest.raises(PermissionDeniedError) as info:
                await orgo.workspaces.get("ws-b")
    e = info.value
    assert e.is_scope_mismatch and e.code == "workspace_scope_mismatch"
    assert (e.key_workspace_id, e.target_workspace_id) == ("ws-a", "ws-b")


async def test_nested_error_shape_and_non_json_error_body() -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=0) as orgo:
        with aioresponses() as m:
            m.get(
                f"{BASE}/computers/{CID}",
                status=400,
                payload={
                    "error": {
                        "type": "invalid_request",
                        "message": "bad",
                        "code": "missing_computer_id",
                    }
                },
            )
            with pytest.raises(BadRequestError) as info:
                await orgo.computers.get(CID)
            assert info.value.message == "bad" and info.value.code == "missing_computer_id"

            m.get(f"{BASE}/computers/{CID}", status=502, body=b"<html>Bad gateway</html>")
            with pytest.raises(InternalServerError) as info2:
                await orgo.computers.get(CID)
            assert "Bad gateway" in info2.value.message and info2.value.status_code == 502


async def test_idempotent_get_retries_5xx_then_succeeds(
    orgo: AsyncOrgo, no_sleep: list[float]
) -> None:
    with aioresponses() as m:
        url = f"{BASE}/computers/{CID}"
        m.get(url, status=503, payload={"error": "Could not reach the desktop."})
        m.get(url, status=500, payload={"error": "oops"})
        m.get(url, payload=COMPUTER)
        c = await orgo.computers.get(CID)
    assert c.id == CID
    assert len(no_sleep) == 2
    # Equal jitter: attempt 1 waits in [0.25, 0.5], attempt 2 in [0.5, 1.0].
    assert 0.25 <= no_sleep[0] <= 0.5 and 0.5 <= no_sleep[1] <= 1.0


async def test_retries_exhausted_raises_last_error(orgo: AsyncOrgo, no_sleep: list[float]) -> None:
    with aioresponses() as m:
        m.get(f"{BASE}/computers/{CID}", status=502, payload={"error": "bad gateway"}, repeat=True)
        with pytest.raises(InternalServerError):
            await orgo.computers.get(CID)
    assert len(no_sleep) == 2  # max_retries=2 -> 3 attempts


async def test_max_retries_per_call_via_with_options(
    orgo: AsyncOrgo, no_sleep: list[float]
) -> None:
    with aioresponses() as m:
        m.get(f"{BASE}/computers/{CID}", status=502, repeat=True)
        with pytest.raises(InternalServerError):
            await orgo.with_options(max_retries=5).computers.get(CID)
        assert len(no_sleep) == 5
        no_sleep.clear()
        with pytest.raises(InternalServerError):
            await orgo.with_options(max_retries=0).computers.get(CID)
        assert no_sleep == []


async def test_retry_after_is_honoured(orgo: AsyncOrgo, no_sleep: list[float]) -> None:
    with aioresponses() as m:
        url = f"{BASE}/computers/{CID}"
        m.get(url, status=429, headers={"Retry-After": "3"}, payload={"error": "slow down"})
        m.get(url, payload=COMPUTER)
        await orgo.computers.get(CID)
    assert len(no_sleep) == 1 and 2.9 < no_sleep[0] <= 3.0


async def test_retry_after_http_date_and_cap() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("garbage") is None and parse_retry_after(None) is None
    assert backoff_delay(1, 1000.0) == MAX_RETRY_AFTER


async def test_429_error_exposes_retry_after() -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=0) as orgo:
        with aioresponses() as m:
            m.get(
                f"{BASE}/computers/{CID}",
                status=429,
                headers={"Retry-After": "7"},
                payload={"error": "x"},
            )
            with pytest.raises(RateLimitError) as info:
                await orgo.computers.get(CID)
    assert info.value.retry_after == 7.0


async def test_non_idempotent_not_retried_on_500(orgo: AsyncOrgo, no_sleep: list[float]) -> None:
    with aioresponses() as m:
        url = f"{BASE}/computers/{CID}/click"
        m.post(
            url,
            status=500,
            payload={"error": "Upstream desktop agent failure", "upstream_status": 500},
        )
        m.post(url, payload={"success": True})
        with pytest.raises(InternalServerError) as info:
            await orgo.computers.click(CID, 1, 2, double=True)
    assert info.value.upstream_status == 500
    assert no_sleep == []


@pytest.mark.parametrize("status", [429, 503])
async def test_non_idempotent_retried_when_server_says_not_processed(
    orgo: AsyncOrgo, no_sleep: list[float], status: int
) -> None:
    with aioresponses() as m:
        url = f"{BASE}/computers/{CID}/click"
        m.post(url, status=status, payload={"error": "not processed"})
        m.post(url, payload={"success": True, "action": "double_click"})
        r = await orgo.computers.click(CID, 1, 2, double=True)
    assert r.action == "double_click" and len(no_sleep) == 1


async def test_double_click_dropped_connection_is_not_resent(server: RecordingServer) -> None:
    """A connection dropped after the request was written may mean the click happened."""
    path = f"/api/computers/{CID}/click"
    server.respond("POST", path, drop=True)
    server.respond("POST", path, json={"success": True})
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=3) as orgo:
        with pytest.raises(APIConnectionError):
            await orgo.computers.double_click(CID, 10, 10)
    assert [r.path for r in server.requests] == [path]


async def test_get_dropped_connection_is_retried(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    path = f"/api/computers/{CID}"
    # aiohttp itself resends an idempotent request once when the connection drops, so
    # three drops are needed to see the pipeline's own retry.
    server.respond("GET", path, drop=True, times=3)
    server.respond("GET", path, json=COMPUTER)
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=2) as orgo:
        c = await orgo.computers.get(CID)
    assert c.id == CID and len(server.requests) == 4 and len(no_sleep) >= 1


# -- "already done" answering a retry after a lost answer (Route.settled_on_retry) -------


async def test_start_whose_answer_was_lost_then_409_succeeds(
    server: RecordingServer, no_sleep: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    # The first start reached the computer (the connection dropped before the answer);
    # the retry finds it starting: 409. The call did what was asked.
    path = f"/api/computers/{CID}/start"
    server.respond("POST", path, drop=True)
    server.respond("POST", path, status=409, json={"error": "Computer is not stopped"})
    caplog.set_level(logging.INFO, logger="orgo_async")
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=2) as orgo:
        r = await orgo.computers.start(CID)
    assert r.success and r.message == "an earlier attempt took effect"
    assert [x.path for x in server.requests] == [path, path]
    assert any("that attempt took effect" in rec.getMessage() for rec in caplog.records)


@pytest.mark.parametrize(
    ("first", "expect"),
    [
        (None, ConflictError),  # the first attempt's own 409: the computer was not stopped
        (503, ConflictError),  # 503 says nothing was processed: the 409 is the real state
        (429, ConflictError),
    ],
)
async def test_a_409_that_no_lost_attempt_explains_is_raised(
    server: RecordingServer,
    no_sleep: list[float],
    first: int | None,
    expect: type[Exception],
) -> None:
    path = f"/api/computers/{CID}/start"
    if first is not None:
        server.respond("POST", path, status=first, json={"error": "busy"})
    server.respond("POST", path, status=409, json={"error": "Computer is not stopped"})
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=2) as orgo:
        with pytest.raises(expect):
            await orgo.computers.start(CID)


@pytest.mark.parametrize("first", [500, 502, 504])
async def test_delete_answered_404_after_a_maybe_processed_failure_succeeds(
    server: RecordingServer, no_sleep: list[float], first: int
) -> None:
    path = f"/api/computers/{CID}"
    server.respond("DELETE", path, status=first, json={"error": "upstream"})
    server.respond("DELETE", path, status=404, json={"error": "Computer not found"})
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=2) as orgo:
        r = await orgo.computers.delete(CID)
    assert r.success and len(server.requests) == 2


async def test_delete_of_an_unknown_id_is_still_a_404(server: RecordingServer) -> None:
    path = f"/api/computers/{CID}"
    server.respond("DELETE", path, status=404, json={"error": "Computer not found"})
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=2) as orgo:
        with pytest.raises(NotFoundError):
            await orgo.computers.delete(CID)
        # A route without settled statuses keeps raising after a lost answer (a GET).
        server.respond("GET", path, status=500, json={"error": "upstream"})
        server.respond("GET", path, status=404, json={"error": "Computer not found"})
        with pytest.raises(NotFoundError):
            await orgo.computers.get(CID)


def test_what_may_have_been_carried_out() -> None:
    from orgo_async._retry import Failure, NoReplay, may_have_acted

    acted = {f: may_have_acted(f) for f in Failure}
    assert acted == {
        Failure.CONNECT: False,
        Failure.CONNECT_TIMEOUT: False,
        Failure.TLS: False,
        Failure.TIMEOUT: True,
        Failure.DROPPED: True,
    }
    assert may_have_acted(NoReplay.BODY_STARTED)
    assert [s for s in (400, 404, 408, 409, 429, 500, 502, 503, 504) if may_have_acted(s)] == [
        408,
        500,
        502,
        504,
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connection_refused_is_retried_even_for_actions(no_sleep: list[float]) -> None:
    """Nothing reached the server, so even a click is safe to resend."""
    base = f"http://127.0.0.1:{_free_port()}/api"
    async with AsyncOrgo(api_key=API_KEY, base_url=base, max_retries=2) as orgo:
        with pytest.raises(APIConnectionError) as info:
            await orgo.computers.click(CID, 1, 2)
    assert not isinstance(info.value, APITimeoutError)
    assert "could not connect" in str(info.value)
    assert len(no_sleep) == 2


async def test_timeout_on_read_not_retried_for_actions(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    path = f"/api/computers/{CID}/type"
    server.respond("POST", path, delay=1.0, json={"success": True})
    async with AsyncOrgo(
        api_key=API_KEY, base_url=server.base_url, timeout=0.2, max_retries=3
    ) as orgo:
        with pytest.raises(APITimeoutError) as info:
            await orgo.computers.type(CID, "hi")
    assert isinstance(info.value, TimeoutError)
    assert len(server.requests) == 1 and no_sleep == []


async def test_timeout_on_get_is_retried_and_per_call_override(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    path = f"/api/computers/{CID}"
    server.respond("GET", path, delay=1.0, json=COMPUTER)
    server.respond("GET", path, json=COMPUTER)
    async with AsyncOrgo(
        api_key=API_KEY, base_url=server.base_url, timeout=30, max_retries=1
    ) as orgo:
        c = await orgo.with_options(timeout=0.2).computers.get(CID)
    assert c.id == CID and len(server.requests) == 2 and len(no_sleep) == 1


async def test_long_actions_get_longer_timeouts(server: RecordingServer) -> None:
    """bash/exec/wait outlive the client default by their server-side limit."""
    server.respond("POST", f"/api/computers/{CID}/wait", delay=0.4, json={"success": True})
    server.respond(
        "POST", f"/api/computers/{CID}/bash", delay=0.4, json={"output": "", "exit_code": 0}
    )
    async with AsyncOrgo(
        api_key=API_KEY, base_url=server.base_url, timeout=0.2, max_retries=0
    ) as orgo:
        assert (await orgo.computers.wait(CID, 0.3)).success
        assert (await orgo.computers.bash(CID, "sleep 0.3")).exit_code == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"id": "x", "status": ', "malformed JSON"),  # truncated
        (b"<html>oops</html>", "malformed JSON"),
        (b'{"id": 12, "status": "running"}', "does not match Computer"),  # wrong type
        (b'{"status": "running"}', "does not match Computer"),  # required field missing
        (b"[1, 2]", "does not match Computer"),
    ],
)
async def test_bad_bodies_raise_decode_error(body: bytes, needle: str) -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE) as orgo:
        with aioresponses() as m:
            m.get(f"{BASE}/computers/{CID}", status=200, body=body)
            with pytest.raises(APIDecodeError) as info:
                await orgo.computers.get(CID)
    assert needle in str(info.value)
    assert info.value.status_code == 200
    assert info.value.excerpt == body.decode()[:200]


async def test_unknown_fields_and_enum_values_are_kept(orgo: AsyncOrgo) -> None:
    with aioresponses() as m:
        m.get(
            f"{BASE}/computers/{CID}",
            payload={**COMPUTER, "status": "hibernating", "os": "plan9", "brand_new": {"a": 1}},
        )
        c = await orgo.computers.get(CID)
    assert c.status == "hibernating" and c.os == "plan9" and not c.is_running


async def test_empty_success_body_decodes_to_defaults(orgo: AsyncOrgo) -> None:
    with aioresponses() as m:
        m.delete(f"{BASE}/computers/{CID}", status=200, body=b"")
        m.post(f"{BASE}/computers/{CID}/key", status=200, body=b"")
        assert (await orgo.computers.delete(CID)).success
        assert (await orgo.computers.key(CID, "Enter")).success
        m.get(f"{BASE}/computers/{CID}", status=200, body=b"")
        with pytest.raises(APIDecodeError):
            await orgo.computers.get(CID)


async def test_headers_extra_and_callable_keys(server: RecordingServer) -> None:
    keys = iter(["sk_live_first_000001", "sk_live_second_00002"])

    async def rotating() -> str:
        return next(keys)

    async with AsyncOrgo(
        api_key=rotating, base_url=server.base_url, default_headers={"X-Team": "a"}
    ) as orgo:
        await orgo.with_options(headers={"X-Trace": "t1"}).workspaces.list()
        first = server.last()
        await orgo.workspaces.list()
        second = server.last()
    assert first.headers["Authorization"] == "Bearer sk_live_first_000001"
    assert first.headers["X-Team"] == "a" and first.headers["X-Trace"] == "t1"
    assert second.headers["Authorization"] == "Bearer sk_live_second_00002"
    assert "X-Trace" not in second.headers

    async with AsyncOrgo(api_key=lambda: "sk_live_sync_key_0003", base_url=server.base_url) as orgo:
        await orgo.workspaces.list()
    assert server.last().headers["Authorization"] == "Bearer sk_live_sync_key_0003"


async def test_governor_slows_every_task_after_429(no_sleep: list[float]) -> None:
    """One 429 with Retry-After makes the next request of any task wait too."""
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=0) as orgo:
        with aioresponses() as m:
            m.get(
                f"{BASE}/computers/{CID}",
                status=429,
                headers={"Retry-After": "30"},
                payload={"error": "x"},
            )
            m.get(f"{BASE}/workspaces", payload={"workspaces": []})
            with pytest.raises(RateLimitError):
                await orgo.computers.get(CID)
            await orgo.workspaces.list()
    assert len(no_sleep) == 1 and 29.0 < no_sleep[0] <= 30.0


async def test_no_redirect_following(server: RecordingServer, client: AsyncOrgo) -> None:
    """A redirect could carry the key to another host: it surfaces as an error."""
    server.respond("GET", "/api/workspaces", status=301, headers={"Location": "http://evil.test/"})
    with pytest.raises(APIStatusError) as info:
        await client.workspaces.list()
    assert info.value.status_code == 301 and len(server.requests) == 1


async def test_secrets_never_appear_in_logs_reprs_or_errors(
    server: RecordingServer, caplog: pytest.LogCaptureFixture, no_sleep: list[float]
) -> None:
    password = "a06db12a8683df96"
    computer = {**COMPUTER, "vnc_password": password}
    server.respond("GET", f"/api/computers/{CID}", json=computer)
    server.respond("GET", f"/api/computers/{CID}/vnc-password", json={"password": password})
    # A server that echoes the key and the password back in an error message.
    server.respond(
        "POST",
        f"/api/computers/{CID}/bash",
        status=400,
        json={"error": f"bad token {API_KEY} / {password}"},
    )
    server.respond("GET", "/api/workspaces", status=503, json={"error": "x"}, times=1)
    server.respond("GET", "/api/workspaces", json={"workspaces": []})
    caplog.set_level(logging.DEBUG, logger="orgo_async")
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=1) as orgo:
        texts = [repr(orgo), str(orgo)]
        c = await orgo.computers.get(CID)
        texts += [repr(c), str(c)]
        pw = await orgo.computers.vnc_password(CID)
        assert pw == password
        with pytest.raises(BadRequestError) as info:
            await orgo.computers.bash(CID, "ls")
        texts += [str(info.value), repr(info.value), info.value.message]
        await orgo.workspaces.list()
        logging.getLogger("orgo_async").debug("user code logs %s and %s", API_KEY, password)
    texts += [r.getMessage() for r in caplog.records]
    assert any("-> 200" in t for t in texts)  # the debug log did run
    assert any("retrying GET /workspaces" in t for t in texts)
    for text in texts:
        assert API_KEY not in text and password not in text, text


async def test_public_surface_is_complete() -> None:
    for name in orgo_async.__all__:
        assert getattr(orgo_async, name) is not None
    with pytest.raises(AttributeError):
        orgo_async.DoesNotExist  # noqa: B018


async def test_aiohttp_errors_do_not_escape_untyped() -> None:
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=0) as orgo:
        with aioresponses() as m:
            m.get(f"{BASE}/computers/{CID}", exception=aiohttp.ClientPayloadError("truncated"))
            with pytest.raises(APIConnectionError) as info:
                await orgo.computers.get(CID)
    assert "ClientPayloadError" in str(info.value)


async def test_template_validation_error_shape() -> None:
    """``{"ok": false, "errors": [...]}`` (orgo-api.md §1.4) gives a readable message."""
    body = {
        "ok": False,
        "errors": [
            {"field": "spec.cpu", "code": "out_of_range", "message": "must be 1-16"},
            {"field": "name", "code": "required", "message": "is required", "hint": "add one"},
        ],
    }
    async with AsyncOrgo(api_key=API_KEY, base_url=BASE, max_retries=0) as orgo:
        with aioresponses() as m:
            m.get(f"{BASE}/computers/{CID}", status=422, payload=body)
            with pytest.raises(UnprocessableEntityError) as info:
                await orgo.computers.get(CID)
    err = info.value
    assert isinstance(err, TemplateValidationError) and err.status_code == 422
    assert err.message == (
        "template validation failed with 2 error(s): spec.cpu: must be 1-16 [out_of_range]; "
        "name: is required [required] (hint: add one)"
    )
    assert err.errors == [
        FieldError("spec.cpu", "out_of_range", "must be 1-16"),
        FieldError("name", "required", "is required", "add one"),
    ]
    assert err.code == "out_of_range" and err.data["errors"][1]["hint"] == "add one"


async def test_callable_key_is_asked_again_for_each_retry(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    keys = iter(["sk_live_rotating_0001", "sk_live_rotating_0002"])
    server.respond("GET", "/api/workspaces", status=503, json={"error": "x"})
    server.respond("GET", "/api/workspaces", json={"workspaces": []})
    async with AsyncOrgo(
        api_key=lambda: next(keys), base_url=server.base_url, max_retries=1
    ) as orgo:
        await orgo.workspaces.list()
    sent = [r.headers["Authorization"] for r in server.requests]
    assert sent == ["Bearer sk_live_rotating_0001", "Bearer sk_live_rotating_0002"]
    assert len(no_sleep) == 1
