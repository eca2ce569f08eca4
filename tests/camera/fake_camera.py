"""A fake Novatek/Viofo dashcam: a real threaded HTTP server on loopback with switchable faults.

It answers what the real cameras answer and nothing more: the ``cmd=3015`` XML file list, HTML
listings of ``/DCIM/Movie``, ``/DCIM/Movie/Parking`` and ``/DCIM/Movie/RO`` (rounded sizes, like the
real pages), file bodies with HTTP Range, and ``cmd=4003`` delete. Faults are plain attributes of
:class:`Faults`, switched on by tests before or between passes.
"""

from __future__ import annotations

import re
import struct
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit
from xml.sax.saxutils import escape

FOLDERS = {"Movie": "/DCIM/Movie", "Parking": "/DCIM/Movie/Parking", "RO": "/DCIM/Movie/RO"}
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)$")
_BASE_TIME = datetime(2023, 8, 15, 12, 0, 0)
_ATTR = {'"': "&quot;"}


def mp4_variant(data: bytes, tag: str) -> bytes:
    """The same MP4 with a ``free`` box carrying ``tag`` appended: still valid, different content."""
    payload = tag.encode()
    return data + struct.pack(">I4s", 8 + len(payload), b"free") + payload


@dataclass
class CamFile:
    """A clip on the fake camera's SD card."""

    folder: str
    name: str
    data: bytes
    protected: bool = False
    time: datetime = _BASE_TIME
    growth: list[int] = field(default_factory=list)  # sizes still to show, one per listing

    @property
    def url_path(self) -> str:
        return f"{FOLDERS[self.folder]}/{quote(self.name)}"

    @property
    def fpath(self) -> str:
        return "A:" + f"{FOLDERS[self.folder]}/{self.name}".replace("/", "\\")

    @property
    def visible(self) -> bytes:
        """What the card holds right now (a prefix while the clip is still being recorded)."""
        return self.data[: self.growth[0]] if self.growth else self.data


@dataclass
class HostileEntry:
    """A listing entry made to hurt: ``href`` is used in HTML listings (default: built from fpath)."""

    name: str
    fpath: str
    size: str = "1000"
    href: str | None = None


@dataclass
class Faults:
    """Switchable misbehaviour; the per-file faults fire once and are then consumed."""

    drop_after: dict[str, int] = field(default_factory=dict)  # name -> bytes sent before the connection drops
    stall_after: dict[str, int] = field(default_factory=dict)  # name -> bytes sent before going silent
    trickle_delay: float = 0.0  # pause between body chunks of every file
    trickle_chunk: int = 16 << 10
    missing: set[str] = field(default_factory=set)  # listed, but GET answers 404
    hostile: list[HostileEntry] = field(default_factory=list)
    xml_listing: bool = True  # False: cmd=3015 answers 404, clients must read the HTML listings
    vanish_after_bytes: int | None = None  # the camera disappears once this many body bytes were sent
    ignore_range: bool = False
    refuse_delete: bool = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def _dispatch(self, head: bool) -> None:
        cam = self.server.camera
        if cam.gone:
            self.close_connection = True
            return
        url = urlsplit(self.path)
        cam._log(self.command, self.path, self.headers.get("Range"))
        if url.path == "/" and url.query:
            query = parse_qs(url.query)
            cmd = query.get("cmd", [""])[0]
            if cmd == "3015" and cam.faults.xml_listing:
                return self._send(200, cam.xml_listing().encode("utf-8"), "text/xml", head)
            if cmd == "4003":
                status = cam._delete(query.get("str", [""])[0])
                body = f"<?xml version='1.0'?><Function><Cmd>4003</Cmd><Status>{status}</Status></Function>"
                return self._send(200, body.encode(), "text/xml", head)
            return self._send(404, b"not found", "text/plain", head)
        path = unquote(url.path)
        for folder, folder_url in FOLDERS.items():
            if path.rstrip("/") == folder_url:
                return self._send(200, cam.html_listing(folder).encode("utf-8"), "text/html", head)
        liar = next((h for h in cam.faults.hostile if h.href and unquote(h.href) == path), None)
        if liar is not None and self.headers.get("Range") == "bytes=0-0":
            # A lying camera: one byte, and a total size that is whatever the entry claims.
            return self._send(206, b"\0", "video/mp4", head, {"Content-Range": f"bytes 0-0/{liar.size}"})
        f = cam._find(path)
        if f is None or f.name in cam.faults.missing:
            return self._send(404, b"not found", "text/plain", head)
        self._send_file(f, head)

    def _send(
        self, status: int, body: bytes, ctype: str, head: bool, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _send_file(self, f: CamFile, head: bool) -> None:
        cam = self.server.camera
        data = f.visible
        size = len(data)
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and not cam.faults.ignore_range:
            m = _RANGE_RE.match(rng.strip())
            a, b = (m.group(1), m.group(2)) if m else ("", "")
            start = int(a) if a else max(0, size - int(b or 0))
            end = min(int(b), size - 1) if a and b else size - 1
            if not m or start >= size or start > end:
                return self._send(416, b"", "text/plain", head, {"Content-Range": f"bytes */{size}"})
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        if rng != "bytes=0-0":
            cam._body_started(f.name)
        self._send_body(f.name, data, start, end)

    def _send_body(self, name: str, data: bytes, start: int, end: int) -> None:
        cam = self.server.camera
        with cam.lock:
            drop = cam.faults.drop_after.pop(name, None)
            stall = cam.faults.stall_after.pop(name, None)
        cut = min((x for x in (drop, stall) if x is not None), default=None)
        pos = start
        while pos <= end:
            if cut is not None and pos - start >= cut:
                if stall is not None:
                    cam._released.wait(10.0)  # silent until the client gives up or the camera stops
                self.close_connection = True
                return
            n = min(cam.faults.trickle_chunk, end + 1 - pos)
            if cut is not None:
                n = min(n, cut - (pos - start))
            self.wfile.write(data[pos : pos + n])
            self.wfile.flush()
            pos += n
            if cam._count(n):
                self.close_connection = True
                cam.vanish()
                return
            if cam.faults.trickle_delay:
                cam._released.wait(cam.faults.trickle_delay)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    camera: FakeCamera

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-answer is part of the game (timeouts, cancelled syncs): stay quiet."""


class FakeCamera:
    """The fake dashcam; ``url`` is its base URL once started."""

    def __init__(self) -> None:
        self.files: dict[str, CamFile] = {}
        self.originals: dict[str, bytes] = {}  # every clip ever added, kept after deletes
        self.faults = Faults()
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.downloads: list[str] = []  # names whose body was requested (size probes excluded)
        self.deleted: list[str] = []
        self.bytes_served = 0
        self.gone = False
        self.port = 0
        self._released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeCamera:
        """Start serving (again, on the same port after :meth:`vanish`)."""
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.camera = self
        self.port = self._server.server_address[1]
        self.gone = False
        self._released.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fake-camera", daemon=True
        )
        self._thread.start()
        return self

    def vanish(self) -> None:
        """The car drives away: stop answering, refuse new connections."""
        self.gone = True
        self._released.set()
        server, self._server = self._server, None
        if server is not None:
            # Handlers run in their own threads, so shutdown() (which waits for serve_forever) is safe here.
            server.shutdown()
            server.server_close()

    def stop(self) -> None:
        """Stop for good (test teardown)."""
        self.vanish()

    def add_file(
        self,
        folder: str,
        name: str,
        data_or_path: bytes | str | Path,
        *,
        protected: bool = False,
        time: datetime | None = None,
    ) -> CamFile:
        """Put a clip on the card: ``folder`` is "Movie", "Parking" or "RO"; data is bytes or a file path."""
        if folder not in FOLDERS:
            raise ValueError(f"folder must be one of {sorted(FOLDERS)}, got {folder!r}")
        data = data_or_path if isinstance(data_or_path, bytes) else Path(data_or_path).read_bytes()
        when = time or _BASE_TIME + timedelta(minutes=len(self.files))
        f = CamFile(folder, name, data, protected or folder == "RO", when)
        with self.lock:
            self.files[name] = f
            self.originals[name] = data
        return f

    def remove_file(self, name: str) -> None:
        """Take a clip off the card (loop recording overwrote it)."""
        with self.lock:
            self.files.pop(name, None)

    def grow(self, name: str, sizes: list[int]) -> None:
        """Make ``name`` look like it is being recorded: each listing shows the next size of ``sizes``."""
        self.files[name].growth = list(sizes)

    def finish(self, name: str) -> None:
        """Recording of ``name`` ended: it shows its full size from now on."""
        self.files[name].growth = []

    def _advance(self, folder: str | None) -> None:
        for f in self.files.values():
            if f.growth and (folder is None or f.folder == folder) and len(f.growth) > 1:
                f.growth.pop(0)

    def xml_listing(self) -> str:
        """The ``cmd=3015`` answer (growing clips grow by one step per listing)."""
        with self.lock:
            rows = [
                (f.name, f.fpath, str(len(f.visible)), f.time, 33 if f.protected else 32)
                for f in self.files.values()
            ]
            rows += [(h.name, h.fpath, h.size, _BASE_TIME, 32) for h in self.faults.hostile]
            self._advance(None)
        out = ['<?xml version="1.0" encoding="UTF-8" ?>\n<LIST>']
        for name, fpath, size, when, attr in rows:
            out.append(
                f"<ALLFile><File>\n<NAME>{escape(name)}</NAME>\n<FPATH>{escape(fpath)}</FPATH>\n"
                f"<SIZE>{escape(size)}</SIZE>\n<TIMECODE>0</TIMECODE>\n"
                f"<TIME>{when:%Y/%m/%d %H:%M:%S}</TIME>\n<ATTR>{attr}</ATTR></File>\n</ALLFile>"
            )
        out.append("</LIST>\n")
        return "\n".join(out)

    def html_listing(self, folder: str) -> str:
        """A Novatek-style folder page: rounded sizes, a Remove link per file, sub-folder links."""
        url = FOLDERS[folder]
        with self.lock:
            rows = [
                (f.url_path, f.name, len(f.visible), f.time)
                for f in self.files.values()
                if f.folder == folder
            ]
            rows += [
                (h.href or h.fpath[2:].replace("\\", "/"), h.name, 1000, _BASE_TIME)
                for h in self.faults.hostile
                if h.href or h.fpath[2:].replace("\\", "/").startswith(url)
            ]
            self._advance(folder)
        out = [f"<html><head><title>Index of {url}</title></head><body><table>"]
        if folder == "Movie":
            out += [
                f'<tr><td><a href="{FOLDERS[sub]}/"><b>{sub}</b></a></td></tr>' for sub in ("Parking", "RO")
            ]
        for href, name, size, when in rows:
            out.append(
                f'<tr><td><a href="{escape(href, _ATTR)}"><b>{escape(name)}</b></a></td>'
                f"<td align=right>{max(1, size // 1024)}KB</td><td align=right>{when:%Y/%m/%d %H:%M:%S}</td>"
                f'<td><a href="{escape(href, _ATTR)}?del=1">Remove</a></td></tr>'
            )
        out.append("</table></body></html>")
        return "\n".join(out)

    def _find(self, path: str) -> CamFile | None:
        with self.lock:
            return next((f for f in self.files.values() if unquote(f.url_path) == path), None)

    def _delete(self, fpath: str) -> int:
        with self.lock:
            f = next((f for f in self.files.values() if f.fpath == fpath), None)
            if f is None or self.faults.refuse_delete:
                return -1
            del self.files[f.name]
            self.deleted.append(f.name)
            return 0

    def _log(self, method: str, path: str, rng: str | None) -> None:
        with self.lock:
            self.requests.append((method, path, rng))

    def _body_started(self, name: str) -> None:
        with self.lock:
            self.downloads.append(name)

    def _count(self, n: int) -> bool:
        """Count body bytes; True when the camera should vanish now."""
        with self.lock:
            self.bytes_served += n
            limit = self.faults.vanish_after_bytes
            if limit is not None and self.bytes_served >= limit:
                self.faults.vanish_after_bytes = None
                return True
            return False


def final_names(dest: Path) -> set[str]:
    """Names in ``dest`` under a final (non-``.part``) name."""
    return {p.name for p in dest.iterdir() if not p.name.endswith(".part")} if dest.exists() else set()


def assert_intact(dest: Path, camera: FakeCamera) -> None:
    """Every final file in ``dest`` is byte-for-byte a whole clip of the camera: nothing partial is visible."""
    for name in final_names(dest):
        assert (dest / name).read_bytes() == camera.originals[name], f"{name} in {dest} is not the whole clip"


def files_outside(root: Path, dest: Path) -> list[Path]:
    """Files under ``root`` that are not directly in ``dest`` (there must be none)."""
    return [p for p in root.rglob("*") if p.is_file() and p.parent != dest]
