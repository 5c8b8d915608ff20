"""Talking to ITA in Telegram: the real python-telegram-bot (``ita.telegram.serve``: the chat on the alert
channel's application) against the fake Bot API on 127.0.0.1 — text → "typing…", the answer with photos and
documents, follow-up buttons, one conversation per chat across restarts, commands, documents into the theory
library (getFile + the file server), progress by editing one message, 429 with retry_after, a chat that is not
allowed."""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

import pytest

from ita.live.config import TelegramSettings
from tests.fakes import FakeTelegram

CHAT = 4242
STRANGER = 999
MARKDOWN_NOTES = b"""# Fair value gaps

A fair value gap is a three-candle imbalance; price often returns to it.

# Order blocks

The last opposite candle before a displacement that breaks structure.
"""


@pytest.fixture
def env(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    for var in ("OPENAI_API_KEY", "ITA_METRICS_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ITA_TELEGRAM_INTERVAL", "0.05")
    return sample_store


@pytest.fixture
def tg(env):
    with FakeTelegram() as fake:
        yield fake
    assert fake.errors == []


@contextmanager
def running(tg: FakeTelegram, **bot_kw):
    """The bot (``ita.telegram.serve``) polling the fake in a thread; stopped on exit."""
    from ita.telegram import serve

    settings = TelegramSettings(tg.token, (CHAT,), tg.base_url)
    stop, ready, errors, bots = threading.Event(), threading.Event(), [], []

    def run():
        try:
            serve(settings, stop, ready=lambda b: (bots.append(b), ready.set()), **bot_kw)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            ready.set()

    th = threading.Thread(target=run, daemon=True)
    th.start()
    assert ready.wait(60) and not errors, errors
    try:
        yield bots[0]
    finally:
        stop.set()
        th.join(60)


def texts(tg, chat=CHAT) -> list[str]:
    return [s.get("text") or "" for s in tg.sent if s["chat_id"] == chat and s["method"] == "sendMessage"]


def answer_with(tg, needle: str, timeout: float = 120.0, chat=CHAT) -> dict:
    return tg.wait_for(lambda f: next((s for s in f.sent if s["chat_id"] == chat and needle in (s.get("text") or "")),
                                      None), timeout)


@pytest.mark.slow
def test_a_backtest_is_answered_with_typing_table_photos_documents_and_buttons(tg):
    with running(tg):
        tg.send_text(CHAT, "backtest asia_fvg_break on EURUSD for March 2025")
        received = time.monotonic()
        msg = answer_with(tg, "asia_fvg_break v1")
        tg.wait_for(lambda f: len(f.documents(CHAT)) == 2, 120)
        typing = [a for a in tg.chat_actions if a["chat_id"] == CHAT]
        assert typing and typing[0]["action"] == "typing" and typing[0]["at"] >= received
        text = msg["text"]
        assert msg["parse_mode"] == "HTML" and "<pre>" in text and "Win rate" in text and "bt_" in text
        assert "sha256" in text and "98b564cd" in text  # the setup hash
        labels = [b["text"] for row in msg["reply_markup"]["inline_keyboard"] for b in row]
        assert "same on XAUUSD" in labels and any(lab.startswith("show trade") for lab in labels)
        photos = tg.photos(CHAT)
        assert len(photos) >= 2 and all(p[:8] == b"\x89PNG\r\n\x1a\n" for p in photos)
        assert all(s.get("album") for s in tg.sent if s.get("photo") is not None)  # one album
        assert {n for n, _ in tg.documents(CHAT)} == {"trades.csv", "report.html"}
        trades_csv = dict(tg.documents(CHAT))["trades.csv"].decode()
        assert trades_csv.splitlines()[0].startswith("trade,") and len(trades_csv.splitlines()) > 2

        # a follow-up button asks the chat as if typed: the same setup and period on XAUUSD
        n_before = len(texts(tg))
        tg.press_button(CHAT, msg["message_id"], "ch|same on XAUUSD")
        follow = tg.wait_for(lambda f: next((t for t in texts(f)[n_before:] if "XAUUSD" in t), None), 120)
        assert "asia_fvg_break" in follow and "same on XAUUSD" in follow  # echoed on top of the answer
        assert tg.calls("answerCallbackQuery")[-1].status == 200

    # a restarted bot keeps the conversation of the chat (the LangGraph checkpointer)
    with running(tg):
        n_before = len(texts(tg))
        tg.send_text(CHAT, "only the London killzone")
        again = tg.wait_for(lambda f: next((t for t in texts(f)[n_before:] if "asia_fvg_break" in t), None), 120)
        assert "XAUUSD" in again and "london" in again.lower()


@pytest.mark.slow
def test_a_backtest_text_goes_out_before_its_charts_are_written(tg):
    """Text before images: the statistics reach Telegram the moment they exist — before the first chart of the
    run is even written — with a "rendering" line; that message is then edited into the complete answer (the
    files line) and only then do the album and the documents follow."""
    import re
    from pathlib import Path

    from ita.config import settings

    with running(tg):
        tg.send_text(CHAT, "backtest asia_fvg_break on EURUSD for March 2025")
        tg.wait_for(lambda f: len(f.documents(CHAT)) == 2, 120)
        now_wall, now_mono = time.time(), time.monotonic()
        calls = [c for c in tg.requests if c.status == 200 and c.method in
                 ("sendMessage", "editMessageText", "sendMediaGroup", "sendPhoto", "sendDocument")]
        first = next(i for i, c in enumerate(calls) if c.method == "sendMessage"
                     and "asia_fvg_break v1" in str(c.params.get("text")))
        early = str(calls[first].params["text"])
        assert "Win rate" in early and "<pre>" in early and "Rendering 4 charts and the HTML report" in early
        run_id = re.search(r"bt_\d{8}_\d{6}_[0-9a-f]{6}", early).group(0)
        run_dir = Path(settings().runs_dir) / run_id
        pngs = sorted(run_dir.glob("*.png"))
        assert len(pngs) == 4
        arrived = now_wall - (now_mono - calls[first].at)  # the early text's arrival on the wall clock
        assert arrived < min(p.stat().st_mtime for p in pngs), "the text waited for the charts"
        edit = next(i for i, c in enumerate(calls) if c.method == "editMessageText"
                    and "asia_fvg_break v1" in str(c.params.get("text")))
        media = next(i for i, c in enumerate(calls) if c.method in ("sendMediaGroup", "sendPhoto"))
        assert first < edit < media
        final = str(calls[edit].params["text"])
        assert "Rendering" not in final and "Files:" in final and run_id in final
        msg = tg.message(CHAT, int(calls[edit].params["message_id"]))
        assert msg["text"].count("Win rate") == 1 and "Files:" in msg["text"] and msg["reply_markup"]
        assert len(tg.photos(CHAT)) == 4 and {n for n, _ in tg.documents(CHAT)} == {"trades.csv", "report.html"}


@pytest.mark.slow
def test_two_backtests_in_one_request_are_sent_once_and_completed_in_place(tg):
    """The first backtest's statistics go out at once; the second's and the files lines complete that answer
    (edited, or continued in a further message) — never the first's statistics twice."""
    with running(tg):
        tg.send_text(CHAT, "backtest asia_fvg_break on EURUSD and XAUUSD for March 2025")
        tg.wait_for(lambda f: len(f.documents(CHAT)) == 4, 180)
        time.sleep(0.5)
        sent = [s for s in tg.sent if s["chat_id"] == CHAT and s["method"] == "sendMessage"
                and "asia_fvg_break v1" in (s.get("text") or "")]
        assert sum("on EURUSD, 2025-03" in s["text"] for s in sent) == 1
        assert "Rendering" in sent[0]["text"] and "XAUUSD, 2025-03" not in sent[0]["text"]
        now = "\n".join(tg.message(CHAT, s["message_id"])["text"] for s in sent)   # after the edits
        assert now.count("Files:") == 2 and "Rendering" not in now and now.count("Win rate") == 2
        assert len(tg.photos(CHAT)) == 8


@pytest.mark.slow
def test_commands_russian_and_a_stranger(tg, caplog):
    caplog.set_level(logging.WARNING, logger="ita.telegram")
    with running(tg, progress_after=0.0):
        tg.send_text(CHAT, "/help")
        assert "/backtest" in answer_with(tg, "/weekly")["text"]
        tg.send_text(CHAT, "/setups")
        answer_with(tg, "asia_sweep")
        tg.send_text(CHAT, "/signals")
        answer_with(tg, "No signals journaled for live yet")
        tg.send_text(CHAT, "/weekly")
        answer_with(tg, "No signals in live for")
        tg.send_text(CHAT, "/status")
        answer_with(tg, "Live loop not answering")
        tg.send_text(CHAT, "/backtest asia_sweep XAUUSD 2025-03")
        answer_with(tg, "asia_sweep v1")
        tg.send_text(CHAT, "бэктест asia_fvg_break по EURUSD за март 2025")
        ru = answer_with(tg, "Винрейт")
        assert "<pre>" in ru["text"]
        # progress_after=0: the long turn had one progress message, edited to "done"
        edits = [c for c in tg.calls("editMessageText") if c.status == 200]
        assert edits and any("done in" in str(c.params.get("text")) or "готово" in str(c.params.get("text"))
                             for c in edits)
        assert [c.status for c in tg.calls("setMyCommands")] == [200, 200]  # the menu, English and Russian

        for _ in range(3):
            tg.send_text(STRANGER, "backtest asia_fvg_break on EURUSD")
        tg.wait_for(lambda f: texts(f, STRANGER), 30)
        time.sleep(1.0)
        assert len(texts(tg, STRANGER)) == 1 and "not one of them" in texts(tg, STRANGER)[0]
        assert not [a for a in tg.chat_actions if a["chat_id"] == STRANGER]  # nothing was done for it
    assert sum("Refused chat 999" in r.getMessage() for r in caplog.records) == 3


@pytest.mark.slow
def test_documents_go_into_the_library_or_are_refused_with_the_reason(tg, tmp_path):
    from tests.test_knowledge_base import make_pdf

    with running(tg, progress_after=0.0):
        tg.send_document(CHAT, MARKDOWN_NOTES, "ict_notes.md", "text/markdown")
        added = answer_with(tg, "📚 <code>ict_notes.md</code>")["text"]
        assert "passages" in added and "Fair value gaps" in added and "Order blocks" in added
        assert [c.method for c in tg.requests if c.method in ("getFile", "download")][:2] == ["getFile", "download"]
        # one progress message, edited at the end to "done" with the library's last progress report
        (done,) = [c for c in tg.calls("editMessageText") if "done in" in str(c.params.get("text"))]
        assert "ict_notes.md" in done.params["text"]

        tg.send_text(CHAT, "what is a fair value gap?")
        assert "ict_notes.md" in answer_with(tg, "three-candle")["text"]

        scanned = make_pdf(tmp_path / "scan.pdf", [[("img", "")]])
        tg.send_document(CHAT, scanned.read_bytes(), "scan.pdf", "application/pdf")
        assert "text" in answer_with(tg, "⚠️ <code>scan.pdf</code>")["text"]

        n_files = len(tg.calls("getFile"))
        tg.send_document(CHAT, b"", "course.pdf", "application/pdf", file_size=50 * 1024 * 1024)
        big = answer_with(tg, "20 MB")["text"]
        assert "50 MB" in big and "ita kb add" in big
        tg.send_document(CHAT, b"PK\x03\x04", "rules.docx", "application/vnd.openxmlformats")
        assert ".pdf" in answer_with(tg, "rules.docx")["text"]
        assert len(tg.calls("getFile")) == n_files  # neither was downloaded
        tg.send_photo(CHAT, b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
        answer_with(tg, "do not analyse pictures")


def test_429_is_waited_out_and_messages_to_a_chat_are_paced(tg, monkeypatch):
    monkeypatch.setenv("ITA_TELEGRAM_INTERVAL", "1.0")
    with running(tg):
        tg.fail_next("sendMessage", 429, retry_after=2)
        tg.send_text(CHAT, "/help")
        answer_with(tg, "/weekly", 30)
        tg.send_text(CHAT, "/help")
        tg.wait_for(lambda f: len([t for t in texts(f) if "/weekly" in t]) == 2, 30)
    calls = [c for c in tg.calls("sendMessage") if c.params.get("chat_id") == CHAT]
    assert [c.status for c in calls] == [429, 200, 200]
    assert calls[1].at - calls[0].at >= 2.0  # waited for retry_after
    assert calls[2].at - calls[0].at >= 3.0  # then one message per second per chat


@pytest.mark.slow
def test_live_start_with_chat_alerts_and_talks_through_one_bot(tg, tmp_path, sample_store):
    """`ita live start --chat`: the alert (photo or message with the feedback buttons) and the chat share one
    poller; a button press on the alert is still recorded, a message is answered by the agent."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    import pandas as pd

    from ita.live.journal import Journal
    from tests.conftest import REPO
    from tests.test_live_cli import ANY_FVG, _m1_file

    setups = tmp_path / "setups" / "any_fvg"
    setups.mkdir(parents=True)
    (setups / "v1.yaml").write_text(ANY_FVG)
    home = tmp_path / "home"
    # the live bars are kept in this store, never in the session's shared sample store
    env = {**os.environ, "ITA_HOME": str(home), "ITA_DATA_DIR": str(tmp_path / "data"),
           "ITA_SETUPS_DIR": str(tmp_path / "setups"), "ITA_TELEGRAM_TOKEN": tg.token,
           "ITA_TELEGRAM_CHAT_IDS": str(CHAT), "ITA_TELEGRAM_API_URL": tg.base_url, "ITA_TELEGRAM_INTERVAL": "0.05"}
    env.pop("OPENAI_API_KEY", None)
    last_close = pd.Timestamp.now(tz="UTC").floor("1min")
    csv = tmp_path / "EURUSD_M1.csv"
    _m1_file(csv, last_close)
    Journal(home / "ita.db").set_cursor("live", "EURUSD", "M1", last_close - pd.Timedelta(minutes=1))
    exe = Path(sys.executable).with_name("ita")
    proc = subprocess.Popen([str(exe), "live", "start", "--setups", "any_fvg", "--symbols", "EURUSD", "--file",
                             f"EURUSD={csv}", "--file-timeframe", "M1", "--server-tz", "UTC", "--charts", "none",
                             "--delay", "1", "--chat"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        alert = tg.wait_for(lambda f: next((s for s in f.sent if s["chat_id"] == CHAT and s.get("reply_markup")
                                            and "fb|" in str(s["reply_markup"])), None), 120)
        tg.send_text(CHAT, "list setups")
        answer_with(tg, "any_fvg", 120)
        key = alert["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        tg.press_button(CHAT, alert["message_id"], key)
        tg.wait_for(lambda f: [c for c in f.calls("answerCallbackQuery") if c.status == 200], 60)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "Chat: the Telegram bot also answers" in out
    (sig,) = Journal(home / "ita.db").signals("live").to_dict("records")
    assert Journal(home / "ita.db").feedback_of("live", sig["signal_id"])["taken"] == "taken"


def test_the_pacer_lets_an_answer_out_at_once_then_holds_one_message_a_second():
    import asyncio

    from ita.telegram.bot import Pacer

    async def go():
        pacer, at = Pacer(interval=0.5, burst=3), []

        async def send():
            at.append(time.monotonic())

        for _ in range(5):
            await pacer.send(CHAT, send)
        await pacer.send(CHAT + 1, send)  # another chat has its own budget
        return pacer, at

    pacer, at = asyncio.run(go())
    assert at[3] - at[0] >= 0.45 and at[4] - at[0] >= 0.95  # after the burst of 3: one per interval
    assert pacer._tokens[CHAT + 1][0] == pytest.approx(2.0)  # the other chat spent one of its own three
