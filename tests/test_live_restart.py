"""A restart mid-send does not duplicate — with real processes killed with SIGKILL while a request is in flight.

A replay of one day (2025-03-04, asia_fvg_break on EURUSD: one signal) runs in a subprocess that alerts the
outbox, Telegram (fake Bot API) and Notion (fake API). The subprocess is killed while one service is still
answering; a second process resumes the same run:

* killed while Notion was creating the row (the row exists, the answer never arrived): the resumed run finds
  the row and writes no second one; Telegram, already delivered, is not sent again;
* killed while Telegram was answering: the message may or may not have arrived — Telegram has no way to ask —
  so it is sent again, marked as a possible repeat; Notion and the outbox get it exactly once.

In both cases the signal is journaled once and nothing is left undelivered.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ita.live.journal import Journal
from tests.fakes import FakeNotion, FakeTelegram
from tests.fakes.notion import page_property

SID = "asia_fvg_break-v1-EURUSD-M5-20250304T0750"
CHAT = 777000111
RUN = "replay_restart_test"
SCRIPT = textwrap.dedent(f"""
    from ita.live.service import LiveService
    svc = LiveService.replay_service(["asia_fvg_break"], ["EURUSD"], "2025-03-04", "2025-03-04", speed=None,
                                     notify=("outbox", "telegram", "notion"), charts=(), run={RUN!r})
    svc.replay(drain_s=20)
    svc.close()
    print("done")
""")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def env(tmp_path, sample_store):
    with FakeTelegram() as tg, FakeNotion() as no:
        e = {**os.environ, "ITA_HOME": str(tmp_path / "home"), "ITA_DATA_DIR": str(sample_store.data_dir),
             "ITA_TELEGRAM_TOKEN": tg.token, "ITA_TELEGRAM_CHAT_IDS": str(CHAT), "ITA_TELEGRAM_API_URL": tg.base_url,
             "ITA_NOTION_TOKEN": no.token, "ITA_NOTION_DATABASE": no.database_id, "ITA_NOTION_API_URL": no.url,
             "PYTHONPATH": REPO}
        e.pop("ITA_DB", None)
        yield e, tg, no


def _start(e, tmp_path):
    script = tmp_path / "replay.py"
    script.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(script)], env=e, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _kill(proc):
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


@pytest.mark.slow
def test_killed_while_notion_creates_the_row_resumes_without_a_second_row(env, tmp_path):
    e, tg, no = env
    no.delay_next("POST", "/v1/pages", 60)
    first = _start(e, tmp_path)
    try:
        no.wait_for(lambda f: len(f.pages) == 1, timeout=90)
    finally:
        _kill(first)
    assert len(tg.sent) == 1
    j = Journal(os.path.join(e["ITA_HOME"], "ita.db"))
    states = j.deliveries(RUN).set_index("channel")["status"].to_dict()
    assert states == {"notion": "sending", "outbox": "sent", f"telegram:{CHAT}": "sent"}

    second = _start(e, tmp_path)
    out, _ = second.communicate(timeout=180)
    assert second.returncode == 0, out
    assert len(no.pages) == 1 and len(no.calls("POST", "/v1/pages")) == 1  # found, not written again
    assert page_property(no.pages[0], "Signal ID") == SID
    assert len(tg.sent) == 1
    assert len(j.signals(RUN)) == 1 and j.deliveries(RUN, undelivered=True).empty
    d = j.deliveries(RUN).set_index("channel").loc["notion"]
    assert d["uncertain"] == 1 and d["remote_id"] == no.pages[0]["id"]


@pytest.mark.slow
def test_killed_while_telegram_answers_resends_it_marked_and_the_rest_once(env, tmp_path):
    e, tg, no = env
    tg.delay_next("sendMessage", 60)
    first = _start(e, tmp_path)
    try:
        tg.wait_for(lambda f: len(f.calls("sendMessage")) == 1, timeout=90)
    finally:
        _kill(first)
    j = Journal(os.path.join(e["ITA_HOME"], "ita.db"))
    assert j.deliveries(RUN).set_index("channel")["status"].to_dict() == {
        "notion": "pending", "outbox": "pending", f"telegram:{CHAT}": "sending"}

    second = _start(e, tmp_path)
    out, _ = second.communicate(timeout=180)
    assert second.returncode == 0, out
    first_text, again = (m["text"] for m in tg.sent)
    assert first_text.startswith("LONG EURUSD") and again.startswith("⟳ sent again after a restart")
    assert SID in again
    assert len(no.pages) == 1
    outbox = os.path.join(e["ITA_HOME"], "replays", RUN, "outbox")
    assert os.listdir(outbox) == [SID]
    assert len(j.signals(RUN)) == 1 and j.deliveries(RUN, undelivered=True).empty
