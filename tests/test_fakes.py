"""The fake Telegram and Notion servers speak the real wire formats: drive the real client libraries
(python-telegram-bot, notion-client) against them, no mocking, and assert on what the fakes recorded."""
from __future__ import annotations

import asyncio
import datetime as dt
import struct
import zlib

import httpx
import notion_client
import pytest
import telegram
from notion_client.errors import APIResponseError, RequestTimeoutError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from tests.fakes import FakeNotion, FakeTelegram
from tests.fakes.notion import page_property

CHAT = 777000111


def png(width: int = 3, height: int = 2) -> bytes:
    """A valid RGB PNG (contains bytes like \\r\\n and NUL, so multipart parsing must be binary-safe)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([10, 13, 0] * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("✅ Taken", callback_data="take:sig-1"),
                                  InlineKeyboardButton("❌ Skip", callback_data="skip:sig-1")]])


@pytest.fixture
def tg():
    with FakeTelegram() as fake:
        yield fake
    assert fake.errors == []  # no exception inside the fake itself


@pytest.fixture
def notion():
    with FakeNotion() as fake:
        yield fake
    assert fake.errors == []


def bot(fake: FakeTelegram, token: str | None = None) -> telegram.Bot:
    return telegram.Bot(token or fake.token, base_url=fake.base_url, base_file_url=fake.file_url)


# -- Telegram ---------------------------------------------------------------------------------------
def test_ptb_get_me(tg):
    me = asyncio.run(bot(tg).get_me())
    assert (me.id, me.username, me.is_bot) == (123456, "ita_test_bot", True)
    assert [c.path for c in tg.calls("getMe")] == [f"/bot{tg.token}/getMe"]


def test_ptb_send_photo_records_photo_caption_and_keyboard(tg):
    image = png(40, 30)

    async def main():
        async with bot(tg) as b:
            first = await b.send_photo(CHAT, image, caption="<b>EURUSD</b> long &amp; strong",
                                       parse_mode="HTML", reply_markup=KEYBOARD)
            second = await b.send_message(CHAT, "next")
            return first, second

    first, second = asyncio.run(main())
    assert (first.message_id, second.message_id) == (1, 2)  # per-chat message ids
    assert first.caption == "EURUSD long & strong"  # Telegram returns the text without HTML tags
    assert first.photo[-1].width == 40 and first.photo[-1].height == 30
    assert first.reply_markup == KEYBOARD and first.chat.id == CHAT and first.from_user.is_bot
    [photo_call] = tg.calls("sendPhoto")
    assert photo_call.headers["content-type"].startswith("multipart/form-data")
    assert photo_call.files["photo"][1] == image
    assert tg.sent[0] == {"chat_id": CHAT, "message_id": 1, "method": "sendPhoto",
                          "caption": "<b>EURUSD</b> long &amp; strong", "photo": image,
                          "reply_markup": {"inline_keyboard": [
                              [{"text": "✅ Taken", "callback_data": "take:sig-1"},
                               {"text": "❌ Skip", "callback_data": "skip:sig-1"}]]},
                          "parse_mode": "HTML", "date": tg.sent[0]["date"]}
    assert tg.sent[1]["text"] == "next" and tg.photos() == [image]
    assert tg.calls("sendMessage")[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_ptb_429_raises_retry_after_and_is_not_recorded_as_sent(tg, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22.8: else retry_after is an int + a deprecation warning
    tg.fail_next("sendPhoto", 429, retry_after=3)

    async def main():
        async with bot(tg) as b:
            with pytest.raises(RetryAfter) as err:
                await b.send_photo(CHAT, png(), caption="x")
            assert err.value.retry_after == dt.timedelta(seconds=3)
            assert tg.sent == []
            await b.send_photo(CHAT, png(), caption="x")  # the retry goes through

    asyncio.run(main())
    assert [c.status for c in tg.calls("sendPhoto")] == [429, 200]
    assert len(tg.sent) == 1


def test_ptb_server_error_raises_network_error(tg):
    tg.fail_next("sendMessage", 500, times=2)

    async def main():
        async with bot(tg) as b:
            for _ in range(2):
                with pytest.raises(NetworkError, match="Internal Server Error"):
                    await b.send_message(CHAT, "hello")
            await b.send_message(CHAT, "hello")

    asyncio.run(main())
    assert [c.status for c in tg.calls("sendMessage")] == [500, 500, 200]
    assert [s["text"] for s in tg.sent] == ["hello"]


def test_ptb_wrong_token_raises_invalid_token(tg):
    with pytest.raises(InvalidToken):
        asyncio.run(bot(tg, token="999:REVOKED").get_me())
    assert [c.status for c in tg.requests] == [401]


def test_ptb_bad_html_and_bad_callback_data_are_rejected_like_telegram(tg):
    async def main():
        async with bot(tg) as b:
            with pytest.raises(BadRequest, match="(?i)can't parse entities"):
                await b.send_message(CHAT, "<div>x</div>", parse_mode="HTML")
            with pytest.raises(BadRequest, match="(?i)can't parse entities"):
                await b.send_message(CHAT, "<b>x", parse_mode="HTML")
            with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
                too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x" * 65)]])
                await b.send_message(CHAT, "ok", reply_markup=too_long)
            with pytest.raises(BadRequest, match="(?i)caption is too long"):
                await b.send_photo(CHAT, png(), caption="x" * 1025)

    asyncio.run(main())
    assert tg.sent == [] and len(tg.requests) == 5  # getMe + 4 rejected sends


def test_ptb_delayed_answer_times_out_client_but_message_was_sent(tg):
    tg.delay_next("sendMessage", 1.0)

    async def main():
        async with bot(tg) as b:
            with pytest.raises(TimedOut):
                await b.send_message(CHAT, "signal", read_timeout=0.2)

    asyncio.run(main())
    assert [s["text"] for s in tg.sent] == ["signal"]  # processed, answered too late


def test_ptb_application_polls_and_answers_a_button_press(tg):
    pressed, commands = [], []

    async def on_button(update, context):
        query = update.callback_query
        pressed.append((query.data, query.message.message_id, query.from_user.first_name))
        await query.answer("Noted")
        await query.edit_message_reply_markup(None)

    async def on_start(update, context):
        commands.append(update.effective_chat.id)
        await update.message.reply_text("hi")

    async def main():
        app = (Application.builder().token(tg.token).base_url(tg.base_url)
               .base_file_url(tg.file_url).build())
        app.add_handler(CallbackQueryHandler(on_button))
        app.add_handler(CommandHandler("start", on_start))
        await app.initialize()
        await app.start()
        await app.updater.start_polling(poll_interval=0.0, timeout=1)
        try:
            sent = await app.bot.send_photo(CHAT, png(), caption="signal", reply_markup=KEYBOARD)
            tg.press_button(CHAT, sent.message_id, "take:sig-1", first_name="Ann")
            tg.send_text(CHAT, "/start")
            await tg.wait_for_async(lambda f: f.calls("answerCallbackQuery") and commands
                                    and f.calls("editMessageReplyMarkup"))
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
        return sent

    sent = asyncio.run(main())
    assert pressed == [("take:sig-1", sent.message_id, "Ann")] and commands == [CHAT]
    [answer] = tg.calls("answerCallbackQuery")
    assert answer.status == 200 and answer.params["text"] == "Noted"
    assert "reply_markup" not in tg.message(CHAT, sent.message_id)  # keyboard removed
    assert tg.sent[-1]["text"] == "hi"
    assert tg.calls("deleteWebhook") and tg.calls("getUpdates")


def test_answering_a_callback_query_twice_fails(tg):
    sent_id = asyncio.run(bot(tg).send_message(CHAT, "x", reply_markup=KEYBOARD)).message_id
    update_id = tg.press_button(CHAT, sent_id, "take:sig-1")

    async def main():
        async with bot(tg) as b:
            [update] = await b.get_updates(offset=update_id, timeout=0)
            assert update.callback_query.message.reply_markup == KEYBOARD
            await update.callback_query.answer()
            with pytest.raises(BadRequest, match="(?i)query is too old"):
                await update.callback_query.answer()
            assert await b.get_updates(offset=update_id + 1, timeout=0) == ()  # confirmed

    asyncio.run(main())
    assert [c.status for c in tg.calls("answerCallbackQuery")] == [200, 400]


def test_ptb_documents_albums_and_chat_actions_are_recorded(tg):
    from telegram import InputMediaDocument, InputMediaPhoto

    async def go():
        async with bot(tg) as b:
            await b.send_chat_action(CHAT, "typing")
            doc = await b.send_document(CHAT, document=b"a,b\n1,2\n", filename="trades.csv", caption="All trades")
            photos = await b.send_media_group(CHAT, [InputMediaPhoto(png(), caption="equity"),
                                                     InputMediaPhoto(png(4, 4))])
            docs = await b.send_media_group(CHAT, [InputMediaDocument(b"x", filename="a.csv"),
                                                   InputMediaDocument(b"<html>", filename="r.html")])
            with pytest.raises(BadRequest, match="(?i)wrong parameter action"):
                await b.send_chat_action(CHAT, "dancing")
            return doc, photos, docs

    doc, photos, docs = asyncio.run(go())
    assert doc.document.file_name == "trades.csv" and doc.caption == "All trades"
    assert [m.caption for m in photos] == ["equity", None] and len({m.media_group_id for m in photos}) == 1
    assert tg.documents(CHAT) == [("trades.csv", b"a,b\n1,2\n"), ("a.csv", b"x"), ("r.html", b"<html>")]
    assert tg.photos(CHAT) == [png(), png(4, 4)]
    assert [(a["chat_id"], a["action"]) for a in tg.chat_actions] == [(CHAT, "typing")]


def test_ptb_downloads_a_document_the_user_sent_and_big_files_are_refused(tg):
    tg.send_document(CHAT, b"%PDF-1.4 notes", "course.pdf", "application/pdf", caption="my course")
    tg.send_document(CHAT, b"", "huge.pdf", "application/pdf", file_size=50 * 1024 * 1024)

    async def go():
        async with bot(tg) as b:
            updates = await b.get_updates()
            small, big = (u.message.document for u in updates)
            f = await small.get_file()
            data = bytes(await f.download_as_bytearray())
            with pytest.raises(BadRequest, match="(?i)file is too big"):
                await big.get_file()
            return small, big, data

    small, big, data = asyncio.run(go())
    assert (small.file_name, small.mime_type, small.file_size, data) == ("course.pdf", "application/pdf", 14,
                                                                         b"%PDF-1.4 notes")
    assert big.file_size == 50 * 1024 * 1024
    assert [c.method for c in tg.requests][-3:] == ["getFile", "download", "getFile"]


# -- Notion -----------------------------------------------------------------------------------------
def client(fake: FakeNotion, **kw) -> notion_client.Client:
    return notion_client.Client(auth=kw.pop("auth", fake.token), base_url=fake.url, retry=False, **kw)


def signal_properties(signal_id: str, **extra) -> dict:
    return {"Name": {"title": [{"text": {"content": f"EURUSD long {signal_id}"}}]},
            "Signal ID": {"rich_text": [{"text": {"content": signal_id}}]},
            "Symbol": {"select": {"name": "EURUSD"}}, "Entry": {"number": 1.0842},
            "Signal time": {"date": {"start": "2025-03-14T08:05:00+00:00"}}, **extra}


def test_notion_retrieve_user_database_and_data_source(notion):
    c = client(notion)
    assert c.users.me()["type"] == "bot"
    db = c.databases.retrieve(database_id=notion.database_id)
    assert db["object"] == "database" and db["data_sources"][0]["id"] == notion.data_source_id
    ds = c.data_sources.retrieve(data_source_id=db["data_sources"][0]["id"])
    assert {n: p["type"] for n, p in ds["properties"].items()}["Signal time"] == "date"
    assert ds["properties"]["Name"] == {"id": "title", "name": "Name", "type": "title", "title": {}}
    first = notion.requests[0]
    assert first.headers["notion-version"] == "2025-09-03"
    assert first.headers["authorization"] == "Bearer secret_test"
    assert [c.path for c in notion.requests] == ["/v1/users/me", f"/v1/databases/{notion.database_id}",
                                                 f"/v1/data_sources/{notion.data_source_id}"]


def test_notion_upload_create_page_with_image_and_query(notion):
    c = client(notion)
    image = png(8, 8)
    upload = c.file_uploads.create(mode="single_part", filename="chart.png", content_type="image/png")
    assert upload["status"] == "pending"
    sent = c.file_uploads.send(file_upload_id=upload["id"], file=("chart.png", image, "image/png"))
    assert sent["status"] == "uploaded"
    assert notion.calls("POST", "/v1/file_uploads/")[0].headers["content-type"].startswith("multipart/form-data")
    page = c.pages.create(parent={"data_source_id": notion.data_source_id},
                          properties=signal_properties("sig-1"),
                          children=[{"type": "image", "image": {"type": "file_upload",
                                                                "file_upload": {"id": upload["id"]}}}])
    c.pages.create(parent={"database_id": notion.database_id}, properties=signal_properties("sig-2"))
    assert page["url"].endswith(page["id"].replace("-", "")) and page_property(page, "Entry") == 1.0842
    assert notion.uploads[upload["id"]] == {"filename": "chart.png", "content_type": "image/png",
                                            "data": image, "status": "uploaded"}
    stored = notion.pages[0]
    assert stored["children"][0]["image"]["file_upload"]["id"] == upload["id"]
    assert [page_property(stored, n) for n in ("Name", "Signal ID", "Symbol", "Signal time", "Status")] == [
        "EURUSD long sig-1", "sig-1", "EURUSD", "2025-03-14T08:05:00+00:00", None]
    found = c.data_sources.query(data_source_id=notion.data_source_id,
                                 filter={"property": "Signal ID", "rich_text": {"equals": "sig-1"}})
    assert [p["id"] for p in found["results"]] == [page["id"]] and found["has_more"] is False
    both = c.data_sources.query(data_source_id=notion.data_source_id, page_size=1, filter={"and": [
        {"property": "Symbol", "select": {"equals": "EURUSD"}},
        {"property": "Name", "title": {"contains": "long"}}]})
    assert len(both["results"]) == 1 and both["has_more"] and both["next_cursor"]


def test_notion_file_must_be_a_tuple_and_pending_upload_cannot_be_attached(notion):
    c = client(notion)
    upload = c.file_uploads.create(filename="chart.png", content_type="image/png")
    with pytest.raises(APIResponseError) as err:  # raw bytes become str(bytes) in a text field
        c.file_uploads.send(file_upload_id=upload["id"], file=png())
    assert err.value.code == "validation_error" and "body.file" in str(err.value)
    with pytest.raises(APIResponseError) as err:
        c.pages.create(parent={"data_source_id": notion.data_source_id}, properties=signal_properties("s"),
                       children=[{"type": "image", "image": {"type": "file_upload",
                                                             "file_upload": {"id": upload["id"]}}}])
    assert err.value.code == "validation_error" and "pending" in str(err.value)
    with pytest.raises(APIResponseError) as err:
        c.file_uploads.send(file_upload_id="00000000-0000-0000-0000-000000000000", file=("a.png", b"x"))
    assert err.value.status == 404 and err.value.code == "object_not_found"
    assert notion.pages == [] and notion.uploads[upload["id"]]["status"] == "pending"


def test_notion_unknown_property_is_a_validation_error(notion):
    with pytest.raises(APIResponseError) as err:
        client(notion).pages.create(parent={"data_source_id": notion.data_source_id},
                                    properties=signal_properties("s", Sigal={"rich_text": []}))
    assert err.value.code == "validation_error" and err.value.status == 400
    assert str(err.value) == "Sigal is not a property that exists."
    with pytest.raises(APIResponseError, match="Entry is expected to be number"):
        client(notion).pages.create(parent={"data_source_id": notion.data_source_id},
                                    properties=signal_properties("s", Entry={"rich_text": []}))
    assert notion.pages == []


def test_notion_rate_limit_server_error_and_wrong_token(notion):
    c = client(notion)
    notion.fail_next("POST", "/v1/pages", 429, retry_after=2)
    notion.fail_next("POST", "/v1/pages", 500)
    with pytest.raises(APIResponseError) as rate:
        c.pages.create(parent={"data_source_id": notion.data_source_id}, properties=signal_properties("a"))
    assert (rate.value.status, rate.value.code, rate.value.headers["retry-after"]) == (429, "rate_limited", "2")
    with pytest.raises(APIResponseError) as boom:
        c.pages.create(parent={"data_source_id": notion.data_source_id}, properties=signal_properties("a"))
    assert (boom.value.status, boom.value.code) == (500, "internal_server_error")
    assert notion.pages == []
    c.pages.create(parent={"data_source_id": notion.data_source_id}, properties=signal_properties("a"))
    assert len(notion.pages) == 1
    with pytest.raises(APIResponseError) as denied:
        client(notion, auth="secret_wrong").users.me()
    assert (denied.value.status, denied.value.code) == (401, "unauthorized")
    assert [c.status for c in notion.requests] == [429, 500, 200, 401]


def test_notion_delayed_answer_times_out_but_page_exists(notion):
    notion.delay_next("POST", "/v1/pages", 1.0)
    with pytest.raises(RequestTimeoutError):
        client(notion, timeout_ms=200).pages.create(parent={"data_source_id": notion.data_source_id},
                                                    properties=signal_properties("late"))
    assert [page_property(p, "Signal ID") for p in notion.pages] == ["late"]


def test_notion_missing_version_header_is_rejected(notion):
    r = httpx.get(f"{notion.url}/v1/users/me", headers={"Authorization": f"Bearer {notion.token}"})
    assert r.status_code == 400 and r.json()["code"] == "missing_version"


def test_notion_second_database_subpages_tables_and_paginated_children(notion):
    c = client(notion)
    db, ds = notion.add_database({"Parameter": "title", "Value": "rich_text", "Error": "rich_text"}, "Setups")
    row = c.pages.create(parent={"data_source_id": ds}, properties={
        "Parameter": {"title": [{"text": {"content": "target.rr"}}]}, "Value": {"rich_text": [{"text": {"content": "2"}}]}})
    with pytest.raises(APIResponseError, match="Name is not a property"):
        c.pages.create(parent={"data_source_id": ds}, properties=signal_properties("x"))
    assert [page_property(r, "Parameter") for r in notion.rows(ds)] == ["target.rr"]
    assert c.data_sources.query(data_source_id=notion.data_source_id)["results"] == []  # other database
    c.pages.update(page_id=row["id"], properties={"Error": {"rich_text": [{"text": {"content": "bad"}}]}})
    assert page_property(notion.rows(ds)[0], "Error") == "bad"

    parent = notion.add_page("Reports")
    table = {"type": "table", "table": {"table_width": 2, "has_column_header": True, "children": [
        {"type": "table_row", "table_row": {"cells": [[{"text": {"content": "metric"}}], [{"text": {"content": "value"}}]]}},
        {"type": "table_row", "table_row": {"cells": [[{"text": {"content": "Trades"}}], [{"text": {"content": "98"}}]]}}]}}
    paras = [{"type": "paragraph", "paragraph": {"rich_text": [{"text": {"content": f"p{i}"}}]}} for i in range(99)]
    page = c.pages.create(parent={"page_id": parent}, properties={"title": {"title": [{"text": {"content": "Run"}}]}},
                          children=[table, *paras])
    with pytest.raises(APIResponseError, match="is not a property"):
        c.pages.create(parent={"page_id": parent}, properties={"title": {"title": []}, "Win rate": {"number": 1}})
    bad = {"type": "table", "table": {"table_width": 3, "children": table["table"]["children"]}}
    with pytest.raises(APIResponseError, match="does not match table_width"):
        c.blocks.children.append(block_id=page["id"], children=[bad])
    first = c.blocks.children.list(block_id=page["id"], page_size=60)
    assert first["has_more"] and len(first["results"]) == 60
    rest = c.blocks.children.list(block_id=page["id"], start_cursor=first["next_cursor"])
    blocks = first["results"] + rest["results"]
    assert len(blocks) == 100 and blocks[0]["type"] == "table" and blocks[0]["has_children"]
    assert "children" not in blocks[0]["table"]
    rows = c.blocks.children.list(block_id=blocks[0]["id"])["results"]
    assert [[cell[0]["plain_text"] for cell in r["table_row"]["cells"]] for r in rows] == [["metric", "value"],
                                                                                        ["Trades", "98"]]
    assert c.blocks.children.list(block_id=parent)["results"][0]["child_page"] == {"title": "Run"}
    assert c.pages.retrieve(page_id=page["id"])["parent"] == {"type": "page_id", "page_id": parent}
