"""HTTP client for Novatek/Viofo dashcams: list clips, download them verified, delete them.

Downloads land as ``<name>.part`` beside the final name, resume with HTTP Range after a dropped
connection, are checked for size and a readable moov, fsynced, then renamed: the final name only ever
holds a whole clip. Nothing is written anywhere but the destination folder.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import httpx

from dashcam.camera.fsutil import landing_paths, open_part, part_size, publish
from dashcam.camera.listing import (
    FOLDERS,
    MAX_FILE_SIZE,
    Listing,
    ListingError,
    RemoteFile,
    parse_html_listing,
    parse_xml_listing,
)
from dashcam.storage import NO_SPACE_ERRNOS
from dashcam.video.mp4box import Mp4Error, check_complete

log = logging.getLogger(__name__)

CMD_FILE_LIST = "3015"
CMD_DELETE = "4003"
_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_STATUS_RE = re.compile(rb"<Status>\s*(-?\d+)\s*</Status>", re.IGNORECASE)
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


class CameraUnreachable(ConnectionError):
    """No camera answers at the configured address (the car is away): a state, not a fault."""


class CameraError(RuntimeError):
    """The camera answered, but not with what was asked for (the message says what)."""


class DownloadError(RuntimeError):
    """A clip could not be downloaded and verified (the message names the clip and the problem)."""


class AbsurdSize(DownloadError):
    """The camera claims a size no clip can have: a hostile or broken entry."""


class _Retry(Exception):
    """A transfer ended early in a way worth another attempt."""


class CameraClient:
    """A Novatek/Viofo camera at ``base_url``, e.g. ``http://192.168.1.254``.

    ``max_connections`` bounds concurrent connections (these cameras reset above about three).
    ``sleep`` is what waits between retries and between the two looks of a sync: inject it in tests.
    """

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 1,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        retries: int = 3,
        backoff: float = 1.0,
        auth: tuple[str, str] | httpx.Auth | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        self.base_url = base_url.rstrip("/")
        self.max_connections = max_connections
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            follow_redirects=False,
            headers={"User-Agent": "dashcam-processor"},
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> CameraClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _backoff(self, attempt: int, what: str, exc: BaseException) -> None:
        delay = self.backoff * (2**attempt)
        log.info("%s: %s, retry %d/%d in %.1fs", what, exc, attempt + 1, self.retries, delay)
        self.sleep(delay)

    def _get(
        self, path: str, *, params: dict[str, str] | None = None, retry_connect: bool = True
    ) -> httpx.Response:
        """GET a small document with retries; raise :class:`CameraUnreachable` when nothing answers."""
        for attempt in range(self.retries + 1):
            try:
                return self._http.get(path, params=params)
            except httpx.TransportError as exc:
                if attempt == self.retries or (not retry_connect and isinstance(exc, _CONNECT_ERRORS)):
                    raise CameraUnreachable(f"{self.base_url}: no camera answers ({exc})") from exc
                self._backoff(attempt, f"{self.base_url}{path}", exc)
        raise AssertionError("unreachable")

    def list_files(self) -> Listing:
        """The camera's clips: the ``cmd=3015`` XML, else the HTML listings of the three folders."""
        params = {"custom": "1", "cmd": CMD_FILE_LIST, "par": "1"}
        # No retry on a refused or timed-out connect: that is the car being away, the common case.
        r = self._get("/", params=params, retry_connect=False)
        if r.status_code == 200:
            try:
                return parse_xml_listing(r.content)
            except ListingError as exc:
                log.warning(
                    "%s: cmd=%s listing unusable (%s), trying folder listings",
                    self.base_url,
                    CMD_FILE_LIST,
                    exc,
                )
        else:
            log.info(
                "%s: cmd=%s answered HTTP %d, trying folder listings",
                self.base_url,
                CMD_FILE_LIST,
                r.status_code,
            )
        return self._list_html()

    def _list_html(self) -> Listing:
        listing = Listing("html")
        answered = False
        for folder in FOLDERS:
            r = self._get(folder + "/")
            if r.status_code != 200:
                log.info("%s%s/: HTTP %d, skipped", self.base_url, folder, r.status_code)
                continue
            answered = True
            part = parse_html_listing(r.text, folder)
            listing.files.extend(part.files)
            listing.rejected.extend(part.rejected)
        if not answered:
            raise ListingError(
                f"{self.base_url}: camera answers but gives neither cmd=3015 nor folder listings"
            )
        return listing

    def probe_size(self, remote: RemoteFile) -> int:
        """Exact size of a clip, from a one-byte Range request (HTML listings only give rounded sizes)."""
        for attempt in range(self.retries + 1):
            try:
                with self._http.stream("GET", remote.url_path, headers={"Range": "bytes=0-0"}) as r:
                    return self._size_from(remote, r)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise CameraUnreachable(f"{self.base_url}: no answer for {remote.name} ({exc})") from exc
                self._backoff(attempt, remote.name, exc)
        raise AssertionError("unreachable")

    def _size_from(self, remote: RemoteFile, r: httpx.Response) -> int:
        if r.status_code == 404:
            raise DownloadError(f"{remote.name}: listed but not found on the camera (HTTP 404)")
        m = _CONTENT_RANGE_RE.match(r.headers.get("content-range", ""))
        if r.status_code == 206 and m and m.group(3) != "*":
            size = int(m.group(3))
        elif r.status_code == 200 and r.headers.get("content-length", "").isdigit():
            size = int(r.headers["content-length"])
        else:
            raise DownloadError(f"{remote.name}: camera did not tell the size (HTTP {r.status_code})")
        if size > MAX_FILE_SIZE:
            raise AbsurdSize(f"{remote.name}: camera claims an absurd size of {size} bytes")
        return size

    def with_size(self, remote: RemoteFile) -> RemoteFile:
        """``remote`` with its exact size filled in (probing the camera when the listing lacked it)."""
        return remote if remote.size is not None else replace(remote, size=self.probe_size(remote))

    def download(self, remote: RemoteFile, dest_dir: str | os.PathLike[str]) -> Path:
        """Download ``remote`` into ``dest_dir`` verified (size, moov) and atomically; return the final path.

        A ``.part`` left by an earlier attempt is resumed. Raises :class:`DownloadError`, or
        :class:`CameraUnreachable` when the camera stops answering altogether.
        """
        dest = Path(dest_dir)
        dest.mkdir(parents=True, exist_ok=True)
        final, part = landing_paths(dest, remote.name)
        size = self.with_size(remote).size
        assert size is not None
        if size == 0:
            raise DownloadError(f"{remote.name}: empty on the camera")
        for attempt in range(self.retries + 1):
            try:
                self._fetch(remote, part, size)
                break
            except OSError as exc:
                if exc.errno in NO_SPACE_ERRNOS:
                    part.unlink(
                        missing_ok=True
                    )  # kept for resuming otherwise; on a full disk it is the problem
                raise
            except (httpx.TransportError, _Retry) as exc:
                if attempt < self.retries:
                    self._backoff(attempt, remote.name, exc)
                elif isinstance(exc, _CONNECT_ERRORS):
                    raise CameraUnreachable(
                        f"{self.base_url}: camera went away during {remote.name} ({exc})"
                    ) from exc
                else:
                    raise DownloadError(
                        f"{remote.name}: gave up after {attempt + 1} attempts ({exc})"
                    ) from exc
        try:
            check_complete(part)
        except Mp4Error as exc:
            part.unlink()  # whole size but unreadable: resuming it could never help
            raise DownloadError(f"{remote.name}: downloaded {size} bytes but {exc}") from exc
        log.info("%s: downloaded %d bytes", remote.name, size)
        return publish(part, final, mtime=remote.time)

    def _fetch(self, remote: RemoteFile, part: Path, size: int) -> None:
        """Bring ``part`` up to ``size`` bytes with one ranged GET; raise :class:`_Retry` if it ends early."""
        have = part_size(part)
        if have > size:
            have = 0  # not ours, or the camera's file changed: start over
            part.unlink()
        if have == size:
            return
        headers = {"Range": f"bytes={have}-{size - 1}"}
        with self._http.stream("GET", remote.url_path, headers=headers) as r:
            start = self._check_response(remote, r, have, part)
            fd = open_part(part, truncate=start == 0)
            with os.fdopen(fd, "ab") as f:
                have = start
                for chunk in r.iter_bytes():
                    take = chunk[: size - have]
                    f.write(take)
                    have += len(take)
                    if have >= size:
                        break  # a camera ignoring the end of the range: the listed size is what we want
        if have < size:
            raise _Retry(f"connection ended at {have} of {size} bytes")

    def _check_response(self, remote: RemoteFile, r: httpx.Response, have: int, part: Path) -> int:
        """Where the body of ``r`` starts in the file; raise on answers that cannot be used."""
        if r.status_code == 404:
            raise DownloadError(f"{remote.name}: listed but not found on the camera (HTTP 404)")
        if r.status_code == 416:
            part.unlink(missing_ok=True)
            raise _Retry("camera refused the range, restarting")
        if r.status_code >= 500:
            raise _Retry(f"HTTP {r.status_code}")
        if r.status_code == 200:
            return 0  # Range ignored: the whole file follows
        if r.status_code != 206:
            raise DownloadError(f"{remote.name}: unexpected HTTP {r.status_code}")
        m = _CONTENT_RANGE_RE.match(r.headers.get("content-range", ""))
        if not m or int(m.group(1)) != have:
            part.unlink(missing_ok=True)
            raise _Retry(f"camera answered range {r.headers.get('content-range')!r} for bytes={have}-")
        return have

    def delete(self, remote: RemoteFile) -> None:
        """Delete a clip on the camera (``cmd=4003``); raise :class:`CameraError` if it refuses."""
        r = self._get("/", params={"custom": "1", "cmd": CMD_DELETE, "str": remote.fpath})
        m = _STATUS_RE.search(r.content)
        if r.status_code != 200 or not m or int(m.group(1)) != 0:
            status = m.group(1).decode() if m else "none"
            raise CameraError(
                f"{remote.name}: camera refused to delete it (HTTP {r.status_code}, status {status})"
            )
        log.info("%s: deleted on the camera", remote.name)
