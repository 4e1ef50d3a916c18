"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from files installed with the service, no CDN.

FastAPI's own pages load their scripts from jsDelivr, ReDoc's fonts from Google and the favicon
from fastapi.tiangolo.com: on a machine without internet, where this service often runs, both
pages are blank. Here every file they need is served by the service itself under
``/docs-assets``; a browser test (``tests/test_api_docs.py``) opens both pages with every
non-loopback request refused.

The files are those of the ``fastapi-offline`` package (MIT): Swagger UI 5 and ReDoc 2, kept
current by its maintainer. Only its ``static/`` folder is used, not its ``FastAPIOffline``
factory, which would replace our ``App``. ``swagger-ui-bundle`` was the other candidate; its
Swagger UI (4.15) cannot render OpenAPI 3.1, which is what FastAPI writes, and it has no ReDoc.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"
ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"

# The pages may load and fetch only from the service: ReDoc's sidebar names an image on
# cdn.redoc.ly in code no option turns off, and a later version of either page may reach for
# something new; with this the browser does not even try. Both pages start from an inline
# script and set inline styles; ReDoc's search runs in a worker made from a blob.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
}

# Swagger UI's online validator would send the schema to validator.swagger.io; the layout we
# use shows no badge, and this keeps it that way whatever layout a later version picks.
SWAGGER_PARAMETERS = {"validatorUrl": None}


def install_api_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` and their files; the app must be built with
    ``docs_url=None, redoc_url=None`` so FastAPI's CDN-backed pages are not there too."""
    assert app.openapi_url is not None
    openapi_url = app.openapi_url
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API reference",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={**SWAGGER_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )
        page.headers.update(PAGE_HEADERS)
        return page

    @router.get("/redoc")
    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} API reference",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
        page.headers.update(PAGE_HEADERS)
        return page

    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")


def _root_path(request: Request) -> str:
    # Behind a proxy that strips a prefix (uvicorn --root-path), the pages' own links need it.
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")
