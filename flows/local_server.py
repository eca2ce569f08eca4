"""The embedded default's Prefect server, booted in the background the moment `dashcam run` starts.

Without ``PREFECT_API_URL`` Prefect starts a temporary server of its own at the first flow call: the caller
then waits for it (~8 s of imports and database checks on a 2-core machine), and imports the server's whole
package in its own process as well, just to start it (~6 s more). Started here instead, as the same kind
of temporary server (``prefect.server.api.server:create_app`` under uvicorn, UI off, on 127.0.0.1, state
under ``PREFECT_HOME``), it boots while this process imports the flows, checks the schema and loads the
models, and the flows reach it through ``PREFECT_API_URL`` like any other server.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import IO

from dashcam.procs import end_process, free_port

BOOT_TIMEOUT_S = 120.0


class LocalPrefectError(RuntimeError):
    """The temporary Prefect server did not come up (the message says why, with its last output)."""


class LocalPrefect:
    """A temporary Prefect server in a child process: ``start`` returns at once, ``wait`` until it answers."""

    def __init__(self) -> None:
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._up = False

    def start(self) -> LocalPrefect:
        import importlib.util

        # where prefect is installed, without importing it here (that alone takes seconds)
        spec = importlib.util.find_spec("prefect")
        if spec is None or spec.origin is None:
            raise LocalPrefectError("prefect is not installed")
        self._log = tempfile.TemporaryFile(prefix="dashcam-prefect-server-")  # noqa: SIM115 - closed by stop()
        env = {
            **os.environ,
            "PREFECT_UI_ENABLED": "0",
            # Prefect's own markers of its temporary server: no background services, final settings
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        env.pop("PREFECT_API_URL", None)
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(Path(spec.origin).resolve().parent.parent),
                "--factory",
                "prefect.server.api.server:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "error",
                "--lifespan",
                "on",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # its own session: a Ctrl-C in the terminal reaches `dashcam` alone, which then stops it in order
            start_new_session=True,
            preexec_fn=partial(_die_with_parent, os.getpid()) if sys.platform == "linux" else None,
        )
        return self

    def wait(self, timeout: float = BOOT_TIMEOUT_S) -> str:
        """Block until the server answers its health check (once); its API URL."""
        import httpx

        assert self._proc is not None, "start() first"
        if self._up:
            return self.api_url
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._proc.poll() is not None:
                    raise LocalPrefectError(
                        f"the temporary Prefect server (database {_database()}) exited with code "
                        f"{self._proc.returncode}: {self._tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        self._up = True
                        return self.api_url
                if time.monotonic() > deadline:
                    raise LocalPrefectError(
                        f"the temporary Prefect server did not answer within {timeout:.0f} s: {self._tail()}"
                    )
                time.sleep(0.1)  # polling a child process's port: there is nothing to wait on instead

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            end_process(proc, timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _tail(self, limit: int = 300) -> str:
        """The server's own words on what went wrong: its last exception line, else its last line."""
        if self._log is None:
            return "(no output)"
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if _EXCEPTION_LINE.match(ln)]
        last = errors[-1] if errors else lines[-1] if lines else "(no output)"
        return last[:limit]


def _die_with_parent(parent: int) -> None:
    """In the child, before it runs: the kernel sends it SIGTERM when `dashcam` dies, however it dies
    (kill -9, the OOM killer), so no server is left running under init."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def _database() -> str:
    """Where the server keeps its state, as its settings say (a password in a URL is masked)."""
    url = os.environ.get("PREFECT_API_DATABASE_CONNECTION_URL")
    if url:
        return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
    home = os.environ.get("PREFECT_HOME") or str(Path.home() / ".prefect")
    return str(Path(home).expanduser() / "prefect.db")


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b.*: ")


@contextlib.contextmanager
def booted_early() -> Iterator[LocalPrefect | None]:
    """A temporary Prefect server booting in the background, stopped on the way out; None (nothing started)
    where a Prefect server is configured (``PREFECT_API_URL``)."""
    if os.environ.get("PREFECT_API_URL"):
        yield None
        return
    server = LocalPrefect().start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def using(server: LocalPrefect | None) -> Iterator[None]:
    """Flows called in this block use ``server`` (after it has booted); without one, Prefect's own setting."""
    if server is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: server.wait()}):
        try:
            yield
        finally:
            _drain_prefect()


def _drain_prefect(timeout: float = 10.0) -> None:
    """Send Prefect's queued logs and events now, while the server is still there to take them (its
    background workers would otherwise flush them at exit, into a server already stopped)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout)
