"""Reports: the Notion backtest report (notion-client against the fake Notion server) read back and verified
against the run; weekly / monthly reports of a replay to CSV, Notion and Telegram (python-telegram-bot against
the fake Bot API); the scheduled report goes out once, also after a restart, and again after a failure."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import notion_client
import pandas as pd
import pytest

from tests.conftest import REPO
from tests.fakes import FakeNotion, FakeTelegram
from tests.fakes.notion import page_property

CHAT = 4242


@pytest.fixture
def data(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


@pytest.fixture
def notion(monkeypatch):
    with FakeNotion() as fake:
        parent = fake.add_page("ITA reports")
        monkeypatch.setenv("ITA_NOTION_TOKEN", fake.token)
        monkeypatch.setenv("ITA_NOTION_API_URL", fake.url)
        monkeypatch.setenv("ITA_NOTION_REPORTS_PAGE", parent)
        fake.parent = parent
        yield fake
    assert fake.errors == []


@pytest.fixture
def telegram(monkeypatch):
    with FakeTelegram() as fake:
        monkeypatch.setenv("ITA_TELEGRAM_TOKEN", fake.token)
        monkeypatch.setenv("ITA_TELEGRAM_CHAT_IDS", str(CHAT))
        monkeypatch.setenv("ITA_TELEGRAM_API_URL", fake.base_url)
        yield fake
    assert fake.errors == []


def ita(args, timeout=300):
    exe = Path(sys.executable).with_name("ita")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"},
                          cwd=REPO, timeout=timeout)


@pytest.mark.slow
def test_the_notion_backtest_report_is_read_back_and_verified(data, notion):
    from ita import tools
    from ita.reports.backtest import SAMPLE_HEADING, STATS_HEADING, verify
    from ita.reports.notion import NotionPages, tables_by_heading

    a = tools.run_backtest(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-02-01", end="2025-05-31")
    b = tools.run_backtest(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-06-01", end="2025-09-30", charts=False)
    assert a.ok and b.ok
    p = ita(["report", "backtest", a.data["run_id"], "--notion"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "✓ Verified" in p.stdout and "10 trades" in p.stdout and "8 statistics" in p.stdout

    (page,) = [pg for pg in notion.pages if pg["parent"].get("page_id") == notion.parent]
    assert page_property(page, "title").startswith("Backtest asia_fvg_break v1 · EURUSD · 2025-02-")
    blocks = NotionPages.from_env().read(page["id"])
    kinds = [blk["type"] for blk in blocks]
    assert kinds.count("table") == 3 and "image" in kinds
    (upload,) = notion.uploads.values()
    assert upload["status"] == "uploaded" and upload["data"][:8] == b"\x89PNG\r\n\x1a\n"  # the equity chart
    tables = tables_by_heading(blocks)
    stats = dict(r for r in tables[STATS_HEADING][1:])
    assert {"Period", "Win rate", "Average RR (winners)", "Max drawdown", "Profit factor", "Expectancy"} <= set(stats)
    sample = tables[SAMPLE_HEADING][1:]
    trades = pd.read_csv(Path(a.data["run_dir"]) / "trades.csv").set_index("trade")
    assert len(sample) == 10 and all(int(r[0]) in trades.index for r in sample)

    # the same page checked against another run: every difference is named
    other = verify(blocks, tools.show_run(run_id=b.data["run_id"]))
    assert not other.ok and any(x.startswith("period:") for x in other.problems)
    assert any(x.startswith("Trades:") for x in other.problems)
    assert verify(blocks, tools.show_run(run_id=a.data["run_id"])).ok


def test_report_backtest_bad_input(data, notion, monkeypatch):
    p = ita(["report", "backtest", "bt_nope", "--notion"])
    assert p.returncode == 2 and "Unknown run 'bt_nope'" in p.stderr and "Traceback" not in p.stderr
    monkeypatch.delenv("ITA_NOTION_REPORTS_PAGE")
    from ita import tools

    run = tools.run_backtest(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-03-01", end="2025-03-31", charts=False)
    p = ita(["report", "backtest", run.data["run_id"], "--notion"])
    assert p.returncode == 2 and "ITA_NOTION_REPORTS_PAGE" in p.stderr
    p = ita(["report", "backtest", run.data["run_id"], "--notion", "--parent", "0" * 32])
    assert p.returncode == 2 and "Share the page with the integration" in p.stderr


@pytest.fixture(scope="module")
def replay_run(sample_store, tmp_path_factory):
    from ita.live.service import LiveService

    home = tmp_path_factory.mktemp("report_home")
    old = {k: os.environ.get(k) for k in ("ITA_HOME", "ITA_DATA_DIR")}
    os.environ.update(ITA_HOME=str(home), ITA_DATA_DIR=str(sample_store.data_dir))
    try:
        svc = LiveService.replay_service(["asia_fvg_break", "ib_raid"], ["EURUSD"], "2025-03-04", "2025-03-05",
                                         speed=None, charts=(), store=sample_store)
        svc.replay()
        svc.close()
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return home, svc.ctx.run


@pytest.mark.slow
def test_weekly_report_of_a_replay_to_csv_notion_and_telegram(replay_run, data, notion, telegram, monkeypatch, tmp_path):
    home, run = replay_run
    monkeypatch.setenv("ITA_HOME", str(home))
    out = tmp_path / "week.csv"
    p = ita(["report", "weekly", "--period", "2025-W10", "--run", run, "--csv", str(out), "--notion", "--telegram"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Weekly report 2025-W10 · Mon 03 Mar → Sun 09 Mar 2025" in p.stdout
    rows = list(csv.DictReader(out.open()))
    from ita import tools

    perf = tools.live_performance(period="all", by="setup", start="2025-03-03", end="2025-03-09", run=run)
    assert len(rows) == len(perf.data["rows"]) >= 2
    for r, want in zip(rows, perf.data["rows"]):
        assert (r["setup_id"], r["symbol"], int(r["trades"])) == (want["setup_id"], want["symbol"], want["trades"])
        assert float(r["total_r"]) == pytest.approx(want["total_r"], abs=1e-4)
        assert int(r["backtest_trades"]) == want["backtest"]["trades"]
    (msg,) = [s for s in telegram.sent if s["chat_id"] == CHAT]
    assert msg["parse_mode"] == "HTML" and "Weekly report 2025-W10" in msg["text"] and "<pre>" in msg["text"]
    (page,) = [pg for pg in notion.pages if pg["parent"].get("page_id") == notion.parent]
    client = notion_client.Client(auth=notion.token, base_url=notion.url)
    blocks = client.blocks.children.list(block_id=page["id"])["results"]
    table = next(b for b in blocks if b["type"] == "table")
    assert len(client.blocks.children.list(block_id=table["id"])["results"]) == len(rows) + 1

    p = ita(["report", "monthly", "--period", "2025-3", "--run", run])
    assert p.returncode == 0 and "Monthly report 2025-03 · Sat 01 Mar → Mon 31 Mar 2025" in p.stdout
    p = ita(["report", "weekly", "--period", "2025-W60"])
    assert p.returncode == 2 and "a week is YYYY-Www" in p.stderr


def test_the_scheduled_report_goes_out_once_also_after_a_restart(data, telegram, tmp_path, monkeypatch):
    from ita.live.config import TelegramSettings
    from ita.reports.schedule import ReportLog, report_jobs, send_due

    monkeypatch.setenv("ITA_HOME", str(tmp_path / "home"))
    settings = TelegramSettings.from_env()
    sunday = pd.Timestamp("2025-03-09 17:00:30", tz="America/New_York")
    assert send_due("weekly", settings, now=sunday, only_if_signals=True) is None  # the catch-up: an empty week
    assert ReportLog().entries() == [] and telegram.sent == []
    telegram.fail_next("sendMessage", 401)  # the first attempt fails: released, not marked as sent
    with pytest.raises(Exception):
        send_due("weekly", settings, now=sunday)
    assert ReportLog().entries() == []
    assert send_due("weekly", settings, now=sunday) == "2025-W10"
    assert send_due("weekly", settings, now=sunday + pd.Timedelta(hours=1)) is None  # the same process again
    assert send_due("weekly", settings, now=sunday + pd.Timedelta(days=2)) is None  # "after a restart": a new log
    (entry,) = ReportLog().entries()
    assert (entry["kind"], entry["period"], entry["status"], entry["channels"]) == ("weekly", "2025-W10", "sent",
                                                                                   "csv,telegram")
    assert Path(entry["csv"]).is_file()
    sent = [s for s in telegram.sent if s["chat_id"] == CHAT]
    assert len(sent) == 1 and "2025-W10" in sent[0]["text"] and "No signals in live" in sent[0]["text"]
    assert send_due("monthly", settings, now=sunday) == "2025-02"

    jobs = {job_id: trigger for _, trigger, job_id in report_jobs({})}
    assert set(jobs) == {"report:weekly", "report:monthly", "report:catch-up"}
    fields = {f.name: str(f) for f in jobs["report:weekly"].fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("sun", "17", "0")
    assert str(jobs["report:weekly"].timezone) == "America/New_York"
    fields = {f.name: str(f) for f in jobs["report:monthly"].fields}
    assert (fields["day"], fields["hour"], fields["minute"]) == ("1", "0", "5")
