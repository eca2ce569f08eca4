"""Who holds a clip: a claim records its owner process, so on its own machine a dead owner (kill -9, a
crash) frees the clip at once, a live one is named, and another machine's claim keeps the lease rules."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import update

from dashcam.db import crud
from dashcam.db.models import StageRun
from dashcam.db.session import session_scope
from dashcam.procs import _boot_id, _pid_space, identity_dead, process_identity
from dashcam.stages.context import ClipBusy, StageContext, recorded
from tests.support import need


@pytest.fixture
def ctx(pipeline_env: Path) -> StageContext:
    return StageContext.load()


@pytest.fixture
def clip_id(ctx: StageContext) -> int:
    with session_scope(ctx.engine) as s:
        cid, _ = crud.register_clip(session=s, content_hash="ab" * 32, file_name="x.MP4", size_bytes=1)
    return cid


def _hold(ctx: StageContext, clip_id: int, process: str) -> None:
    """The clip's heavy stage claimed by ``process``, with a lease that has hours to run."""
    with session_scope(ctx.engine) as s:
        assert crud.claim_stage(
            session=s,
            clip_id=clip_id,
            stage="heavy",
            version="1",
            owner="other",
            lease_s=7200,
            process=process,
        )


def _run_once(ctx: StageContext, clip_id: int) -> None:
    with recorded(ctx, clip_id, "heavy") as out:
        out["ok"] = True


def test_a_dead_owner_on_this_machine_frees_the_clip_at_once(ctx: StageContext, clip_id: int) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    _hold(ctx, clip_id, f"{socket.gethostname()}/{_pid_space()}/{child.pid}")
    with pytest.raises(
        ClipBusy, match=rf"heavy is already running \({socket.gethostname()}, pid {child.pid}\)"
    ):
        _run_once(ctx, clip_id)  # alive: it holds
    child.send_signal(signal.SIGKILL)
    child.wait()
    _run_once(ctx, clip_id)  # dead: taken over at once, the lease has hours left
    with session_scope(ctx.engine) as s:
        run = crud.stage_status(session=s, clip_id=clip_id, stage="heavy")
        assert run is not None and run.status == "done" and run.owner_process == process_identity()


def test_another_machines_claim_holds_until_its_lease_runs_out(ctx: StageContext, clip_id: int) -> None:
    _hold(ctx, clip_id, f"gpu-box-2/{'0' * 36}/1234")
    assert not identity_dead(f"gpu-box-2/{'0' * 36}/1234")  # a pid of another machine says nothing here
    with pytest.raises(ClipBusy, match=r"\(gpu-box-2, pid 1234\)"):
        _run_once(ctx, clip_id)
    with session_scope(ctx.engine) as s:  # time moved on, not waited for
        s.execute(update(StageRun).values(lease_until=datetime(2000, 1, 1, tzinfo=timezone.utc)))
    _run_once(ctx, clip_id)


def test_a_process_of_another_pid_namespace_is_told_apart(ctx: StageContext, clip_id: int) -> None:
    """A flow run in a container has the host's name and boot (host network) but pids of its own (counted
    from 1): its identity says so, and the host never takes its pid for one of its own processes."""
    unshare = shutil.which("unshare")
    if unshare is None:
        need("unshare (util-linux) is not installed")
    proc = subprocess.run(
        [
            unshare,
            "--pid",
            "--fork",
            sys.executable,
            "-c",
            "from dashcam.procs import process_identity as p; print(p())",
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        need(f"a PID namespace of its own is not permitted here: {proc.stderr.strip()}")
    boxed = proc.stdout.strip()
    host, space, pid = boxed.split("/")
    assert (host, pid) == (socket.gethostname(), "1")
    assert space != _pid_space() and space.startswith(_boot_id())
    assert not identity_dead(boxed)  # it has exited, but pid 1 of its namespace is not ours to judge
    _hold(ctx, clip_id, boxed)
    with pytest.raises(ClipBusy, match=rf"\({socket.gethostname()}, pid 1\)"):
        _run_once(ctx, clip_id)  # the claim holds until its lease runs out


def test_an_interrupted_attempt_releases_its_claim(ctx: StageContext, clip_id: int) -> None:
    with pytest.raises(KeyboardInterrupt), recorded(ctx, clip_id, "heavy"):
        raise KeyboardInterrupt  # Ctrl-C in the middle of the work
    with session_scope(ctx.engine) as s:
        run = crud.stage_status(session=s, clip_id=clip_id, stage="heavy")
        assert run is not None and (run.status, run.error, run.lease_until) == ("failed", "interrupted", None)
    _run_once(ctx, clip_id)
