"""`jiph`: the operator's command line. Each subcommand lives in its own module."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Callable, Sequence

from jiph import (
    audit_command,
    demo_command,
    migrate_command,
    ops_commands,
    stack_commands,
    tail_command,
    token_command,
)
from jiph.errors import CommandError
from jiph.stack.config import STACKS

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jiph", description="Run and operate the JIPH Gateway locally."
    )
    parser.add_argument(
        "--stack",
        choices=tuple(STACKS),
        default=None,
        help="which local stack (default: $JIPH_STACK or dev)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stack_commands.register(sub)
    token_command.register(sub)
    tail_command.register(sub)
    ops_commands.register(sub)
    demo_command.register(sub)
    migrate_command.register(sub)
    audit_command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # `jiph tail | head` must exit quietly, not with a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # The commands say a broker that is away in one line of their own; aiokafka would print
    # its every connection attempt too (through logging's last-resort handler).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args)
    except CommandError as exc:  # the operator's to fix: one line, no traceback
        print(f"jiph {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
