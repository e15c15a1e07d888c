"""Background processes with pid files: start once, find again, stop cleanly, outlive crashes."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class StackError(Exception):
    """A one-line cause for the operator, and the log file that explains it."""

    def __init__(self, cause: str, log_file: Path | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.log_file = log_file

    def __str__(self) -> str:
        return f"{self.cause} (see {self.log_file})" if self.log_file else self.cause


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass(frozen=True)
class ManagedProcess:
    """One process of the stack. `marker` must appear in its command line, so that a pid file
    left by a crash is never mistaken for an unrelated process that reused the pid."""

    name: str
    run_dir: Path
    log_dir: Path
    marker: str

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The live pid, or None; removes a stale pid file."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0]
        except (OSError, IndexError):
            cmdline, state = "", "Z"
        if self.marker in cmdline and state != "Z":
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            proc = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: `down` stops its children too
            )
        self.pid_file.write_text(f"{proc.pid}\n")
        return proc.pid

    def alive(self, pid: int) -> bool:
        """Whether `pid` (a process this stack started) still runs, by /proc alone."""
        try:
            return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
        except (OSError, IndexError):
            return False

    def stop(self, timeout: float = 20.0, pid: int | None = None) -> bool:
        """SIGTERM the process group, SIGKILL after `timeout`. True if something was stopped.
        `pid`: one this very call started (known alive even if its pid file was lost)."""
        pid = pid if pid is not None and self.alive(pid) else self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive(pid):
            _reap(pid)
            time.sleep(0.1)
        if self.alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
            _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> None:
    # Only children of this very process can be reaped; others are reaped by init.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(check: Callable[[], object], timeout: float, interval: float = 0.25) -> bool:
    """Poll `check()` until it is truthy or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False
