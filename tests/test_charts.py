"""Charts: figure contents on hand-built data, real PNGs through kaleido + Chromium, the HTML report.

PNG tests need a Chrome/Chromium (skipped when none is installed, except the test that checks the
"install Chromium" error). The HTML test opens the report in headless Chromium to prove the trade viewer's
JavaScript unpacks and draws a chart.
"""
from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from ita.backtest.stats import compute_stats, equity_curve
from ita.charts import close_png_server, equity_figure, report_html, save_png, trade_figure
from ita.charts.common import spread_tags
from ita.errors import ItaError

UTC = "UTC"
META = {
    "detectors": ["fvg", "session_range"], "candles": 3,
    "break": {"time": "2025-01-03T05:10:00+00:00", "direction": "short", "level": 1.02662},
    "range": {"session": "asia", "high": 1.02743, "low": 1.02662, "start": "2025-01-03T01:00:00+00:00",
              "end": "2025-01-03T05:00:00+00:00"},
    "zone": {"type": "fvg", "direction": "bearish", "top": 1.02671, "bottom": 1.0266,
             "time": "2025-01-03T05:10:00+00:00", "confirmed_at": "2025-01-03T05:20:00+00:00", "size_pips": 1.1},
    "risk_pips": 2.1, "rr": 2.0,
}


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=UTC)


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    """M5 bars 2025-01-02 20:00 → 2025-01-03 14:00 UTC, a seeded random walk around 1.0270."""
    idx = pd.date_range("2025-01-02 20:00", "2025-01-03 14:00", freq="5min", tz=UTC, name="time")
    rng = np.random.default_rng(7)
    close = 1.0270 + np.cumsum(rng.normal(0, 0.00008, len(idx)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) + rng.uniform(0, 0.00006, len(idx))
    low = np.minimum(open_, close) - rng.uniform(0, 0.00006, len(idx))
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close}, index=idx).round(5)


def _trade(n=1, direction="short", entry="2025-01-03 05:20", exit_="2025-01-03 05:20", entry_price=1.0266,
           sl=1.02681, tp=1.02618, exit_price=1.02681, reason="stop", r=-1.0) -> dict:
    return {"trade": n, "signal_id": f"sig-{n}", "direction": direction, "entry_time": _ts(entry),
            "entry_price": entry_price, "limit_price": entry_price, "sl_price": sl, "tp_price": tp,
            "exit_time": _ts(exit_), "exit_price": exit_price, "exit_reason": reason, "r": r,
            "risk_pips": round(abs(entry_price - sl) / 0.0001, 1), "bars_held": 1}


def _signal(n=1, meta=META, known_at="2025-01-03 05:20") -> dict:
    return {"signal_id": f"sig-{n}", "symbol": "EURUSD", "direction": "short", "entry_type": "limit",
            "entry_price": 1.0266, "sl_price": 1.02681, "tp_price": 1.02618, "known_at": _ts(known_at),
            "expires_at": _ts("2025-01-03 16:00"), "exit_by": _ts("2025-01-03 21:00"), "meta": meta}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    w, h = struct.unpack(">II", data[16:24])
    crc = struct.unpack(">I", data[29:33])[0]
    assert zlib.crc32(data[12:29]) == crc, "IHDR CRC mismatch"
    assert data[-12:-8] == b"\x00\x00\x00\x00" and data[-8:-4] == b"IEND", "no IEND chunk at the end"
    return w, h


def _chrome() -> str | None:
    try:
        from choreographer.browsers.chromium import Chromium

        p = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001
        p = None
    return p if p and Path(p).is_file() else (shutil.which("chromium") or shutil.which("google-chrome"))


needs_chrome = pytest.mark.skipif(_chrome() is None, reason="no Chrome/Chromium installed")


# ---------------------------------------------------------------------------------------------- trade

def test_trade_figure_draws_range_zone_levels_and_markers(candles):
    fig = trade_figure(candles, _trade(), _signal(), "t1", 0.0001)
    assert isinstance(fig, go.Figure)
    cs = [t for t in fig.data if t.type == "candlestick"]
    assert len(cs) == 1
    # window: 1 h before the range start (01:00 UTC) to 1.5 h after the exit (05:20 UTC), New York wall-clock
    assert cs[0].x[0] == "2025-01-02 19:00" and cs[0].x[-1] == "2025-01-03 01:50"
    assert "America/New_York" in fig.layout.xaxis.title.text

    rects = [s for s in fig.layout.shapes if s.type == "rect" and s.yref == "y"]
    rng = [s for s in rects if {round(s.y0, 5), round(s.y1, 5)} == {1.02662, 1.02743}]
    assert len(rng) == 1, "the Asia range rectangle"
    # range window [01:00, 05:00) UTC = [20:00, 00:00) NY, drawn from half a bar before the first bar
    assert rng[0].x0 == "2025-01-02 19:57:30" and rng[0].x1 == "2025-01-02 23:57:30"
    zone = [s for s in rects if {round(s.y0, 5), round(s.y1, 5)} == {1.0266, 1.02671}]
    assert len(zone) == 1, "the FVG zone rectangle"
    assert zone[0].x0 == "2025-01-03 00:07:30" and zone[0].x1 == "2025-01-03 00:22:30"  # zone time → exit

    lines = {round(s.y0, 5): s for s in fig.layout.shapes if s.type == "line" and s.y0 == s.y1}
    for p in (1.0266, 1.02681, 1.02618):
        assert p in lines, f"level {p} drawn"
    assert lines[1.02681].line.color.lower() == "#dc2626" and lines[1.02618].line.color.lower() == "#15803d"

    texts = " | ".join(a.text for a in fig.layout.annotations)
    for s in ("exit: stop −1.00R", "1.02660", "1.02681", "1.02618", "2.1 pips", "break", "Asia H 1.02743",
              "Asia L 1.02662"):
        assert s in texts, s
    entry = next(t for t in fig.data if t.name == "entry")
    exit_ = next(t for t in fig.data if t.name == "exit")
    assert entry.marker.symbol == "triangle-down" and entry.y[0] == pytest.approx(1.0266)
    assert exit_.marker.symbol == "triangle-up" and exit_.marker.color.lower() == "#dc2626"
    assert "SHORT" in fig.layout.title.subtitle.text


def test_trade_figure_winner_is_green_and_long_markers(candles):
    tr = _trade(n=2, direction="long", entry="2025-01-03 06:00", exit_="2025-01-03 07:00", entry_price=1.0270,
                sl=1.0266, tp=1.0278, exit_price=1.0278, reason="target", r=2.0)
    fig = trade_figure(candles, tr, _signal(2, meta={}), "t2", 0.0001)
    entry = next(t for t in fig.data if t.name == "entry")
    exit_ = next(t for t in fig.data if t.name == "exit")
    assert entry.marker.symbol == "triangle-up" and entry.marker.color.lower() == "#15803d"
    assert exit_.marker.color.lower() == "#15803d"
    assert any("exit: target +2.00R" in a.text for a in fig.layout.annotations)
    assert any(a.text == "London KZ" for a in fig.layout.annotations)  # 02:00–05:00 NY is in the window
    assert not any(s.type == "rect" and s.yref == "y" and s.y1 == 1.02743 for s in fig.layout.shapes)  # no meta


@pytest.mark.parametrize("meta", [{}, None, {"zone": META["zone"]}, json.dumps(META), {"range": {"session": "asia"}}])
def test_trade_figure_draws_what_meta_has(candles, meta):
    fig = trade_figure(candles, _trade(), _signal(meta=meta), "t", 0.0001)
    ys = {(round(s.y0, 5), round(s.y1, 5)) for s in fig.layout.shapes if s.type == "rect" and s.yref == "y"}
    has_zone = (1.0266, 1.02671) in ys
    has_range = (1.02662, 1.02743) in ys
    parsed = json.loads(meta) if isinstance(meta, str) else (meta or {})
    assert has_zone == ("zone" in parsed)
    assert has_range == ("range" in parsed and "high" in parsed["range"])
    assert len([t for t in fig.data if t.type == "candlestick"]) == 1


def test_trade_figure_hides_data_gaps_with_rangebreaks(candles):
    gap = (candles.index >= _ts("2025-01-03 02:00")) & (candles.index < _ts("2025-01-03 04:00"))
    fig = trade_figure(candles[~gap], _trade(), _signal(), "t", 0.0001)
    rb = fig.layout.xaxis.rangebreaks
    assert len(rb) == 1
    assert tuple(rb[0].bounds) == ("2025-01-02 21:00", "2025-01-02 23:00")  # 02:00–04:00 UTC in New York
    no_gap = trade_figure(candles, _trade(), _signal(), "t", 0.0001)
    assert len(no_gap.layout.xaxis.rangebreaks) == 0


def test_trade_figure_bad_input(candles):
    with pytest.raises(ValueError, match="entry_time"):
        trade_figure(candles, {**_trade(), "entry_time": None}, _signal(), "t", 0.0001)
    with pytest.raises(ValueError, match="close"):
        trade_figure(candles.drop(columns="close"), _trade(), _signal(), "t", 0.0001)
    # no candles in the window: still a figure, with a note
    far = candles[candles.index < _ts("2025-01-02 21:00")]
    fig = trade_figure(far, _trade(), _signal(), "t", 0.0001)
    assert any("no candle data" in a.text for a in fig.layout.annotations)


def test_price_tags_never_overlap():
    got = spread_tags([100, 101, 102, 300, 305, 600], gap=17, lo=8, hi=602)
    order = sorted(got)
    assert all(b - a >= 17 - 1e-9 for a, b in zip(order, order[1:]))
    assert min(got) >= 8 and max(got) <= 602
    assert got[3] < got[4]  # order is kept


# ---------------------------------------------------------------------------------------------- equity

def _trades_frame() -> pd.DataFrame:
    rows = [_trade(1), _trade(2, direction="long", entry="2025-01-03 06:00", exit_="2025-01-03 07:00",
                                 entry_price=1.0270, sl=1.0266, tp=1.0278, exit_price=1.0278, reason="target", r=2.0),
            _trade(3, entry="2025-01-03 08:00", exit_="2025-01-03 09:00", r=-1.0)]
    return pd.DataFrame(rows)


def test_equity_figure_with_trades():
    trades = _trades_frame()
    eq = equity_curve(trades, 100_000, 1.0)
    st = compute_stats(trades, start="2025-01-01", end="2025-01-31")
    fig = equity_figure(eq, st, "My setup")
    sub = fig.layout.title.subtitle.text
    for s in ("Trades <b>3</b>", "Win rate <b>33.3%</b>", ">0.00R<", "Profit factor <b>1.00</b>",
              "Max drawdown <b>1.00R</b>"):
        assert s in sub, s
    markers = next(t for t in fig.data if t.name == "trades")
    assert list(markers.y) == [-1.0, 1.0, 0.0]
    assert [c.lower() for c in markers.marker.color] == ["#dc2626", "#15803d", "#dc2626"]
    assert markers.x[0] == "2025-01-03 00:20"  # exit 05:20 UTC in New York (EST)
    dd = next(t for t in fig.data if t.name == "drawdown")
    assert max(dd.y) == 0 and min(dd.y) == -1.0
    assert "America/New_York" in fig.layout.xaxis2.title.text


def test_equity_figure_zero_trades():
    empty = pd.DataFrame(columns=list(_trades_frame().columns))
    eq = equity_curve(empty, 100_000, 1.0)
    st = compute_stats(empty, start="2025-01-01", end="2025-12-31")
    fig = equity_figure(eq, st, "nothing")
    assert any(a.text == "no trades" for a in fig.layout.annotations)
    assert "Trades <b>0</b>" in fig.layout.title.subtitle.text
    assert tuple(fig.layout.xaxis.range) == ("2025-01-01 00:00", "2026-01-01 00:00")


# ---------------------------------------------------------------------------------------------- PNG

@needs_chrome
def test_save_png_writes_png_of_requested_size(tmp_path, candles):
    fig = trade_figure(candles, _trade(), _signal(), "t", 0.0001)
    out = save_png(fig, tmp_path / "sub" / "trade.png", width=900, height=500)
    assert out == tmp_path / "sub" / "trade.png"
    assert _png_size(out) == (900, 500)
    trades = _trades_frame()
    empty = trades.iloc[:0]
    eq_png = save_png(equity_figure(equity_curve(empty, 1e5, 1.0), compute_stats(empty, start="2025-01-01",
                                                                                 end="2025-01-31"), "e"),
                      tmp_path / "equity.png")
    assert _png_size(eq_png) == (1400, 800)
    again = save_png(fig, out, width=640, height=360)  # overwrite in place, same server
    assert _png_size(again) == (640, 360)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["equity.png", "sub", "trade.png"]  # no temp files


@needs_chrome
def test_save_png_from_several_threads(tmp_path, candles):
    from concurrent.futures import ThreadPoolExecutor

    fig = trade_figure(candles, _trade(), _signal(), "t", 0.0001)
    with ThreadPoolExecutor(3) as ex:
        outs = list(ex.map(lambda i: save_png(fig, tmp_path / f"c{i}.png", 300 + 10 * i, 200), range(3)))
    assert [_png_size(p) for p in outs] == [(300, 200), (310, 200), (320, 200)]


def test_save_png_without_chromium_says_how_to_install(tmp_path, monkeypatch):
    close_png_server()
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    try:
        with pytest.raises(ItaError, match=r"apt-get install -y chromium"):
            save_png(go.Figure(), tmp_path / "x.png")
    finally:
        monkeypatch.delenv("BROWSER_PATH")
        close_png_server()
    assert not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------------------------------------- HTML

def _report(tmp_path, candles, trades) -> Path:
    signals = pd.DataFrame([_signal(int(n)) for n in trades["trade"]]) if len(trades) else pd.DataFrame()
    eq = equity_curve(trades, 100_000, 1.0)
    st = compute_stats(trades, start="2025-01-01", end="2025-01-31")
    return report_html(candles, trades, signals, eq, st, "Report <test>", tmp_path / "out" / "report.html")


def test_report_html_is_self_contained_with_one_chart_per_trade(tmp_path, candles):
    trades = _trades_frame()
    path = _report(tmp_path, candles, trades)
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 6_000_000
    assert "<script src=" not in text and "<link " not in text  # nothing loaded from elsewhere
    assert len(text) > 3_000_000 and "plotly.js v" in text and "Plotly.newPlot" in text  # plotly.js inline
    assert "Report &lt;test&gt;" in text
    eq = json.loads(text.split('id="eq-json">')[1].split("</script>")[0].replace("<\\/", "</"))
    assert any(t.get("name") == "trades" for t in eq["data"])
    gz = text.split('id="trades-gz">')[1].split("</script>")[0]
    figs = json.loads(gzip.decompress(base64.b64decode(gz)))
    assert len(figs) == 3
    assert all(f["data"][0]["type"] == "candlestick" for f in figs)
    assert "exit: target +2.00R" in json.dumps(figs[1], ensure_ascii=False)
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # temp file replaced


def test_report_html_zero_trades(tmp_path, candles):
    path = _report(tmp_path, candles, _trades_frame().iloc[:0])
    text = path.read_text(encoding="utf-8")
    assert "No trades in this period." in text


@needs_chrome
def test_report_html_viewer_renders_in_a_browser(tmp_path, candles):
    """Open the report in headless Chromium: the gzip payload is unpacked and the first trade is drawn."""
    path = _report(tmp_path, candles, _trades_frame())
    cmd = [_chrome(), "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
           "--dump-dom", path.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=90, env={**os.environ}).stdout
    trade_div = dom.split('id="trade"', 1)[1].split('id="trades-table"')[0]
    assert "main-svg" in trade_div, "the trade chart was not drawn"
    assert 'id="viewer-msg" class="muted" style="display: none;"' in dom
    assert "Trade 1 of 3" in trade_div


@pytest.mark.slow
def test_report_html_for_the_sample_year_stays_small(tmp_path, eurusd_m5):
    from ita.backtest import backtest
    from ita.setups import load_setup

    res = backtest(load_setup("asia_fvg_break"), eurusd_m5, "EURUSD", start="2025-01-01", end="2025-12-31")
    assert len(res.trades) > 50
    path = report_html(eurusd_m5, res.trades, res.signals, res.equity, res.stats, "year", tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    assert path.stat().st_size < 5_500_000
    figs = json.loads(gzip.decompress(base64.b64decode(text.split('id="trades-gz">')[1].split("</script>")[0])))
    assert len(figs) == len(res.trades)
    # every chart of a trade with a range and a zone has both rectangles
    n_rect = [sum(1 for s in f["layout"]["shapes"] if s["type"] == "rect" and s["yref"] == "y") for f in figs]
    assert min(n_rect) >= 3  # range, zone, and at least one of the risk/reward boxes


def test_trade_chart_marks_sweep_and_choch_of_asia_sweep(eurusd_m5):
    from ita.backtest.core import backtest
    from ita.charts.figures import trade_figure
    from ita.setups import load_setup

    res = backtest(load_setup("asia_sweep"), eurusd_m5, "EURUSD")
    tr = res.trades.iloc[0]
    sg = res.signals.set_index("signal_id").loc[tr.signal_id].to_dict()
    fig = trade_figure(eurusd_m5, tr.to_dict(), sg, "asia_sweep", 1e-4)
    texts = [a.text for a in fig.layout.annotations]
    assert "sweep" in texts and "CHoCH" in texts


# ---------------------------------------------------------------------------------------------- speed paths
# (issue 12) The fast paths must draw exactly what the plotly objects drew: plain figure dicts, New York times
# without pandas' tz machinery, several PNGs per renderer call with fewer page reloads.

def _json(obj):
    from plotly.utils import PlotlyJSONEncoder

    def dec(o):  # typed arrays → lists, so numpy arrays and base64 compare equal
        if isinstance(o, dict):
            if "bdata" in o:
                a = np.frombuffer(base64.b64decode(o["bdata"]), dtype=o["dtype"])
                return (a.reshape([int(x) for x in o["shape"].split(",")]) if "shape" in o else a).tolist()
            return {k: dec(v) for k, v in o.items()}
        return [dec(v) for v in o] if isinstance(o, list) else o

    return dec(json.loads(json.dumps(obj, cls=PlotlyJSONEncoder)))


@pytest.mark.parametrize("n", [0, 3])
def test_equity_spec_is_what_plotly_makes_of_it(n):
    """The dict is already in plotly's normal form (template, subplot domains, merged axis styles): validating
    it through plotly changes nothing; typed arrays carry the same numbers."""
    import plotly.io as pio
    from plotly.subplots import make_subplots

    from ita.charts.figures import NO_TEMPLATE, equity_spec, typed_arrays

    trades = _trades_frame().iloc[:n]
    spec = equity_spec(equity_curve(trades, 1e5, 1.0), compute_stats(trades, start="2025-01-01", end="2025-01-31"), "e")
    assert _json(go.Figure(spec).to_dict()) == _json(spec)
    assert _json(typed_arrays(spec)) == _json(spec)
    assert NO_TEMPLATE == pio.templates["none"].to_plotly_json()
    ref = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.74, 0.26], vertical_spacing=0.035).layout
    for ax in ("xaxis", "xaxis2", "yaxis", "yaxis2"):
        assert list(spec["layout"][ax]["domain"]) == list(ref[ax].domain), ax
    assert spec["layout"]["xaxis"]["matches"] == "x2"


def test_new_york_times_match_pandas_across_dst():
    from ita.charts import style as S

    ts = pd.date_range("2024-03-09", "2026-11-03", freq="97min", tz=UTC)
    edges = [_ts("2025-03-09 06:59"), _ts("2025-03-09 07:00"), _ts("2025-11-02 05:59"), _ts("2025-11-02 06:00")]
    for t in [*ts, *edges, pd.Timestamp("2025-07-01 12:00"), "2025-07-01 12:00"]:
        want = pd.Timestamp(t).tz_localize(UTC) if pd.Timestamp(t).tzinfo is None else pd.Timestamp(t)
        want = want.tz_convert(S.TZ).tz_localize(None)
        assert S.to_ny(t) == want and S.xstr(S.to_ny(t)) == want.strftime("%Y-%m-%d %H:%M"), t
    ny = S.index_to_ny(ts)
    assert S.xstr(ny) == list(ny.strftime("%Y-%m-%d %H:%M"))
    with_s = ny + pd.Timedelta(seconds=7)
    assert S.xstr(with_s) == list(with_s.strftime("%Y-%m-%d %H:%M:%S"))
    assert S.to_ny(None) is None and S.xstr(pd.DatetimeIndex([])) == []


def test_render_pngs_checks_its_arguments(tmp_path):
    from ita.charts import render_pngs

    with pytest.raises(ValueError, match="2 figures for 1 paths"):
        render_pngs([go.Figure(), go.Figure()], [tmp_path / "a.png"])
    with pytest.raises(ValueError, match="positive"):
        render_pngs([go.Figure()], [tmp_path / "a.png"], width=0)
    assert render_pngs([], []) == []


@needs_chrome
def test_render_pngs_several_figures_in_one_call_same_bytes_with_and_without_reload(tmp_path, candles, monkeypatch):
    from ita.charts import export, render_pngs, warm_up

    monkeypatch.setattr(export, "RELOAD_EVERY", 2)  # a tab reloads after every 2nd figure: both paths are used
    warm_up()
    fig = trade_figure(candles, _trade(), _signal(), "t", 0.0001)
    eq = equity_figure(equity_curve(_trades_frame(), 1e5, 1.0), compute_stats(_trades_frame(), start="2025-01-01",
                                                                                end="2025-01-31"), "e")
    figs = [fig, eq, fig.to_dict(), fig, eq]
    paths = [tmp_path / "out" / f"p{i}.png" for i in range(5)]
    sizes = [(900, 500), (1400, 800), (900, 500), (900, 500), (1400, 800)]
    assert render_pngs(figs, paths, sizes=sizes) == paths
    assert [_png_size(p) for p in paths] == sizes
    assert len({paths[i].read_bytes() for i in (0, 2, 3)}) == 1  # the same figure: the same PNG, reload or not
    assert paths[1].read_bytes() == paths[4].read_bytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in paths]  # no temp files


def test_warm_up_never_raises_the_render_reports_the_missing_browser(tmp_path, monkeypatch):
    from ita.charts import render_pngs, warm_up

    close_png_server()
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chrome"))
    try:
        warm_up()  # returns at once; the start fails in the background
        with pytest.raises(ItaError, match=r"apt-get install -y chromium"):
            render_pngs([go.Figure(), go.Figure()], [tmp_path / "a.png", tmp_path / "b.png"])
    finally:
        monkeypatch.delenv("BROWSER_PATH")
        close_png_server()
    assert list(tmp_path.iterdir()) == []


def test_run_backtest_hands_over_the_statistics_before_any_chart_is_written(sample_store, monkeypatch):
    from ita.backtest.runner import run_backtest
    from ita.config import settings

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    seen = []

    def on_result(res):
        seen.append((int(res.stats["Trades"]), sorted(p.name for p in settings().runs_dir.rglob("*") if p.is_file())))

    run = run_backtest("asia_fvg_break", "EURUSD", "2025-03-01", "2025-03-31", charts=False, html=True,
                       on_result=on_result)
    assert seen == [(int(run.stats["Trades"]), [])]  # called once, before the run folder had any file
    assert "report.html" in run.artifacts and run.artifacts["report.html"].is_file()
