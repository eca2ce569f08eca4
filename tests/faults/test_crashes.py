"""kill -9, Ctrl-C and two runs at once, the way they happen to a user: real signals to a real `dashcam run`
on a fresh data folder. Each ends in one line, leaves no process behind, and an immediate rerun gives
the rows and files of a clean run."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import (
    User,
    assert_like_clean,
    no_orphans,
    processes_using,
    stage_running,
    wait_for,
)

pytestmark = pytest.mark.slow


def _rerun_is_clean(user: User, footage: Path, clean: dict[str, Any]) -> None:
    res = user.run("run", str(footage))
    assert res.returncode == 0, res.stderr  # not refused: nothing is running
    assert "already running" not in res.stderr
    assert res.stdout.splitlines()[0].endswith("0 failure(s)")
    assert_like_clean(user, clean)
    no_orphans(user.data)


@pytest.mark.parametrize("stage", ["preprocess", "heavy"])
def test_kill_9_of_the_whole_command_then_rerun(
    user: User, footage: Path, clean_run: dict[str, Any], stop_all: list[subprocess.Popen[str]], stage: str
) -> None:
    proc = user.start("run", str(footage))
    stop_all.append(proc)
    wait_for(f"{stage} to run", stage_running(user.db, stage), proc=proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    no_orphans(user.data)
    _rerun_is_clean(user, footage, clean_run)


def test_kill_9_of_the_main_process_alone_takes_the_prefect_server_with_it(
    user: User, footage: Path, clean_run: dict[str, Any], stop_all: list[subprocess.Popen[str]]
) -> None:
    """What the OOM killer does: only `dashcam` dies; its temporary Prefect server must not live on."""
    proc = user.start("run", "--prefect", str(footage))
    stop_all.append(proc)
    wait_for("heavy to run", stage_running(user.db, "heavy"), proc=proc, timeout=400)
    server = [p for p in processes_using(user.data) if p != proc.pid]
    assert server, "no temporary Prefect server was running"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    no_orphans(user.data)
    _rerun_is_clean(user, footage, clean_run)


def _in_a_terminal(user: User, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`dashcam ARGS` with a pseudo-terminal as its controlling terminal: Ctrl-C typed there reaches its
    foreground process group, as in a user's shell."""
    from tests.support import dashcam_command

    master, slave = pty.openpty()

    def become_foreground() -> None:
        import fcntl
        import termios

        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [dashcam_command(), *args],
        cwd=user.root,
        env={**user.env, "TERM": "xterm"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=become_foreground,
    )
    os.close(slave)
    return proc, master


def _read_all(master: int, proc: subprocess.Popen[bytes], timeout: float) -> str:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed: the command is gone
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out.decode(errors="replace")


@pytest.mark.parametrize("how", [[], ["--prefect"]], ids=["in-process", "prefect"])
def test_ctrl_c_ends_in_one_line_within_five_seconds(
    user: User,
    footage: Path,
    clean_run: dict[str, Any],
    stop_all: list[subprocess.Popen[str]],
    how: list[str],
) -> None:
    proc, master = _in_a_terminal(user, "run", *how, str(footage))
    stop_all.append(proc)  # type: ignore[arg-type]
    try:
        wait_for("heavy to run", stage_running(user.db, "heavy"), proc=proc, timeout=400)  # type: ignore[arg-type]
        _read_all(master, proc, 0.2)  # what start-up printed
        os.write(master, b"\x03")  # Ctrl-C at the keyboard
        pressed = time.monotonic()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):  # where each of its threads is (dashcam.cli.main)
                os.kill(proc.pid, signal.SIGUSR1)
            pytest.fail(f"Ctrl-C did not end the command within 5 s:\n{_read_all(master, proc, 2)}")
        took = time.monotonic() - pressed
        out = _read_all(master, proc, 2)
    finally:
        os.close(master)
    assert proc.returncode == 130, out
    assert "Traceback" not in out, out
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out).replace("\r", "\n")  # the terminal's escapes
    last = [ln for ln in text.splitlines() if ln.strip()][-1]
    assert last.startswith("interrupted: finished "), last
    assert "heavy of clip" in last and "Run the same command again" in last
    assert took < 5
    no_orphans(user.data)
    _rerun_is_clean(user, footage, clean_run)


def test_two_runs_at_once_on_one_data_folder(
    user: User, footage: Path, clean_run: dict[str, Any], stop_all: list[subprocess.Popen[str]]
) -> None:
    first = user.start("run", str(footage))
    stop_all.append(first)
    wait_for(
        "the first run to hold the folder",
        lambda: (user.data / ".lock").exists() and str(first.pid) in (user.data / ".lock").read_text(),
        proc=first,
    )
    second = user.run("run", str(footage), timeout=30)
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"error: another dashcam run (pid {first.pid}) is using this data folder ({user.data}): "
        "wait for it to finish, or give this one another DASHCAM_DATA_DIR"
    )
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert out.splitlines()[0].endswith("0 failure(s)")  # the first run is not disturbed
    assert_like_clean(user, clean_run)


def test_two_runs_at_once_on_a_fresh_prefect_home(
    user: User, footage: Path, stop_all: list[subprocess.Popen[str]]
) -> None:
    """Started together on a new folder: one runs, one refuses; Prefect's database is never migrated twice."""
    procs = [user.start("ingest", "--prefect", "--from", str(footage)) for _ in range(2)]
    stop_all.extend(procs)
    results = [(p.returncode, out, err) for p in procs for out, err in [p.communicate(timeout=300)]]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, _, err in results if code == 1)
    assert "is using this data folder" in refused and "duplicate column" not in refused
