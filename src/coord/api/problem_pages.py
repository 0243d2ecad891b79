"""``/api/v1/problems/{code}``: the page a problem's ``type`` names.

Each error code has a section in ``docs/errors.md`` (shipped in the package as
``coord/api/errors.md``); this renders the section of one code as a small HTML page,
so that a problem's ``type`` resolves to what the code means and what to do. No key
is needed: it is documentation.
"""

from __future__ import annotations

import functools
import html
import re
from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from coord.errors import NotFound

PATH = "/problems"
CODE = r"^[a-z_]{1,64}$"
POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
STYLE = "body{font:16px/1.5 system-ui,sans-serif;max-width:42em;margin:2em auto;padding:0 1em}"

router = APIRouter(include_in_schema=False)


def type_uri(code: str) -> str:
    """The ``type`` of a problem of ``code`` (a URI reference the server serves)."""
    return f"/api/v1{PATH}/{code}"


@functools.cache
def sections() -> dict[str, str]:
    """The text of each code's section of the errors page, by code."""
    text = (files("coord.api") / "errors.md").read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading, _, body = part.partition("\n")
        found[heading.strip()] = body.strip()
    return found


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", escaped)  # links: their text


def render(code: str, body: str) -> str:
    """One section as an HTML page."""
    paragraphs = "\n".join(
        f"<p>{_inline(' '.join(p.split()))}</p>" for p in body.split("\n\n") if p.strip()
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>coord error {code}</title><style>{STYLE}</style></head>"
        f"<body><h1><code>{code}</code></h1>\n{paragraphs}\n</body></html>\n"
    )


@router.get(PATH + "/{code}")
def problem_page(code: Annotated[str, Path(pattern=CODE)]) -> HTMLResponse:
    """What an error code means and what to do about it."""
    body = sections().get(code)
    if body is None:
        raise NotFound(f"no error code {code!r}", code_asked=code)
    return HTMLResponse(
        render(code, body),
        headers={"Content-Security-Policy": POLICY, "Cache-Control": "public, max-age=3600"},
    )
