"""Parse what a Novatek/Viofo camera lists: the ``cmd=3015`` XML and the HTML folder listings.

A listing comes from a device on the network, so it is treated as hostile: every entry is checked on
its own, and a bad entry is reported with a reason instead of spoiling the whole listing.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from dashcam.camera.names import HostileName, is_video_name, safe_name

log = logging.getLogger(__name__)

FolderKind = Literal["movie", "parking", "ro", "other"]

# The three folders Viofo cameras record into, as URL paths.
FOLDERS: dict[str, FolderKind] = {
    "/DCIM/Movie": "movie",
    "/DCIM/Movie/Parking": "parking",
    "/DCIM/Movie/RO": "ro",
}
MAX_FILE_SIZE = 64 << 30  # no SD-card clip comes near this; bigger is a lie or an attack
MAX_LISTING_BYTES = 16 << 20
ATTR_READ_ONLY = 0x01  # FAT attribute bit; Viofo lists protected clips as 33 (archive + read-only)

_FILE_BLOCK_RE = re.compile(rb"<File>.*?</File>", re.DOTALL)
_UNSAFE_XML_RE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_TIME_RE = re.compile(r"(\d{4})[/-](\d{2})[/-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_COMPONENT_RE = re.compile(r"^[A-Za-z0-9 _().-]+$")


class ListingError(ValueError):
    """A whole listing is unusable (malformed, too large or unsafe XML)."""


@dataclass(frozen=True)
class RemoteFile:
    """One clip on the camera."""

    name: str
    url_path: str  # percent-encoded path to GET, e.g. /DCIM/Movie/RO/2023_0815_123456_000120F.MP4
    size: int | None  # bytes; None when the listing did not say exactly (HTML listings)
    time: datetime | None  # naive camera-local modification time
    protected: bool
    folder: FolderKind

    @property
    def fpath(self) -> str:
        """The camera's own path (``A:\\DCIM\\...``), as ``cmd=4003`` wants it."""
        return "A:" + unquote(self.url_path).replace("/", "\\")


@dataclass(frozen=True)
class Rejected:
    """A listing entry that was refused, and why."""

    entry: str
    reason: str


@dataclass
class Listing:
    """Files and refused entries of one listing; ``source`` is "xml" or "html"."""

    source: str
    files: list[RemoteFile] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def folder_kind(url_dir: str) -> FolderKind:
    """Kind of a camera folder from its URL path (case-insensitive)."""
    for path, kind in FOLDERS.items():
        if url_dir.rstrip("/").lower() == path.lower():
            return kind
    return "other"


def _check_components(parts: list[str], shown: str) -> None:
    if not parts or any(p in ("", ".", "..") or not _COMPONENT_RE.match(p) for p in parts[:-1]):
        raise HostileName(f"{shown}: path has an empty, relative or unusual folder")


def fpath_to_url(fpath: str, name: str) -> str:
    """Map ``A:\\DCIM\\Movie\\x.MP4`` to ``/DCIM/Movie/x.MP4``; raise :class:`HostileName` if unsafe."""
    shown = ascii(fpath)[1:-1][:120]
    drive, sep, rest = fpath.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z]", drive) or not rest.startswith("\\"):
        raise HostileName(f"{shown}: path does not start with a drive letter")
    parts = rest[1:].split("\\")
    _check_components(parts, shown)
    if parts[-1] != name:
        raise HostileName(f"{shown}: path does not end with the listed name {ascii(name)}")
    safe_name(parts[-1])
    return "/" + "/".join(quote(p) for p in parts)


def _parse_size(text: str | None, shown: str) -> int:
    if text is None or not text.strip().isdigit():
        raise HostileName(f"{shown}: size {text!r} is not a number of bytes")
    size = int(text.strip())
    if size > MAX_FILE_SIZE:
        raise HostileName(f"{shown}: absurd size {size}")
    return size


def parse_time(text: str | None) -> datetime | None:
    """Camera time ``2023/08/15 12:34:56`` (or with dashes) as a naive datetime, or None."""
    m = _TIME_RE.search(text or "")
    if not m:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        return datetime(y, mo, d, h, mi, sec)
    except ValueError:
        return None


def _xml_entry(block: bytes) -> RemoteFile:
    try:
        el = ET.fromstring(block)
    except ET.ParseError as exc:
        raise HostileName(f"malformed XML entry ({exc})") from None
    name = el.findtext("NAME") or ""
    shown = ascii(name)[1:-1][:80] or "<no NAME>"
    safe_name(name)
    url_path = fpath_to_url(el.findtext("FPATH") or "", name)
    size = _parse_size(el.findtext("SIZE"), shown)
    attr_text = (el.findtext("ATTR") or "0").strip()
    attr = int(attr_text) if attr_text.isdigit() else 0
    folder = folder_kind(url_path.rsplit("/", 1)[0])
    protected = bool(attr & ATTR_READ_ONLY) or folder == "ro"
    return RemoteFile(name, url_path, size, parse_time(el.findtext("TIME")), protected, folder)


def parse_xml_listing(body: bytes) -> Listing:
    """Parse the ``cmd=3015`` answer; raise :class:`ListingError` when the document itself is unusable."""
    if len(body) > MAX_LISTING_BYTES:
        raise ListingError(f"XML listing of {len(body)} bytes is larger than {MAX_LISTING_BYTES}")
    # No DTDs at all: that rules out entity expansion ("billion laughs") and external entities.
    if _UNSAFE_XML_RE.search(body):
        raise ListingError("XML listing declares a DOCTYPE or ENTITY, refused")
    if b"<LIST" not in body.upper():
        raise ListingError("answer is not a Novatek file list (no <LIST> element)")
    listing = Listing("xml")
    for block in _FILE_BLOCK_RE.findall(body):
        try:
            listing.files.append(_xml_entry(block))
        except HostileName as exc:
            listing.rejected.append(Rejected(block[:200].decode("utf-8", "replace"), str(exc)))
    return listing


class _RowParser(HTMLParser):
    """Collects, per table row (or per link when there is no table), the hrefs and cell texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[list[str], list[str]]] = []
        self._hrefs: list[str] = []
        self._cells: list[str] = []
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._flush()
        elif tag == "a":
            href = dict(attrs).get("href")
            if href:
                self._hrefs.append(href)
        elif tag == "td":
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._cells.append("".join(self._text).strip())
        elif tag in ("tr", "table"):
            self._flush()

    def handle_data(self, data: str) -> None:
        self._text.append(data)

    def _flush(self) -> None:
        if self._hrefs:
            self.rows.append((self._hrefs, self._cells))
        self._hrefs, self._cells, self._text = [], [], []

    def close(self) -> None:
        super().close()
        self._flush()


def _html_entry(href: str, cells: list[str], folder_url: str) -> RemoteFile:
    shown = ascii(href)[1:-1][:120]
    parts = urlsplit(href)
    if parts.scheme or parts.netloc:
        raise HostileName(f"{shown}: link leaves the camera")
    path = parts.path if parts.path.startswith("/") else f"{folder_url.rstrip('/')}/{parts.path}"
    decoded = unquote(path)
    parent, _, name = decoded.rpartition("/")
    safe_name(name)
    _check_components(decoded[1:].split("/"), shown)
    if parent.lower() != folder_url.rstrip("/").lower():
        raise HostileName(f"{shown}: link points outside the listed folder {folder_url}")
    sizes = [c for c in cells if c.isdigit()]
    size = _parse_size(sizes[0], shown) if sizes else None
    time = next((t for t in map(parse_time, cells) if t is not None), None)
    folder = folder_kind(parent)
    url_path = "/" + "/".join(quote(p) for p in decoded[1:].split("/"))
    return RemoteFile(name, url_path, size, time, folder == "ro", folder)


def parse_html_listing(html: str, folder_url: str) -> Listing:
    """Parse a camera's HTML directory listing of ``folder_url``; only video files are kept.

    Sizes are kept only when a cell holds an exact byte count: Novatek pages print rounded sizes
    ("182MB"), which are useless for verification, and the client then asks the camera itself.
    """
    if len(html) > MAX_LISTING_BYTES:
        raise ListingError(f"HTML listing of {folder_url} is larger than {MAX_LISTING_BYTES} bytes")
    parser = _RowParser()
    parser.feed(html)
    parser.close()
    listing = Listing("html")
    seen: set[str] = set()
    for hrefs, cells in parser.rows:
        for href in hrefs:
            if "?" in href or not is_video_name(unquote(href.split("?")[0])):
                continue  # "Remove" links, sub-folders, thumbnails
            try:
                remote = _html_entry(href, cells, folder_url)
            except HostileName as exc:
                listing.rejected.append(Rejected(href[:200], str(exc)))
                continue
            if remote.url_path not in seen:
                seen.add(remote.url_path)
                listing.files.append(remote)
    return listing
