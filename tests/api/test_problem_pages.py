"""A problem's ``type`` resolves (issue 14): every error code has its section in
docs/errors.md, and the server answers ``/api/v1/problems/{code}`` with it."""

from __future__ import annotations

import uuid
from pathlib import Path

import coord
from coord.api import problem_pages
from coord.api.problems import API_CODES
from coord.errors import CoordError
from tests.api.harness import Api

DOCS = Path(__file__).parents[2] / "docs" / "errors.md"


def _codes() -> set[str]:
    assert coord  # imported: every module's error classes are defined
    found: set[str] = set()
    pending: list[type[CoordError]] = [CoordError]
    while pending:
        cls = pending.pop()
        found.add(cls.code)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_code_has_a_section_in_docs_errors_md() -> None:
    headings = {
        line.removeprefix("## ").strip()
        for line in DOCS.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    codes = _codes() | API_CODES
    assert codes - headings == set()
    assert headings - codes == set(), "a section for a code nothing raises"
    # What ships with the package is that same file.
    assert set(problem_pages.sections()) == headings


def test_every_code_has_its_page_on_the_server(api: Api) -> None:
    for code in sorted(_codes() | API_CODES):
        page = api.client.get(problem_pages.type_uri(code))
        assert page.status_code == 200, (code, page.text)
        assert page.headers["content-type"].startswith("text/html")
        assert f"<h1><code>{code}</code></h1>" in page.text
        assert len(page.text) > 300, code  # more than a heading


def test_the_type_of_an_answered_problem_resolves(api: Api) -> None:
    refused = api.call("root", "GET", f"/api/v1/tasks/{uuid.uuid4()}")
    assert refused.status_code == 404
    problem = refused.json()
    assert problem["type"] == "/api/v1/problems/not_found"
    page = api.client.get(problem["type"])
    assert page.status_code == 200 and "not_found" in page.text
    unauthenticated = api.client.get("/api/v1/me").json()
    assert api.client.get(unauthenticated["type"]).status_code == 200


def test_an_unknown_code_is_a_404_problem_and_a_bad_one_a_422(api: Api) -> None:
    unknown = api.client.get("/api/v1/problems/no_such_code")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    bad = api.client.get("/api/v1/problems/Not-A-Code")
    assert bad.status_code == 422
    assert bad.json()["field"] == "code"
