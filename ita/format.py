"""Numbers and statistics as a trader reads them — the one formatter of the CLI, the chat, the HTML reports.

Conventions: a typographic minus (``−``), thousands by a narrow no-break space (readable in English and
Russian), ``—`` for a missing value, ``∞`` for infinity; R multiples ``"+2.00 R"``, percentages ``"21.4 %"``,
prices with the instrument's digits and no separator. Statistic values are formatted by the kind declared
for them in the statistics catalogue (:data:`ita.backtest.stats.STATISTICS`). Times: :mod:`ita.times`.

Example::

    >>> from ita.format import fmt_num, fmt_r, fmt_stat
    >>> fmt_num(-35), fmt_r(2), fmt_num(12345.678, 1)
    ('−35.00', '+2.00 R', '12\u202f345.7')
    >>> fmt_stat("Win Rate [%]", 21.428)
    '21.4'
"""
from __future__ import annotations

import math
import sys
from typing import Any

from ita.times import DASH

MINUS = "\u2212"            # typographic minus for signed numbers shown to traders
THIN = "\u202f"             # narrow no-break space: thousands separator readable in English and Russian

__all__ = ["DASH", "MINUS", "THIN", "as_float", "fmt_duration", "fmt_int", "fmt_money", "fmt_num", "fmt_pct",
           "fmt_price", "fmt_r", "fmt_stat", "price_decimals"]


def as_float(v: Any) -> float | None:
    """A number (or ``"inf"``/``"-inf"`` text as stored in JSON) → float; None/NaN/garbage → None."""
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("inf", "infinity", "+inf"):
            return math.inf
        if s == "-inf":
            return -math.inf
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def fmt_num(v: Any, decimals: int = 2, signed: bool = False, sep: bool = True, suffix: str = "") -> str:
    """``-35.0`` → ``"−35.00"``; ``signed`` adds ``+`` to positives; thousands by a narrow space (``sep``);
    ``—`` for missing, ``∞`` for infinity; ``suffix`` appended to a shown number."""
    f = as_float(v)
    if f is None:
        return DASH
    if math.isinf(f):
        return ("∞" if f > 0 else f"{MINUS}∞") + suffix
    f = round(f, decimals)
    body = f"{abs(f):,.{decimals}f}" if sep else f"{abs(f):.{decimals}f}"
    body = body.replace(",", THIN)
    sign = MINUS if f < 0 else ("+" if signed and f > 0 else "")
    return sign + body + suffix


def fmt_r(v: Any, signed: bool = True) -> str:
    """R multiples: ``"+2.00 R"``, ``"−35.00 R"``."""
    s = fmt_num(v, 2, signed)
    return s if s == DASH else f"{s} R"


def fmt_pct(v: Any, signed: bool = False) -> str:
    """Percent with one decimal: ``"21.4 %"``."""
    s = fmt_num(v, 1, signed)
    return s if s == DASH else f"{s} %"


def fmt_price(v: Any, digits: int) -> str:
    """A price with the instrument's digits (no thousands separator: ``3341.25``)."""
    return fmt_num(v, digits, sep=False)


def fmt_money(v: Any, currency: str = "USD", signed: bool = True) -> str:
    """Money in whole units: ``"+1 200 USD"``."""
    s = fmt_num(v, 0, signed)
    return s if s == DASH else f"{s} {currency}"


def fmt_int(v: Any) -> str:
    """A count: ``"1 234"``."""
    f = as_float(v)
    return DASH if f is None else fmt_num(f, 0)


def fmt_duration(v: Any) -> str:
    """A :class:`pandas.Timedelta` (or its text) → ``"1d 3h 05m"``; ``—`` when missing."""
    import pandas as pd

    try:
        td = pd.Timedelta(v)
    except (TypeError, ValueError):
        return DASH if v is None else str(v)
    if pd.isna(td):
        return DASH
    secs = int(round(td.total_seconds()))
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    return (f"{d}d " if d else "") + f"{h}h {rem // 60:02d}m"


def price_decimals(pip_size: float) -> int:
    """Quoted decimals for a pip size: 0.0001 → 5, 0.01 → 3, 0.1 → 2 (one more than the pip)."""
    if not pip_size or not math.isfinite(float(pip_size)) or pip_size <= 0:
        return 5
    return max(0, int(round(-math.log10(pip_size))) + 1)


def fmt_stat(key: str, v: Any) -> str:
    """One value of :func:`ita.backtest.stats.compute_stats` as text, by the kind its catalogue entry declares
    (a key outside the catalogue is formatted by its value's type)."""
    from ita.backtest.stats import statistic

    # a pandas or numpy value can only exist once they are loaded: text and plain numbers need neither
    pd, np = sys.modules.get("pandas"), sys.modules.get("numpy")
    if v is None or (pd is not None and v is pd.NaT) or (isinstance(v, float) and math.isnan(v)):
        return DASH
    st = statistic(key)
    kind = st.kind if st is not None else ""
    if (pd is not None and isinstance(v, pd.Timestamp)) or kind == "date":
        import pandas as pd

        t = pd.Timestamp(v)
        return t.strftime("%Y-%m-%d") if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M")
    if (pd is not None and isinstance(v, pd.Timedelta)) or kind == "duration":
        return fmt_duration(v)
    if isinstance(v, bool) or (np is not None and isinstance(v, np.bool_)):
        return str(bool(v))
    if kind == "int" or isinstance(v, int) or (np is not None and isinstance(v, np.integer)):
        return fmt_int(v)
    signed = bool(st and st.signed)
    if kind in ("pct", "dd_pct"):
        return fmt_num(v, 1, signed=signed)
    return fmt_num(v, 2, signed=signed)
