"""What a browser needs of every service: protective headers on every response, and the API
documentation (Swagger UI at `/docs`, ReDoc at `/redoc`) served from the service itself, with
no file fetched from a CDN.

Headers, on every response: `X-Content-Type-Options: nosniff` (no content sniffing: a JSON body is
never run as a script), `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`; and
`Cache-Control: no-store` on every `/v1` answer that does not set its own: they are for one
caller's eyes (OFFICIAL-SENSITIVE text, personal data, exports) and no browser or proxy keeps them.
The documentation pages get a Content-Security-Policy that allows their own files only (their
inline start-up script and ReDoc's blob worker included); a page of the service's own (the
reporting dashboard) gets `page_csp`: its own files, and fetches to its sign-in provider only.
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ASSETS = "/_docs"
EVERY_RESPONSE = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)

#: Characters that would end a source expression or a directive, or quote one.
_NOT_IN_A_SOURCE = frozenset(" \t\r\n;,'\"")


def page_csp(*, connect_to: str | None = None) -> str:
    """The policy of a page built from the service's own files: scripts, styles and API calls of
    its own origin only, never framed, no `<base>`, no form posted anywhere. `connect_to` (an
    OpenID Connect issuer) adds fetches under that URL: the provider's discovery document and
    token endpoint, which the page calls to sign in and renew. The sign-in and sign-out pages are
    navigations, which a policy does not govern, so nothing else is opened."""
    connect = "'self'"
    if connect_to is not None:
        connect += " " + _source_under(connect_to)
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _source_under(url: str) -> str:
    """`https://id.example/realms/jiph/`: a source matching every path under `url` (the trailing
    slash makes it a prefix), refused if `url` could add to the policy rather than name a place."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or parts.query
        or parts.fragment
        or _NOT_IN_A_SOURCE & set(url)
    ):
        raise ValueError(f"not an issuer URL a page may fetch from: {url!r}")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"


class SecurityHeaders:
    """ASGI middleware: the headers above, added to whatever the application answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope.get("path", "").startswith("/v1/") or scope.get("path") == "/v1"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(n, v) for n, v in EVERY_RESPONSE if n not in present]
                if private and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def add_local_docs(app: FastAPI) -> None:
    """`/docs` and `/redoc` on files of the fastapi-offline package, served under `/_docs`
    (create the app with `docs_url=None, redoc_url=None`)."""
    static = files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page
