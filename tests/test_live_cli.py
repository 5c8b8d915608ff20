"""``ita live …`` as a trader runs it: ``live start`` on a CSV a terminal appends to (a real process, stopped with
SIGTERM), the scheduler's jobs, ``live replay`` with its report, ``signals`` / ``stats`` / ``outbox`` /
``check``, and bad input — one clear message, exit status 2, nothing stored."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ita.live.journal import Journal
from tests.conftest import REPO
from tests.fakes import FakeNotion, FakeTelegram

ANY_FVG = """\
id: any_fvg
version: 1
name: Any FVG on M1 (test)
description: The first fair value gap of at least 1 pip, any time of day.
symbols: [EURUSD]
timeframe: M1
timezone: UTC
days: [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
detectors:
  fvg: {kind: fvg, min_gap_pips: 1.0, mitigation: touch}
sequence:
  - step: fvg
    detector: fvg
    direction: any
entry: {type: limit, at: near_edge}
stop: {type: beyond_zone, buffer_pips: 1.0}
target: {type: rr, rr: 2.0}
order: {valid_until: "23:59"}
management: {flat_at: "23:59", max_trades_per_day: 20}
"""


def ita(args, env, timeout=300):
    exe = Path(sys.executable).with_name("ita")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ita.cli"]
    return subprocess.run(cmd + args, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


@pytest.fixture
def env(tmp_path, sample_store):
    e = {**os.environ, "ITA_HOME": str(tmp_path / "home"), "ITA_DATA_DIR": str(sample_store.data_dir),
         "COLUMNS": "200"}
    for k in list(e):
        if k.startswith(("ITA_TELEGRAM", "ITA_NOTION", "OPENAI_")) or k == "ITA_DB":
            e.pop(k)
    return e


def _m1_file(path: Path, last_close: pd.Timestamp) -> pd.Timestamp:
    """Quiet M1 bars up to ``last_close`` whose last three candles leave a 3-pip bullish FVG (MT5 layout, UTC)."""
    n = 240
    idx = pd.date_range(end=last_close - pd.Timedelta(minutes=1), periods=n, freq="1min", tz="UTC")
    rng = np.random.default_rng(1)
    mid = 1.0990 + rng.normal(0, 0.00002, n)
    o, c = mid, mid + 0.00001
    h, lo = np.maximum(o, c) + 0.00002, np.minimum(o, c) - 0.00002
    # the last three bars: a quiet bar, a strong up bar, a bar whose low stays 3 pips above the first's high
    o[-3], c[-3], h[-3], lo[-3] = 1.09900, 1.09905, 1.09910, 1.09895
    o[-2], c[-2], h[-2], lo[-2] = 1.09905, 1.09990, 1.09995, 1.09900
    o[-1], c[-1], h[-1], lo[-1] = 1.09990, 1.10000, 1.10010, 1.09940
    lines = ["time,open,high,low,close,tick_volume,spread,real_volume"]
    lines += [f"{t:%Y.%m.%d %H:%M:%S},{a:.5f},{b:.5f},{d:.5f},{e:.5f},10,1,0" for t, a, b, d, e in zip(idx, o, h, lo, c)]
    path.write_text("\n".join(lines) + "\n")
    return idx[-1]


@pytest.mark.slow
def test_live_start_on_a_growing_csv_alerts_the_outbox_and_stops_on_sigterm(env, tmp_path):
    setups = tmp_path / "setups" / "any_fvg"
    setups.mkdir(parents=True)
    (setups / "v1.yaml").write_text(ANY_FVG)
    env["ITA_SETUPS_DIR"] = str(tmp_path / "setups")
    env["ITA_DATA_DIR"] = str(tmp_path / "data")          # the live bars go into this store, not the shared sample one
    last_close = pd.Timestamp.now(tz="UTC").floor("1min")
    csv = tmp_path / "EURUSD_M1.csv"
    last_bar = _m1_file(csv, last_close)
    Journal(Path(env["ITA_HOME"]) / "ita.db").set_cursor("live", "EURUSD", "M1", last_close - pd.Timedelta(minutes=1))
    exe = Path(sys.executable).with_name("ita")
    proc = subprocess.Popen([str(exe), "live", "start", "--setups", "any_fvg", "--symbols", "EURUSD", "--file",
                             f"EURUSD={csv}", "--file-timeframe", "M1", "--server-tz", "UTC", "--charts", "none",
                             "--delay", "1"], env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    sid = f"any_fvg-v1-EURUSD-M1-{last_bar:%Y%m%dT%H%M}"
    folder = Path(env["ITA_HOME"]) / "outbox" / sid
    try:
        deadline = time.time() + 90
        while not folder.is_dir() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert folder.is_dir(), out
    assert proc.returncode == 0, out
    assert "LONG  EURUSD any_fvg v1  limit 1.09940 SL 1.09900 TP 1.10020" in out and "Stopped." in out, out
    assert "p(success)" in out and "Alerts to: outbox" in out
    msg = (folder / "message.txt").read_text()
    assert msg.startswith("LONG EURUSD · any_fvg v1 · M1") and "Score 0.50 — no backtest trades" in msg
    j = Journal(Path(env["ITA_HOME"]) / "ita.db")
    (row,) = j.signals("live").to_dict("records")
    assert row["signal_id"] == sid and pd.Timestamp(row["known_at"]) == last_close
    assert j.cursor("live", "EURUSD", "M1") >= last_close
    from ita.data.store import CandleStore                 # the file's closed bars were kept in the candle store

    kept = CandleStore(tmp_path / "data").load("EURUSD", "M1")
    assert kept.index[-1] == last_bar and len(kept) >= 200 and kept.index.is_unique


def test_the_scheduler_runs_each_pair_every_minute_one_at_a_time(tmp_path):
    from ita.live.config import LiveConfig
    from ita.live.feeds import FileFeed
    from ita.live.service import LiveService

    csv = tmp_path / "EURUSD_M5.csv"
    csv.write_text("time,open,high,low,close\n2025.03.04 10:00:00,1.1,1.1,1.1,1.1\n")
    cfg = LiveConfig.build(["asia_fvg_break", "silver_bullet"], ["EURUSD", "XAUUSD"], notify=("outbox",),
                           delay_s=3, charts=())
    svc = LiveService.live_service(cfg, FileFeed({"EURUSD": csv, "XAUUSD": csv}), vision=None)
    sched = svc.scheduler()
    sched.start(paused=True)
    try:
        jobs = {j.id: j for j in sched.get_jobs()}
    finally:
        sched.shutdown(wait=False)
        svc.close()
    assert set(jobs) == {"live:EURUSD:M5", "live:XAUUSD:M5", "outbox"}
    for jid in ("live:EURUSD:M5", "live:XAUUSD:M5"):
        j = jobs[jid]
        assert j.max_instances == 1 and j.coalesce is True
        fields = {f.name: str(f) for f in j.trigger.fields}
        assert fields["second"] == "3" and fields["minute"] == "*"
    assert jobs["outbox"].trigger.interval.total_seconds() == 10


@pytest.mark.slow
def test_replay_then_signals_stats_and_outbox(env):
    p = ita(["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--speed", "max",
             "--setups", "asia_fvg_break,ib_raid", "--charts", "none"], env)
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "Tue 04 Mar 02:55 NY  LONG  EURUSD asia_fvg_break v1  limit 1.04975 SL 1.04949 TP 1.05027  score 0.22" in out
    assert "SHORT EURUSD ib_raid v1  market" in out
    assert "2 signals: 2 alert" in out and "Latency: candle close → delivered" in out
    run = out.split("Replay ", 1)[1].split(":", 1)[0]
    assert run.startswith("replay_")
    s = ita(["live", "signals", "--replay"], env)
    assert s.returncode == 0 and "asia_fvg_break v1" in s.stdout and "1.04975" in s.stdout and "outbox✓" in s.stdout
    st = ita(["live", "stats", "--run", run], env)
    assert st.returncode == 0 and "2 signals — 2 alert" in st.stdout and "outbox" in st.stdout
    ob = ita(["live", "outbox"], env)
    assert ob.returncode == 0 and "The outbox is empty" in ob.stdout
    live = ita(["live", "signals"], env)
    assert "No signals journaled for live" in live.stdout  # a replay never writes into the live journal


@pytest.mark.parametrize("args, needle", [
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--setups", "asia_fvg_brake"],
     "Did you mean: asia_fvg_break"),
    (["live", "replay", "EURUSDX", "--from", "2025-03-04", "--to", "2025-03-04"], "EURUSDX"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--speed", "fast"], "--speed 'fast'"),
    (["live", "replay", "EURUSD", "--from", "2025-03-05", "--to", "2025-03-04"], "ends (2025-03-04) before it starts"),
    (["live", "replay", "EURUSD", "--from", "2030-01-06", "--to", "2030-01-07"], "No stored EURUSD M5 bars between 2030-01-06"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--charts", "H7"], "Unknown timeframe 'H7'"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--min-score", "2"], "--min-score 2"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--cooldown", "soon"], "--cooldown 'soon'"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--vision-score", "-1"], "--vision-score -1"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--resume", "bt_1"], "--resume 'bt_1'"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--notify", "telegram"],
     "Telegram is not configured"),
    (["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--notify", "slack"],
     "Unknown notification channel(s) slack"),
    (["live", "start", "--symbols", "EURUSD"], "MetaTrader5 package is not installed"),
    (["live", "start", "--symbols", "EURUSD", "--feed", "file"], "--feed file needs --file"),
    (["live", "start", "--symbols", "EURUSD", "--file", "EURUSD=/nonexistent/EURUSD.csv"], "no such file"),
    (["live", "start", "--symbols", "EURUSD,XAUUSD", "--file", "EURUSD=/nonexistent/EURUSD.csv"], "No --file for XAUUSD"),
])
def test_bad_input_exits_2_with_one_message_and_stores_nothing(env, args, needle):
    p = ita(args, env)
    assert p.returncode == 2, (args, p.stdout, p.stderr)
    assert needle in p.stderr, (args, p.stderr)
    assert "Traceback" not in p.stderr
    db = Path(env["ITA_HOME"]) / "ita.db"
    assert not db.exists() or Journal(db).runs().empty


def test_a_malformed_live_file_is_named_at_start(env, tmp_path):
    csv = tmp_path / "EURUSD_M5.csv"
    csv.write_text("time,open,high,low,close\n2025.03.04 10:00:00,1.1,1.1,1.1,1.1\n2025.03.04 10:05:00,1.1,oops,1.1,1.1\n")
    p = ita(["live", "start", "--symbols", "EURUSD", "--file", f"EURUSD={csv}"], env)
    assert p.returncode == 2 and f"{csv}: missing or non-numeric open/high/low/close on line 3" in p.stderr, p.stderr


def test_telegram_token_without_chats_is_refused(env):
    env["ITA_TELEGRAM_TOKEN"] = "123:ABC"
    p = ita(["live", "check"], env)
    assert p.returncode == 2 and "✗ telegram  ITA_TELEGRAM_TOKEN is set but ITA_TELEGRAM_CHAT_IDS is empty" in p.stdout
    assert "✓ outbox" in p.stdout and "– notion    not configured" in p.stdout     # the others are still checked


def test_live_check_reports_both_services(env):
    with FakeTelegram() as tg, FakeNotion(properties={"Name": "title", "Signal ID": "rich_text"}) as no:
        env.update({"ITA_TELEGRAM_TOKEN": tg.token, "ITA_TELEGRAM_CHAT_IDS": "1,2", "ITA_TELEGRAM_API_URL": tg.base_url,
                    "ITA_NOTION_TOKEN": no.token, "ITA_NOTION_DATABASE": no.database_id, "ITA_NOTION_API_URL": no.url})
        p = ita(["live", "check"], env)
        assert p.returncode == 0, p.stderr
        assert f"✓ telegram  bot @ita_test_bot at {tg.base_url.removesuffix('/bot')} · chats 1, 2" in p.stdout
        assert f"✓ notion    data source {no.data_source_id} · missing properties Setup, Version" in p.stdout
        assert "✓ outbox" in p.stdout and "✓ journal" in p.stdout
        assert tg.sent == [] and no.pages == []
        env["ITA_TELEGRAM_TOKEN"] = "999:DEAD"
        p = ita(["live", "check"], env)
        assert p.returncode == 2 and "✗ telegram  Telegram rejected the bot token" in p.stdout
        assert f"✓ notion    data source {no.data_source_id}" in p.stdout        # checked after the failure
        assert "1 of 4 channels failed: telegram" in p.stderr


@pytest.mark.slow
def test_a_failed_telegram_alert_waits_in_the_outbox_until_retry(env):
    with FakeTelegram() as tg:
        env.update({"ITA_TELEGRAM_TOKEN": tg.token, "ITA_TELEGRAM_CHAT_IDS": "42", "ITA_TELEGRAM_API_URL": tg.base_url})
        tg.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
        p = ita(["live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04", "--speed", "max",
                 "--setups", "asia_fvg_break", "--charts", "none", "--notify", "telegram"], env)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "→ telegram:failed" in p.stdout and "1 deliveries are not sent yet" in p.stdout
        ob = ita(["live", "outbox"], env)
        assert "telegram:42" in ob.stdout and "failed" in ob.stdout and "blocked by the user" in ob.stdout
        assert tg.sent == []
        again = ita(["live", "outbox", "--retry"], env)
        assert again.returncode == 0 and "Re-queued 1 failed; attempted now: 1 sent" in again.stdout, again.stdout
        assert "The outbox is empty" in again.stdout
        (msg,) = tg.sent
        assert msg["chat_id"] == 42 and msg["text"].startswith("LONG EURUSD · asia_fvg_break v1 · M5")
