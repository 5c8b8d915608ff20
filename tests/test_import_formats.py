"""Candle files in every format a trader meets, each made here in its exact layout from one set of UTC candles,
imported without --server-tz: the same UTC candles every time, the format and the clock named. Archives,
several files, a folder; the clock checked against the weekly rhythm; and bad input, one message each with
the store untouched."""
from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.data.clock import parse_clock
from ita.data.store import CandleStore
from ita.errors import DataError

NY = "America/New_York"


def fx_weeks(start="2025-03-02", weeks=5, step="5min", seed=7, price=1.08) -> pd.DataFrame:
    """FX-like candles (UTC): every week from Sunday 17:00 to Friday 17:00 New York, 5-digit prices. The default
    period holds both DST switches (US 9 March, EU 30 March), so only the right clock fits every week."""
    rng = np.random.default_rng(seed)
    idx = []
    for w in range(weeks):
        sun = pd.Timestamp(start) + pd.Timedelta(weeks=w)
        a = pd.Timestamp(f"{sun:%Y-%m-%d} 17:00", tz=NY)
        b = pd.Timestamp(f"{(sun + pd.Timedelta(days=5)):%Y-%m-%d} 17:00", tz=NY)
        idx.append(pd.date_range(a, b, freq=step, inclusive="left").tz_convert("UTC"))
    idx = idx[0].append(idx[1:])
    n = len(idx)
    close = np.round(price + np.cumsum(rng.normal(0, 0.0003, n)), 5)
    open_ = np.round(np.r_[price, close[:-1]], 5)
    high = np.round(np.maximum(open_, close) + rng.integers(0, 20, n) * 1e-5, 5)
    low = np.round(np.minimum(open_, close) - rng.integers(0, 20, n) * 1e-5, 5)
    vol = rng.integers(1, 500, n).astype(float)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": vol},
                        index=pd.DatetimeIndex(idx, name="time").as_unit("ns"))


def _wall(c: pd.DataFrame, clock: str) -> pd.DatetimeIndex:
    if clock == "EST":
        return (c.index - pd.Timedelta(hours=5)).tz_localize(None)
    return c.index.tz_convert(clock).tz_localize(None)


def _rows(c, fmt_time, sep=",", decimal=".", extra=lambda r: []):
    out = []
    for t, r in zip(fmt_time, c.itertuples()):
        px = [f"{v:.5f}".replace(".", decimal) for v in (r.open, r.high, r.low, r.close)]
        out.append(sep.join([*t] + px + extra(r)))
    return out


def write_format(name: str, c: pd.DataFrame, folder: Path) -> Path:
    """``c`` written the way each source writes it."""
    vol = lambda r: [str(int(r.volume))]  # noqa: E731
    ms = (c.index.asi8 // 10**6).astype("int64")
    if name == "mt5":
        t = _wall(c, "Europe/Athens").strftime("%Y.%m.%d %H:%M:%S")
        lines = ["time,open,high,low,close,tick_volume,spread,real_volume"] + _rows(
            c, [[x] for x in t], extra=lambda r: [str(int(r.volume)), "7", "0"])
    elif name == "mt5_terminal":
        w = _wall(c, "Europe/Athens")
        lines = ["<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>"] + _rows(
            c, zip(w.strftime("%Y.%m.%d"), w.strftime("%H:%M:%S")), sep="\t",
            extra=lambda r: [str(int(r.volume)), "0", "7"])
    elif name == "histdata_mt":
        w = _wall(c, "EST")
        lines = _rows(c, zip(w.strftime("%Y.%m.%d"), w.strftime("%H:%M")), extra=vol)
    elif name == "histdata_ascii":
        lines = _rows(c, [[x] for x in _wall(c, "EST").strftime("%Y%m%d %H%M%S")], sep=";", extra=vol)
    elif name == "dukascopy_gmt":
        t = c.index.tz_localize(None).strftime("%d.%m.%Y %H:%M:%S.000")
        lines = ["Gmt time,Open,High,Low,Close,Volume"] + _rows(c, [[x] for x in t], extra=vol)
    elif name == "dukascopy_local":
        loc = c.index.tz_convert("Europe/Berlin")
        t = [f"{x:%d.%m.%Y %H:%M:%S}.000 GMT{x:%z}" for x in loc]
        lines = ["Local time,Open,High,Low,Close,Volume"] + _rows(c, [[x] for x in t], extra=vol)
    elif name == "binance":            # no header, epoch milliseconds, 12 columns
        lines = _rows(c, [[str(x)] for x in ms], extra=lambda r: [f"{r.volume:.4f}", "0", "0", "0", "0", "0", "0"])
        lines = [ln.split(",", 1)[0] + "," + ln.split(",", 1)[1] for ln in lines]
        lines = [",".join(f[:6] + [str(int(f[0]) + 299_999)] + f[7:]) for f in (ln.split(",") for ln in lines)]
    elif name == "binance_us_header":  # header, epoch microseconds (Binance since 2025)
        lines = ["open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
                 "taker_buy_quote_volume,ignore"] + _rows(
            c, [[str(x * 1000)] for x in ms], extra=lambda r: [f"{r.volume:.4f}", "1", "0", "0", "0", "0", "0"])
    elif name == "tradingview":
        lines = ["time,open,high,low,close,Volume,Volume MA"] + _rows(
            c, [[str(x // 1000)] for x in ms], extra=lambda r: [str(int(r.volume)), "NaN"])
    elif name == "generic_semicolon_decimal_comma":
        t = _wall(c, "Europe/Athens").strftime("%Y-%m-%d %H:%M")
        lines = ["Date;Open;High;Low;Close;Volume"] + _rows(c, [[x] for x in t], sep=";", decimal=",", extra=vol)
    elif name == "generic_no_header":
        t = _wall(c, "Europe/Athens").strftime("%Y-%m-%d %H:%M:%S")
        lines = _rows(c, [[x] for x in t], extra=vol)
    else:
        raise AssertionError(name)
    p = folder / f"{name}.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


FORMATS = {  # file kind: (detected format, clock line starts with)
    "mt5": ("mt5", "Europe/Athens"), "mt5_terminal": ("mt5_terminal", "Europe/Athens"),
    "histdata_mt": ("histdata_mt", "UTC−5"), "histdata_ascii": ("histdata_ascii", "UTC−5"),
    "dukascopy_gmt": ("dukascopy", "UTC"), "dukascopy_local": ("dukascopy", "UTC"),
    "binance": ("binance", "UTC"), "binance_us_header": ("binance", "UTC"), "tradingview": ("tradingview", "UTC"),
    "generic_semicolon_decimal_comma": ("generic", "Europe/Athens"), "generic_no_header": ("generic", "Europe/Athens"),
}


@pytest.fixture(scope="module")
def candles():
    return fx_weeks()


@pytest.mark.parametrize("kind", list(FORMATS))
def test_every_format_imports_to_the_same_utc_candles(kind, candles, tmp_path):
    f = write_format(kind, candles, tmp_path)
    store = CandleStore(tmp_path / "data")
    res = store.import_file(f, "EURUSD")                         # no --timeframe, no --server-tz
    fmt, clock = FORMATS[kind]
    assert (res.read.fmt.name, res.timeframe) == (fmt, "M5")
    assert res.read.clock_line.startswith(clock), res.read.clock_line
    assert res.report.warnings == []
    got = store.load("EURUSD", "M5")
    pd.testing.assert_frame_equal(got[["open", "high", "low", "close", "volume"]], candles, check_freq=False)
    assert res.report.weekend_gaps == 4 and res.report.intraday_gaps == 0


def test_histdata_is_inferred_as_est_and_athens_given_gets_the_evidence(candles, tmp_path):
    """The issue's case: a HistData file (EST, no DST) with a header added, imported without --server-tz."""
    f = write_format("histdata_mt", candles, tmp_path)
    f2 = tmp_path / "with_header.csv"
    f2.write_text("date,time,open,high,low,close,volume\n" + f.read_text(), encoding="utf-8")
    res = CandleStore(tmp_path / "a").import_file(f2, "EURUSD", "M5")
    assert res.read.clock.name == "UTC-5" and res.read.clock_source == "inferred"
    assert "weekly closes" in res.read.clock_line and "(8 of 8)" in res.read.clock_line
    res = CandleStore(tmp_path / "b").import_file(f2, "EURUSD", "M5", "Europe/Athens")
    (w,) = res.report.warnings
    assert "does not look like Europe/Athens" in w and "shifted by -7 h" in w and "weekly close falls at 10:00" in w
    assert "--server-tz UTC-5" in w and "UTC−5 (fixed, all year)" in w


def test_ny_plus_7_is_told_from_athens_by_the_dst_weeks(candles, tmp_path):
    w = (candles.index.tz_convert(NY).tz_localize(None) + pd.Timedelta(hours=7)).strftime("%Y.%m.%d %H:%M:%S")
    f = tmp_path / "icm.csv"
    f.write_text("time,open,high,low,close\n" + "\n".join(
        f"{t},{r.open:.5f},{r.high:.5f},{r.low:.5f},{r.close:.5f}" for t, r in zip(w, candles.itertuples())) + "\n")
    store = CandleStore(tmp_path / "d")
    res = store.import_file(f, "EURUSD")
    assert res.read.clock.name == "NY+7"
    assert store.load("EURUSD", "M5").index.equals(candles.index)


@pytest.mark.parametrize("text, minutes", [("UTC-5", -300), ("-05:00", -300), ("+0200", 120), ("GMT+2", 120),
                                           ("UTC", 0), ("UTC+5:30", 330), ("utc+3", 180)])
def test_fixed_offsets(text, minutes):
    c = parse_clock(text)
    assert (c.kind, c.minutes) == ("fixed", minutes)


def test_etc_gmt_is_explained(candles, tmp_path):
    f = write_format("histdata_mt", candles, tmp_path)
    res = CandleStore(tmp_path / "d").import_file(f, "EURUSD", "M5", "Etc/GMT+5")
    assert any("Etc/GMT+5 means UTC−5" in n and "--server-tz UTC+5" in n for n in res.read.notes)
    assert res.report.warnings == []                                 # it is the right clock for HistData
    with pytest.raises(DataError, match="Unknown clock 'Mars/Olympus'.*UTC-5"):
        parse_clock("Mars/Olympus")


def test_archives_several_files_and_a_folder(candles, tmp_path):
    f = write_format("histdata_mt", candles, tmp_path)
    lines = f.read_text().splitlines()
    zp = tmp_path / "HISTDATA_COM_MT_EURUSD_M5_202503.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.writestr("DAT_MT_EURUSD_M5_202503.csv", "\n".join(lines) + "\n")
        z.writestr("DAT_MT_EURUSD_M5_202503.txt", "HistData.com status report\nGap of 60s found\n")
    store = CandleStore(tmp_path / "z")
    res = store.import_file(zp)                                      # symbol and timeframe from the name/spacing
    assert (res.symbol, res.timeframe, res.read.symbol_source) == ("EURUSD", "M5", "from the file name")
    assert len(res.read.files) == 1 and res.read.files[0].name.endswith(":DAT_MT_EURUSD_M5_202503.csv")
    assert store.load("EURUSD", "M5").index.equals(candles.index)
    gz = tmp_path / "mt5.csv.gz"
    gz.write_bytes(gzip.compress(write_format("mt5", candles, tmp_path).read_bytes()))
    assert CandleStore(tmp_path / "g").import_file(gz, "EURUSD").total == len(candles)
    folder = tmp_path / "months"
    folder.mkdir()
    half = len(lines) // 2
    (folder / "DAT_MT_EURUSD_M5_a.csv").write_text("\n".join(lines[:half + 10]) + "\n")   # 10 rows overlap
    (folder / "DAT_MT_EURUSD_M5_b.csv").write_text("\n".join(lines[half:]) + "\n")
    (folder / "readme.txt").write_text("downloaded from histdata.com\n")
    res = CandleStore(tmp_path / "f").import_file(folder)
    assert res.total == len(candles) and len(res.read.files) == 2 and res.read.repeated == 10
    assert "10 repeated bars (same time, same prices) counted once." in res.read.notes


def test_cli_names_format_and_clock(candles, tmp_path):
    f = write_format("histdata_ascii", candles, tmp_path)
    r = CliRunner().invoke(app, ["data", "import", str(f), "--symbol", "EURUSD"],
                           env={"ITA_DATA_DIR": str(tmp_path / "cli")})
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "Format: HistData ASCII" in out and "timeframe M5 from the bar spacing" in out
    assert "Clock: UTC−5 (fixed, all year), inferred from the data" in out
    assert "HistData files are on EST without daylight saving: UTC−5 all year" in out
    assert "Gaps: 4 weekend closes; 0 other gaps" in out


def test_short_file_gets_the_formats_clock_with_an_explicit_warning(candles, tmp_path):
    f = write_format("histdata_mt", candles.iloc[:50], tmp_path)
    res = CandleStore(tmp_path / "d").import_file(f, "EURUSD", "M5")
    assert res.read.clock.name == "UTC-5" and res.read.clock_source == "format"
    (w,) = res.report.warnings
    assert "could not be checked" in w and "assumed UTC−5" in w and "HistData" in w and "--server-tz" in w
    g = write_format("mt5", candles.iloc[:50], tmp_path)
    res = CandleStore(tmp_path / "e").import_file(g, "EURUSD", "M5")
    assert res.read.clock.name == "Europe/Athens" and "could not be checked" in res.report.warnings[0]


def test_an_index_cfd_is_not_inferred_from_the_fx_rhythm(candles, tmp_path):
    """GER40 closes at its own hours: its clock is assumed (with a warning), never guessed from FX's 17:00."""
    f = write_format("mt5", candles, tmp_path)
    res = CandleStore(tmp_path / "d").import_file(f, "GER40", "M5")
    assert res.read.clock.name == "Europe/Athens" and res.read.clock_source == "default"
    assert "could not be checked" in res.report.warnings[0]


def test_crypto_binance_klines_with_weekend_bars(tmp_path):
    idx = pd.date_range("2025-01-03", periods=3 * 1440, freq="1min", tz="UTC")   # Friday → Sunday, no close
    c = pd.DataFrame({"open": 30.0, "high": 30.05, "low": 29.95, "close": 30.01, "volume": 5.0}, index=idx)
    f = write_format("binance", c, tmp_path)
    f = f.rename(tmp_path / "AVAXUSDT-1m-2025-01.csv")
    store = CandleStore(tmp_path / "d")
    res = store.import_file(f)
    assert (res.symbol, res.timeframe) == ("AVAXUSDT", "M1")
    assert res.report.weekend_gaps == 0 and res.report.warnings == []
    assert set(res.derived) == {"M5", "M15", "M30", "H1", "H4", "D1"}
    assert len(store.load("AVAXUSDT", "M5")) == 3 * 288


# ---------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kind", list(FORMATS))
def test_each_formats_truncated_file_is_named(kind, candles, tmp_path):
    f = write_format(kind, candles.iloc[:300], tmp_path)
    text = f.read_text()
    f.write_text(text[: len(text) - 25])                             # cut inside the last row
    with pytest.raises(DataError) as e:
        CandleStore(tmp_path / "d").import_file(f, "EURUSD", "M5")
    msg = str(e.value)
    assert str(f) in msg and "line" in msg and ("truncated" in msg or "fewer fields" in msg), msg
    assert not (tmp_path / "d").exists()


def test_mixed_formats_in_one_folder_are_refused(candles, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_format("histdata_mt", candles, folder)
    write_format("binance", candles, folder)
    with pytest.raises(DataError, match=r"mix formats \(.*binance.csv.*histdata_mt.csv|mix formats \(.*histdata_mt.csv.*binance.csv"):
        CandleStore(tmp_path / "d").import_file(folder, "EURUSD")


def test_archive_without_candles_and_clock_off_the_hour(candles, tmp_path):
    zp = tmp_path / "empty.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.writestr("notes.txt", "nothing here\n")
    with pytest.raises(DataError, match=r"the archive holds no candle file \(members: notes.txt\)"):
        CandleStore(tmp_path / "d").import_file(zp, "EURUSD")
    shifted = candles.copy()
    shifted.index = shifted.index + pd.Timedelta(minutes=30)          # a UTC+5:30-like clock
    f = write_format("generic_no_header", shifted, tmp_path)
    with pytest.raises(DataError, match=r"cannot be a whole-hour offset"):
        CandleStore(tmp_path / "d").import_file(f, "EURUSD", "M5")
    assert not (tmp_path / "d").exists()


def test_a_bar_twice_at_different_prices_across_files_is_reported(candles, tmp_path):
    f = write_format("histdata_mt", candles.iloc[:100], tmp_path)
    g = tmp_path / "b.csv"
    rows = f.read_text().splitlines()[90:]
    first = rows[0].split(",")
    first[5] = f"{float(first[5]) + 0.0001:.5f}"          # close changed: still a valid bar
    first[3] = f"{max(float(first[3]), float(first[5])):.5f}"
    rows[0] = ",".join(first)
    g.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError) as e:
        CandleStore(tmp_path / "d").import_file([f, g], "EURUSD", "M5")
    msg = str(e.value)
    assert "1 bar appears twice with different prices" in msg and "histdata_mt.csv line 91" in msg and "b.csv line 1" in msg


def test_gap_report_counts_only_real_weekend_closes(candles, tmp_path):
    c = candles.drop(candles.index[(candles.index >= "2025-03-07 15:00") & (candles.index < "2025-03-07 16:00")])
    c = c.drop(c.index[(c.index >= "2025-03-07 18:00") & (c.index < "2025-03-07 19:30")])   # two Friday gaps
    f = write_format("mt5", c, tmp_path)
    rep = CandleStore(tmp_path / "d").import_file(f, "EURUSD", "M5").report
    assert rep.weekend_gaps == 4 and rep.intraday_gaps == 2 and rep.missing_bars == 12 + 18
