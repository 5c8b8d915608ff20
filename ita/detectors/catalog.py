"""The detector catalogue: every detector kind a trader can ask for, read by the tools, the chat parser and
the charts — nothing else lists detectors.

The entries are data (``ita/detectors/catalog.yaml``): for each kind its label, the function of
:mod:`ita.detectors` that computes it, the chart drawing (:func:`ita.charts.detectors.detector_figure`), the
setup language's name for it, parameters with defaults and allowed values, the columns of its events table,
argument aliases and the words a trader uses for it (EN/RU). :func:`run` computes a kind on candles,
:func:`detector_params` checks its parameters.

Adding a detector: write the function in its module of :mod:`ita.detectors` (events with ``confirmed_at``,
prefix-invariant), export it from ``ita/detectors/__init__.py``, add its entry to ``catalog.yaml`` and its
branch to :func:`run`. The ``run_detector`` tool, its argument description, the chat's vocabulary and the
events table then follow from the entry (a new chart drawing is a branch of ``detector_figure``; without one the
chart kind of a similar detector can be named).

Example::

    >>> from ita.detectors.catalog import KINDS, kind, resolve
    >>> KINDS[:3], kind("structure").label, resolve("BOS")
    (('fvg', 'inverse_fvg', 'swings'), 'BOS/CHoCH', 'structure')
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ita.detectors as D
from ita.config import DETECTOR_CATALOG, load_yaml
from ita.errors import ItaError, closest
from ita.sessions import local_time_to_utc
from ita.times import NY

if TYPE_CHECKING:  # imported where the detectors run: the catalogue itself is read without them
    import pandas as pd

CATALOG_PATH = DETECTOR_CATALOG


@dataclass(frozen=True)
class DetectorKind:
    """One catalogue entry (see ``catalog.yaml`` for the meaning of each field)."""

    kind: str
    label: str
    name: str
    function: str
    chart: str
    setup_kind: str | None
    daily: bool
    params: dict[str, Any]
    ints: tuple[str, ...]
    choices: dict[str, tuple]
    columns: tuple[tuple[str, str, str], ...]
    aliases: tuple[str, ...]
    words: tuple[str, ...]
    source: str


@lru_cache(maxsize=1)
def catalog() -> dict[str, DetectorKind]:
    """Every kind by name, in the catalogue's order. Raises :class:`~ita.errors.ItaError` if the file is
    malformed (an entry naming a function :mod:`ita.detectors` does not have, a missing field)."""
    raw = load_yaml(CATALOG_PATH.read_text(encoding="utf-8"))["kinds"]
    out: dict[str, DetectorKind] = {}
    for k, e in raw.items():
        cols = e["columns"]
        cols = raw[cols]["columns"] if isinstance(cols, str) else cols
        if e["function"] not in D.__all__:
            raise ItaError(f"{CATALOG_PATH}: {k}: ita.detectors has no function {e['function']!r}.")
        out[k] = DetectorKind(
            kind=k, label=e["label"], name=e["name"], function=e["function"], chart=e["chart"],
            setup_kind=e.get("setup_kind"), daily=bool(e.get("daily", False)), params=dict(e["params"]),
            ints=tuple(e.get("ints") or ()), choices={p: tuple(v) for p, v in (e.get("choices") or {}).items()},
            columns=tuple(tuple(c) for c in cols), aliases=tuple(e.get("aliases") or ()),
            words=tuple(str(w) for w in e.get("words") or ()), source=e.get("source", ""))
    return out


KINDS: tuple[str, ...] = tuple(catalog())


def kind(name: str) -> DetectorKind:
    """The entry of ``name`` (a kind or an alias, any case); :class:`~ita.errors.ItaError` with "Did you
    mean …?" and the list of kinds otherwise."""
    k = resolve(name)
    if k is None:
        key = _key(name)
        raise ItaError(f"Unknown detector {name!r}.{closest(key, KINDS)} Detectors: {', '.join(KINDS)}.")
    return catalog()[k]


def resolve(name: Any) -> str | None:
    """A kind or one of its aliases (``"BOS"``, ``"order block"``, ``"ifvg"``) → the kind; None if unknown."""
    key = _key(name)
    if key in catalog():
        return key
    return next((k for k, e in catalog().items() if key in e.aliases), None)


def _key(name: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lower())


def _session(name: str | None):
    from ita.sessions import default_sessions, get_session

    if name is None:
        return None
    known = default_sessions()
    if name not in known:
        raise ItaError(f"Unknown session {name!r}.{closest(name, known)} Known: {', '.join(sorted(known))}.")
    return get_session(name)


def detector_params(detector: str, params: dict | None = None) -> dict:
    """The parameters of ``detector``: the catalogue's defaults overlaid with ``params`` (text coerced to the
    declared types, choices checked, lower/upper case as declared).

    Raises :class:`~ita.errors.ItaError` naming the parameter and what is allowed (an unknown parameter comes
    with "Did you mean …?" and the list). Example: ``detector_params("fvg", {"min_gap_pips": "1"})`` →
    ``{"min_gap_pips": 1.0, "mitigation": "touch", "join": "none", "require_displacement_close": False}``."""
    info = kind(detector)
    defaults, choices = info.params, info.choices
    out = dict(defaults)
    for k, v in (params or {}).items():
        key = str(k).strip()
        if key not in defaults:
            raise ItaError(f"{detector} has no parameter {key!r}.{closest(key, list(defaults))} "
                           f"Parameters: {', '.join(defaults)}.")
        d = defaults[key]
        if isinstance(v, str) and v.strip().lower() in ("none", "null", ""):
            v = None
        try:
            if v is not None and isinstance(d, bool):
                v = _flag(v)
            elif v is not None and key in info.ints:
                v = int(float(v))
            elif v is not None and (isinstance(d, float) or key.startswith(("tolerance", "min_"))):
                v = float(v)
            elif isinstance(v, str):
                v = v.strip()
        except (TypeError, ValueError):
            what = "true or false" if isinstance(d, bool) else "a number"
            raise ItaError(f"{detector} parameter {key}={v!r} must be {what}.") from None
        if key in choices:
            allowed = choices[key]
            if key == "period" and isinstance(v, str):
                v = v.upper()
            elif isinstance(v, str):
                v = v.lower()
            if v not in allowed:
                shown = [str(x) for x in allowed if x is not None]
                raise ItaError(f"{detector} parameter {key}={v!r} is not allowed; use one of: {', '.join(shown)}.")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise ItaError(f"{detector} parameter {key}={v!r} must not be negative.")
        out[key] = v
    return out


def _flag(v: Any) -> bool:
    """``true/false``, ``yes/no``, ``1/0``, ``on/off`` (any case) or a bool → bool; ValueError otherwise."""
    if isinstance(v, bool):
        return v
    t = str(v).strip().lower()
    if t in ("true", "yes", "1", "on"):
        return True
    if t in ("false", "no", "0", "off"):
        return False
    raise ValueError(v)


def sweep_levels(c: pd.DataFrame, pip: float, tf: str, p: dict) -> pd.DataFrame:
    """The levels a ``sweeps`` run looks at (``p["of"]``: previous_levels, session_range, initial_balance,
    equal_levels) on candles ``c`` (UTC index), like the setup language builds them: ``level``, ``side``, ``confirmed_at``, ``until`` (like the setup language)."""
    import numpy as np
    import pandas as pd

    far = pd.Timestamp("2262-01-01", tz="UTC")
    of = p["of"]
    if of == "equal_levels":
        eq = D.equal_levels(c, tolerance_pips=1.0, pip_size=pip, timeframe=tf)
        return eq.assign(until=far)[["level", "side", "confirmed_at", "until"]]
    if of == "previous_levels":
        out = D.previous_period_levels(c, p["period"], timeframe=tf)
        until = out["confirmed_at"].shift(-1)
        until = pd.DatetimeIndex(until).fillna(far) if len(out) else until
        until = pd.Series(until, index=out.index)
    else:
        win = _session(p["session"]) if of == "session_range" else None
        out = (D.session_range(c, win, timeframe=tf) if of == "session_range" else D.initial_balance(c, timeframe=tf))
        days = out["day"].to_numpy().astype("datetime64[D]") + np.timedelta64(1, "D")
        until = pd.Series(local_time_to_utc(days, "00:00", NY), index=out.index)
    parts = [pd.DataFrame({"level": out[side].to_numpy(), "side": side, "confirmed_at": out["confirmed_at"].to_numpy(),
                           "until": until.to_numpy(), "row": out.index}) for side in ("high", "low")]
    lv = pd.concat(parts, ignore_index=True)
    for col in ("confirmed_at", "until"):
        lv[col] = pd.to_datetime(lv[col], utc=True)
    return lv.sort_values(["confirmed_at", "row"], kind="stable").reset_index(drop=True)


def run(detector: str, c: pd.DataFrame, pip: float, tf: str, p: dict | None = None) -> pd.DataFrame:
    """Run the detector ``detector`` on candles ``c`` (OHLC, tz-aware UTC index, bar size ``tf``, pip size
    ``pip`` in price) with parameters ``p`` as :func:`detector_params` returns them (missing ones take the
    catalogue's defaults; ``None`` = all defaults).

    Returns the detector function's events DataFrame (see its docstring; every row has ``confirmed_at``, the
    UTC time it became knowable). Raises :class:`~ita.errors.ItaError` for an unknown kind, a bad parameter or
    a bad parameter combination.

    Example::

        >>> from ita.detectors import catalog
        >>> p = catalog.detector_params("fvg", {"min_gap_pips": "1"})
        >>> ev = catalog.run("fvg", candles, 0.0001, "M5", p)                         # doctest: +SKIP
    """
    import numpy as np
    import pandas as pd

    from ita.data.timeframes import tf_delta

    p = {**kind(detector).params, **(p or {})}

    try:
        if detector == "fvg":
            return D.fvg(c, pip, p["min_gap_pips"], p["mitigation"], timeframe=tf, join=p["join"],
                         require_displacement_close=p["require_displacement_close"])
        if detector == "inverse_fvg":
            return D.inverse_fvg(c, pip, p["min_gap_pips"], by=p["by"], timeframe=tf)
        if detector in ("swings", "structure", "order_blocks"):
            sw = D.swings(c, p["left"], p["right"], timeframe=tf)
            if detector == "swings":
                return sw
            br = D.structure_breaks(c, sw, by=p["by"], timeframe=tf)
            return br if detector == "structure" else D.order_blocks(c, br, zone=p["zone"], timeframe=tf)
        if detector == "previous_levels":
            return D.previous_period_levels(c, p["period"], timeframe=tf)
        if detector == "session_range":
            return D.session_range(c, _session(p["session"]), timeframe=tf)
        if detector == "initial_balance":
            win = _session(p["session"])
            return D.initial_balance(c, *([win] if win is not None else []), timeframe=tf)
        if detector == "opening_levels":
            return D.opening_levels(c, kind=p["kind"], timeframe=tf)
        if detector == "equal_levels":
            tol_p, tol_a = p["tolerance_pips"], p["tolerance_atr"]
            if tol_p is None and tol_a is None:
                tol_p = 1.0
            return D.equal_levels(c, tolerance_pips=tol_p, tolerance_atr=tol_a, pip_size=pip, left=p["left"],
                                  right=p["right"], lookback=p["lookback"], timeframe=tf)
        if detector == "sweeps":
            lv = sweep_levels(c, pip, tf, p)
            if p["side"]:
                lv = lv[lv["side"] == p["side"]].reset_index(drop=True)
            return D.sweeps(c, lv, level_col="level", name=p["of"], max_bars=p["max_bars"], until_col="until",
                            pip_size=pip, min_pierce_pips=p["min_pierce_pips"], timeframe=tf)
        if detector == "atr":
            vals = D.atr(c, p["period"]).to_numpy(dtype="float64")
            out = pd.DataFrame({"time": c.index, "confirmed_at": c.index + tf_delta(tf), "value": vals})
            return out[np.isfinite(out["value"].to_numpy())].reset_index(drop=True)
    except ValueError as exc:
        raise ItaError(f"{detector}: {exc}") from None
    raise ItaError(f"Unknown detector {detector!r}.")  # pragma: no cover - the argument model admits no other
