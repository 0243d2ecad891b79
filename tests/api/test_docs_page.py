"""``/docs`` works offline (issue 14): a real server answers the page and every file
it references itself, and nothing served names another origin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.api.harness import running_api
from tests.api.test_client import serving

EXTERNAL = re.compile(r"(?:https?:)?//[A-Za-z0-9]")


class _References(HTMLParser):
    """Every URL an HTML page makes the browser load or go to."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "action", "data", "poster"} and value:
                self.found.append(value)


@pytest.fixture
def url(database_url: str) -> Iterator[str]:
    with running_api(database_url) as api, serving(api, database_url) as served:
        yield served


def _css_urls(text: str) -> list[str]:
    return re.findall(r"url\(\s*['\"]?([^'\")]+)", text) + re.findall(
        r"@import\s+['\"]([^'\"]+)", text
    )


def test_docs_and_every_file_it_references_come_from_the_server(url: str) -> None:
    page = httpx.get(url + "/docs", timeout=10)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert not EXTERNAL.search(page.text), "the page names another origin"
    parser = _References()
    parser.feed(page.text)
    assert len(parser.found) >= 3  # the stylesheet, Swagger UI, the starter script
    origin = urlsplit(url).netloc
    fetched: dict[str, httpx.Response] = {}
    queue = [urljoin(url + "/docs", ref) for ref in parser.found]
    while queue:
        target = queue.pop()
        if target in fetched or target.startswith("data:"):
            continue
        assert urlsplit(target).netloc == origin, f"{target} is not on the server"
        answer = httpx.get(target, timeout=10)
        assert answer.status_code == 200, f"{target}: {answer.status_code}"
        fetched[target] = answer
        if "css" in answer.headers["content-type"]:
            queue += [
                urljoin(target, ref)
                for ref in _css_urls(answer.text)
                if not ref.startswith("data:")
            ]
    kinds = {a.headers["content-type"].split(";")[0] for a in fetched.values()}
    assert {"text/css", "text/javascript"} <= kinds
    starter = next(a for t, a in fetched.items() if t.endswith("/docs/start.js"))
    assert not EXTERNAL.search(starter.text)
    assert "validatorUrl: null" in starter.text  # no document sent to an online validator
    # The browser is told to load nothing from anywhere else.
    for answer in [page, *fetched.values()]:
        policy = answer.headers["content-security-policy"]
        assert not EXTERNAL.search(policy) and "*" not in policy, policy
        assert "script-src 'self'" in policy
    # What the starter script loads is the server's own document.
    assert httpx.get(url + "/openapi.json", timeout=10).json()["info"]["title"] == "coord"


def test_only_the_files_the_page_uses_are_served(url: str) -> None:
    for name in ("index.html", "..%2F..%2F__init__.py", "swagger-ui.js.map", "x"):
        answer = httpx.get(url + "/docs/assets/" + name, timeout=10)
        assert answer.status_code == 404, name
        assert answer.headers["content-type"] == "application/problem+json"


def test_redoc_and_its_cdn_are_not_served(url: str) -> None:
    assert httpx.get(url + "/redoc", timeout=10).status_code == 404
