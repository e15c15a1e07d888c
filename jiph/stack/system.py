"""Installing what the stack needs from Debian's packages, once, when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

from jiph.stack.processes import StackError

_apt_updated = False


def apt_install(*packages: str) -> None:
    global _apt_updated
    if os.geteuid() != 0:
        raise StackError(f"{' '.join(packages)} missing; install it (needs root): apt-get install")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=False, capture_output=True)
        _apt_updated = True
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["apt-get failed"]
        raise StackError(f"could not install {' '.join(packages)}: {last[0]}")


def ensure_command(command: str, package: str) -> None:
    if shutil.which(command) is None:
        apt_install(package)
    if shutil.which(command) is None:
        raise StackError(f"{command} is missing and installing {package} did not provide it")
