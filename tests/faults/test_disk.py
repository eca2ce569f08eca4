"""A full disk, for real: a storage area on a small tmpfs. The run stops at once with one line naming the
area and its free space (no retries, no hang), leaves no half-written file, and once there is room a
rerun gives the rows and files of a clean run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import User, assert_like_clean, leftovers, no_orphans

pytestmark = pytest.mark.slow


@contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (root only; skipped where mounting is not allowed)."""
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if not mount or not umount:
        pytest.skip("mount/umount are not installed")
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (CI runs as root): {res.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run([umount, "-l", str(where)], check=False)


def _grow(where: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(where)], check=True)


@pytest.mark.parametrize(
    ("area", "size", "stage"),
    [("raw", "2500k", "ingest"), ("heavy_output", "48k", "heavy")],
    ids=["raw-while-importing", "heavy_output-while-writing-media"],
)
def test_a_full_area_stops_the_run_in_one_line_and_a_rerun_just_works(
    user: User, footage: Path, clean_run: dict[str, Any], area: str, size: str, stage: str
) -> None:
    with small_disk(user.data / area, size) as disk:
        res = user.run("run", str(footage), timeout=180)  # no retry 300 s later: it ends
        assert res.returncode == 1
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, res.stderr
        assert errors[0].startswith(f"error: {area} ({disk}) is full: ")
        assert errors[0].endswith(" free; free some space, then run it again"), errors[0]
        assert "Traceback" not in res.stderr
        assert leftovers(user.data) == []  # no half copy or half medium is left to fill the disk
        no_orphans(user.data)

        _grow(disk, "64m")  # the user frees space
        again = user.run("run", str(footage))
        assert again.returncode == 0, again.stderr
        assert_like_clean(user, clean_run)
