"""`ita setups verify`: labels → hit/miss with reasons, unlabelled detections, precision/recall, report.

Signals used below (asia_fvg_break v1 on the EURUSD sample; times UTC, NY = UTC-4 in October until 2 Nov):

* 2025-10-06 short, break 06:10, FVG 06:05-06:15 (signal bar 06:15)
* 2025-10-07 short, FVG candles 05:00 / 05:05 (= break bar) / 05:10 (signal bar) — setup candles 05:00-05:10
* 2025-10-13 long, signal bar 06:20
* 2025-10-14 no signal: long break 04:10, gap only 0.6 pip
* 2025-10-27 short, signal bar 04:05 (MT5 server time 06:05, Europe/Athens already on winter time)
"""
from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.setups import load_setup
from ita.verify import LabelError, read_labels, verify_labels, verify_table
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "labels" / "eurusd_2025_asia_fvg_break.csv"
HEADER = "symbol,timeframe,time,direction"


@pytest.fixture(scope="module")
def setup():
    return load_setup("asia_fvg_break")


@pytest.fixture(scope="module")
def autumn(eurusd_m5):
    """Candles 2025-08-20 → end of data (the example set's period with margin): fast to evaluate."""
    return eurusd_m5.loc["2025-08-20":]


def write(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "labels.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return p


def check(setup, candles, tmp_path, rows, header=HEADER, tz="UTC", **kw):
    lf = read_labels(write(tmp_path, rows, header), tz=tz, setup_id=setup.id)
    return verify_labels(setup, lf.labels, {"EURUSD": candles}, **kw)


def tiny_png(w: int = 3, h: int = 2) -> bytes:
    """A valid RGB PNG without PIL."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# ---------------------------------------------------------------------------------------------- example set

EXPECTED = {1: "hit", 2: "hit", 3: "miss", 4: "hit", 5: "hit", 6: "hit", 7: "hit", 8: "hit", 9: "hit", 10: "hit",
            11: "miss", 12: "hit", 13: "hit", 14: "hit", 15: "miss", 16: "hit", 17: "hit", 18: "hit", 19: "hit",
            20: "miss"}


def test_example_set_gives_the_documented_result(setup, autumn):
    lf = read_labels(EXAMPLE, setup_id=setup.id)
    assert len(lf.labels) == 20 and lf.skipped == []
    assert set(lf.labels["tz"]) == {"Europe/Athens"} and all(lf.labels["note"].str.len() > 80)
    res = verify_labels(setup, lf.labels, {"EURUSD": autumn})
    lab = res.labels.set_index("label")
    assert lab["result"].to_dict() == EXPECTED
    # hits: the trader marks the FVG's third candle = the signal bar, except #13 (the middle candle)
    hits = lab[lab["result"] == "hit"]
    assert (hits.drop(index=13)["at"] == "FVG candle 3 (signal bar)").all()
    assert lab.loc[13, "at"] == "FVG candle 2" and lab.loc[13, "offset_bars"] == -1
    assert lab.loc[16, "signal_id"] == "asia_fvg_break-v1-EURUSD-M5-20251027T0405"   # 6 h server offset week
    assert lab.loc[19, "signal_id"] == "asia_fvg_break-v1-EURUSD-M5-20251104T0625"   # back to 7 h
    # misses with the rule's reason
    assert "wrong direction: the rule went long that day" in lab.loc[3, "why"]
    assert lab.loc[3, "nearest_direction"] == "long" and lab.loc[3, "nearest_bars"] == -9
    assert ("no bullish FVG with its third candle within 3 bars after the long break at 00:10"
            in lab.loc[11, "why"])
    assert "no bearish FVG" in lab.loc[15, "why"] and "bias that day was short" in lab.loc[15, "why"]
    assert "no close beyond the range 1.14794-1.14979 between 00:00 and 05:00" in lab.loc[20, "why"]
    m = res.metrics
    assert (m["Labels"], m["Hits"], m["Misses"], m["Detections"], m["Unlabelled"]) == (20, 16, 4, 18, 2)
    assert m["Precision [%]"] == pytest.approx(100 * 16 / 18) and m["Recall [%]"] == pytest.approx(80.0)
    assert (m["Start"], m["End"]) == (pd.Timestamp("2025-08-28"), pd.Timestamp("2025-11-05"))
    assert list(res.unlabelled["signal_id"]) == ["asia_fvg_break-v1-EURUSD-M5-20250903T0635",
                                                 "asia_fvg_break-v1-EURUSD-M5-20250911T0555"]
    table = verify_table(res)
    assert len(table) == 22 and list(table["kind"]).count("unlabelled") == 2


# ---------------------------------------------------------------------------------------------- matching

def test_hit(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-07 05:10,short"])
    r = res.labels.iloc[0]
    assert r["result"] == "hit" and r["signal_id"] == "asia_fvg_break-v1-EURUSD-M5-20251007T0510"
    assert r["at"] == "FVG candle 3 (signal bar)" and r["offset_bars"] == 0
    assert res.metrics["Precision [%]"] == 100.0 and res.metrics["Recall [%]"] == 100.0


def test_label_on_the_break_bar_hits(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-07 05:05,sell", "EURUSD,M5,2025-10-06 06:10,SELL"])
    assert list(res.labels["result"]) == ["hit", "hit"]
    assert res.labels["at"].iloc[0] == "FVG candle 2 (break bar)"
    assert res.labels["at"].iloc[1] == "FVG candle 2 (break bar)"


def test_miss_with_the_rules_reason(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-14 04:15,buy"])
    r = res.labels.iloc[0]
    assert r["result"] == "miss" and r["signal_id"] is None
    assert r["rule_reason"].startswith("no bullish FVG with its third candle within 3 bars after the long break at 00:10")
    assert r["why"] == "the rule found no setup that day: " + r["rule_reason"]
    assert r["nearest_signal_id"] == "asia_fvg_break-v1-EURUSD-M5-20251013T0620" and r["nearest_bars"] < -200


def test_wrong_direction_is_a_miss_that_names_the_days_signal(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-07 05:10,long"])
    r = res.labels.iloc[0]
    assert r["result"] == "miss"
    assert r["why"].startswith("wrong direction: the rule went short that day (signal bar 01:10 NY, at the label)")
    assert r["nearest_signal_id"] == "asia_fvg_break-v1-EURUSD-M5-20251007T0510" and r["nearest_bars"] == 0
    # … and that short signal is then an unlabelled detection
    assert list(res.unlabelled["signal_id"]) == ["asia_fvg_break-v1-EURUSD-M5-20251007T0510"]
    assert res.metrics["Hits"] == 0 and res.metrics["Precision [%]"] == 0.0


@pytest.mark.parametrize("tol", [0, 1, 3, 5])
def test_tolerance_edge_exactly_n_bars_hits_n_plus_1_misses(setup, autumn, tmp_path, tol):
    # 10-07 setup candles 05:00 (FVG candle 1) … 05:10 (signal bar): measure from both ends
    last, first = pd.Timestamp("2025-10-07 05:10"), pd.Timestamp("2025-10-07 05:00")
    step = pd.Timedelta(minutes=5)
    rows = [f"EURUSD,M5,{t:%Y-%m-%d %H:%M},short" for t in
            (last + tol * step, last + (tol + 1) * step, first - tol * step, first - (tol + 1) * step)]
    for i, row in enumerate(rows):  # one label per file: a signal matches only one label
        res = check(setup, autumn, tmp_path, [row], tolerance=tol)
        assert res.labels["result"].iloc[0] == ("hit" if i % 2 == 0 else "miss"), (tol, row)
    miss = check(setup, autumn, tmp_path, [rows[1]], tolerance=tol).labels.iloc[0]
    assert f"{tol + 1} bar" in miss["why"] and f"tolerance {tol} bars" in miss["why"]


def test_one_signal_matches_one_label_nearest_first(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-07 05:20,short", "EURUSD,M5,2025-10-07 05:10,short"])
    lab = res.labels.set_index("label")
    assert lab.loc[2, "result"] == "hit" and lab.loc[1, "result"] == "miss"
    assert "that signal matched label #2" in lab.loc[1, "why"] and lab.loc[1, "nearest_label"] == 2


def test_unlabelled_detections_within_the_labels_period(setup, autumn, tmp_path):
    rows = ["EURUSD,M5,2025-10-06 06:15,short", "EURUSD,M5,2025-10-13 06:20,long"]
    res = check(setup, autumn, tmp_path, rows)
    assert list(res.labels["result"]) == ["hit", "hit"]
    assert list(res.unlabelled["signal_id"]) == ["asia_fvg_break-v1-EURUSD-M5-20251007T0510"]
    m = res.metrics
    assert (m["Detections"], m["Unlabelled"]) == (3, 1)
    assert m["Precision [%]"] == pytest.approx(200 / 3) and m["Recall [%]"] == 100.0
    # an explicit period widens the search for unlabelled detections
    wide = check(setup, autumn, tmp_path, rows, start="2025-10-01", end="2025-10-17")
    assert list(wide.unlabelled["day"].dt.strftime("%m-%d")) == ["10-03", "10-07", "10-15"]


def test_weekend_and_timeframe_mismatch_are_explained(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-11 06:00,long", "EURUSD,M15,2025-10-07 05:10,short"])
    lab = res.labels.set_index("label")
    assert "2025-10-11 is a Saturday" in lab.loc[1, "why"]
    assert lab.loc[2, "result"] == "miss" and lab.loc[2, "why"].startswith("labelled on M15 but asia_fvg_break runs on M5")


def test_no_signal_at_all_and_several_symbols(setup, autumn, xauusd_m5, tmp_path):
    quiet = autumn.loc["2025-10-13 12:00":"2025-10-14 20:00"]          # only 10-14: no signal that day
    res = check(setup, quiet, tmp_path, ["EURUSD,M5,2025-10-14 04:15,long"])
    assert len(res.signals) == 0 and res.labels["result"].iloc[0] == "miss"
    assert res.labels["nearest_signal_id"].iloc[0] is None and "no bullish FVG" in res.labels["why"].iloc[0]
    assert res.metrics["Unlabelled"] == 0 and pd.isna(res.metrics["Precision [%]"])
    gold = xauusd_m5.loc["2025-10-01":"2025-10-10"]
    lf = read_labels(write(tmp_path, ["EURUSD,M5,2025-10-07 05:10,short", "XAUUSD,M5,2025-10-07 05:10,short"]))
    both = verify_labels(setup, lf.labels, {"EURUSD": autumn, "XAUUSD": gold})
    assert set(both.signals["symbol"]) == {"EURUSD", "XAUUSD"}
    assert both.labels["result"].iloc[0] == "hit"
    x = both.labels.iloc[1]
    assert x["result"] == "miss" or x["signal_id"].split("-")[3] == "XAUUSD"
    if x["nearest_signal_id"]:
        assert "-XAUUSD-" in x["nearest_signal_id"]                  # never another symbol's signal


# ---------------------------------------------------------------------------------------------- time zones

def test_same_label_in_utc_server_time_and_with_offset_gives_the_same_result(setup, autumn, tmp_path):
    utc = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-27 04:05,short", "EURUSD,M5,2025-10-24 07:35,long"])
    server = check(setup, autumn, tmp_path, ["EURUSD,M5,2025.10.27 06:05,short", "EURUSD,M5,2025.10.24 10:35,long"],
                   tz="Europe/Athens")
    column = check(setup, autumn, tmp_path, ["EURUSD,M5,2025.10.27 06:05,short,Europe/Athens",
                                             "EURUSD,M5,2025.10.24 10:35,long,Europe/Athens"], header=HEADER + ",tz")
    offset = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-27T06:05+02:00,short",
                                             "EURUSD,M5,2025-10-24T10:35+03:00,long"], tz="Asia/Tokyo")
    cols = ["bar_time", "result", "signal_id", "why", "nearest_signal_id"]
    for other in (server, column, offset):
        pd.testing.assert_frame_equal(utc.labels[cols], other.labels[cols])
    assert list(utc.labels["result"]) == ["hit", "miss"]
    assert list(server.labels["tz"]) == ["Europe/Athens"] * 2 and list(offset.labels["tz"]) == ["UTC+02:00", "UTC+03:00"]


def test_time_inside_a_bar_means_that_bar(setup, autumn, tmp_path):
    res = check(setup, autumn, tmp_path, ["EURUSD,M5,2025-10-07 05:12:30,short"], tolerance=0)
    assert res.labels["bar_time"].iloc[0] == pd.Timestamp("2025-10-07 05:10", tz="UTC")
    assert res.labels["result"].iloc[0] == "hit"


def test_rows_for_other_setups_are_skipped_and_screenshots_found_by_row(setup, tmp_path):
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "01.png").write_bytes(tiny_png())
    (shots / "row_03.jpg").write_bytes(b"\xff\xd8\xff")
    p = write(tmp_path, ["EURUSD,M5,2025-10-07 05:10,short,asia_fvg_break",
                         "EURUSD,M5,2025-10-07 05:10,short,other_setup",
                         "EURUSD,M5,2025-10-13 06:20,long,"], header=HEADER + ",setup")
    lf = read_labels(p, screenshots=shots, setup_id="asia_fvg_break")
    assert lf.skipped == [2] and list(lf.labels["label"]) == [1, 3]
    assert [Path(s).name for s in lf.labels["screenshot"]] == ["01.png", "row_03.jpg"]


# ---------------------------------------------------------------------------------------------- bad input

def run_cli(args, data_dir=None, monkeypatch=None):
    if data_dir is not None:
        monkeypatch.setenv("ITA_DATA_DIR", str(data_dir))
    return CliRunner().invoke(app, ["setups", "verify", "asia_fvg_break", *args])


@pytest.mark.parametrize("content, expect", [
    ("symbol,time,direction\nEURUSD,2025-10-07 05:10,short\n",
     r"missing column\(s\) timeframe; found symbol, time, direction"),
    (f"{HEADER}\nEURUSD,M5,2025-10-07 05:10,short\nEURUSD,M5,07/10/2025 5pm,short\n",
     r"row 2 \(line 3\): cannot read the time '07/10/2025 5pm'"),
    (f"{HEADER}\nEURUSD,M5,2025-10-07 05:10,short\nEURUSD,M5,2025-13-07 05:10,short\n",
     r"row 2 \(line 3\): cannot read the time '2025-13-07 05:10'"),
    (f"{HEADER}\nEURUSDX,M5,2025-10-07 05:10,short\n", r"row 1 \(line 2\): Unknown symbol 'EURUSDX'\. Did you mean: EURUSD"),
    (f"{HEADER}\nEURUSD,M5,2025-10-07 05:10,up\n", r"row 1 \(line 2\): direction 'up' is not long, short, buy or sell"),
    (f"{HEADER}\nEURUSD,M7,2025-10-07 05:10,short\n", r"row 1 \(line 2\): unknown timeframe 'M7'"),
    (f"{HEADER},tz\nEURUSD,M5,2025-10-07 05:10,short,Europe/Athen\n",
     r"row 1 \(line 2\): tz: unknown time zone 'Europe/Athen'\. Did you mean: Europe/Athens"),
    (f"{HEADER}\nEURUSD,M5,,short\n", r"row 1 \(line 2\): empty 'time'"),
    (f"{HEADER},screenshot\nEURUSD,M5,2025-10-07 05:10,short,nope.png\n", r"row 1 \(line 2\): screenshot 'nope.png' not found"),
    (f"{HEADER},tz\nEURUSD,M5,2025-03-30 03:30,short,Europe/Athens\n", r"row 1 \(line 2\): .*daylight-saving change"),
    (f"{HEADER}\n", r"no label rows"),
    ("", r"empty file"),
])
def test_bad_csv_is_one_clear_error_exit_2(tmp_path, monkeypatch, content, expect):
    home = tmp_path / "home"
    monkeypatch.setenv("ITA_HOME", str(home))
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    r = run_cli(["--labels", str(p)])
    out = " ".join(r.output.split())
    assert r.exit_code == 2, r.output
    assert out.count("Error:") == 1 and "Traceback" not in r.output
    assert str(p) in out and re.search(expect, out), out
    assert not home.exists()                     # failed before loading data or creating a run


def test_cli_missing_file_unknown_tz_option_and_negative_tolerance(tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path / "home"))
    r = run_cli(["--labels", str(tmp_path / "none.csv")])
    assert r.exit_code == 2 and "none.csv not found" in r.output
    p = write(tmp_path, ["EURUSD,M5,2025-10-07 05:10,short"])
    r = run_cli(["--labels", str(p), "--tz", "Mars/Olympus"])
    assert r.exit_code == 2 and "--tz: unknown time zone 'Mars/Olympus'" in " ".join(r.output.split())
    r = run_cli(["--labels", str(p), "--tolerance", "-1"])
    assert r.exit_code == 2 and "--tolerance must be ≥ 0" in r.output
    with pytest.raises(LabelError, match="no such folder"):
        read_labels(p, screenshots=tmp_path / "missing")


# ---------------------------------------------------------------------------------------------- report and CLI

def test_html_report_has_every_label_charts_and_the_screenshot(setup, autumn, tmp_path):
    from ita.verify.report import verify_report_html

    png = tiny_png()
    shot = tmp_path / "01.png"
    shot.write_bytes(png)
    p = write(tmp_path, ["EURUSD,M5,2025-10-07 05:10,short,01.png,first note <b>",
                         "EURUSD,M5,2025-10-14 04:15,long,,second note"], header=HEADER + ",screenshot,note")
    lf = read_labels(p)
    res = verify_labels(setup, lf.labels, {"EURUSD": autumn})
    out = verify_report_html(res, tmp_path / "r" / "report.html")
    doc = out.read_text(encoding="utf-8")
    assert "id='case-1'" in doc and "id='case-2'" in doc
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in doc
    assert "No screenshot for label #2" in doc
    assert "first note &lt;b&gt;" in doc and "second note" in doc
    assert "no bullish FVG with its third candle" in doc
    assert "Unlabelled detections (1)" in doc and "asia_fvg_break-v1-EURUSD-M5-20251013T0620" in doc
    figs = json.loads(re.search(r'id="case-figs">(.*?)</script>', doc, re.S).group(1).replace("<\\/", "</"))
    assert len(figs) == 3 and all(f["data"][0]["type"] == "candlestick" for f in figs)   # 2 labels + 1 unlabelled
    assert "Plotly" in doc and len(doc) > 1_000_000                 # plotly.js embedded: opens offline
    small = verify_report_html(res, tmp_path / "r" / "small.html", charts=False).read_text(encoding="utf-8")
    assert len(small) < 100_000 and "id='case-2'" in small and "base64," in small


def test_cli_on_the_example_set(sample_store, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ITA_HOME", str(home))
    r = run_cli(["--labels", str(EXAMPLE), "--no-html"], sample_store.data_dir, monkeypatch)
    assert r.exit_code == 0, r.output
    out = r.output
    for s in ("label time (Europe/Athens)", "Precision [%]", "88.9", "Recall [%]", "80.0", "Unlabelled",
              "wrong direction", "20250911T0555"):
        assert s in out, s
    runs = [d for d in (home / "runs").iterdir()]
    assert len(runs) == 1 and runs[0].name.startswith("verify_") and runs[0].name in out
    table = pd.read_csv(runs[0] / "verify.csv")
    assert len(table) == 22
    assert table.loc[table["kind"] == "label", "result"].tolist() == [EXPECTED[i] for i in range(1, 21)]
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert summary["metrics"]["Hits"] == 16 and summary["metrics"]["Recall [%]"] == 80.0
    assert summary["misses"] == [3, 11, 15, 20] and (runs[0] / "labels.csv").read_bytes() == EXAMPLE.read_bytes()
    assert not (runs[0] / "report.html").exists()


def test_cli_writes_the_html_report(sample_store, tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path / "home"))
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "row_01.png").write_bytes(tiny_png())
    p = write(tmp_path, ["EURUSD,M5,2025.10.07 08:10,short", "EURUSD,M5,2025.10.14 07:15,long"])
    r = run_cli(["--labels", str(p), "--tz", "Europe/Athens", "--screenshots", str(shots)], sample_store.data_dir,
                monkeypatch)
    assert r.exit_code == 0, r.output
    run = next((tmp_path / "home" / "runs").iterdir())
    doc = (run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in doc and "No screenshot for label #2" in doc
    assert run.name in r.output and "report.html" in r.output
