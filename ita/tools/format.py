"""Tables of tool results: statistics (the headline figures of :data:`ita.backtest.stats.HEADLINE`),
comparisons with a Δ column, and detector-event cells — numbers formatted by :mod:`ita.format`, times by
:mod:`ita.times` (New York wall-clock).

Example::

    >>> from ita.tools.format import stats_table
    >>> stats_table({"Trades": 98, "Total R": -35.0}).rows[:1]
    [['Trades', 98]]
"""
from __future__ import annotations

import json
import logging
import math
from typing import Any

from ita.backtest.stats import HEADLINE
from ita.format import DASH, as_float, fmt_money, fmt_num, fmt_pct, fmt_price, fmt_r
from ita.times import day_text as _day
from ita.times import ny_text as _ny
from ita.tools.results import Table

log = logging.getLogger(__name__)


LAST_N = 10                 # rows of event / signal tables


# (label shown, stats key, kind) — the headline figures of the statistics catalogue
STAT_ROWS = [(st.label, st.key, st.kind) for st in HEADLINE]


def _stat_cell(stats: dict, key: str, kind: str, currency: str = "USD") -> str | int:
    v = stats.get(key)
    if kind == "int":
        f = as_float(v)
        return DASH if f is None else int(f)
    if kind == "pct":
        return fmt_pct(v)
    if kind == "r":
        return fmt_r(v)
    if kind == "money":
        return fmt_money(v, currency)
    if kind == "dd":
        r = fmt_r(v, signed=False)
        pct = stats.get("Max Drawdown [%]")
        return r if as_float(pct) is None else f"{r} ({fmt_pct(pct)})"
    return fmt_num(v, 2)


def _stat_delta(a: dict, b: dict, key: str, kind: str, currency: str = "USD") -> str:
    x, y = as_float(a.get(key)), as_float(b.get(key))
    if x is None or y is None or math.isinf(x) or math.isinf(y):
        return DASH
    d = y - x
    if kind == "int":
        return fmt_num(d, 0, signed=True)
    if kind == "pct":
        s = fmt_num(d, 1, signed=True)
        return f"{s} pp"
    if kind in ("r", "dd"):
        return fmt_r(d)
    if kind == "money":
        return fmt_money(d, currency)
    return fmt_num(d, 2, signed=True)


def stats_table(stats: dict, currency: str = "USD", title: str = "Statistics") -> Table:
    rows = [[label, _stat_cell(stats, key, kind, currency)] for label, key, kind in STAT_ROWS]
    return Table(columns=["metric", "value"], rows=rows, title=title)


def compare_table(a: dict, b: dict, name_a: str, name_b: str, currency: str = "USD", title: str = "") -> Table:
    rows = [[label, _stat_cell(a, key, kind, currency), _stat_cell(b, key, kind, currency),
             _stat_delta(a, b, key, kind, currency)] for label, key, kind in STAT_ROWS]
    return Table(columns=["metric", name_a, name_b, "Δ"], rows=rows, title=title)


def stats_dict(stats) -> dict:
    from ita.store import json_scalar

    items = stats.items() if hasattr(stats, "items") else dict(stats).items()
    return {str(k): json_scalar(v) for k, v in items}


def stats_line(stats: dict) -> str:
    n = int(as_float(stats.get("Trades")) or 0)
    if not n:
        return "no trades"
    return (f"{n} trades, win rate {fmt_pct(stats.get('Win Rate [%]'))}, {fmt_r(stats.get('Total R'))}, "
            f"PF {fmt_num(stats.get('Profit Factor'), 2)}")


def event_cell(v: Any, kind: str, digits: int) -> Any:
    import pandas as pd

    if kind == "t":
        return _ny(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) and not pd.isna(v) else DASH
    if kind == "d":
        return _day(v)
    if kind == "p":
        return fmt_price(v, digits)
    if kind == "f1":
        return fmt_num(v, 1)
    if kind == "i":
        f = as_float(v)
        return DASH if f is None else int(f)
    return DASH if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def short_text(v: Any, n: int = 60) -> str:
    if v is None:
        return DASH
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"
