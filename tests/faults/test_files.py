"""Files a user's folder really holds: one still being copied, links, FIFOs, folders named like clips,
duplicates, and names that look like markup, options or two lines. Each gets one line with the right
reason, once; nothing is registered twice; nothing hangs or crashes the summary."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dashcam.video.mp4box import iter_boxes
from tests.faults.conftest import User, leftovers, stage_running, wait_for  # noqa: F401

pytestmark = pytest.mark.slow

WRITER = r"""
import sys, time
src, dst, pause_at, slow = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "slow"
data = open(src, "rb").read()
with open(dst, "wb", buffering=0) as out:
    at = 0
    if slow:  # a copy crawling over a slow share until told to finish
        while not sys.stdin.readable() or at < pause_at:
            out.write(data[at : at + 4096]); at += 4096
            time.sleep(0.05)
    else:  # a copy that stalls exactly at a box boundary, the file valid as far as it goes
        out.write(data[:pause_at]); at = pause_at
    print("paused", flush=True)
    sys.stdin.readline()
    out.write(data[at:])
"""


def _end_of_mdat(clip: Path) -> int:
    with open(clip, "rb") as f:
        return next(b.end for b in iter_boxes(f) if b.type == b"mdat")


def _clips(user: User) -> list[tuple[str, int, int]]:
    with sqlite3.connect(f"file:{user.db}?mode=ro", uri=True) as c:
        return sorted(c.execute("select file_name, size_bytes, gps_points from clip").fetchall())


def _writer(src: Path, dst: Path, pause_at: int, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(src), str(dst), str(pause_at), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "paused" or mode == "slow"
    return proc


def _finish(writer: subprocess.Popen[str]) -> None:
    assert writer.stdin is not None
    writer.stdin.write("go\n")
    writer.stdin.close()
    assert writer.wait(timeout=60) == 0


def test_a_file_still_growing_waits_for_the_next_run(user: User, drives: list[Path], tmp_path: Path) -> None:
    src = drives[0]
    folder = tmp_path / "share"
    folder.mkdir()
    dst = folder / src.name
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(src), str(dst), str(src.stat().st_size), "slow"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for("the copy to start", lambda: dst.exists() and dst.stat().st_size > 0, timeout=30)
        res = user.run("ingest", "--from", str(folder), timeout=120)
    finally:
        _finish(writer)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0 clip(s) registered (0 new), 0 skipped, 0 failed"
    assert res.stderr.count(f"note: {src.name}: still being written: left for the next run") == 1
    assert not user.db.exists() or _clips(user) == []
    again = user.run("ingest", "--from", str(folder))
    assert again.returncode == 0, again.stderr
    assert _clips(user) == [(src.name, src.stat().st_size, 12)]  # once, whole, with its GPS


def test_a_copy_that_stalled_at_the_end_of_mdat_is_replaced_not_doubled(
    user: User, drives: list[Path], tmp_path: Path
) -> None:
    src = drives[0]
    folder = tmp_path / "share"
    folder.mkdir()
    dst = folder / src.name
    cut = _end_of_mdat(src)
    assert cut < src.stat().st_size  # the GPS blocks come after the picture data
    writer = _writer(src, dst, cut, "stall")
    try:
        # stalled longer than the import waits: the file is a whole MP4 as far as it goes
        os.utime(dst, (dst.stat().st_atime, dst.stat().st_mtime - 60))
        first = user.run("ingest", "--from", str(folder))
        assert first.returncode == 0, first.stderr
        assert _clips(user) == [(src.name, cut, 0)]
    finally:
        _finish(writer)
    second = user.run("ingest", "--from", str(folder))
    assert second.returncode == 0, second.stderr
    assert (
        f"note: {src.name}: grew since it was registered as clip 1 ({cut} -> {src.stat().st_size} bytes)"
        in second.stderr
    )
    assert _clips(user) == [(src.name, src.stat().st_size, 12)]  # one clip: the whole recording
    raw = [p for p in (user.data / "raw").rglob("*") if p.is_file() and ".incoming" not in p.parts]
    assert [p.name for p in raw] == [src.name]  # the unfinished copy's file is gone too
    assert leftovers(user.data) == []


def test_odd_entries_and_hostile_names_each_get_one_right_line(
    user: User, drives: list[Path], tmp_path: Path
) -> None:
    folder = tmp_path / "card"
    folder.mkdir()
    for d in drives:
        shutil.copy(d, folder / d.name)
    shutil.copy(drives[0], folder / "[bold]copy.mp4")  # the same bytes under a markup-looking name
    boxed = folder / "2024_0518_093100_000009F.MP4"  # a first box whose type is markup
    boxed.write_bytes((24).to_bytes(4, "big") + b"[/i]" + bytes(16) + drives[1].read_bytes())
    os.mkfifo(folder / "fifo.mp4")
    (folder / "link.mp4").symlink_to("/etc/passwd")
    (folder / "folder.MP4").mkdir()
    shutil.copy(drives[1], folder / "-rf.mp4")
    shutil.copy(drives[1], folder / "new\nline.mp4")

    res = user.run("run", str(folder), timeout=300)
    assert res.returncode == 1  # refused files are failures; every other clip went through
    assert "Traceback" not in res.stderr and "MarkupError" not in res.stderr
    assert res.stdout.splitlines()[0].startswith("2 clip(s): ")
    lines = res.stderr.splitlines()
    expected = {
        "note: fifo.mp4: a FIFO (named pipe), not a file",
        "note: link.mp4: a symbolic link (links are not followed)",
        "note: folder.MP4: a folder, not a clip",
        f"note: [bold]copy.mp4: same content as {drives[0].name} (clip 1): one clip",
        "failed ingest: -rf.mp4: name starts with '-', which commands would read as an option",
        "failed ingest: new\\nline.mp4: name contains control or invalid characters",
    }
    for line in expected:
        assert lines.count(line) == 1, (line, lines)
    boxed_lines = [ln for ln in lines if boxed.name in ln]
    assert len(boxed_lines) == 1 and "[/i]" in boxed_lines[0], lines
    assert not any("name matches no known camera style" in ln for ln in lines)

    gps = user.run("gps", str(folder / "fifo.mp4"), timeout=30)  # a FIFO is refused, never waited on
    assert (gps.returncode, gps.stderr.strip()) == (
        1,
        f"error: {folder / 'fifo.mp4'}: cannot open: not a regular file (a FIFO)",
    )
    boxed_gps = user.run("gps", str(boxed), timeout=30)
    assert boxed_gps.returncode == 1 and len(boxed_gps.stderr.strip().splitlines()) == 1
    assert "[/i]" in boxed_gps.stderr
