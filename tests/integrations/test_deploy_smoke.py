"""Smoke checks against an app answering through ``httpx.MockTransport``: order, references
to earlier answers, body assertions, bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from vitco.integrations.deploy.smoke import MAX_BODY_BYTES, SmokeRequest, SmokeSession, contains

URL = "http://app.test"


def _app(request: httpx.Request) -> httpx.Response:
    path = request.url.raw_path.decode()
    if request.method == "POST" and path == "/links":
        body = json.loads(request.content)
        return httpx.Response(201, json={"alias": "a b/c", "target": body["target"], "hits": 0})
    if path == "/links/a%20b%2Fc":
        return httpx.Response(200, json={"alias": "a b/c", "hits": 1, "tags": ["x", "y"]})
    if path == "/big":
        return httpx.Response(200, content=b"x" * (MAX_BODY_BYTES + 1))
    if path == "/text":
        return httpx.Response(200, text="<h1>Welcome</h1>")
    return httpx.Response(404, json={"detail": "not found", "path": path})


@pytest.fixture
def session() -> Iterator[SmokeSession]:
    with httpx.Client(transport=httpx.MockTransport(_app)) as client:
        yield SmokeSession(client)


def test_a_later_check_uses_an_earlier_answer_encoded_in_the_path_and_typed_in_json(
    session: SmokeSession,
) -> None:
    results = session.run(
        URL,
        [
            SmokeRequest(
                method="POST", path="/links", json_body={"target": "https://e.x"}, expect_status=201
            ),
            SmokeRequest(
                path="/links/{{steps.0.body.alias}}",
                expect_json={"alias": "{{steps.0.body.alias}}", "hits": 1, "tags": ["y"]},
            ),
            SmokeRequest(
                method="POST",
                path="/echo/{{steps.1.body.tags.0}}",
                json_body={"n": "{{steps.0.body.hits}}", "s": "hits={{steps.0.body.hits}}"},
                expect_status=404,
                expect_json={"path": "/echo/x"},
            ),
        ],
    )

    assert [(r.path, r.status, r.ok, r.error) for r in results] == [
        ("/links", 201, True, None),
        ("/links/a%20b%2Fc", 200, True, None),
        ("/echo/x", 404, True, None),
    ]


def test_body_assertions_fail_with_what_differs_and_what_was_received(
    session: SmokeSession,
) -> None:
    results = session.run(
        URL,
        [
            SmokeRequest(path="/links/a%20b%2Fc", expect_json={"hits": 2}),
            SmokeRequest(path="/links/a%20b%2Fc", expect_json={"tags": ["z"]}),
            SmokeRequest(path="/links/a%20b%2Fc", expect_json={"hits": True}),
            SmokeRequest(path="/text", expect_text="Welcome"),
            SmokeRequest(path="/text", expect_text="Goodbye"),
            SmokeRequest(path="/text", expect_json={"a": 1}),
            SmokeRequest(path="/nowhere"),
        ],
    )

    assert [r.ok for r in results] == [False, False, False, True, False, False, False]
    assert results[0].error is not None and results[0].error.startswith(
        "body.hits is 1, expected 2; the body was: "
    )
    assert results[1].error is not None and 'holds no item matching "z"' in results[1].error
    assert results[2].error is not None and "body.hits is 1, expected true" in results[2].error
    assert results[4].error is not None and "does not contain 'Goodbye'" in results[4].error
    assert results[5].error is not None and results[5].error.startswith("the body is not JSON")
    assert results[6].error is not None and results[6].error.startswith(
        "status 404, expected 200; the body was: "
    )


def test_a_reference_to_a_missing_value_fails_that_check_and_the_next_ones_still_run(
    session: SmokeSession,
) -> None:
    results = session.run(
        URL,
        [
            SmokeRequest(path="/links/{{steps.0.body.alias}}"),
            SmokeRequest(path="/nowhere", expect_status=404),
            SmokeRequest(path="/links/{{steps.1.body.alias}}"),
            SmokeRequest(path="/links/{{steps.1.body.detail.deeper}}"),
        ],
    )

    assert [r.ok for r in results] == [False, True, False, False]
    assert results[0].error == "{{steps.0.body.alias}}: step 0 has not run before this check"
    assert results[2].error == "{{steps.1.body.alias}}: step 1's body has no 'alias' there"
    assert results[3].error is not None and "no 'deeper'" in results[3].error


def test_an_answer_past_the_size_bound_fails_its_check(session: SmokeSession) -> None:
    [result] = session.run(URL, [SmokeRequest(path="/big")])

    assert not result.ok
    assert result.status == 200
    assert result.error == f"the answer is over {MAX_BODY_BYTES} bytes; smoke checks read no more"


def test_an_app_that_does_not_answer_fails_the_check(session: SmokeSession) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        [result] = SmokeSession(client).run(URL, [SmokeRequest(path="/")])

    assert (result.ok, result.status) == (False, None)
    assert result.error == "no answer: ConnectError: connection refused"


@pytest.mark.parametrize(
    ("expected", "actual", "mismatch"),
    [
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3}, None),
        ({"a": {"b": 1}}, {"a": {"c": 2}}, "body.a.b is missing"),
        ([{"id": 2}], [{"id": 1}, {"id": 2, "x": 0}], None),
        ([], [1], None),
        ({"a": 1}, [1], "body is a list, expected an object"),
        (1, 1.0, None),
        (0, False, "body is false, expected 0"),
        ("x", None, 'body is null, expected "x"'),
    ],
)
def test_contains(expected: object, actual: object, mismatch: str | None) -> None:
    assert contains(expected, actual, "body") == mismatch
