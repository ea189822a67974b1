"""Terminal tables that never cut a value: a number, a metric name or a header word is shown whole.

Rich shrinks a table to the terminal by wrapping cells at spaces and, when that is not enough,
by cutting words (`pass_…`, `$0.01…`, `4,0…`): two different metrics then read the same and a
number reads as another. Here every column is given the width of its longest word (so cells
only wrap between words), and when even that does not fit, whole columns are left out, the
least useful first (a column with nothing but `—` before any other), and the table says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llmctl import fmt

# rich's default box with one space of padding each side: a column takes its width + 3, plus 1 for the edge
_COLUMN_CHROME = 3
_EDGE = 1


FOLD_MIN = 12  # the narrowest a `fold` column gets


@dataclass(frozen=True)
class Column:
    """A column: its header, alignment, `drop` (0: always shown; higher: left out first), and `fold`:
    a column of names (groups, models, cases) whose long words may be broken across lines, never
    with an ellipsis, when the table cannot fit otherwise. Numbers and metric names never fold."""

    header: str
    justify: str = "left"
    drop: int = 0
    fold: bool = False


def _plain(cell: Any) -> str:
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _longest_word(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


def _widest_line(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[Any]], width: int) -> tuple[list[int], list[int]]:
    """(indexes of the columns shown, each one's width) so that the table fits `width` and no word is cut.

    Columns narrower than their content wrap between words: the widest give way first, none below its
    longest word. Rich's own shrinking ignores that floor (and then overflows or cuts), so the widths
    are fixed here."""
    mins = [
        max(_longest_word(c.header), *(_longest_word(_plain(r[i])) for r in rows)) if rows else _longest_word(c.header)
        for i, c in enumerate(columns)
    ]
    mins = [min(m, max(FOLD_MIN, _longest_word(c.header))) if c.fold else m for m, c in zip(mins, columns, strict=True)]
    empty = {i for i in range(len(columns)) if rows and all(_plain(r[i]).strip() in ("", fmt.MISSING) for r in rows)}
    shown = list(range(len(columns)))

    def needed() -> int:
        return sum(mins[i] + _COLUMN_CHROME for i in shown) + _EDGE

    # left out first: columns with no value at all, then by `drop` (highest first), rightmost first
    order = sorted(
        (i for i in shown if columns[i].drop > 0),
        key=lambda i: (i not in empty, -columns[i].drop, -i),
    )
    for i in order:
        if needed() <= width:
            break
        shown.remove(i)
    widths = {
        i: max(mins[i], _widest_line(columns[i].header), *(_widest_line(_plain(r[i])) for r in rows)) for i in shown
    }
    room = width - _EDGE - _COLUMN_CHROME * len(shown)
    while sum(widths.values()) > room:
        slack = [i for i in shown if widths[i] > mins[i]]
        if not slack:
            break  # the words alone do not fit even with every droppable column gone
        widest = max(slack, key=lambda i: (widths[i], i))
        widths[widest] -= 1
    return shown, [widths[i] for i in shown]


def print_table(
    console: Any, columns: Sequence[Column], rows: Sequence[Sequence[Any]], *, title: Any = None, **table_options: Any
) -> list[str]:
    """Print `rows` as a table that fits the console without cutting a word; returns the headers left out
    (and says so under the table)."""
    from rich.table import Table
    from rich.text import Text

    shown, widths = fit_columns(columns, rows, console.width)
    table = Table(title=title, title_justify="left", **table_options)
    for i, w in zip(shown, widths, strict=True):
        c = columns[i]
        table.add_column(c.header, justify=c.justify, width=w, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*(r[i] if hasattr(r[i], "plain") else Text(str(r[i])) for i in shown))
    console.print(table)
    dropped = [columns[i].header for i in range(len(columns)) if i not in shown]
    if dropped:
        console.print(
            Text(
                f"not shown at {console.width} columns: {', '.join(dropped)} (a wider terminal shows them)",
                style="dim",
            )
        )
    return dropped
