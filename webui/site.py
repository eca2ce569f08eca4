"""What the app itself sends with every response, whatever proxy is (or is not) in front of it.

- Content-Security-Policy: scripts only from this site, plus the page's own inline scripts by their
  sha256 (computed per page, so a script injected into the HTML would not run); no plugins, no framing
  (``frame-ancestors 'none'``), forms and ``<base>`` only to this site. NiceGUI compiles Vue templates
  in the browser (``'unsafe-eval'``) and Quasar and Tailwind set inline styles (``'unsafe-inline'`` for
  styles only). Images may also come from the map tile server.
- X-Frame-Options DENY (older browsers), X-Content-Type-Options nosniff, Referrer-Policy same-origin.
- Cookies get ``Secure`` when the request came over TLS: uvicorn sets the scheme from
  X-Forwarded-Proto only for proxies named in ``webui.trusted_proxies``.

socket.io (NiceGUI allows any origin, with credentials) is limited to the site's own origin by
:func:`same_origin`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
FIXED_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def tile_source(tile_url: str) -> str:
    """The CSP source of a tile URL template ("https://{s}.tile.example/{z}/{x}/{y}.png" -> "https://*.tile.example")."""
    if not tile_url:
        return ""
    parts = urlsplit(tile_url.replace("{s}", "x-sub"))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.replace('x-sub', '*')}"


def policy(script_hashes: list[str], tiles: str = "") -> str:
    scripts = " ".join(f"'sha256-{h}'" for h in script_hashes)
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'unsafe-eval' {scripts}".rstrip(),
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {tiles}".rstrip(),
            "font-src 'self' data:",
            "media-src 'self' blob:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def inline_script_hashes(html: bytes) -> list[str]:
    return sorted(
        {
            base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
            for m in _INLINE_SCRIPT.finditer(html)
        }
    )


class SiteHeaders:
    """Pure ASGI middleware: the security headers, per-page script hashes, and Secure cookies over TLS."""

    def __init__(self, app: ASGIApp, tile_url: str = "") -> None:
        self.app = app
        self.tiles = tile_source(tile_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"
        start: Message | None = None
        chunks: list[bytes] = []

        def finish(message: Message, body: bytes | None) -> Message:
            headers = MutableHeaders(scope=message)
            for name, value in FIXED_HEADERS.items():
                headers.setdefault(name, value)
            hashes = inline_script_hashes(body) if body is not None else []
            headers["Content-Security-Policy"] = policy(hashes, self.tiles)
            if tls:
                raw = message["headers"]
                message["headers"] = [
                    (k, v + b"; Secure")
                    if k.lower() == b"set-cookie" and b"secure" not in v.lower()
                    else (k, v)
                    for k, v in raw
                ]
            return message

        async def wrapped(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                ctype = MutableHeaders(scope=message).get("content-type", "")
                if ctype.startswith("text/html"):
                    start = message  # the policy needs the whole page: hold the start until the body is in
                    return
                await send(finish(message, None))
                return
            if start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                await send(finish(start, body))
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, wrapped)


def same_origin(origin: str | None, environ: dict[str, Any]) -> bool:
    """socket.io's origin check: the page's origin must be this site's (scheme as uvicorn resolved it)."""
    if not origin:
        return True  # not a browser's cross-site request (browsers always send Origin there)
    scheme = {"ws": "http", "wss": "https"}.get(
        environ.get("wsgi.url_scheme", ""), environ.get("wsgi.url_scheme")
    )
    host = environ.get("HTTP_HOST")
    return bool(host) and origin == f"{scheme}://{host}"
