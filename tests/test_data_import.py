"""Candle import: the real MT5 sample (server clock → UTC), generic CSV layouts, re-import merges, and bad
input that must give one clear message (CLI exit 2 and ``DataError``) while leaving the store untouched."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.data.store import CandleStore, HistoryConflict
from ita.errors import DataError, UnknownSymbolError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EURUSD_CSV = SHARED / "EURUSD_M5_2025.csv"
needs_sample = pytest.mark.skipif(
    not EURUSD_CSV.is_file(),
    reason=f"sample data {EURUSD_CSV} not found (the repo is expected to sit beside shared/data)",
)
MT5_HEADER = "time,open,high,low,close,tick_volume,spread,real_volume"
UTC = "UTC"


def ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(s, tz=UTC)


def cli(args, data_dir: Path):
    """Run ``ita ARGS`` in-process with the candle store at ``data_dir``."""
    env = {"ITA_DATA_DIR": str(data_dir)}
    return CliRunner().invoke(app, args, env=env)


def mt5_rows(n: int, start: str = "2025.01.06 00:05:00", price: float = 1.03500) -> list[str]:
    """``n`` valid consecutive M5 rows in MT5 export format (server clock), deterministic prices."""
    t0 = pd.Timestamp(start.replace(".", "-"))
    rows = []
    for k in range(n):
        o = round(price + 0.00010 * (k % 7), 5)
        c = round(o + 0.00004 * (1 if k % 2 else -1), 5)
        h, lo = round(max(o, c) + 0.00003, 5), round(min(o, c) - 0.00002, 5)
        t = (t0 + pd.Timedelta(minutes=5 * k)).strftime("%Y.%m.%d %H:%M:%S")
        rows.append(f"{t},{o:.5f},{h:.5f},{lo:.5f},{c:.5f},{10 + k},{7},0")
    return rows


def write(path: Path, lines: list[str], trailing_newline: bool = True) -> Path:
    path.write_text("\n".join(lines) + ("\n" if trailing_newline else ""), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample_text() -> list[str]:
    if not EURUSD_CSV.is_file():
        pytest.skip(f"sample data {EURUSD_CSV} not found")
    return EURUSD_CSV.read_text(encoding="utf-8").splitlines()


def csv_row(lines: list[str], server_time: str) -> tuple[int, list[float]]:
    """(1-based line, [open, high, low, close, tick_volume]) of the sample row at ``server_time``."""
    for i, line in enumerate(lines, 1):
        if line.startswith(server_time):
            f = line.split(",")
            return i, [float(x) for x in f[1:6]]
    raise AssertionError(f"{server_time} not in the sample")


@pytest.fixture(scope="module")
def athens(tmp_path_factory):
    """The EURUSD sample imported once with the right server zone: (store, ImportResult, frame)."""
    if not EURUSD_CSV.is_file():
        pytest.skip(f"sample data {EURUSD_CSV} not found")
    store = CandleStore(tmp_path_factory.mktemp("athens_store"))
    res = store.import_file(EURUSD_CSV, "EURUSD", "M5", "Europe/Athens")
    return store, res, store.load("EURUSD", "M5")


# ------------------------------------------------------------------------------------------ real sample

@needs_sample
def test_sample_import_counts_and_first_and_last_bar(athens, sample_text):
    store, res, df = athens
    assert (res.symbol, res.timeframe, res.added, res.total, res.report.rows) == ("EURUSD", "M5", 63361, 63361, 63361)
    assert len(df) == 63361 == len(sample_text) - 1
    assert res.path == store.data_dir / "EURUSD" / "M5.parquet" and res.path.is_file()
    # first bar 2025.01.02 00:05 server (winter, UTC+2) → 2025-01-01 22:05 UTC
    assert df.index[0] == ts("2025-01-01 22:05")
    assert df.iloc[0][["open", "high", "low", "close", "volume", "spread"]].tolist() == [
        1.03507, 1.03512, 1.03495, 1.03505, 51.0, 51.0]
    # last bar 2025.11.06 19:00 server: EU winter time again since 26 Oct → 17:00 UTC
    assert df.index[-1] == ts("2025-11-06 17:00")
    assert str(df.index.tz) == "UTC" and df.index.is_monotonic_increasing and df.index.is_unique
    assert list(df.columns) == ["open", "high", "low", "close", "volume", "spread"]
    assert res.report.warnings == []


@needs_sample
@pytest.mark.parametrize("server_time, utc", [
    ("2025.07.01 10:00:00", "2025-07-01 07:00"),   # summer: UTC+3
    ("2025.01.02 00:05:00", "2025-01-01 22:05"),   # winter: UTC+2
    ("2025.03.28 22:55:00", "2025-03-28 20:55"),   # last bar before the EU switch (30 Mar): 16:55 New York
    ("2025.03.31 00:05:00", "2025-03-30 21:05"),   # first bar after it
    ("2025.10.24 23:55:00", "2025-10-24 20:55"),   # last bar of EU summer time
    ("2025.10.27 12:00:00", "2025-10-27 10:00"),   # the Monday after the switch back
])
def test_server_clock_to_utc_row_by_row(athens, sample_text, server_time, utc):
    _, _, df = athens
    _, (o, h, lo, c, v) = csv_row(sample_text, server_time)
    bar = df.loc[ts(utc)]
    assert [bar.open, bar.high, bar.low, bar.close, bar.volume] == [round(o, 5), round(h, 5), round(lo, 5), round(c, 5), v]


@needs_sample
def test_summer_bar_exact_values(athens):
    _, _, df = athens
    assert df.loc[ts("2025-07-01 07:00"), ["open", "high", "low", "close", "volume"]].tolist() == [
        1.17790, 1.17797, 1.17672, 1.17729, 968.0]


@needs_sample
@pytest.mark.parametrize("day, release_utc, server_hhmm", [
    ("2025-03-12", "12:30", "14:30"),   # US CPI, US on summer time, Europe not yet (README check)
    ("2025-02-12", "13:30", "15:30"),   # US CPI in winter
    ("2025-07-15", "12:30", "15:30"),   # US CPI in summer
])
def test_us_data_release_is_the_days_busiest_bar_at_the_readme_time(athens, sample_text, day, release_utc, server_hhmm):
    _, _, df = athens
    utc_day = df.loc[f"{day} 00:00":f"{day} 23:55"]
    busiest = utc_day["volume"].idxmax()
    assert busiest == ts(f"{day} {release_utc}")
    assert busiest.tz_convert("Europe/Athens").strftime("%H:%M") == server_hhmm
    _, row = csv_row(sample_text, f"{day.replace('-', '.')} {server_hhmm}:00")
    assert row[4] == utc_day.loc[busiest, "volume"]  # the same bar, read straight from the file


@needs_sample
@pytest.mark.parametrize("day, server_hhmm", [("2025-03-19", "20:00"), ("2025-09-17", "21:00")])
def test_fomc_18utc_shows_at_readme_server_time(athens, day, server_hhmm):
    _, _, df = athens
    window = df.loc[f"{day} 17:30":f"{day} 19:00"]
    busiest = window["volume"].idxmax()
    assert busiest == ts(f"{day} 18:00")
    assert busiest.tz_convert("Europe/Athens").strftime("%H:%M") == server_hhmm


@needs_sample
def test_prices_rounded_to_five_digits_no_float_noise(athens, sample_text):
    _, _, df = athens
    line, row = csv_row(sample_text, "2025.04.21 11:15:00")
    assert "1.1541299999999999" in sample_text[line - 1]          # the file carries the noise …
    assert row[3] == 1.1541299999999999
    close = df.loc[ts("2025-04-21 08:15"), "close"]                 # … the store does not (UTC+3 in April)
    assert close == 1.15413 and repr(float(close)) == "1.15413"
    for c in ("open", "high", "low", "close"):
        x = df[c].to_numpy()
        assert np.array_equal(x, np.round(x, 5)), c
    noisy = sum(len(repr(float(v))) > 7 for v in df[["open", "high", "low", "close"]].to_numpy().ravel())
    assert noisy == 0


@needs_sample
def test_wrong_but_valid_server_tz_warns_about_weekly_open(tmp_path):
    store = CandleStore(tmp_path / "data")
    res = store.import_file(EURUSD_CSV, "EURUSD", "M5", "America/New_York")
    assert res.added == 63361                                     # imported: a warning, not an error
    assert store.load("EURUSD", "M5").index[0] == ts("2025-01-02 05:05")
    assert len(res.report.warnings) == 1
    w = res.report.warnings[0]
    assert "weekly open" in w and "17:00" in w and "+7 h" in w and "--server-tz" in w and "Europe/Athens" in w
    # the CLI prints the same warning after the import summary
    r = cli(["data", "import", str(EURUSD_CSV), "--symbol", "EURUSD", "--server-tz", "America/New_York"], tmp_path / "cli")
    assert r.exit_code == 0, r.output
    assert "Warning:" in r.output and "+7 h" in r.output


@needs_sample
def test_cli_import_and_data_list_show_coverage(tmp_path):
    data = tmp_path / "data"
    r = cli(["data", "list"], data)
    assert r.exit_code == 0 and "No candles stored" in r.output
    r = cli(["data", "import", str(EURUSD_CSV), "--symbol", "eurusd", "--timeframe", "M5",
             "--server-tz", "Europe/Athens"], data)
    assert r.exit_code == 0, r.output
    assert "Imported EURUSD M5: 63,361 bars 2025-01-01 22:05 → 2025-11-06 17:00 UTC; +63,361 new, 63,361 stored" in r.output
    assert (data / "EURUSD" / "M5.parquet").is_file()
    r = cli(["data", "list"], data)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if "EURUSD" in line and "M5" in line)
    for part in ("2025-01-01 22:05", "2025-11-06 17:00", "63,361", "Europe/Athens", "EURUSD_M5_2025.csv"):
        assert part in row, (part, row)
    cat = CandleStore(data).catalog()
    assert cat[["symbol", "timeframe", "bars"]].values.tolist() == [["EURUSD", "M5", 63361]]


# ------------------------------------------------------------------------------------------ CSV layouts

def test_semicolon_separated_generic_csv(tmp_path):
    f = write(tmp_path / "semi.csv", ["Date Time;Open;High;Low;Close;Volume",
                                      "2025-01-06 10:00;1.03500;1.03550;1.03480;1.03520;12",
                                      "2025-01-06 10:05;1.03520;1.03530;1.03490;1.03501;7"])
    store = CandleStore(tmp_path / "data")
    res = store.import_file(f, "EURUSD", "M5", "UTC")
    df = store.load("EURUSD", "M5")
    assert res.added == 2
    assert df.index.tolist() == [ts("2025-01-06 10:00"), ts("2025-01-06 10:05")]
    assert df.iloc[1][["open", "high", "low", "close", "volume"]].tolist() == [1.03520, 1.03530, 1.03490, 1.03501, 7.0]
    assert df["spread"].isna().all()


def test_mt5_tab_export_with_date_and_time_columns(tmp_path):
    f = write(tmp_path / "EURUSD_tab.csv", [
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>",
        "2025.01.02\t00:05:00\t1.03507\t1.03512\t1.03495\t1.03505\t51\t0\t12",
        "2025.07.01\t10:00:00\t1.17790\t1.17797\t1.17672\t1.17729\t968\t0\t7",
    ])
    store = CandleStore(tmp_path / "data")
    store.import_file(f, "EURUSD", "M5", "Europe/Athens")
    df = store.load("EURUSD", "M5")
    assert df.index.tolist() == [ts("2025-01-01 22:05"), ts("2025-07-01 07:00")]
    # <TICKVOL> is the volume (not <VOL>, which MT5 fills with 0 for FX)
    assert df["volume"].tolist() == [51.0, 968.0]
    assert df["spread"].tolist() == [12.0, 7.0]
    assert df.iloc[0][["open", "high", "low", "close"]].tolist() == [1.03507, 1.03512, 1.03495, 1.03505]


def test_iso8601_with_explicit_offsets_across_dst_wins_over_server_tz(tmp_path):
    f = write(tmp_path / "iso.csv", ["datetime,open,high,low,close,volume",
                                     "2025-03-28T23:55:00+02:00,1.08000,1.08010,1.07990,1.08005,3",
                                     "2025-03-31T00:05:00+03:00,1.08100,1.08110,1.08090,1.08105,4",
                                     "2025-03-31T06:00:00Z,1.08200,1.08210,1.08190,1.08205,5"])
    store = CandleStore(tmp_path / "data")
    store.import_file(f, "EURUSD", "M5", "Asia/Tokyo")   # ignored: every time carries its offset
    df = store.load("EURUSD", "M5")
    assert df.index.tolist() == [ts("2025-03-28 21:55"), ts("2025-03-30 21:05"), ts("2025-03-31 06:00")]
    assert df["volume"].tolist() == [3.0, 4.0, 5.0]


def test_iso8601_mixing_offset_and_naive_times_is_refused(tmp_path):
    f = write(tmp_path / "mixed.csv", ["time,open,high,low,close",
                                       "2025-03-28T23:55:00+02:00,1.08,1.08,1.08,1.08",
                                       "2025-03-31T00:05:00,1.08,1.08,1.08,1.08"])
    with pytest.raises(DataError) as e:
        CandleStore(tmp_path / "data").import_file(f, "EURUSD", "M5", "UTC")
    assert "offset" in str(e.value) and "line 3" in str(e.value)


def test_unix_seconds_times(tmp_path):
    t0 = int(pd.Timestamp("2025-01-06 10:00", tz=UTC).timestamp())
    f = write(tmp_path / "unix.csv", ["timestamp,open,high,low,close,volume",
                                      f"{t0},1.03500,1.03550,1.03480,1.03520,12",
                                      f"{t0 + 300},1.03520,1.03530,1.03490,1.03501,7"])
    store = CandleStore(tmp_path / "data")
    store.import_file(f, "EURUSD", "M5", "Europe/Athens")  # epoch seconds are UTC: the server zone must not shift them
    assert store.load("EURUSD", "M5").index.tolist() == [ts("2025-01-06 10:00"), ts("2025-01-06 10:05")]


def test_blank_lines_are_skipped_and_line_numbers_stay_the_files(tmp_path):
    rows = mt5_rows(4)
    bad = rows[3].split(",")
    bad[4] = "x1.03"
    f = write(tmp_path / "blank.csv", [MT5_HEADER, rows[0], "", rows[1], rows[2], ",".join(bad)])
    with pytest.raises(DataError) as e:
        CandleStore(tmp_path / "data").import_file(f, "EURUSD", "M5", "Europe/Athens")
    assert "line 6 " in str(e.value)   # the file's line 6 (a blank line 3 precedes it)


def test_h4_mt5_export_on_the_server_grid_imports(tmp_path):
    """MT5 H4 bars open at server 00:00/04:00/…, i.e. 22:00/02:00/… UTC in winter and 21:00/01:00/… in summer."""
    lines = [MT5_HEADER,
             "2025.01.06 00:00:00,1.03000,1.03100,1.02900,1.03050,100,7,0",
             "2025.01.06 04:00:00,1.03050,1.03200,1.03000,1.03150,100,7,0",
             "2025.07.07 00:00:00,1.17000,1.17100,1.16900,1.17050,100,7,0",
             "2025.07.07 04:00:00,1.17050,1.17200,1.17000,1.17150,100,7,0"]
    store = CandleStore(tmp_path / "data")
    res = store.import_file(write(tmp_path / "h4.csv", lines), "EURUSD", "H4", "Europe/Athens")
    assert res.added == 4
    assert store.load("EURUSD", "H4").index.tolist() == [
        ts("2025-01-05 22:00"), ts("2025-01-06 02:00"), ts("2025-07-06 21:00"), ts("2025-07-07 01:00")]
    bad = lines[:2] + ["2025.01.06 04:30:00,1.03050,1.03200,1.03000,1.03150,100,7,0"]
    with pytest.raises(DataError, match=r"off the H4 grid on line 3"):
        store.import_file(write(tmp_path / "h4bad.csv", bad), "EURUSD", "H4", "Europe/Athens")


# ------------------------------------------------------------------------------------------ re-import merge

def test_reimport_with_changed_prices_is_refused_unless_replace_then_new_bars_win(tmp_path):
    rows = mt5_rows(30)
    store = CandleStore(tmp_path / "data")
    first = store.import_file(write(tmp_path / "a.csv", [MT5_HEADER] + rows[:20]), "EURUSD", "M5", "Europe/Athens")
    assert (first.added, first.total) == (20, 20)
    # second file: rows 15..29; rows 15..19 overlap and carry a changed close and volume
    changed = []
    for k, r in enumerate(rows[15:], 15):
        f = r.split(",")
        if k < 20:
            f[4] = f"{float(f[3]):.5f}"            # close = low: still valid OHLC
            f[5] = "9999"
        changed.append(",".join(f))
    b = write(tmp_path / "b.csv", [MT5_HEADER] + changed)
    stored = store.path("EURUSD", "M5").read_bytes()
    with pytest.raises(HistoryConflict, match=r"5 bars already stored for EURUSD M5 at different prices") as exc:
        store.import_file(b, "EURUSD", "M5", "Europe/Athens")
    assert exc.value.count == 5 and "--replace" in str(exc.value)
    assert store.path("EURUSD", "M5").read_bytes() == stored                 # nothing written
    second = store.import_file(b, "EURUSD", "M5", "Europe/Athens", replace=True)
    assert (second.added, second.total, second.replaced) == (10, 30, 5) and second.kept_version
    df = store.load("EURUSD", "M5")
    assert len(df) == 30 and df.index.is_unique and df.index.is_monotonic_increasing
    assert df.index[0] == ts("2025-01-05 22:05") and df.index[-1] == ts("2025-01-06 00:30")
    assert (df["volume"].iloc[15:20] == 9999).all()                      # new bars win
    assert (df["close"].iloc[15:20] == df["low"].iloc[15:20]).all()
    assert df["volume"].iloc[:15].tolist() == [float(10 + k) for k in range(15)]   # untouched
    assert df["volume"].iloc[20:].tolist() == [float(10 + k) for k in range(20, 30)]
    again = store.import_file(tmp_path / "b.csv", "EURUSD", "M5", "Europe/Athens")
    assert (again.added, again.total) == (0, 30)


# ------------------------------------------------------------------------------------------ bad input

def _snapshot(data_dir: Path) -> dict:
    """Every file under the store with its bytes and mtime."""
    out = {}
    for p in sorted(data_dir.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p.relative_to(data_dir))] = (p.read_bytes(), st.st_mtime_ns, st.st_size)
    return out


@pytest.fixture
def filled_store(tmp_path):
    """A store holding 24 good EURUSD M5 bars, to check that failed imports leave it untouched."""
    data = tmp_path / "data"
    store = CandleStore(data)
    store.import_file(write(tmp_path / "good.csv", [MT5_HEADER] + mt5_rows(24)), "EURUSD", "M5", "Europe/Athens")
    snap = _snapshot(data)
    assert list(snap) == ["EURUSD/M5.parquet"]
    return store, snap


def _replace(rows: list[str], k: int, col: int, value: str) -> list[str]:
    out = list(rows)
    f = out[k].split(",")
    f[col] = value
    out[k] = ",".join(f)
    return out


R = mt5_rows(10)  # file line of R[k] is k + 2
BAD_CASES = {
    # name: (file lines, trailing newline, symbol, timeframe, server_tz, expected message parts, error type)
    "truncated": ([MT5_HEADER] + R[:9] + [R[9][:30]], False, "EURUSD", "M5", "Europe/Athens",
                  ["truncated", "line 11 "], DataError),
    "non_numeric_price": ([MT5_HEADER] + _replace(R, 4, 2, "1.03O12"), True, "EURUSD", "M5", "Europe/Athens",
                          ["non-numeric", "line 6 "], DataError),
    "duplicate_times": ([MT5_HEADER] + R[:4] + _replace([R[3]], 0, 4, "1.03499") + R[4:], True, "EURUSD", "M5",
                        "Europe/Athens", ["1 bar appears twice with different prices", "line 5 ", "line 6 "], DataError),
    "backwards": ([MT5_HEADER] + R[:3] + [R[4], R[3]] + R[5:], True, "EURUSD", "M5", "Europe/Athens",
                  ["backwards", "line 6 ", "sorted"], DataError),
    "high_below_close": ([MT5_HEADER] + _replace(R, 6, 2, "1.03000"), True, "EURUSD", "M5", "Europe/Athens",
                         ["high below open or close", "line 8 "], DataError),
    "missing_close_column": (["time,open,high,low,tick_volume"] + [",".join(r.split(",")[:4] + ["5"]) for r in R],
                             True, "EURUSD", "M5", "Europe/Athens", ["lacks column(s) close"], DataError),
    "no_header": ([",".join(r.split(",")[1:]) for r in R], True, "EURUSD", "M5", "Europe/Athens",
                  ["neither a header nor a known header-less layout", "time,open,high,low,close"], DataError),
    "empty_file": ([], False, "EURUSD", "M5", "Europe/Athens", ["empty"], DataError),
    "header_only": ([MT5_HEADER], True, "EURUSD", "M5", "Europe/Athens", ["no rows"], DataError),
    "unknown_server_tz": ([MT5_HEADER] + R, True, "EURUSD", "M5", "Europe/Atlantis",
                          ["Europe/Atlantis", "Europe/Athens"], DataError),
    "unknown_symbol": ([MT5_HEADER] + R, True, "EURUSDX", "M5", "Europe/Athens",
                       ["EURUSDX", "Did you mean: EURUSD"], UnknownSymbolError),
    "off_grid": ([MT5_HEADER] + _replace(R, 2, 0, "2025.01.06 00:17:00"), True, "EURUSD", "M5", "Europe/Athens",
                 ["off the M5 grid", "line 4 ", "--timeframe M5"], DataError),
    "nonexistent_local_time": ([MT5_HEADER, "2025.03.30 02:55:00,1.08,1.081,1.079,1.08,1,7,0",
                                "2025.03.30 03:00:00,1.08,1.081,1.079,1.08,1,7,0"], True, "EURUSD", "M5",
                               "Europe/Athens", ["line 3 ", "do not exist", "Europe/Athens"], DataError),
}


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_one_clear_message_and_store_untouched(case, tmp_path, filled_store):
    lines, newline, symbol, tf, tz, parts, err = BAD_CASES[case]
    store, before = filled_store
    f = tmp_path / f"{case}.csv"
    if lines:
        write(f, lines, newline)
    else:
        f.write_bytes(b"")
    # API
    with pytest.raises(err) as e:
        store.import_file(f, symbol, tf, tz)
    msg = str(e.value)
    for part in parts:
        assert part in msg, (part, msg)
    assert str(f) in msg or case in ("unknown_server_tz", "unknown_symbol")
    assert _snapshot(store.data_dir) == before
    # CLI: one message, exit 2, nothing written, no traceback
    r = cli(["data", "import", str(f), "--symbol", symbol, "--timeframe", tf, "--server-tz", tz], store.data_dir)
    assert r.exit_code == 2, r.output
    assert r.output.count("Error:") == 1 and "Traceback" not in r.output
    flat = " ".join(r.output.split())
    for part in parts:
        assert " ".join(part.split()) in flat, (part, r.output)
    assert _snapshot(store.data_dir) == before


def test_failed_first_import_creates_nothing(tmp_path):
    data = tmp_path / "data"
    f = write(tmp_path / "dup.csv", [MT5_HEADER] + R[:3] + _replace([R[2]], 0, 2, "1.03999"))
    with pytest.raises(DataError, match="appears twice with different prices .* line 4 high .* line 5 high 1.03999"):
        CandleStore(data).import_file(f, "EURUSD", "M5", "Europe/Athens")
    assert not data.exists() or _snapshot(data) == {}


def test_truncated_inside_volume_is_not_silently_accepted(tmp_path, filled_store):
    """A file cut after the close (``…,1.03505,5``) still has valid prices: the short row must be caught."""
    store, before = filled_store
    cut = ",".join(R[9].split(",")[:6])[:-1]  # cut inside tick_volume: spread and real_volume missing
    f = write(tmp_path / "cut.csv", [MT5_HEADER] + R[:9] + [cut], trailing_newline=False)
    with pytest.raises(DataError) as e:
        store.import_file(f, "EURUSD", "M5", "Europe/Athens")
    assert "truncated" in str(e.value) and "line 11 " in str(e.value) and "fewer fields" in str(e.value)
    assert _snapshot(store.data_dir) == before


def test_non_numeric_in_the_middle_does_not_claim_truncation(tmp_path):
    f = write(tmp_path / "nn.csv", [MT5_HEADER] + _replace(R, 4, 3, "n/a"))
    with pytest.raises(DataError) as e:
        CandleStore(tmp_path / "data").import_file(f, "EURUSD", "M5", "Europe/Athens")
    assert "line 6 (1 in all)" in str(e.value) and "truncated" not in str(e.value)
