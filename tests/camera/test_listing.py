from __future__ import annotations

from datetime import datetime

import pytest

from dashcam.camera.listing import (
    ListingError,
    fpath_to_url,
    parse_html_listing,
    parse_xml_listing,
)
from dashcam.camera.names import HostileName


def _entry(
    name: str, fpath: str, size: str = "1234", attr: str = "32", time: str = "2023/08/15 12:34:56"
) -> str:
    return (
        f"<ALLFile><File><NAME>{name}</NAME><FPATH>{fpath}</FPATH><SIZE>{size}</SIZE>"
        f"<TIMECODE>0</TIMECODE><TIME>{time}</TIME><ATTR>{attr}</ATTR></File></ALLFile>"
    )


def _xml(*entries: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<LIST>' + "".join(entries) + "</LIST>").encode()


def test_xml_listing_maps_paths_folders_and_protection():
    listing = parse_xml_listing(
        _xml(
            _entry("2023_0815_123456_000120F.MP4", r"A:\DCIM\Movie\2023_0815_123456_000120F.MP4"),
            _entry("2023_0815_123456_000121PF.MP4", r"A:\DCIM\Movie\Parking\2023_0815_123456_000121PF.MP4"),
            _entry(
                "2023_0815_123456_000122EF.MP4", r"A:\DCIM\Movie\RO\2023_0815_123456_000122EF.MP4", attr="33"
            ),
            _entry("2023_0815_123456_000123F.MP4", r"A:\DCIM\Movie\2023_0815_123456_000123F.MP4", attr="33"),
        )
    )
    assert listing.source == "xml" and not listing.rejected
    first, parking, ro, locked = listing.files
    assert first.url_path == "/DCIM/Movie/2023_0815_123456_000120F.MP4"
    assert first.size == 1234 and first.time == datetime(2023, 8, 15, 12, 34, 56)
    assert (first.folder, first.protected) == ("movie", False)
    assert (parking.folder, parking.url_path) == (
        "parking",
        "/DCIM/Movie/Parking/2023_0815_123456_000121PF.MP4",
    )
    assert (ro.folder, ro.protected) == ("ro", True)
    assert (locked.folder, locked.protected) == ("movie", True)  # ATTR 33: read-only bit
    assert ro.fpath == r"A:\DCIM\Movie\RO\2023_0815_123456_000122EF.MP4"


def test_hostile_xml_entries_are_rejected_one_by_one():
    good = _entry("2023_0815_123456_000120F.MP4", r"A:\DCIM\Movie\2023_0815_123456_000120F.MP4")
    listing = parse_xml_listing(
        _xml(
            good,
            _entry("../../evil.MP4", r"A:\DCIM\Movie\..\..\evil.MP4"),
            _entry("evil.MP4", r"A:\DCIM\Movie\..\..\evil.MP4"),
            _entry("/etc/cron.d/x.MP4", "/etc/cron.d/x.MP4"),
            _entry("a\\b.MP4", r"A:\DCIM\Movie\a\b.MP4"),
            _entry("nul\x00.MP4", r"A:\DCIM\Movie\nul\x00.MP4"),
            _entry("big.MP4", r"A:\DCIM\Movie\big.MP4", size="99999999999999999"),
            _entry("neg.MP4", r"A:\DCIM\Movie\neg.MP4", size="-5"),
            _entry("other.MP4", r"A:\DCIM\Movie\else.MP4"),
            _entry("rel.MP4", r"DCIM\Movie\rel.MP4"),
        )
    )
    assert [f.name for f in listing.files] == ["2023_0815_123456_000120F.MP4"]
    assert len(listing.rejected) == 9
    reasons = " | ".join(r.reason for r in listing.rejected)
    for word in (
        "..",
        "separator",
        "malformed XML entry",
        "absurd size",
        "not a number",
        "does not end with",
        "drive letter",
    ):
        assert word in reasons
    assert all("\n" not in r.reason for r in listing.rejected)


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE LIST [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><LIST>&b;</LIST>',
        b'<?xml version="1.0"?><!DOCTYPE LIST SYSTEM "file:///etc/passwd"><LIST></LIST>',
        b"<html>Not a list</html>",
    ],
)
def test_unsafe_or_foreign_xml_documents_are_refused(body):
    with pytest.raises(ListingError):
        parse_xml_listing(body)


def test_empty_listing_is_fine():
    assert parse_xml_listing(_xml()).files == []


@pytest.mark.parametrize(
    ("fpath", "url"),
    [
        (r"A:\DCIM\Movie\x.MP4", "/DCIM/Movie/x.MP4"),
        (r"a:\DCIM\Movie\RO\x.MP4", "/DCIM/Movie/RO/x.MP4"),
        (r"A:\DCIM\Movie\Parking\x.MP4", "/DCIM/Movie/Parking/x.MP4"),
    ],
)
def test_fpath_to_url(fpath, url):
    assert fpath_to_url(fpath, "x.MP4") == url


@pytest.mark.parametrize(
    "fpath", [r"A:\DCIM\..\x.MP4", r"A:\\x.MP4", r"A:DCIM\x.MP4", "/DCIM/x.MP4", r"AB:\x.MP4"]
)
def test_fpath_to_url_refuses_escapes(fpath):
    with pytest.raises(HostileName):
        fpath_to_url(fpath, "x.MP4")


NOVATEK_PAGE = """<html><head><title>Index of /DCIM/Movie</title></head><body><table>
<tr><td><a href="/DCIM/Movie/Parking/"><b>Parking</b></a></td></tr>
<tr><td><a href="/DCIM/Movie/2023_0815_123456_000120F.MP4"><b>2023_0815_123456_000120F.MP4</b></a></td>
<td align=right>182MB</td><td align=right>2023/08/15 12:34:56</td>
<td><a href="/DCIM/Movie/2023_0815_123456_000120F.MP4?del=1">Remove</a></td></tr>
<tr><td><a href="2023_0815_123556_000121F.MP4">2023_0815_123556_000121F.MP4</a></td><td>52428800</td></tr>
<tr><td><a href="/DCIM/Movie/../../etc/x.MP4">x</a></td></tr>
<tr><td><a href="/DCIM/Photo/x.MP4">x</a></td></tr>
<tr><td><a href="http://evil.example/x.MP4">x</a></td></tr>
<tr><td><a href="/DCIM/Movie/nul%00.MP4">x</a></td></tr>
<tr><td><a href="/DCIM/Movie/thumb.JPG">thumb</a></td></tr>
</table></body></html>"""


def test_html_listing_parses_novatek_pages_and_rejects_escapes():
    listing = parse_html_listing(NOVATEK_PAGE, "/DCIM/Movie")
    assert listing.source == "html"
    first, second = listing.files
    assert first.name == "2023_0815_123456_000120F.MP4"
    assert first.size is None  # "182MB" is rounded: the client asks the camera
    assert first.time == datetime(2023, 8, 15, 12, 34, 56)
    assert (first.folder, first.protected) == ("movie", False)
    assert (second.url_path, second.size) == ("/DCIM/Movie/2023_0815_123556_000121F.MP4", 52428800)
    reasons = [r.reason for r in listing.rejected]
    assert len(reasons) == 4, reasons
    assert any("outside the listed folder" in r for r in reasons)
    assert any("leaves the camera" in r for r in reasons)
    assert any("NUL" in r for r in reasons)


def test_html_listing_of_ro_folder_marks_protected():
    page = '<a href="/DCIM/Movie/RO/2023_0815_123456_000120EF.MP4">x</a>'
    (f,) = parse_html_listing(page, "/DCIM/Movie/RO").files
    assert f.protected and f.folder == "ro"
