"""How `jiph` writes for people and for scripts. On a terminal: Rich tables, colour and progress
bars. Piped, redirected or with `--json`: the same rows as plain, uncoloured, space-aligned
text that `grep`, `awk` and the tests read, and no progress bar at all. Whatever came from an
event or a service passes `printable` first, so it cannot drive the terminal."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

#: Piped output is never wrapped or cut: a row stays one line however long.
UNBOUNDED = 100_000


def printable(text: str) -> str:
    """`text` with control and format characters escaped (`\\x1b`, `\\u202e`): what an
    event carries must not move the operator's cursor, recolour or reorder their terminal."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")
        else ch
        for ch in text
    )


def console(*, stderr: bool = False, colour: bool | None = None) -> Console:
    """A console on stdout (or stderr) as it is now (tests swap the streams). `colour` None
    decides by whether it is a terminal (and NO_COLOR / FORCE_COLOR); True or False forces it.
    Markup, emoji codes and highlighting are off: text is shown as it is, never interpreted."""
    stream = sys.stderr if stderr else sys.stdout
    probe = Console(file=stream, force_terminal=colour)
    return Console(
        file=stream,
        force_terminal=colour,
        no_color=colour is False,
        markup=False,
        emoji=False,
        highlight=False,
        width=None if probe.is_terminal else UNBOUNDED,
    )


def table(*columns: str, right: Iterable[str] = ()) -> Table:
    """A table with these column headers (those in `right` aligned right, for numbers)."""
    aligned = set(right)
    grid = Table(box=None)
    for name in columns:
        grid.add_column(name, justify="right" if name in aligned else "left")
    return grid


def show(grid: Table) -> None:
    """Ruled with a bold header on a terminal; plain aligned columns otherwise."""
    out = console()
    if out.is_terminal:
        grid.box = box.SIMPLE_HEAD
        grid.header_style = "bold"
        out.print(grid)
        return
    grid.pad_edge = False
    grid.header_style = ""
    for column in grid.columns:
        column.no_wrap = True
    with out.capture() as captured:
        out.print(grid)
    # Rich pads the last column to its widest cell: trailing blanks mean nothing to a reader.
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def say_error(prefix: str, message: str) -> None:
    """`jiph tail: ...` as one line on stderr (red prefix on a terminal): whatever the message
    holds, newlines and control characters included, it stays one line."""
    line = Text.assemble((f"{prefix}: ", "bold red"), printable(" ".join(message.split())))
    console(stderr=True).print(line, soft_wrap=True)


def progress(*, unit: str = "") -> Progress:
    """A progress bar on stderr, drawn only when stderr is a terminal (a log file or a test's
    capture gets no redraws); `{task.fields[note]}` is shown after the count."""
    err = console(stderr=True)
    columns: list[Any] = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    ]
    return Progress(*columns, console=err, disable=not err.is_terminal, transient=False)
