"""The live-signal snapshot: one figure showing a fresh, still pending signal on several timeframes.

When a live signal fires, ITA sends the trader one picture (Telegram photo, 1400×1000 PNG) that answers
"what does this look like?" the way the trader would check it by hand: the execution timeframe with the
order, and the higher timeframes for context. Unlike :func:`ita.charts.figures.trade_figure` (a finished
backtest trade) there is no future here: the order is pending, there is no fill and no exit, and nothing
after the signal's ``known_at`` is ever drawn.

Layout (designed for 1400×1000 viewed on a phone):

* the **execution** timeframe (the last of ``timeframes``, e.g. M5) is the large panel on top, full width,
  half of the plot height — it carries the most detail (killzones, the last price, the zone and range tags);
* the **higher** timeframes (e.g. H1, M15) sit side by side below it, highest on the left (the order a trader
  reads them: context → structure → execution); with two timeframes the context panel is full width below,
  with one there is only the execution panel; at most four timeframes (three small panels in the row);
* the **header** holds the title and the signal's facts on the left and the order's info box on the right,
  above the execution panel, so the box never covers a candle or a level (a corner inside the panel always
  hid bars on some signals);
* price axes are on the **right** (as on a trading platform) and the coloured price tags of the levels sit on
  that axis, so no width is wasted on a left axis; each panel reserves ~22 % of its width right of the
  "now" line as the (empty) future, where the pending order is projected: entry (dashed), SL (red), TP
  (green) lines from ``known_at`` with the risk (red) and reward (green) boxes.

Higher-timeframe panels show **closed bars only** (resampled from the execution candles with
:func:`ita.data.resample.resample`, kept by :func:`ita.data.resample.complete_bars`): the bar still forming
at ``known_at`` is not drawn (its slot stays empty up to the "now" line, and the panel title says "closed
bars"); the execution panel shows the latest price. See :func:`snapshot_figure`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ita.charts import style as S
from ita.charts.common import SHORT_SESSION, bar_width, esc, finite, meta_dict, spread_tags
from ita.charts.figures import event_marks, killzone_marks
from ita.times import utc
from ita.data.resample import bucket_start, complete_bars, resample
from ita.data.timeframes import TIMEFRAMES, tf_delta

# Nominal canvas the layout is designed for (the save_png size the live alerts use). Only used to keep the
# price tags apart and to size the info box; other sizes render fine, with approximate tag spacing.
WIDTH, HEIGHT = 1400, 1000
_MARGIN = dict(l=30, r=128, t=136, b=40)
_FUTURE = 0.22                       # share of each panel's width right of "now" (the pending order)
_TAG_GAP_PX = 21                     # vertical pitch of the price tags (14 px font + padding)
_EVENT_LABEL_PX = 50                  # room above/below a bar for its event label (arrow + text)
_MAX_PANELS = 4
# Default lookback in bars per timeframe (calendar gaps such as weekends are hidden, so bars = width).
# M5 108 bars = 9 h, M15 144 = 1.5 days, H1 120 = 5 days. Stretched (up to ×2) to show an older range/zone.
_LOOKBACK = {"M1": 120, "M5": 108, "M15": 144, "M30": 120, "H1": 120, "H4": 120, "D1": 90}
_SIDE_LOOKBACK = {"M1": 90, "M5": 96, "M15": 112, "M30": 96, "H1": 96, "H4": 90, "D1": 60}
_ROLE = {1: ("execution",), 2: ("context", "execution"), 3: ("context", "structure", "execution"),
         4: ("context", "bias", "structure", "execution")}


def _bucket(t: pd.Timestamp, tf: str) -> pd.Timestamp:
    return bucket_start(pd.DatetimeIndex([t]), tf)[0]


def _utc_index(candles: pd.DataFrame) -> pd.DataFrame:
    """Candles with a tz-aware UTC, ascending index (a view when already so)."""
    idx = pd.DatetimeIndex(candles.index)
    idx = idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC")
    out = candles.set_axis(idx, axis=0) if idx is not candles.index else candles
    if not idx.is_monotonic_increasing:
        out = out.iloc[np.argsort(idx.as_unit("ns").asi8, kind="stable")]
    return out


# ---------------------------------------------------------------------------------------------- bars

def _panel_bars(base: pd.DataFrame, base_bar: pd.Timedelta, tf: str, known_at: pd.Timestamp, n_default: int,
                anchors: list[pd.Timestamp]) -> pd.DataFrame:
    """The bars of one panel: closed ``tf`` bars up to ``known_at``, the last ``n`` of them.

    ``base`` is already cut at ``known_at`` (every bar closed). ``n`` is ``n_default`` stretched to reach
    the oldest anchor (range start, zone, events) with a few bars to spare, at most ``2 × n_default``."""
    step = tf_delta(tf)
    n_cap = 2 * n_default
    if step == base_bar:
        bars = base.iloc[-(n_cap + 8):]
    else:
        # enough calendar time for n_cap bars over weekends/holidays, aligned to a bar boundary so the first
        # resampled bar is whole
        span = step * n_cap * 1.6 + pd.Timedelta(days=4)
        t0 = _bucket(known_at - span, tf)
        i0 = base.index.searchsorted(t0, "left")
        part = base.iloc[i0:]
        if not {"volume", "spread"} <= set(part.columns):
            part = part.assign(**{c: part[c] if c in part.columns else np.nan for c in ("volume", "spread")})
        bars = complete_bars(resample(part, tf), tf, known_at) if len(part) else part.iloc[:0]
    if not len(bars):
        return bars
    n = n_default
    if anchors:
        first = min(anchors)
        k = int(bars.index.searchsorted(_bucket(first, tf), "left"))
        need = len(bars) - k + (12 if step <= pd.Timedelta(minutes=5) else 4)
        n = min(max(n, need), n_cap)
    return bars.iloc[-n:]


# ---------------------------------------------------------------------------------------------- panel

class _Panel:
    """One timeframe panel: its axes, its bars mapped to New York wall-clock x values, hidden gaps, x range."""

    def __init__(self, k: int, tf: str, role: str, bars: pd.DataFrame, known_at: pd.Timestamp, dec: int):
        self.k, self.tf, self.role, self.bars = k, tf, role, bars
        self.xa, self.ya = ("x", "y") if k == 1 else (f"x{k}", f"y{k}")
        self.step = tf_delta(tf)
        self.half = self.step / 2
        self.idx = pd.DatetimeIndex(bars.index)
        self.ny = S.index_to_ny(self.idx)
        self.known_at = known_at
        self.dec = dec
        self.now_x = S.to_ny(known_at) - self.half          # candles sit at their open time: t → t − half bar
        # hidden calendar gaps (weekends, holidays, a closed market before "now")
        times = list(self.ny) + [self.now_x + self.half]
        self.breaks: list[tuple[pd.Timestamp, pd.Timestamp]] = []
        for a, b in zip(times, times[1:]):
            if b - a > 3 * self.step:
                self.breaks.append((a + self.step, b))
        self.x_lo = self.ny[0] - self.half if len(self.ny) else self.now_x - self.step * 60
        shown = (self.now_x - self.x_lo) - sum((b - a for a, b in self.breaks), pd.Timedelta(0))
        future = shown * (_FUTURE / (1 - _FUTURE))
        self.x_hi = self.now_x + max(future, 6 * self.step)

    def edge(self, t: pd.Timestamp | None) -> pd.Timestamp | None:
        """Visual x of a bar boundary ``t`` (UTC), snapped to the start of this timeframe's bar holding it."""
        if t is None:
            return None
        return S.to_ny(_bucket(t, self.tf)) - self.half

    def bar_of(self, t: pd.Timestamp | None) -> int | None:
        """Position of the shown bar containing UTC time ``t`` (None if that bar is not shown)."""
        if t is None or not len(self.idx):
            return None
        b = _bucket(t, self.tf)
        j = int(self.idx.searchsorted(b))
        return j if j < len(self.idx) and self.idx[j] == b else None


def _session_names(session: Any) -> tuple[str, str]:
    """A range's session id → (label, short tag prefix): 'asia' → ('Asia', 'Asia'), 'frankfurt_ib' →
    ('Frankfurt IB', 'IB')."""
    sess = str(session or "session").replace("_", " ").strip()
    words = sess.split()
    lab = " ".join(w.upper() if w.lower() in ("ny", "ib", "kz", "am", "pm") else w.title() if w.islower() else w
                   for w in words) or "Session"
    if words and words[-1].lower() == "ib":
        return lab, "IB"
    return lab, SHORT_SESSION.get(sess.lower(), lab if len(lab) <= 6 else lab[:3])


def _event_bars(p: _Panel, marks: list) -> dict[tuple[int, bool], list[str]]:
    """``{(bar position, label below the bar?): [labels]}`` for the step events whose bar this panel shows."""
    at: dict[tuple[int, bool], list[str]] = {}
    for ev, label, low_side in marks:
        j = p.bar_of(utc(ev.get("time")))
        if j is not None and label not in at.get((j, low_side), []):
            at.setdefault((j, low_side), []).append(label)
    return at


def _candle_trace(p: _Panel) -> dict:
    rnd = lambda a: np.round(a.to_numpy(dtype="float64"), p.dec + 1).tolist()  # noqa: E731
    b = p.bars
    return dict(type="candlestick", xaxis=p.xa, yaxis=p.ya, name=p.tf, x=S.xstr(p.ny),
                open=rnd(b["open"]), high=rnd(b["high"]), low=rnd(b["low"]), close=rnd(b["close"]),
                increasing=dict(line=dict(color=S.CANDLE_UP, width=1), fillcolor="#ffffff"),
                decreasing=dict(line=dict(color=S.CANDLE_DOWN, width=1), fillcolor=S.CANDLE_DOWN),
                whiskerwidth=0, hoverinfo="x+y")


# ---------------------------------------------------------------------------------------------- figure

def _layout_domains(n: int, gap: float) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """(x domain, y domain) per panel in the order of ``timeframes`` (the last is the execution panel).

    ``gap``: horizontal space between side-by-side panels (paper fraction) for the left panel's price axis."""
    if n == 1:
        return [((0.0, 1.0), (0.0, 1.0))]
    if n == 2:
        return [((0.0, 1.0), (0.0, 0.39)), ((0.0, 1.0), (0.5, 1.0))]
    w = (1.0 - gap * (n - 2)) / (n - 1)
    below = [((round(i * (w + gap), 4), min(round(i * (w + gap) + w, 4), 1.0)), (0.0, 0.39)) for i in range(n - 1)]
    return [*below, ((0.0, 1.0), (0.5, 1.0))]


def _check(candles: pd.DataFrame, signal: Mapping, timeframes: Sequence[str]) -> tuple:
    if not isinstance(candles, pd.DataFrame):
        raise ValueError(f"snapshot_figure: candles must be a DataFrame, got {type(candles).__name__}")
    missing = {"open", "high", "low", "close"} - set(candles.columns)
    if missing:
        raise ValueError(f"snapshot_figure: candles lack column(s) {sorted(missing)}")
    if not isinstance(signal, Mapping):
        raise ValueError(f"snapshot_figure: signal must be a mapping (one row of evaluate()), got "
                         f"{type(signal).__name__}")
    known_at = utc(signal.get("known_at"))
    entry, sl, tp = (finite(signal.get(k)) for k in ("entry_price", "sl_price", "tp_price"))
    bad = [k for k, v in (("known_at", known_at), ("entry_price", entry), ("sl_price", sl), ("tp_price", tp))
           if v is None]
    if bad:
        raise ValueError(f"snapshot_figure: signal {signal.get('signal_id', '?')} lacks a valid "
                         f"{', '.join(bad)} (got {', '.join(f'{k}={signal.get(k)!r}' for k in bad)})")
    if isinstance(timeframes, str) or not len(timeframes):
        raise ValueError("snapshot_figure: timeframes must be a non-empty tuple such as ('H1', 'M15', 'M5')")
    tfs = []
    for tf in timeframes:
        key = str(tf).upper().strip()
        if key not in TIMEFRAMES:
            raise ValueError(f"snapshot_figure: unknown timeframe {tf!r}; use {', '.join(TIMEFRAMES)}")
        tfs.append(key)
    if len(set(tfs)) != len(tfs) or len(tfs) > _MAX_PANELS:
        raise ValueError(f"snapshot_figure: timeframes must be 1–{_MAX_PANELS} distinct names, "
                         f"got {list(timeframes)}")
    return known_at, entry, sl, tp, tfs


def _tag_px(tags: list[tuple[float, str, str]], font: int) -> float:
    """Width in pixels of the widest price tag (monospace: ~0.6 em per character) incl. its arrow."""
    n = max((len(t) for _, t, _ in tags), default=0)
    return 10 + 4 + n * 0.6 * font + 6


def _spec(candles: pd.DataFrame, signal: Mapping, timeframes: Sequence[str], title: str, pip_size: float,
          subtitle: str | None) -> dict:
    known_at, p_entry, p_sl, p_tp, tfs = _check(candles, signal, timeframes)
    sg = dict(signal)
    pip = float(pip_size) if finite(pip_size) and float(pip_size) > 0 else 0.0001
    dec = S.price_decimals(pip)
    pf = f"{{:.{dec}f}}"
    direction = str(sg.get("direction") or "").lower()
    if direction not in ("long", "short") and p_sl != p_entry:
        direction = "long" if p_sl < p_entry else "short"
    is_long = direction == "long"
    meta = meta_dict(sg.get("meta"))
    rng = meta.get("range") if isinstance(meta.get("range"), Mapping) else None
    zone = meta.get("zone") if isinstance(meta.get("zone"), Mapping) else None
    st = meta.get("structure") if isinstance(meta.get("structure"), Mapping) else None
    r_start, r_end = (utc(rng.get("start")), utc(rng.get("end"))) if rng else (None, None)
    z_time = utc(zone.get("time")) if zone else None
    marks = event_marks(meta, direction)
    anchors = [t for t in (r_start, z_time, *(utc(ev.get("time")) for ev, _, _ in marks),
                           utc(st.get("swing_time")) if st else None) if t is not None and t < known_at]
    # never chase an anchor more than 3 days back (a week-old reference level is clipped, not shown whole)
    anchors = [t for t in anchors if t >= known_at - pd.Timedelta(days=3)]

    # ---- the execution candles, cut at known_at: a bar is drawn only if it closed by then
    data = _utc_index(candles)
    sig_tf = str(sg.get("tf") or "").upper()
    if len(data) > 1:
        base_bar = bar_width(pd.DatetimeIndex(data.index[-500:]))
    else:
        base_bar = tf_delta(sig_tf) if sig_tf in TIMEFRAMES else tf_delta(tfs[-1])
    cut_bar = max(base_bar, tf_delta(sig_tf)) if sig_tf in TIMEFRAMES else base_bar
    base = data.iloc[:int(data.index.searchsorted(known_at - cut_bar, "right"))]   # open + bar <= known_at
    finer = [tf for tf in tfs if tf_delta(tf) < base_bar]
    if finer and len(data) > 1:
        raise ValueError(f"snapshot_figure: timeframe(s) {finer} are finer than the candles "
                         f"({base_bar}); pass candles of the finest timeframe shown")

    n = len(tfs)
    roles = _ROLE[n]
    rr = finite(meta.get("rr"))
    if rr is None and p_entry != p_sl:
        rr = abs(p_tp - p_entry) / abs(p_entry - p_sl)

    plot_h0 = HEIGHT - _MARGIN["t"] - _MARGIN["b"]
    dom_y0 = [d[1] for d in _layout_domains(n, 0.1)]       # vertical layout does not depend on the gap
    traces: list[dict] = []
    shapes: list[dict] = []
    ann: list[dict] = []
    panels: list[tuple[_Panel, list, float, float]] = []      # (panel, tags, y0, y1)
    for i, tf in enumerate(tfs):
        execution = i == n - 1
        look = (_LOOKBACK if execution or n == 2 else _SIDE_LOOKBACK).get(tf, 120)
        if not execution and n == 4:
            look = look * 2 // 3                         # three panels side by side: narrower, fewer bars
        bars = _panel_bars(base, base_bar, tf, known_at, look, anchors)
        # axis numbering: the execution panel is x/y (the first pair), the others x2, x3, … left to right
        p = _Panel(1 if execution else i + 2, tf, roles[i], bars, known_at, dec)
        fs = 13 if execution else 12                    # annotation font size
        xr, yr = p.xa, p.ya
        xd, yd = f"{xr} domain", f"{yr} domain"
        has = len(p.bars) > 0
        X = S.xstr
        x_lo, x_hi = p.x_lo, p.x_hi
        tags: list[tuple[float, str, str]] = []

        if has:
            traces.append(_candle_trace(p))
            lo = p.bars["low"].to_numpy(dtype="float64")
            hi = p.bars["high"].to_numpy(dtype="float64")
        else:
            traces.append(dict(type="candlestick", xaxis=xr, yaxis=yr, name=p.tf, x=[], open=[], high=[], low=[],
                               close=[]))
            lo = hi = np.array([])
            ann.append(dict(x=0.39, y=0.5, xref=xd, yref=yd, text=f"no {p.tf} data before this signal",
                            showarrow=False, font=dict(size=16, color=S.MUTED)))
        first_t = p.idx[0] if has else known_at

        # ---- y range: candles and every level drawn in this panel
        levels = [p_entry, p_sl, p_tp]
        range_shown = bool(rng and r_start is not None and r_end is not None and r_end > first_t
                           and finite(rng.get("high")) is not None and finite(rng.get("low")) is not None)
        zone_shown = bool(zone and finite(zone.get("top")) is not None and finite(zone.get("bottom")) is not None)
        if range_shown:
            levels += [float(rng["high"]), float(rng["low"])]
        if zone_shown:
            levels += [float(zone["top"]), float(zone["bottom"])]
        if isinstance(meta.get("sweep"), Mapping) and finite(meta["sweep"].get("level")) is not None \
                and p.bar_of(utc(meta["sweep"].get("time"))) is not None:
            levels.append(float(meta["sweep"]["level"]))
        ylo = min([*levels, *lo.tolist()])
        yhi = max([*levels, *hi.tolist()])
        span = max(yhi - ylo, 10 * pip)
        y0, y1 = ylo - 0.06 * span, yhi + 0.06 * span
        at = _event_bars(p, marks) if has else {}
        f = _EVENT_LABEL_PX / (plot_h0 * (dom_y0[i][1] - dom_y0[i][0]))
        for (j, low_side) in at:          # room for the event labels inside the panel
            if low_side:
                y0 = min(y0, (float(lo[j]) - f * y1) / (1 - f))
            else:
                y1 = max(y1, (float(hi[j]) - f * y0) / (1 - f))

        # ---- killzones on an intraday execution panel (faint bands, label at the bottom)
        if execution and has and p.step <= pd.Timedelta(minutes=15):
            kz_s, kz_a = killzone_marks(p.idx, p.ny, p.half, p.idx[0], p.idx[-1], xref=xr, yref=yd, label_y=0.0,
                                         label_anchor="bottom", font_size=11)
            shapes += kz_s
            ann += kz_a

        # ---- session range: box over its window, dotted high/low on to the right edge
        if range_shown:
            rh, rl = float(rng["high"]), float(rng["low"])
            lab, short = _session_names(rng.get("session"))
            bx0 = max(p.edge(r_start), x_lo)
            bx1 = min(p.edge(r_end), p.now_x)
            if bx1 > bx0:
                shapes.append(dict(type="rect", xref=xr, yref=yr, x0=X(bx0), x1=X(bx1), y0=rl, y1=rh,
                                   fillcolor=S.BLUE_FILL, line=dict(color=S.BLUE, width=1), layer="below"))
                if execution or p.step < pd.Timedelta(hours=1):
                    ann.append(dict(x=X(bx0), y=rh, xref=xr, yref=yr, xanchor="left", yanchor="bottom",
                                    text=f"{esc(lab)} range", showarrow=False, font=dict(size=fs, color=S.BLUE)))
            for pr in (rh, rl):
                shapes.append(dict(type="line", xref=xr, yref=yr, x0=X(max(bx1, x_lo)), x1=X(x_hi), y0=pr, y1=pr,
                                   line=dict(color=S.BLUE, width=1, dash="dot"), layer="below"))
            if execution:
                tags += [(rh, f"{esc(short)} H {pf.format(rh)}", S.BLUE),
                         (rl, f"{esc(short)} L {pf.format(rl)}", S.BLUE)]

        # ---- zone (FVG / OB) from its time to the right edge
        if zone_shown:
            zt, zb = float(zone["top"]), float(zone["bottom"])
            zx0 = max(p.edge(z_time or known_at), x_lo)
            shapes.append(dict(type="rect", xref=xr, yref=yr, x0=X(zx0), x1=X(x_hi), y0=min(zt, zb), y1=max(zt, zb),
                               fillcolor=S.PURPLE_FILL, line=dict(color=S.PURPLE, width=1), layer="below"))
            if execution:
                ztype = str(zone.get("type") or "zone").upper()[:5]
                zs = finite(zone.get("size_pips"))
                zdir = str(zone.get("direction") or "").lower()
                arrow = "↓" if zdir in ("bearish", "short") else "↑" if zdir in ("bullish", "long") else ""
                tags.append(((zt + zb) / 2, f"{esc(ztype)} {arrow} {zs:.1f}p" if zs is not None
                             else f"{esc(ztype)} {arrow}".strip(), S.PURPLE))

        # ---- the swept level (e.g. the previous day's high), unless it is the range's own high/low
        sw = meta.get("sweep") if isinstance(meta.get("sweep"), Mapping) else None
        sw_lv = finite(sw.get("level")) if sw else None
        if sw_lv is not None and has and not (range_shown and min(abs(sw_lv - float(rng["high"])),
                                                                 abs(sw_lv - float(rng["low"]))) < pip / 2):
            j = p.bar_of(utc(sw.get("time")))
            if j is not None:
                shapes.append(dict(type="line", xref=xr, yref=yr, x0=X(p.ny[max(j - 6, 0)] - p.half), x1=X(x_hi),
                                   y0=sw_lv, y1=sw_lv, line=dict(color=S.BLUE, width=1, dash="dot"), layer="below"))
                if execution:
                    tags.append((sw_lv, f"swept {pf.format(sw_lv)}", S.BLUE))

        # ---- structure level (BOS/CHoCH): dashed from the broken swing to the breaking bar
        if st and has:
            j0, j1 = p.bar_of(utc(st.get("swing_time"))), p.bar_of(utc(st.get("time")))
            lv = finite(st.get("level"))
            if j0 is not None and j1 is not None and j1 > j0 and lv is not None:
                shapes.append(dict(type="line", xref=xr, yref=yr, x0=X(p.ny[j0]), x1=X(p.ny[j1]), y0=lv, y1=lv,
                                   line=dict(color=S.BLUE, width=1.4, dash="dash")))

        # ---- event bars (break / sweep / BOS-CHoCH), one label per bar and side
        if has:
            for (j, low_side), labels in at.items():
                ann.append(dict(x=X(p.ny[j]), y=float(lo[j] if low_side else hi[j]), xref=xr, yref=yr,
                                text=" · ".join(esc(s) for s in labels), showarrow=True, arrowhead=2, arrowsize=1,
                                arrowwidth=1.3, arrowcolor=S.BLUE, ax=0, ay=28 if low_side else -28,
                                font=dict(size=fs, color=S.BLUE), bgcolor="rgba(255,255,255,0.85)"))

        # ---- the pending order: risk/reward boxes and entry/SL/TP lines from now into the future
        shapes.append(dict(type="rect", xref=xr, yref=yr, x0=X(p.now_x), x1=X(x_hi), y0=p_entry, y1=p_tp,
                           fillcolor=S.GREEN_FILL, line=dict(width=0), layer="below"))
        shapes.append(dict(type="rect", xref=xr, yref=yr, x0=X(p.now_x), x1=X(x_hi), y0=p_entry, y1=p_sl,
                           fillcolor=S.RED_FILL, line=dict(width=0), layer="below"))
        for pr, col, name, dash in ((p_tp, S.GREEN, "TP", "solid"), (p_entry, S.INK, "Entry", "dash"),
                                    (p_sl, S.RED, "SL", "solid")):
            shapes.append(dict(type="line", xref=xr, yref=yr, x0=X(p.now_x), x1=X(x_hi), y0=pr, y1=pr,
                               line=dict(color=col, width=2 if execution else 1.6, dash=dash)))
            tags.append((pr, f"{name} {pf.format(pr)}", col))
        if execution and has:
            last = float(p.bars["close"].iloc[-1])
            tags.append((last, f"last {pf.format(last)}", S.MUTED))

        # ---- "now": the decision time, a vertical line with its New York clock time on top
        shapes.append(dict(type="line", xref=xr, yref=yd, x0=X(p.now_x), x1=X(p.now_x), y0=0, y1=1,
                           line=dict(color=S.INK, width=1.2, dash="dot")))
        ann.append(dict(x=X(p.now_x), y=1.0, xref=xr, yref=yd, yanchor="bottom", xanchor="center",
                        text=f"<b>now {S.to_ny(known_at):%H:%M}</b>", showarrow=False, font=dict(size=fs, color=S.INK)))

        # ---- panel title
        role = {"execution": "execution · order pending", "context": "context", "bias": "bias",
                "structure": "structure"}[p.role]
        ann.append(dict(x=0.0, y=1.0, xref=xd, yref=yd, xanchor="left", yanchor="bottom", yshift=2,
                        text=f"<b>{p.tf}</b> <span style='color:{S.MUTED}'>· {role}"
                             f"{'' if execution else ' · closed bars'}</span>",
                        showarrow=False, font=dict(size=17 if execution else 15, color=S.INK)))
        panels.append((p, tags, y0, y1))

    # ---- geometry: the right margin fits the execution panel's tags, the gap between the lower panels
    # fits the left panel's tags (so a price tag never runs into the next panel)
    exec_tag_w = _tag_px(panels[-1][1], 14)
    side_tag_w = max((_tag_px(t, 13) for _, t, _, _ in panels[:-1]), default=0.0)
    margin = dict(_MARGIN, r=int(max(exec_tag_w, side_tag_w, 80) + 8))
    plot_w = WIDTH - margin["l"] - margin["r"]
    plot_h = HEIGHT - margin["t"] - margin["b"]
    gap = (max(side_tag_w, 70) + 24) / plot_w
    doms = _layout_domains(n, gap)

    layout_axes: dict[str, Any] = {}
    for (p, tags, y0, y1), (dom_x, dom_y) in zip(panels, doms):
        execution = p.role == "execution"
        xr, yr = p.xa, p.ya
        pan_h = plot_h * (dom_y[1] - dom_y[0])
        if tags:   # price tags on the right axis, spread so they never overlap
            to_px = lambda v: (v - y0) / (y1 - y0) * pan_h  # noqa: E731
            want = [to_px(v) for v, _, _ in tags]
            got = spread_tags(want, _TAG_GAP_PX if execution else _TAG_GAP_PX - 2, 9, pan_h - 9)
            for (v, text, col), w_px, g_px in zip(tags, want, got):
                ann.append(dict(x=1.0, xref=f"{xr} domain", y=v, yref=yr, text=text, showarrow=True, arrowhead=0,
                                arrowwidth=1, arrowcolor=col, ax=10, ay=-(g_px - w_px), axref="pixel",
                                ayref="pixel", xanchor="left", yanchor="middle",
                                font=dict(size=14 if execution else 13, color="white", family=S.MONO),
                                bgcolor=col, borderpad=2))
        wide = dom_x[1] - dom_x[0] > 0.6
        layout_axes["xaxis" if p.k == 1 else f"xaxis{p.k}"] = S.axis_style(
            type="date", domain=list(dom_x), anchor=yr, range=[S.xstr(p.x_lo), S.xstr(p.x_hi)],
            rangeslider=dict(visible=False), rangebreaks=[dict(bounds=[S.xstr(a), S.xstr(b)]) for a, b in p.breaks],
            hoverformat="%a %d %b %H:%M NY", tickfont=dict(size=13 if execution else 12, color=S.INK),
            nticks=12 if wide else 7 if dom_x[1] - dom_x[0] > 0.4 else 5, automargin=False)
        layout_axes["yaxis" if p.k == 1 else f"yaxis{p.k}"] = S.axis_style(
            domain=list(dom_y), anchor=xr, side="right", range=[y0, y1], tickformat=f".{dec}f",
            hoverformat=f".{dec}f", tickfont=dict(size=12, color=S.MUTED), nticks=8 if execution else 6,
            automargin=False)

    # ---- header: title and facts on the left, the order's info box on the right (above the execution
    # panel, so it never covers a candle or a level)
    ent_col = S.GREEN if is_long else S.RED
    facts = (f"<b><span style='color:{ent_col}'>{esc(direction.upper() or 'SIGNAL')}</span></b> "
             f"{esc(sg.get('entry_type') or '')} @ {pf.format(p_entry)}   ·   "
             f"signal {S.to_ny(known_at):%a %d %b %Y %H:%M} New York time")
    lines = [facts] + ([esc(subtitle)] if subtitle else [])
    top = margin["t"]                     # pixels from the top of the figure to the execution panel
    ann.append(dict(x=0.0, xref="paper", xanchor="left", xshift=-margin["l"] + 16, y=1.0, yref="paper",
                    yanchor="top", yshift=top - 12, text=f"<b>{esc(title)}</b>", showarrow=False, align="left",
                    font=dict(size=22, color=S.INK)))
    ann.append(dict(x=0.0, xref="paper", xanchor="left", xshift=-margin["l"] + 16, y=1.0, yref="paper",
                    yanchor="top", yshift=top - 44, text="<br>".join(lines), showarrow=False, align="left",
                    font=dict(size=15, color=S.MUTED)))
    ann.append(dict(x=1.0, xref="paper", xanchor="right", xshift=margin["r"] - 10, y=1.0, yref="paper",
                    yanchor="bottom", yshift=28, align="left", showarrow=False,
                    text=_info_box(sg, direction, p_entry, p_sl, p_tp, pip, pf, rr),
                    font=dict(size=15, family=S.MONO, color=S.INK), bgcolor="rgba(255,255,255,0.96)",
                    bordercolor="#cbd5e1", borderwidth=1, borderpad=7))

    layout = S.base_layout(margin=margin, shapes=shapes, annotations=ann, hovermode="closest",
                           font=dict(family=S.FONT, size=14, color=S.INK), **layout_axes)
    return dict(data=traces, layout=layout)


def _info_box(sg: Mapping, direction: str, p_entry: float, p_sl: float, p_tp: float, pip: float, pf: str,
              rr: float | None) -> str:
    """Four monospace rows, two columns: side/type | RR, entry | risk, SL | valid to, TP | flat at."""
    risk = abs(p_entry - p_sl) / pip
    reward = abs(p_tp - p_entry) / pip
    side = direction.upper() or "SIGNAL"
    et = str(sg.get("entry_type") or "").strip()
    exp, flat = utc(sg.get("expires_at")), utc(sg.get("exit_by"))
    left = [(side + (f" · {et} order" if et else "") + " · pending", None),
            (f"entry {pf.format(p_entry)}", None),
            (f"SL    {pf.format(p_sl)}  {risk:6.1f} pips", S.RED),
            (f"TP    {pf.format(p_tp)}  {reward:6.1f} pips", S.GREEN)]
    right = [f"RR {rr:.2f}" if rr is not None else "",
             f"risk {risk:.1f} pips",
             f"valid to {S.to_ny(exp):%H:%M} NY" if exp is not None else "",
             f"flat at   {S.to_ny(flat):%H:%M} NY" if flat is not None else ""]
    width = max(len(text) for text, _ in left) + 3
    rows = []
    for k, ((text, color), extra) in enumerate(zip(left, right)):
        pad = " " * (width - len(text))
        if k == 0:
            side_col = S.GREEN if direction == "long" else S.RED
            cell = f"<b><span style='color:{side_col}'>{esc(side)}</span></b>{esc(text[len(side):])}"
            extra = f"<b>{esc(extra)}</b>" if extra else ""
        else:
            cell = f"<span style='color:{color}'>{esc(text)}</span>" if color else esc(text)
            extra = esc(extra)
        rows.append(cell + pad + extra)
    return "<br>".join(rows)


def snapshot_figure(candles: pd.DataFrame, signal: Mapping, *, timeframes: Sequence[str] = ("H1", "M15", "M5"),
                    title: str, pip_size: float, subtitle: str | None = None) -> go.Figure:
    """A fresh, pending signal on several timeframes in one figure — the live alert's picture.

    ``candles``: canonical execution candles (index = bar open time, tz-aware UTC — naive is read as UTC;
    columns ``open``, ``high``, ``low``, ``close`` in price units, ``volume``/``spread`` optional), e.g. the
    M5 bars the live feed has closed so far. They may run past the signal (backtests, tests): the function
    **cuts at the signal's** ``known_at`` — a bar is drawn only if it closed by then (open + bar length ≤
    ``known_at``; the bar length is the candles' own, or the signal's ``tf`` if longer). Higher timeframes
    are resampled from those cut candles (:func:`ita.data.resample.resample`) and show **closed bars only**
    (:func:`ita.data.resample.complete_bars`); the bar still forming at ``known_at`` is not drawn.

    ``signal``: one row of :func:`ita.setups.evaluate.evaluate` as a mapping. Required: ``known_at`` (UTC;
    the decision time), ``entry_price``, ``sl_price``, ``tp_price`` (price units). Used when present:
    ``direction`` ('long'|'short'; else inferred from the stop's side), ``entry_type``, ``tf``,
    ``expires_at``/``exit_by`` (info box, New York time), ``meta`` (dict or its JSON text) with ``range``
    {session, high, low, start, end}, ``zone`` {type, direction, top, bottom, time, size_pips}, ``break``,
    ``sweep``, ``structure`` {kind, direction, level, time, swing_time} and ``rr``; absent parts are not
    drawn (a signal without ``meta`` shows candles and the order only).

    ``timeframes``: 1–4 distinct names from :data:`ita.data.timeframes.TIMEFRAMES`, highest first; the
    **last** is the execution panel (large, on top, full width); the others sit side by
    side below it, highest on the left. None may be finer than ``candles``. ``title``: plain text
    (HTML-escaped). ``pip_size``: price units per pip (``get_instrument(symbol).pip_size``: EURUSD 0.0001,
    XAUUSD 0.1) for the price decimals and pip distances. ``subtitle``: optional extra header line under the
    generated facts line (plain text, e.g. "score 0.62 · cool-down ok").

    Each panel: neutral candles (lookback M5 9 h, M15 1–1.5 days, H1 4–5 days; stretched up to ×2 to show an
    older range/zone/event; calendar gaps such as weekends hidden with rangebreaks); x axis New York
    wall-clock (``America/New_York``), price axis on the right; a dotted "now HH:MM" line at ``known_at``; the
    session range box (blue) with dotted high/low to the right edge; the zone box (purple) from its time to
    the right edge; the swept level (dotted blue) when it is not the range's own; break / sweep / BOS-CHoCH
    labels on the bars holding them, the structure level dashed from its swing; the pending order in the
    empty future area right of "now" (~22 % of the width): entry (dashed), SL (red), TP (green) from
    ``known_at`` with the risk (red) and reward (green) boxes, and price tags on the axis. The execution panel
    also has the London/NY killzone bands and the last price tag; the header has the title, a facts line
    (side, entry type and price, signal time in New York), ``subtitle`` and the info box (direction, entry
    type, entry/SL/TP with pip distances, RR, risk pips, order validity and flat time in New York). A panel
    without bars shows a "no data" note. Designed for a 1400×1000 PNG (:data:`WIDTH`, :data:`HEIGHT`):
    ``save_png(fig, path, width=1400, height=1000)``. The figure JSON is small (~30–40 kB: no template,
    rounded prices, no per-bar hover text, fixed margins instead of plotly's automargin passes): building
    takes ~0.07 s, a warm render ~0.4–0.5 s.

    Raises :class:`ValueError` if ``signal`` is not a mapping or lacks a valid ``known_at``/``entry_price``/
    ``sl_price``/``tp_price``, ``candles`` is not a DataFrame or lacks an OHLC column, or ``timeframes`` is
    empty, unknown, repeated, longer than 4 or finer than the candles.

    Example::

        >>> from ita.setups import load_setup, evaluate
        >>> from ita.charts import snapshot_figure, save_png
        >>> sig = evaluate(load_setup("asia_fvg_break"), m5, "EURUSD").iloc[-1].to_dict()   # doctest: +SKIP
        >>> fig = snapshot_figure(m5, sig, title="EURUSD · asia_fvg_break v1", pip_size=1e-4,
        ...                       subtitle="score 0.62 · cool-down ok")                       # doctest: +SKIP
        >>> save_png(fig, "signal.png", width=1400, height=1000)                              # doctest: +SKIP
    """
    return go.Figure(_spec(candles, signal, timeframes, title, pip_size, subtitle))
