"""A webhook receiver for tests: a real HTTP server on 127.0.0.1 that keeps what it was sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Webhook:
    """A webhook receiver on 127.0.0.1: the bodies it was sent, and an event set when one arrives."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        arrived = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    received.append(json.loads(body or b"{}"))
                except ValueError:
                    received.append({"raw": body.decode(errors="replace")})
                arrived.set()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.received, self.arrived = received, arrived
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
