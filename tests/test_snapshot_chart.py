"""The live-signal snapshot (ita.charts.snapshot_figure) on real sample data and real signals.

The central property is causality: whatever the candles hold after a signal's ``known_at``, nothing of it is
drawn — every candle closed by ``known_at``, higher-timeframe panels hold complete bars only, and the figure
is identical whether the candles stop at ``known_at`` or run on for months.
"""
from __future__ import annotations

import json
import struct
import time
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ita.charts import save_png, snapshot_figure
from ita.data.resample import complete_bars, resample
from ita.data.timeframes import tf_delta
from ita.setups import load_setup
from ita.setups.evaluate import evaluate
from tests.test_charts import needs_chrome

NY = "America/New_York"
PIP = 1e-4
SETUPS = ("asia_fvg_break", "silver_bullet", "asia_sweep")


@pytest.fixture(scope="module")
def signals(eurusd_m5) -> dict[str, list[dict]]:
    """Per setup: the first, a middle and the last signal of the sample year (rows of evaluate() as dicts)."""
    out = {}
    for name in SETUPS:
        sig = evaluate(load_setup(name), eurusd_m5, "EURUSD")
        assert len(sig) >= 3, name
        out[name] = [sig.iloc[k].to_dict() for k in (0, len(sig) // 2, len(sig) - 1)]
    return out


def _all(signals):
    return [(name, s) for name, rows in signals.items() for s in rows]


def _ny(t) -> pd.Timestamp:
    return pd.Timestamp(t).tz_convert(NY).tz_localize(None)


def _candles(fig) -> dict[str, go.Candlestick]:
    return {t.name: t for t in fig.data if t.type == "candlestick"}


def _axis_of(fig, tf: str) -> str:
    """x axis id ('x', 'x2', …) of a timeframe's panel."""
    return _candles(fig)[tf].xaxis or "x"


def _hlines(fig, xref: str) -> dict[float, list]:
    out: dict[float, list] = {}
    for s in fig.layout.shapes:
        if s.type == "line" and s.xref == xref and s.yref == xref.replace("x", "y") and s.y0 == s.y1:
            out.setdefault(round(float(s.y0), 6), []).append(s)
    return out


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------------------------------------- causality

def test_no_candle_closes_after_known_at(eurusd_m5, signals):
    for name, sig in _all(signals):
        fig = snapshot_figure(eurusd_m5, sig, title=name, pip_size=PIP)
        cs = _candles(fig)
        assert set(cs) == {"H1", "M15", "M5"}, name
        now = _ny(sig["known_at"])
        for tf, tr in cs.items():
            x = pd.DatetimeIndex(pd.to_datetime(list(tr.x)))
            assert len(x) > 0, (name, tf)
            # x is the bar's open (New York); the bar closes at open + tf, never after known_at
            assert x.max() < now and x.max() + tf_delta(tf) <= now, (name, tf, x.max(), now)
        # the execution panel shows the latest closed bar: the one closing exactly at known_at
        assert pd.Timestamp(cs["M5"].x[-1]) + tf_delta("M5") == now, name


def test_future_candles_change_nothing(eurusd_m5, signals):
    """Candles running months past the signal give exactly the figure of candles cut at known_at."""
    for name, sig in _all(signals):
        cut = eurusd_m5[eurusd_m5.index + tf_delta("M5") <= sig["known_at"]]
        full = snapshot_figure(eurusd_m5, sig, title=name, pip_size=PIP, subtitle="s")
        live = snapshot_figure(cut, sig, title=name, pip_size=PIP, subtitle="s")
        assert full.to_json() == live.to_json(), name


def test_higher_timeframe_panels_hold_complete_bars_only(eurusd_m5, signals):
    for name, sig in _all(signals):
        fig = snapshot_figure(eurusd_m5, sig, title=name, pip_size=PIP)
        known = sig["known_at"]
        cut = eurusd_m5[eurusd_m5.index + tf_delta("M5") <= known]
        for tf in ("H1", "M15"):
            tr = _candles(fig)[tf]
            want = complete_bars(resample(cut.iloc[-5000:], tf), tf, known)
            want = want.set_axis(want.index.tz_convert(NY).tz_localize(None).strftime("%Y-%m-%d %H:%M"), axis=0)
            got = pd.DataFrame({"open": tr.open, "high": tr.high, "low": tr.low, "close": tr.close},
                               index=list(tr.x))
            # every drawn bar is a complete bar with the OHLC resampled from the closed M5 bars …
            exp = want.loc[got.index, ["open", "high", "low", "close"]]
            np.testing.assert_allclose(got.to_numpy(float), exp.to_numpy(float), atol=1e-6)
            # … and the newest drawn bar is the newest complete one (the forming bar is not drawn)
            assert got.index[-1] == want.index[-1], (name, tf)
            assert pd.Timestamp(got.index[-1]) + tf_delta(tf) <= _ny(known)


# ---------------------------------------------------------------------------------------------- contents

def test_order_levels_are_drawn_on_every_panel_from_now(eurusd_m5, signals):
    for name, sig in _all(signals):
        fig = snapshot_figure(eurusd_m5, sig, title=name, pip_size=PIP)
        for tf in ("H1", "M15", "M5"):
            xref = _axis_of(fig, tf)
            lines = _hlines(fig, xref)
            x_range = fig.layout[xref.replace("x", "xaxis")].range
            vline = [s for s in fig.layout.shapes if s.type == "line" and s.xref == xref and s.x0 == s.x1]
            assert len(vline) == 1, "one 'now' line per panel"
            # candles sit at their open time, so the instant known_at is drawn half a bar left of it
            assert pd.Timestamp(vline[0].x0) == _ny(sig["known_at"]) - tf_delta(tf) / 2
            assert pd.Timestamp(_candles(fig)[tf].x[-1]) < pd.Timestamp(vline[0].x0)
            for price, color, dash in ((sig["entry_price"], None, "dash"), (sig["sl_price"], "#dc2626", None),
                                       (sig["tp_price"], "#15803d", None)):
                hits = lines.get(round(price, 6), [])
                assert hits, (name, tf, price)
                order = [s for s in hits if (s.line.dash == dash if dash else s.line.color == color)]
                assert order, (name, tf, price, [(s.line.color, s.line.dash) for s in hits])
                # from "now" to the right edge of the panel (the future space)
                assert order[0].x0 == vline[0].x0 and order[0].x1 == x_range[1], (name, tf, price)
        texts = " | ".join(a.text for a in fig.layout.annotations)
        for p in (sig["entry_price"], sig["sl_price"], sig["tp_price"]):
            assert f"{p:.5f}" in texts, (name, p)
        assert "pending" in texts and f"now {_ny(sig['known_at']):%H:%M}" in texts


def test_future_space_share(eurusd_m5, signals):
    """Right of "now" is empty future space: ~22 % of the execution panel's width (in bar slots)."""
    name, sig = "asia_fvg_break", signals["asia_fvg_break"][1]
    fig = snapshot_figure(eurusd_m5, sig, title=name, pip_size=PIP)
    x0, x1 = (pd.Timestamp(v) for v in fig.layout.xaxis.range)
    now = _ny(sig["known_at"]) - tf_delta("M5") / 2
    hidden = sum(((pd.Timestamp(b) - pd.Timestamp(a)) for a, b in
                  (rb.bounds for rb in fig.layout.xaxis.rangebreaks)), pd.Timedelta(0))
    share = (x1 - now) / ((x1 - x0) - hidden)
    assert 0.15 <= share <= 0.25


def test_setup_evidence_is_drawn(eurusd_m5, signals):
    # asia_fvg_break: the Asia range box, the FVG box to the right edge, the break bar
    sig = signals["asia_fvg_break"][1]
    fig = snapshot_figure(eurusd_m5, sig, title="a", pip_size=PIP)
    meta = sig["meta"]
    rects = [s for s in fig.layout.shapes if s.type == "rect" and s.xref == "x" and s.yref == "y"]
    rng = [s for s in rects if {round(s.y0, 6), round(s.y1, 6)} == {meta["range"]["low"], meta["range"]["high"]}]
    zone = [s for s in rects if {round(s.y0, 6), round(s.y1, 6)} == {meta["zone"]["bottom"], meta["zone"]["top"]}]
    assert len(rng) == 1 and len(zone) == 1
    assert zone[0].x1 == fig.layout.xaxis.range[1], "the zone reaches the right edge"
    texts = [a.text for a in fig.layout.annotations]
    assert "break" in texts and "Asia range" in texts
    assert any(t.startswith("FVG") for t in texts)
    # asia_sweep: the sweep and the CHoCH on the execution panel, the CHoCH level as a dashed line
    sig = signals["asia_sweep"][0]
    fig = snapshot_figure(eurusd_m5, sig, title="s", pip_size=PIP)
    ex = [a.text for a in fig.layout.annotations if a.xref == "x" and a.showarrow and a.ax == 0]
    assert "sweep" in ex and any("CHoCH" in t or "BOS" in t for t in ex)
    lv = round(sig["meta"]["structure"]["level"], 6)
    assert any(s.line.dash == "dash" for s in _hlines(fig, "x").get(lv, []))
    # silver_bullet: the FVG zone, no range (the setup has none)
    sig = signals["silver_bullet"][0]
    fig = snapshot_figure(eurusd_m5, sig, title="b", pip_size=PIP)
    assert not any("range" in a.text for a in fig.layout.annotations)
    assert any(a.text.startswith("FVG") for a in fig.layout.annotations)


def test_info_box_title_and_subtitle(eurusd_m5, signals):
    sig = signals["asia_fvg_break"][0]
    fig = snapshot_figure(eurusd_m5, sig, title="EURUSD <asia>", pip_size=PIP, subtitle="score 0.62 · cool-down ok")
    texts = [a.text for a in fig.layout.annotations]
    assert "<b>EURUSD &lt;asia&gt;</b>" in texts
    assert any("score 0.62 · cool-down ok" in t for t in texts)
    box = next(t for t in texts if "order · pending" in t)
    risk = abs(sig["entry_price"] - sig["sl_price"]) / PIP
    reward = abs(sig["tp_price"] - sig["entry_price"]) / PIP
    for s in (sig["direction"].upper(), sig["entry_type"], f"{risk:.1f} pips", f"{reward:.1f} pips",
              f"RR {sig['meta']['rr']:.2f}", f"risk {risk:.1f} pips", "valid to", "NY"):
        assert s in box, s


def test_signal_without_meta_still_renders(eurusd_m5, signals):
    sig = signals["asia_fvg_break"][1]
    for meta in (None, {}, "", "not json"):
        fig = snapshot_figure(eurusd_m5, {**sig, "meta": meta}, title="m", pip_size=PIP)
        assert set(_candles(fig)) == {"H1", "M15", "M5"}
        assert not [s for s in fig.layout.shapes if s.type == "rect" and s.line.color in ("#2563eb", "#7c3aed")]
        assert round(sig["entry_price"], 6) in _hlines(fig, "x")
    bare = {k: sig[k] for k in ("known_at", "entry_price", "sl_price", "tp_price")}
    fig = snapshot_figure(eurusd_m5, bare, title="bare", pip_size=PIP)
    assert len(_candles(fig)) == 3
    assert any(sig["direction"].upper() in a.text for a in fig.layout.annotations)  # side from the stop
    # meta as its JSON text (signals.csv) draws the same as the dict
    as_text = {**sig, "meta": json.dumps(sig["meta"], default=str)}
    assert snapshot_figure(eurusd_m5, as_text, title="t", pip_size=PIP).to_json() == \
        snapshot_figure(eurusd_m5, sig, title="t", pip_size=PIP).to_json()


def test_layouts_for_one_two_and_four_timeframes(eurusd_m5, signals):
    sig = signals["silver_bullet"][1]
    one = snapshot_figure(eurusd_m5, sig, timeframes=("M5",), title="1", pip_size=PIP)
    assert set(_candles(one)) == {"M5"} and tuple(one.layout.yaxis.domain) == (0.0, 1.0)
    two = snapshot_figure(eurusd_m5, sig, timeframes=("H1", "M5"), title="2", pip_size=PIP)
    assert set(_candles(two)) == {"H1", "M5"}
    assert two.layout.yaxis.domain[0] > two.layout.yaxis2.domain[1], "execution panel on top"
    four = snapshot_figure(eurusd_m5, sig, timeframes=("H4", "H1", "M15", "M5"), title="4", pip_size=PIP)
    cs = _candles(four)
    assert set(cs) == {"H4", "H1", "M15", "M5"}
    # lower row left to right, highest timeframe first; execution panel full width on top
    xs = [four.layout[cs[tf].xaxis.replace("x", "xaxis")].domain for tf in ("H4", "H1", "M15")]
    assert xs[0][1] < xs[1][0] and xs[1][1] < xs[2][0]
    assert tuple(four.layout.xaxis.domain) == (0.0, 1.0)
    # M15 execution candles: H1 context works the same way
    m15 = resample(eurusd_m5, "M15")
    fig = snapshot_figure(m15, {**sig, "tf": "M15"}, timeframes=("H1", "M15"), title="m15", pip_size=PIP)
    assert pd.Timestamp(_candles(fig)["M15"].x[-1]) + tf_delta("M15") <= _ny(sig["known_at"])


def test_panel_without_bars_shows_a_note(eurusd_m5, signals):
    sig = next(s for _, s in _all(signals) if s["known_at"].minute >= 20)
    k = sig["known_at"]
    few = eurusd_m5[(eurusd_m5.index >= k.floor("h")) & (eurusd_m5.index < k)]   # only the forming hour
    fig = snapshot_figure(few.drop(columns=["volume", "spread"]), sig, title="few", pip_size=PIP)
    assert len(_candles(fig)["H1"].x) == 0
    assert any(a.text == "no H1 data before this signal" for a in fig.layout.annotations)
    assert len(_candles(fig)["M5"].x) == len(few)
    empty = snapshot_figure(eurusd_m5.iloc[:0], sig, title="none", pip_size=PIP)
    assert sum("data before this signal" in a.text for a in empty.layout.annotations) == 3


def test_naive_utc_index_is_read_as_utc(eurusd_m5, signals):
    sig = signals["silver_bullet"][0]
    part = eurusd_m5.loc[sig["known_at"] - pd.Timedelta(days=12): sig["known_at"] + pd.Timedelta(days=1)]
    naive = part.set_axis(part.index.tz_localize(None), axis=0)
    assert snapshot_figure(naive, sig, title="n", pip_size=PIP).to_json() == \
        snapshot_figure(part, sig, title="n", pip_size=PIP).to_json()


def test_bad_input_raises_value_error(eurusd_m5, signals):
    sig = signals["asia_fvg_break"][0]
    for key in ("known_at", "entry_price", "sl_price", "tp_price"):
        with pytest.raises(ValueError, match=key):
            snapshot_figure(eurusd_m5, {k: v for k, v in sig.items() if k != key}, title="x", pip_size=PIP)
        with pytest.raises(ValueError, match=key):
            snapshot_figure(eurusd_m5, {**sig, key: float("nan") if key != "known_at" else "garbage"}, title="x",
                            pip_size=PIP)
    with pytest.raises(ValueError, match="close"):
        snapshot_figure(eurusd_m5.drop(columns="close"), sig, title="x", pip_size=PIP)
    with pytest.raises(ValueError, match="timeframe"):
        snapshot_figure(eurusd_m5, sig, timeframes=("H1", "M7"), title="x", pip_size=PIP)
    with pytest.raises(ValueError, match="timeframes"):
        snapshot_figure(eurusd_m5, sig, timeframes=(), title="x", pip_size=PIP)
    with pytest.raises(ValueError, match="finer"):
        snapshot_figure(eurusd_m5, sig, timeframes=("H1", "M1"), title="x", pip_size=PIP)
    with pytest.raises(ValueError, match="mapping"):
        snapshot_figure(eurusd_m5, None, title="x", pip_size=PIP)


def test_figure_json_stays_small(eurusd_m5, signals):
    for name, sig in _all(signals):
        fig = snapshot_figure(eurusd_m5, sig, title=name, pip_size=PIP)
        text = fig.to_json()
        assert len(text) < 60_000, (name, len(text))
        assert "hovertext" not in text                               # no per-bar hover text
        assert len(json.dumps(json.loads(text)["layout"].get("template", {}))) < 100   # no plotly template


# ---------------------------------------------------------------------------------------------- PNG

@needs_chrome
def test_snapshot_png_is_1400_by_1000_and_renders_fast(tmp_path, eurusd_m5, xauusd_m5, signals):
    from ita.data.instruments import get_instrument

    sig = signals["asia_sweep"][0]
    fig = snapshot_figure(eurusd_m5, sig, title="EURUSD · asia_sweep v1", pip_size=PIP,
                          subtitle="score 0.62 · cool-down ok")
    out = save_png(fig, tmp_path / "snap.png", width=1400, height=1000)   # (starts the browser if needed)
    assert _png_size(out) == (1400, 1000)
    assert out.stat().st_size > 30_000                                   # a real chart, not a blank page
    xs = evaluate(load_setup("asia_fvg_break"), xauusd_m5, "XAUUSD").iloc[5].to_dict()
    t = time.perf_counter()
    gold = save_png(snapshot_figure(xauusd_m5, xs, title="XAUUSD", pip_size=get_instrument("XAUUSD").pip_size),
                    tmp_path / "gold.png", width=1400, height=1000)
    took = time.perf_counter() - t
    assert _png_size(gold) == (1400, 1000)
    assert took < 5.0, f"warm snapshot build + render took {took:.2f} s"   # ~0.4–0.6 s; generous for CI
