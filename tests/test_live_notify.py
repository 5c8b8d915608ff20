"""Alerts through the real clients: python-telegram-bot against a fake Bot API server and notion-client against a
fake Notion API, both on 127.0.0.1 (tests/fakes) — the photo, caption and buttons, feedback from button presses,
429 / 5xx retried with backoff, a dead token, a revoked token mid-run kept in the outbox, the Notion row with its
chart, exactly one row after a timed-out create; and the vision comment through the real ChatOpenAI client.

Each test replays one day (2025-03-04) of asia_fvg_break on EURUSD through the live graph: one signal, a long
limit completed at 07:55 UTC (02:55 New York).
"""
from __future__ import annotations

import base64
import json

import pandas as pd
import pytest

from ita.errors import ItaError
from ita.live.journal import Journal
from ita.live.service import LiveService
from tests.fakes import FakeNotion, FakeTelegram
from tests.fakes.notion import page_property
from tests.fakes.openai import FakeOpenAI
from tests.fakes.openai import final as openai_final

SID = "asia_fvg_break-v1-EURUSD-M5-20250304T0750"
CHAT = 777000111


@pytest.fixture
def telegram(monkeypatch):
    with FakeTelegram() as fake:
        monkeypatch.setenv("ITA_TELEGRAM_TOKEN", fake.token)
        monkeypatch.setenv("ITA_TELEGRAM_CHAT_IDS", str(CHAT))
        monkeypatch.setenv("ITA_TELEGRAM_API_URL", fake.base_url)
        yield fake
        assert fake.errors == []


@pytest.fixture
def notion(monkeypatch):
    with FakeNotion() as fake:
        monkeypatch.setenv("ITA_NOTION_TOKEN", fake.token)
        monkeypatch.setenv("ITA_NOTION_DATABASE", fake.database_id)
        monkeypatch.setenv("ITA_NOTION_API_URL", fake.url)
        monkeypatch.setenv("ITA_NOTION_TIMEOUT", "2")
        yield fake
        assert fake.errors == []


def replay(sample_store, notify, charts=(), vision=None, run=None):
    svc = LiveService.replay_service(["asia_fvg_break"], ["EURUSD"], "2025-03-04", "2025-03-04", speed=None,
                                     notify=notify, charts=charts, store=sample_store, vision=vision, run=run)
    return svc


def test_telegram_alert_is_a_photo_with_caption_and_feedback_buttons(sample_store, telegram):
    svc = replay(sample_store, ("outbox", "telegram"), charts=("M15", "M5"))
    try:
        report = svc.replay()
        assert report["signals"] == 1 and report["deliveries"] == {"sent": 2}
        (msg,) = telegram.sent
        assert msg["method"] == "sendPhoto" and msg["chat_id"] == CHAT and msg["parse_mode"] == "HTML"
        assert msg["photo"][:8] == b"\x89PNG\r\n\x1a\n"
        cap = msg["caption"]
        for part in ("LONG EURUSD · asia_fvg_break v1 · M5", "Limit <code>1.04975</code>", "SL <code>1.04949</code>",
                     "TP <code>1.05027</code>", "RR 2.0", "risk 2.6 pips", "score <b>0.22</b> (Laplace)",
                     "Tue 04 Mar 02:55", "valid until Tue 04 Mar 11:00", SID, "a close above the Asia range"):
            assert part in cap, part
        rows = msg["reply_markup"]["inline_keyboard"]
        key = svc.ctx.journal.signal(svc.ctx.run, SID)["key"]
        assert [[b["callback_data"] for b in r] for r in rows] == [[f"fb|{key}|taken", f"fb|{key}|skipped"],
                                                                   [f"fb|{key}|up", f"fb|{key}|down"],
                                                                   [f"sim|{key}"]]
        lat = svc.ctx.journal.latency(svc.ctx.run).set_index("channel")
        assert lat.loc["telegram", "n"] == 1 and 0 <= lat.loc["telegram", "max"] < 30

        # the trader presses "Taken" then 👍; a stranger's press is refused and recorded nowhere
        tg = svc.ctx.channels["telegram"]
        tg.start_polling()
        telegram.press_button(CHAT, msg["message_id"], f"fb|{key}|taken")
        telegram.wait_for(lambda f: len(f.calls("editMessageReplyMarkup")) == 1)
        telegram.press_button(CHAT, msg["message_id"], f"fb|{key}|up")
        telegram.wait_for(lambda f: len(f.calls("editMessageReplyMarkup")) == 2)
        assert svc.ctx.journal.feedback_of(svc.ctx.run, SID) == {"taken": "taken", "vote": "up"}
        labels = [b["text"] for r in telegram.message(CHAT, msg["message_id"])["reply_markup"]["inline_keyboard"] for b in r]
        assert labels == ["✅ Taken ✓", "⏭ Skipped", "👍 ✓", "👎", "🔎 Similar"]
        telegram.press_button(123, msg["message_id"], f"fb|{key}|down")
        telegram.wait_for(lambda f: len(f.calls("answerCallbackQuery")) == 3)
        refused = telegram.calls("answerCallbackQuery")[-1].params
        assert str(refused["show_alert"]).lower() == "true" and "configured chats only" in refused["text"]
        assert svc.ctx.journal.feedback_of(svc.ctx.run, SID) == {"taken": "taken", "vote": "up"}

        # "Similar": a reply in the chat with the nearest earlier signals, or why there are none (no dataset here)
        n_sent = len(telegram.calls("sendMessage"))
        telegram.press_button(CHAT, msg["message_id"], f"sim|{key}")
        telegram.wait_for(lambda f: len(f.calls("sendMessage")) == n_sent + 1)
        reply = telegram.calls("sendMessage")[-1].params
        assert str(reply["chat_id"]) == str(CHAT) and "Similar signals" in reply["text"] and "ita learn dataset" in reply["text"]
    finally:
        svc.close()


def test_a_button_press_also_marks_the_notion_row(sample_store, telegram, monkeypatch):
    props = {"Name": "title", "Signal ID": "rich_text", "Status": "select", "Vote": "select"}
    with FakeNotion(properties=props) as notion:
        monkeypatch.setenv("ITA_NOTION_TOKEN", notion.token)
        monkeypatch.setenv("ITA_NOTION_DATABASE", notion.database_id)
        monkeypatch.setenv("ITA_NOTION_API_URL", notion.url)
        svc = replay(sample_store, ("telegram", "notion"))
        try:
            svc.replay()
            (page,) = notion.pages
            assert page_property(page, "Status") == "new"
            key = svc.ctx.journal.signal(svc.ctx.run, SID)["key"]
            svc.ctx.channels["telegram"].start_polling()
            telegram.press_button(CHAT, telegram.sent[0]["message_id"], f"fb|{key}|skipped")
            telegram.press_button(CHAT, telegram.sent[0]["message_id"], f"fb|{key}|down")
            notion.wait_for(lambda f: len(f.calls("PATCH", "/v1/pages/")) == 2)
            page = notion.pages[0]
            assert page_property(page, "Status") == "skipped" and page_property(page, "Vote") == "down"
        finally:
            svc.close()


def test_telegram_429_and_5xx_are_retried_and_sent_once(sample_store, telegram):
    telegram.fail_next("sendMessage", 429, retry_after=1)
    telegram.fail_next("sendMessage", 502, times=1)
    svc = replay(sample_store, ("telegram",))
    try:
        svc.replay()
    finally:
        svc.close()
    assert len(telegram.calls("sendMessage")) == 3 and len(telegram.sent) == 1
    d = svc.ctx.journal.deliveries(svc.ctx.run).iloc[0]
    assert d["status"] == "sent" and d["attempts"] == 3 and d["latency_s"] >= 2.9  # 1 s retry-after, then 2 s backoff
    assert telegram.sent[0]["text"].startswith("LONG EURUSD · asia_fvg_break v1 · M5")  # no chart: a text message


def test_a_dead_telegram_token_stops_the_start_with_a_clear_message(sample_store, telegram, monkeypatch, tmp_path):
    monkeypatch.setenv("ITA_TELEGRAM_TOKEN", "999:REVOKED")
    with pytest.raises(ItaError, match="Telegram rejected the bot token .*BotFather"):
        replay(sample_store, ("telegram",))
    assert telegram.sent == [] and Journal().runs().empty


def test_a_token_revoked_mid_run_keeps_the_alert_in_the_outbox_until_fixed(sample_store, telegram):
    telegram.fail_next("sendMessage", 401)
    svc = replay(sample_store, ("outbox", "telegram"))
    try:
        report = svc.replay(drain_s=1)
    finally:
        svc.close()
    assert telegram.sent == [] and report["deliveries"] == {"sent": 1, "failed": 1}
    left = svc.ctx.journal.deliveries(svc.ctx.run, undelivered=True)
    assert left["channel"].tolist() == [f"telegram:{CHAT}"] and "Unauthorized" in left["last_error"].iloc[0]
    # the trader fixes the token; the same run resumes and delivers what was kept
    assert svc.ctx.journal.requeue(svc.ctx.run) == 1
    again = replay(sample_store, ("outbox", "telegram"), run=svc.ctx.run)
    try:
        again.replay()
    finally:
        again.close()
    assert len(telegram.sent) == 1 and again.ctx.journal.deliveries(svc.ctx.run, undelivered=True).empty
    assert len(again.ctx.journal.signals(svc.ctx.run)) == 1


def test_notion_row_with_properties_and_the_chart(sample_store, notion):
    svc = replay(sample_store, ("notion",), charts=("M5",))
    try:
        svc.replay()
    finally:
        svc.close()
    (page,) = notion.pages
    assert page["parent"]["data_source_id"] == notion.data_source_id
    assert page_property(page, "Name") == "EURUSD long · asia_fvg_break v1 · Tue 04 Mar 02:55 NY"
    assert page_property(page, "Signal ID") == SID and page_property(page, "Setup") == "asia_fvg_break"
    assert page_property(page, "Version") == "v1" and page_property(page, "Direction") == "long"
    assert page_property(page, "Entry") == 1.04975 and page_property(page, "SL") == 1.04949
    assert page_property(page, "TP") == 1.05027 and page_property(page, "RR") == 2.0
    assert page_property(page, "Score") == pytest.approx(0.2174, abs=1e-4)
    assert pd.Timestamp(page_property(page, "Signal time")) == pd.Timestamp("2025-03-04 07:55", tz="UTC")
    assert "a close above the Asia range" in page_property(page, "Comment")
    image = page["children"][0]
    assert image["type"] == "image"
    up = notion.uploads[image["image"]["file_upload"]["id"]]
    assert up["status"] == "uploaded" and up["data"][:8] == b"\x89PNG\r\n\x1a\n"
    assert up["data"] == open(svc.ctx.journal.signal(svc.ctx.run, SID)["chart"], "rb").read()


def test_notion_429_and_a_timed_out_create_give_exactly_one_row(sample_store, notion):
    notion.fail_next("POST", "/v1/pages", 429, retry_after=1)
    notion.delay_next("POST", "/v1/pages", 4)  # created, but the answer comes after the client's 2 s timeout
    svc = replay(sample_store, ("notion",))
    try:
        svc.replay()
    finally:
        svc.close()
    assert len(notion.pages) == 1 and len(notion.calls("POST", "/v1/pages")) == 2
    d = svc.ctx.journal.deliveries(svc.ctx.run).iloc[0]
    assert d["status"] == "sent" and d["remote_id"] == notion.pages[0]["id"] and d["uncertain"] == 1


def test_notion_without_some_properties_still_journals_and_says_which(sample_store, monkeypatch, caplog):
    with FakeNotion(properties={"Title": "title", "Signal ID": "rich_text", "Score": "rich_text"}) as fake:
        monkeypatch.setenv("ITA_NOTION_TOKEN", fake.token)
        monkeypatch.setenv("ITA_NOTION_DATABASE", fake.database_id)
        monkeypatch.setenv("ITA_NOTION_API_URL", fake.url)
        with caplog.at_level("WARNING", logger="ita.live"):
            svc = replay(sample_store, ("notion",))
            try:
                svc.replay()
            finally:
                svc.close()
        (page,) = fake.pages
        assert set(page["properties"]) == {"Title", "Signal ID", "Score"}
        assert page_property(page, "Title").startswith("EURUSD long") and page_property(page, "Score") == "0.2174"
        assert "lacks the properties Name, Setup, Version" in caplog.text


def test_notion_bad_token_or_unshared_database_is_a_clear_error(sample_store, notion, monkeypatch):
    monkeypatch.setenv("ITA_NOTION_TOKEN", "secret_wrong")
    with pytest.raises(ItaError, match="Notion rejected the token"):
        replay(sample_store, ("notion",))
    monkeypatch.setenv("ITA_NOTION_TOKEN", notion.token)
    monkeypatch.setenv("ITA_NOTION_DATABASE", "00000000000000000000000000000000")
    with pytest.raises(ItaError, match="Share the database with the integration"):
        replay(sample_store, ("notion",))
    assert notion.pages == []


def _with_model(sample_store, tmp_path, script, charts=()):
    """Replay the day with a vision model at a fake OpenAI server answering ``script``; the signal's journal row
    and the requests the server received."""
    from ita.agent.context import AgentConfig

    srv = FakeOpenAI(script)
    try:
        cfg = AgentConfig(api_key="sk-test", base_url=srv.url, model="vision-fake", use_llm=True, timeout=5.0,
                          chat_db=tmp_path / "chat.db")
        svc = replay(sample_store, ("outbox",), charts=charts, vision=cfg)
        try:
            svc.replay()
        finally:
            svc.close()
        return svc.ctx.journal.signal(svc.ctx.run, SID), srv.requests
    finally:
        srv.close()


def test_vision_comment_gets_the_chart_and_the_signal_and_falls_back_on_failure(sample_store, tmp_path):
    row, (req,) = _with_model(sample_store, tmp_path, [openai_final(
        "Clean break of the Asia high with a fresh bullish FVG. The gap is thin. "
        "A close back inside the Asia range would invalidate it.")], charts=("M5",))
    assert row["comment_source"] == "llm" and row["comment"].startswith("Clean break of the Asia high")
    assert req["model"] == "vision-fake"
    content = req["messages"][1]["content"]
    sent = json.loads(content[0]["text"].removeprefix("Signal:\n"))
    assert sent["signal_id"] == SID and sent["entry_price"] == 1.04975 and sent["score"] == pytest.approx(0.2174, abs=1e-4)
    url = content[1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == open(row["chart"], "rb").read()
    assert "ITA never trades" in req["messages"][0]["content"]

    row, reqs = _with_model(sample_store, tmp_path, [500, 500])
    assert len(reqs) == 1  # one attempt inside the latency budget, then the template
    assert row["comment_source"] == "template" and row["comment"].startswith("Long EURUSD: a close above the Asia range")
