"""The local stack's key store: a SoftHSM2 token under the stack's state folder.

`ensure_token(state_dir)` makes, once, everything the deployment service needs to keep officers'
keys outside PostgreSQL: `<state_dir>/softhsm/softhsm2.conf`, the token directory beside it, a
token initialised with `softhsm2-util`, and its PINs (generated with `secrets`, kept in files only
the owner can read). Called again, it finds them and changes nothing. Debian's `softhsm2` package
is installed when `softhsm2-util` is missing, as the stack does for PostgreSQL and Java.

Everything under `<state_dir>/softhsm/` is secret: the token files hold the officers' keys
(encrypted under a key derived from the user PIN) and the PIN files sit beside them. That is
acceptable for a development stack only; production uses an HSM and a PIN from its secret store.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jiph.stack.processes import StackError
from jiph.stack.system import ensure_command

SERVICE_PREFIX = "JIPH_DEPLOYMENT_"
_LABEL_MAX = 32  # CK_TOKEN_INFO.label is 32 bytes
_MODULE_NAME = "libsofthsm2.so"


@dataclass(frozen=True)
class TokenConfig:
    module_path: Path
    conf_path: Path
    token_label: str
    pin_file: Path
    so_pin_file: Path
    token_dir: Path

    @property
    def softhsm_dir(self) -> Path:
        return self.conf_path.parent

    def env(self, prefix: str = SERVICE_PREFIX) -> dict[str, str]:
        """What a service process needs to open the token (the PIN by file, never by value)."""
        p = prefix.rstrip("_") + "_PKCS11_"
        return {
            "SOFTHSM2_CONF": str(self.conf_path),
            p + "MODULE": str(self.module_path),
            p + "TOKEN_LABEL": self.token_label,
            p + "PIN_FILE": str(self.pin_file),
        }

    def read_pin(self) -> str:
        return self.pin_file.read_text().strip()


def softhsm_module() -> Path:
    """SoftHSM2's PKCS#11 library. Debian ships it in libsofthsm2 at
    /usr/lib/<multiarch>/softhsm/libsofthsm2.so with a stable /usr/lib/softhsm/ symlink; the
    package's file list and p11-kit's module file say where else it may be."""
    candidates = [Path("/usr/lib/softhsm") / _MODULE_NAME]
    if shutil.which("dpkg-query"):
        listed = subprocess.run(
            ["dpkg-query", "-L", "libsofthsm2"], capture_output=True, text=True, check=False
        )
        candidates += [Path(line) for line in listed.stdout.splitlines() if line.endswith(".so")]
    p11kit = Path("/usr/share/p11-kit/modules/softhsm2.module")
    if p11kit.is_file():
        for line in p11kit.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "module" and value.strip():
                candidates.append(Path(value.strip()))
    candidates += sorted(Path("/usr/lib").glob(f"*/softhsm/{_MODULE_NAME}"))
    candidates += [Path("/usr/local/lib/softhsm") / _MODULE_NAME]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise StackError("SoftHSM2 is installed but its PKCS#11 library libsofthsm2.so was not found")


def default_label(state_dir: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", state_dir.resolve().name) or "stack"
    return ("jiph-" + name)[:_LABEL_MAX]


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _secret_file(path: Path) -> str:
    """The secret in `path`, made (mode 0600, with a fresh random value) if it is not there."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text().strip()
        if not value:
            raise StackError(f"{path} is empty; `jiph reset` starts the key store over") from None
        return value
    value = secrets.token_urlsafe(24)  # 32 characters; SoftHSM2 takes 4-255
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def _write_if_changed(path: Path, text: str) -> None:
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _util(conf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["softhsm2-util", *args],
            env={**os.environ, "SOFTHSM2_CONF": str(conf)},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except subprocess.TimeoutExpired as exc:
        raise StackError(f"softhsm2-util {args[0]} did not finish in 60 s") from exc


def token_labels(conf: Path) -> list[str]:
    """The labels of the initialised tokens that `conf` points at."""
    done = _util(conf, "--show-slots")
    if done.returncode != 0:
        raise StackError(f"softhsm2-util --show-slots failed: {done.stderr.strip()[-300:]}")
    labels = []
    for line in done.stdout.splitlines():
        key, _, value = line.strip().partition(":")
        if key == "Label" and value.strip():
            labels.append(value.strip())
    return labels


def ensure_token(state_dir: Path, label: str | None = None) -> TokenConfig:
    """The stack's SoftHSM2 token under `state_dir`, made if it is not there yet. Idempotent."""
    ensure_command("softhsm2-util", "softhsm2")
    module = softhsm_module()
    home = state_dir.resolve() / "softhsm"
    tokens = home / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    os.chmod(home, 0o700)
    os.chmod(tokens, 0o700)
    label = label or default_label(state_dir)
    if not 0 < len(label.encode()) <= _LABEL_MAX:
        raise StackError(f"a token label is 1-{_LABEL_MAX} bytes, not {label!r}")
    cfg = TokenConfig(
        module_path=module,
        conf_path=home / "softhsm2.conf",
        token_label=label,
        pin_file=home / "user.pin",
        so_pin_file=home / "so.pin",
        token_dir=tokens,
    )
    with _locked(home):
        _write_if_changed(
            cfg.conf_path,
            "# Written by jiph (jiph/stack/keystore.py); rewritten when it differs.\n"
            f"directories.tokendir = {tokens}/\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n"
            "slots.mechanisms = ALL\n"
            "library.reset_on_fork = false\n",
        )
        labels = token_labels(cfg.conf_path)
        if label in labels:
            if not (cfg.pin_file.is_file() and cfg.so_pin_file.is_file()):
                raise StackError(
                    f"token {label!r} exists but its PIN files are gone; "
                    "`jiph reset` starts the key store over"
                )
            return cfg
        so_pin, user_pin = _secret_file(cfg.so_pin_file), _secret_file(cfg.pin_file)
        # softhsm2-util takes the PINs only as arguments (it reads a terminal otherwise): they
        # are visible in /proc to local users for the few milliseconds it runs. A development
        # stack accepts that; production tokens are provisioned by their operators.
        done = _util(
            cfg.conf_path,
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            so_pin,
            "--pin",
            user_pin,
        )
        if done.returncode != 0 or label not in token_labels(cfg.conf_path):
            detail = (done.stderr or done.stdout).strip()[-300:]
            raise StackError(f"softhsm2-util could not initialise token {label!r}: {detail}")
    return cfg
