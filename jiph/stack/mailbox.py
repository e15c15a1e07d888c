"""The local stack's SMTP receiver (aiosmtpd): staff e-mail sent by the services lands in a
maildir under the stack's state folder (`<state>/mail`), one file per message, where a developer
or a test reads it. Production sends through GOV.UK Notify instead (shared/mail)."""

from __future__ import annotations

import mailbox
import os
import sys
from email.message import Message

from jiph.stack.config import REPO_ROOT, StackConfig
from jiph.stack.processes import ManagedProcess, StackError, port_open, tail, wait_until

READY_TIMEOUT_S = 20


def mailbox_process(cfg: StackConfig) -> ManagedProcess:
    # The maildir's path in the command line: another stack's receiver is never taken for it.
    return ManagedProcess("smtp", cfg.run_dir, cfg.log_dir, marker=str(cfg.mail_dir))


def start_mailbox(cfg: StackConfig) -> bool:
    """Start the receiver unless it runs (or the stack has none). True if this call started it."""
    proc = mailbox_process(cfg)
    if not cfg.smtp_port or proc.pid() is not None:
        return False
    if port_open(cfg.smtp_port):
        raise StackError(f"port {cfg.smtp_port} is already taken; the SMTP receiver cannot start")
    for part in ("tmp", "new", "cur"):  # a maildir, as the receiver's handler expects one
        (cfg.mail_dir / part).mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "aiosmtpd",
        "--nosetuid",
        "--listen",
        f"127.0.0.1:{cfg.smtp_port}",
        "--class",
        "aiosmtpd.handlers.Mailbox",
        str(cfg.mail_dir),
    ]
    pid = proc.start(argv, os.environ, REPO_ROOT)
    up = wait_until(lambda: not proc.alive(pid) or port_open(cfg.smtp_port), READY_TIMEOUT_S)
    if not up or not proc.alive(pid):
        proc.stop(pid=pid)
        raise StackError(f"the SMTP receiver did not start: {tail(proc.log_file, 2)}")
    return True


def received(cfg: StackConfig) -> list[Message]:
    """Every message the receiver has kept, oldest first."""
    if not (cfg.mail_dir / "cur").exists():
        return []
    box = mailbox.Maildir(cfg.mail_dir, create=False)
    keyed = sorted(box.iteritems(), key=lambda item: item[1].get_date())
    return [message for _, message in keyed]
