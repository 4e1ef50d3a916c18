"""The web console: static HTML, CSS and JavaScript served at ``/console`` by the service itself.

No build step and no CDN: the files in ``static/`` are what the browser runs. The page is a
client of the public API with the key the person types (kept in the tab's sessionStorage and
sent only as the ``Authorization`` header), so it sees exactly what that key may see.
"""

from __future__ import annotations

from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"

# Scripts and styles only from the service itself (no inline script, so an injected
# ``onerror=`` cannot run even if text were ever put into the page as HTML); the page cannot
# be framed (clickjacking of the delete buttons) and sends no Referer.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Revalidate every time (ETag), so an upgraded service never runs yesterday's script.
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    """``static/`` with ``index.html`` at the root, every answer carrying the headers above."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR, html=True)

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response
