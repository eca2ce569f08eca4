"""A real HTTP server on loopback that serves named bodies, or misbehaves on purpose."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """What the server answers for one path: a body, or a stall / truncation part way through."""

    body: bytes = b""
    status: int = 200
    stall_after: int | None = None  # send this many bytes, then go silent
    truncate_after: int | None = None  # send this many bytes, then close the connection


@dataclass
class Server:
    """The running server: its base URL and the routes it serves."""

    url: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


@contextmanager
def serve() -> Iterator[Server]:
    """Run a ThreadingHTTPServer on 127.0.0.1 with a free port until the block ends."""
    state = Server(url="")
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            state.hits.append(self.path)
            route = state.routes.get(self.path, Route(status=404, body=b"not found"))
            self.send_response(route.status)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            cut = route.stall_after if route.stall_after is not None else route.truncate_after
            self.wfile.write(route.body[:cut] if cut is not None else route.body)
            self.wfile.flush()
            if route.stall_after is not None:
                stop.wait(10)
            if cut is not None:
                self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
