"""A deprecated operation (issue 14): marked ``deprecated: true`` in the OpenAPI
document and answered with ``Deprecation`` (RFC 9745) and ``Sunset`` (RFC 8594)
headers, errors included, while the others carry neither."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import BaseModel

from coord.api.deps import Authenticated, require
from coord.api.versioning import deprecated
from tests.api.harness import Api

SINCE = date(2026, 12, 1)
SUNSET = date(2027, 6, 30)


class Old(BaseModel):
    """What the old operation answers."""

    agent: str


@pytest.fixture
def with_old(api: Api) -> Api:
    """The server with a deprecated operation, ``GET /api/v1/old-me``."""
    app = api.client.app

    @app.get(  # type: ignore[attr-defined]
        "/api/v1/old-me",
        operation_id="oldWhoami",
        response_model=Old,
        **deprecated(since=SINCE, sunset=SUNSET, successor="/api/v1/me"),
    )
    def old_me(who: Authenticated) -> Old:
        """The caller's name (use GET /me)."""
        require(who, "send_message")
        return Old(agent=who.agent)

    app.openapi_schema = None  # type: ignore[attr-defined]
    return api


def test_a_deprecated_operation_is_marked_in_the_openapi_document(with_old: Api) -> None:
    schema = with_old.client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/old-me"]["get"]
    assert operation["deprecated"] is True
    assert operation["x-sunset"] == "2027-06-30"
    assert operation["x-deprecated-since"] == "2026-12-01"
    assert operation["x-successor"] == "/api/v1/me"
    assert "deprecated" not in schema["paths"]["/api/v1/me"]["get"]


def test_a_deprecated_operation_answers_with_deprecation_and_sunset(with_old: Api) -> None:
    answer = with_old.call("alice", "GET", "/api/v1/old-me")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"agent": "alice"}
    assert answer.headers["Deprecation"] == "@1796083200"  # 2026-12-01T00:00:00Z
    assert answer.headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    assert answer.headers["Link"] == '</api/v1/me>; rel="successor-version"'
    # Refused, it still says it is deprecated.
    refused = with_old.call("vic", "GET", "/api/v1/old-me")
    unauthenticated = with_old.call(None, "GET", "/api/v1/old-me")
    for other in (refused, unauthenticated):
        assert other.status_code in {401, 403}
        assert other.headers["Sunset"] == answer.headers["Sunset"]
    current = with_old.call("alice", "GET", "/api/v1/me")
    assert "Deprecation" not in current.headers and "Sunset" not in current.headers


def test_a_sunset_comes_six_months_after_the_deprecation_at_least() -> None:
    with pytest.raises(ValueError, match="180 days"):
        deprecated(since=SINCE, sunset=date(2027, 1, 1))
