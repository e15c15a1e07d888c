"""`jiph`: the operator's command line (Typer). Each subcommand lives in its own module.

Whatever the operator can get wrong (a mistyped option, an unknown topic, a time that is not
one, Kafka or a service away) is said in one line on stderr with a non-zero exit, never a
traceback: usage errors exit 2, refusals (`CommandError`, `StackError`) 1. Anything else is a
bug and keeps its traceback. Shell completion: `jiph --install-completion`.

A command's module is imported when that command runs, not before: `jiph tail` does not load
the demo's scenario, FastAPI (through the token signer) or SQLAlchemy (through the audit) to
start. Only the root help, which lists every command, imports them all."""

from __future__ import annotations

import importlib
import logging
import signal
import sys
from collections.abc import Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from jiph.console import say_error
from jiph.errors import CommandError
from jiph.options import one_of
from jiph.stack.config import STACKS
from jiph.stack.processes import StackError

if TYPE_CHECKING:  # the Click that Typer builds on (its own copy)
    from typer._click import Command, Context

#: Each command, in the order the help lists them, and the module whose `register(app)` adds it.
COMMAND_MODULES = {
    "up": "jiph.stack_commands",
    "down": "jiph.stack_commands",
    "reset": "jiph.stack_commands",
    "status": "jiph.stack_commands",
    "token": "jiph.token_command",
    "tail": "jiph.tail_command",
    "deadletters": "jiph.ops_commands",
    "replay": "jiph.ops_commands",
    "where": "jiph.ops_commands",
    "demo": "jiph.demo_command",
    "migrate": "jiph.migrate_command",
    "audit": "jiph.audit_command",
}


class LazyCommands(MutableMapping[str, "Command"]):
    """The root's commands by name, each module imported on the first look-up of one of its
    commands. The names alone (the help's order, close matches for a mistyped command, shell
    completion of a command name) import nothing."""

    def __init__(self, modules: dict[str, str], loaded: MutableMapping[str, Command]):
        self.modules = modules
        self.loaded = loaded

    def __getitem__(self, name: str) -> Command:
        if name not in self.loaded and name in self.modules:
            self.loaded.update(_commands_of(self.modules[name]))
        return self.loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self.loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.modules), **dict.fromkeys(self.loaded)})

    def __len__(self) -> int:
        return len({*self.modules, *self.loaded})


def _commands_of(module_name: str) -> dict[str, Command]:
    """The Click commands that module's `register` adds, built as Typer builds the root's."""
    holder = typer.Typer()
    importlib.import_module(module_name).register(holder)
    return dict(typer.main.get_group(holder).commands)


class JiphGroup(TyperGroup):
    """The root command: its `main` turns every refusal into one line and honours the exit
    code a command returns, whether run as `jiph`, through `jiph.cli.main` or in a test's
    `CliRunner`. Its commands are imported as they are used (`LazyCommands`)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommands(COMMAND_MODULES, self.commands)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names, without importing every module

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (CommandError, StackError) as exc:  # the operator's to fix
            say_error(f"jiph {ctx.invoked_subcommand}", str(exc))
            raise typer.Exit(1) from None

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            result = super().main(
                args, prog_name or "jiph", complete_var, standalone_mode=False, **extra
            )
            code = result if isinstance(result, int) else 0
        except TyperException as exc:  # a usage error: an option mistyped, a value refused
            code = exc.exit_code
            if not exc.format_message().strip():  # `jiph` alone: Typer has shown the help
                return self._exit(code, standalone_mode)
            where = exc.ctx.command_path if getattr(exc, "ctx", None) else "jiph"  # type: ignore[attr-defined]
            say_error(where, f"{exc.format_message()} (see {where} --help)")
        except typer.Abort:
            code = 130
        return self._exit(code, standalone_mode)

    @staticmethod
    def _exit(code: int, standalone_mode: bool) -> int:
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    cls=JiphGroup,
    help="Run and operate the JIPH Gateway locally.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def root(
    stack: Annotated[
        str | None,
        typer.Option(
            envvar="JIPH_STACK",
            show_envvar=False,
            help=f"which local stack: {', '.join(STACKS)} (default: $JIPH_STACK or dev)",
            **one_of(tuple(STACKS), "a stack", "STACK"),
        ),
    ] = None,
) -> None:
    """Run and operate the JIPH Gateway locally."""


def main(argv: Sequence[str] | None = None) -> int:
    # `jiph tail | head` must exit quietly, not with a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # The commands say a broker that is away in one line of their own; aiokafka would print
    # its every connection attempt too (through logging's last-resort handler).
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    command = typer.main.get_command(app)
    return int(command.main(argv, prog_name="jiph", standalone_mode=False))


if __name__ == "__main__":
    sys.exit(main())
