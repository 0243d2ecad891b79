"""``/docs``: the interactive API reference (Swagger UI), served by the server itself.

Nothing comes from a CDN: Swagger UI's files ship in the ``swagger-ui-bundle-v2``
package (a dependency of coord, Apache-2.0, its license in that package), and the
page, its starter script and those files are answered from here, so ``/docs`` works
on a machine without internet access. The page's Content-Security-Policy allows its
own origin only (Swagger UI sets inline styles, so ``style-src`` allows those).
"""

from __future__ import annotations

from importlib.resources.abc import Traversable

import swagger_ui_bundle
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException

ASSETS: Traversable = swagger_ui_bundle.swagger_ui_path
# The files the page uses, with their media types: nothing else is served.
SERVED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# Relative URLs: the page works behind a proxy that serves the API under a prefix.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coord API reference</title>
<link rel="stylesheet" href="docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/start.js"></script>
</body>
</html>
"""
# validatorUrl null: Swagger UI would otherwise send the document to an online
# validator and show its badge.
START = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
  });
});
"""

router = APIRouter(include_in_schema=False)


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": POLICY}


@router.get("/docs")
def page() -> HTMLResponse:
    """The reference page."""
    return HTMLResponse(PAGE, headers=_headers())


@router.get("/docs/start.js")
def start() -> Response:
    """The script that starts Swagger UI on the server's OpenAPI document."""
    return Response(START, media_type="text/javascript; charset=utf-8", headers=_headers())


@router.get("/docs/assets/{name}")
def asset(name: str) -> Response:
    """One of Swagger UI's files (404 for any other name)."""
    media_type = SERVED.get(name)
    if media_type is None:
        raise HTTPException(404, f"no docs asset {name!r}")
    return Response((ASSETS / name).read_bytes(), media_type=media_type, headers=_headers())
