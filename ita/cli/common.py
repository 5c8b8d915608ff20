"""What every ``ita`` command shares: the consoles, the one error path, option parsing reused by several
commands, and rich rendering of tool tables and the statistics table.

Errors a user can fix print one clear message (``Error: …`` on stderr) and exit with status 2 — :func:`fail`.
Nothing here imports pandas at import time (``ita --help`` stays fast).
"""
from __future__ import annotations

import math
import sys
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.table import Table as RichTable

from ita.errors import ItaError

__all__ = ["console", "err_console", "fail", "fmt_value", "from_option", "param_option", "parse_params", "print_error",
           "print_stats", "print_tool_table", "rich_table", "symbol_option", "to_option", "version_option"]

# Piped output (CI logs, `| less`) gets a readable width instead of Rich's 80-column fallback.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


# ------------------------------------------------------------------ options shared by several commands
# Each returns a fresh typer.Option (help texts differ a little between commands and stay as they were).

def symbol_option(default: Any = "EURUSD", help: str = "Instrument, e.g. EURUSD, XAUUSD.") -> Any:
    """``--symbol/-s``: the instrument (``...`` = required)."""
    return typer.Option(default, "--symbol", "-s", help=help)


def from_option(default: Any = "2025-01-01", help: str = "First trading day (New York date), inclusive.") -> Any:
    """``--from``: the first day of a period (YYYY-MM-DD)."""
    return typer.Option(default, "--from", help=help)


def to_option(default: Any = "2025-12-31", help: str = "Last trading day, inclusive.") -> Any:
    """``--to``: the last day of a period, inclusive (YYYY-MM-DD)."""
    return typer.Option(default, "--to", help=help)


def version_option(help: str = "Setup version (default latest).") -> Any:
    """``--version/-v``: a setup version (v1, 2, …); None = the latest."""
    return typer.Option(None, "--version", "-v", help=help)


def param_option(help: str) -> Any:
    """``--param/-p key=value`` (repeatable), read with :func:`parse_params`."""
    return typer.Option(None, "--param", "-p", help=help)


# ------------------------------------------------------------------ errors and cells

def fail(exc: Exception | str) -> NoReturn:
    """Print ``Error: <exc>`` on stderr and exit with status 2 (a mistake the user can fix; nothing was changed).
    The text goes through :func:`ita.secrets.redact`: a configured token never reaches the terminal."""
    print_error(exc)
    raise typer.Exit(2)


def print_error(exc: Exception | str) -> None:
    """``Error: <exc>`` on stderr, secrets redacted, the text shown as written (no rich markup)."""
    from rich.markup import escape

    from ita.secrets import redact

    err_console.print(f"[bold red]Error:[/] {escape(redact(str(exc)))}", highlight=False, soft_wrap=True)


def fmt_value(v: Any, digits: int = 2) -> str:
    """A table cell: ``None``/NaN → ``—``, infinity → ``∞``, floats with ``digits`` decimals and thousands
    commas, midnight timestamps as their date, anything else ``str(v)``."""
    if v is None:
        return "—"
    if isinstance(v, float):
        if math.isnan(v):
            return "—"
        if math.isinf(v):
            return "∞"
        return f"{v:,.{digits}f}"
    if hasattr(v, "isoformat") and not isinstance(v, str):
        s = str(v)
        return s[:10] if s.endswith("00:00:00") else s
    return str(v)


def parse_params(items: Optional[list[str]]) -> dict[str, str]:
    """``--param key=value`` items → ``{key: value}`` (text; the setup loader converts the types).

    Raises :class:`ItaError` for an item without ``=``."""
    params = {}
    for it in items or []:
        if "=" not in it:
            raise ItaError(f"--param {it!r}: expected key=value, e.g. --param rr=3")
        k, v = it.split("=", 1)
        params[k.strip()] = v.strip()
    return params


def rich_table(table, no_wrap: tuple[str, ...] = (), **kw: Any) -> RichTable:
    """A tool's :class:`ita.tools.Table` (columns, rows of JSON scalars) as a rich table; ``kw`` go to
    :class:`rich.table.Table` (``title`` defaults to the tool table's title); the columns named in ``no_wrap``
    (ids, periods) are never folded. Cells are shown as given."""
    t = RichTable(title=kw.pop("title", table.title or None), **kw)
    for c in table.columns:
        t.add_column(str(c), no_wrap=str(c) in no_wrap)
    for row in table.rows:
        t.add_row(*("—" if v is None else str(v) for v in row))
    return t


def print_tool_table(table, **kw: Any) -> None:
    """Print a tool's :class:`ita.tools.Table` on the console (see :func:`rich_table`)."""
    console.print(rich_table(table, **kw), highlight=False)


def print_stats(stats, title: str) -> None:
    """Print the statistics of one run (a mapping / Series keyed like :func:`ita.backtest.stats.compute_stats`)
    as a two-column table: one section per catalogue ``group``, values by :func:`ita.format.fmt_stat`, signed
    figures green (> 0) or red (< 0)."""
    from ita.backtest.stats import STATISTICS
    from ita.format import as_float, fmt_stat

    t = RichTable(title=title, show_header=False, title_justify="left")
    t.add_column("statistic", style="bold")
    t.add_column("value", justify="right")
    for i, st in enumerate(STATISTICS):
        v = stats.get(st.key)
        val = fmt_stat(st.key, v)
        f = as_float(v) if st.signed and not isinstance(v, str) else None
        style = "" if f is None else "green" if f > 0 else "red" if f < 0 else ""
        last = i == len(STATISTICS) - 1 or STATISTICS[i + 1].group != st.group
        t.add_row(st.key, f"[{style}]{val}[/]" if style else val, end_section=last and i < len(STATISTICS) - 1)
    console.print(t)
