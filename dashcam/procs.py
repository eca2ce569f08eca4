"""Processes: children of our own (a temporary server, a test's service) with a free loopback port and a
polite end, and the identity a claim records of its owner, to tell whether that owner still lives."""

from __future__ import annotations

import os
import socket
import subprocess
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def end_process(proc: subprocess.Popen[Any], timeout: float) -> None:
    """Ask ``proc`` to stop (SIGTERM), kill it if it has not within ``timeout`` seconds, and reap it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- who holds a claim


def _boot_id() -> str:
    """This boot of this machine (Linux); a pid means nothing across reboots."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return ""


def _pid_space() -> str:
    """Where a pid names one process: this boot of this machine, and this process's PID namespace. A flow
    run in a container shares the host's name and boot (host network) but counts pids on its own (from 1):
    its pids say nothing about the host's processes, nor the host's about its own."""
    boot = _boot_id()
    try:
        ns = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return boot
    return f"{boot}:{ns.removeprefix('pid:[').removesuffix(']')}" if boot else ""


def process_identity() -> str:
    """``host/boot:pid namespace/pid`` of this process: what a claim records of its owner."""
    return f"{socket.gethostname()}/{_pid_space()}/{os.getpid()}"


def describe_identity(identity: str | None) -> str:
    """``host, pid N`` for messages."""
    host, _, pid = _split(identity)
    return f"{host or '?'}, pid {pid or '?'}"


def _split(identity: str | None) -> tuple[str, str, str]:
    parts = (identity or "").rsplit("/", 2)
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else ("", "", "")


def identity_dead(identity: str | None) -> bool:
    """True only when ``identity`` is a process of this machine, this boot and this PID namespace that no
    longer exists: its claim is free at once. Anything else (another machine or container, no boot id, a pid
    that lives) may be alive."""
    host, space, pid = _split(identity)
    if not space or host != socket.gethostname() or space != _pid_space() or not pid.isdigit():
        return False
    return pid_dead(int(pid))


def pid_dead(pid: int) -> bool:
    """True when no process ``pid`` runs on this machine (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed child nobody has reaped yet is dead too."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
