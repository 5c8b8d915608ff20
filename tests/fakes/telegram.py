"""A fake Telegram Bot API server for tests that drive python-telegram-bot (or any HTTP client).

Reproduces: ``POST|GET /bot<token>/<method>`` with parameters as form fields (PTB's default: every
non-string value JSON-encoded inside its field, e.g. ``reply_markup``), a JSON body, a query string,
or multipart/form-data when a file is uploaded; the ``{"ok": true, "result": ...}`` envelope; 401
"Unauthorized" for any other token (PTB raises ``InvalidToken``); 404 "Not Found" for unknown methods;
Telegram's error JSON for scripted failures (429 carries ``parameters.retry_after`` so PTB raises
``RetryAfter``; 5xx makes PTB raise ``NetworkError``); long polling ``getUpdates`` with ``offset``
confirming updates; realistic Message / PhotoSize / CallbackQuery objects; per-chat message ids. Also
the checks that bite real bots: HTML ``parse_mode`` must be Telegram's tag subset and balanced
("can't parse entities"), caption <= 1024 and text <= 4096 characters, ``callback_data`` 1-64 bytes
(BUTTON_DATA_INVALID), editing to identical content fails with "message is not modified", editing a
caption/text without ``reply_markup`` removes the inline keyboard, and a callback query can be
answered only once. Returned messages carry the plain text (tags stripped) without entities.

Files: ``sendDocument`` and ``sendMediaGroup`` (2-10 photos, or 2-10 documents, uploaded as
``attach://`` parts; captions per item) are recorded like ``sendPhoto``; ``sendChatAction`` records the
action (``chat_actions``); a user's document or photo (``send_document`` / ``send_photo``) is kept as a
file the bot can ``getFile`` (20 MB limit: "file is too big") and download from
``/file/bot<token>/<file_path>`` as Telegram's file server does.

Not reproduced: webhooks, groups' permissions, Markdown parsing (no validation; text returned as sent),
inline_message_id edits, server-side flood limits (script them with ``fail_next``), exact UTF-16 length
rules for non-BMP characters beyond a simple count, mixed photo/document albums.
"""
from __future__ import annotations

import html
import json
import re
import secrets
import struct
import time
import urllib.parse
from typing import Any

from . import Call, FakeServer, Response, _Rule

_JSON_PARAMS = {"reply_markup", "entities", "caption_entities", "allowed_updates", "commands", "scope",
                "link_preview_options", "reply_parameters", "media"}
_INT_PARAMS = {"chat_id", "message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id",
               "message_thread_id", "cache_time"}
_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
              "tg-spoiler", "tg-emoji", "blockquote"}
_CHAT_ACTIONS = {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                 "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
GET_FILE_LIMIT = 20 * 1024 * 1024  # bots may download files up to 20 MB
_DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was blocked by the user",
                 404: "Not Found", 409: "Conflict", 500: "Internal Server Error", 502: "Bad Gateway"}


class _BadRequest(Exception):
    """A 400 with Telegram's ``description``."""


class FakeTelegram(FakeServer):
    """``FakeTelegram(token="123456:TEST-TOKEN", bot_username="ita_test_bot")``; use as a context manager.

    Point PTB at it with ``.base_url(fake.base_url).base_file_url(fake.file_url)``.
    """

    def __init__(self, token: str = "123456:TEST-TOKEN", bot_username: str = "ita_test_bot") -> None:
        self.token = token
        self.bot_username = bot_username
        bot_id = token.split(":")[0]
        self.bot_user = {"id": int(bot_id) if bot_id.isdigit() else 123456, "is_bot": True,
                         "first_name": "ITA Test Bot", "username": bot_username}
        self._sent: list[dict] = []
        self._messages: dict[tuple[int, int], dict] = {}  # (chat_id, message_id) -> current Message
        self._next_message_id: dict[int, int] = {}
        self._updates: list[dict] = []
        self._next_update_id = 100001
        self._queries: dict[str, bool] = {}  # callback_query id -> answered
        self._commands: list = []
        self._files: dict[str, dict] = {}  # file_id -> {file_path, data, file_unique_id}
        self._actions: list[dict] = []
        super().__init__()
        self.base_url = f"http://127.0.0.1:{self.port}/bot"
        self.file_url = f"http://127.0.0.1:{self.port}/file/bot"

    # -- recorded state ----------------------------------------------------------------------------
    @property
    def sent(self) -> list[dict]:
        """Accepted sendMessage/sendPhoto/sendDocument calls and each item of a sendMediaGroup: {chat_id,
        message_id, method, text|caption, photo | document + filename, reply_markup, parse_mode, date} as
        sent (raw caption/text; edits do not change these)."""
        with self._lock:
            return [dict(s) for s in self._sent]

    def photos(self, chat_id: int | None = None) -> list[bytes]:
        """Bytes of every uploaded photo (of one chat), in order."""
        return [s["photo"] for s in self.sent if s.get("photo") is not None
                and (chat_id is None or s["chat_id"] == chat_id)]

    def documents(self, chat_id: int | None = None) -> list[tuple[str, bytes]]:
        """``(filename, bytes)`` of every uploaded document (of one chat), in order."""
        return [(s["filename"], s["document"]) for s in self.sent if s.get("document") is not None
                and (chat_id is None or s["chat_id"] == chat_id)]

    @property
    def chat_actions(self) -> list[dict]:
        """Accepted sendChatAction calls: {chat_id, action, at} (``at`` = time.monotonic())."""
        with self._lock:
            return [dict(a) for a in self._actions]

    def calls(self, method: str) -> list[Call]:
        """Recorded requests of one Bot API method (case-insensitive), including failed ones."""
        return [c for c in self.requests if c.method.lower() == method.lower()]

    def message(self, chat_id: int, message_id: int) -> dict | None:
        """The current Message dict (after edits) as Telegram would return it."""
        with self._lock:
            m = self._messages.get((chat_id, message_id))
            return json.loads(json.dumps(m)) if m else None

    # -- scripting ---------------------------------------------------------------------------------
    def fail_next(self, method: str, status: int, *, retry_after: int | None = None,
                  description: str | None = None, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``status`` with Telegram's error JSON (not in ``sent``)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (f"Too Many Requests: retry after {retry_after}" if status == 429
                           else _DESCRIPTIONS.get(status, "Internal Server Error"))
        self._script(self._failures, _Rule(_method_is(method), times, status=status,
                                           extra={"retry_after": retry_after, "description": description}))

    def delay_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Process the next ``times`` calls of ``method`` normally (recorded, in ``sent``) but answer late."""
        self._script(self._delays, _Rule(_method_is(method), times, seconds=seconds))

    # -- inbound updates ---------------------------------------------------------------------------
    def press_button(self, chat_id: int, message_id: int, data: str, user_id: int | None = None,
                     first_name: str = "Trader") -> int:
        """Queue a ``callback_query`` update for a button under a message; returns its update_id."""
        user = _user(chat_id if user_id is None else user_id, first_name)
        with self._lock:
            message = self._messages.get((chat_id, message_id)) or {
                "message_id": message_id, "from": self.bot_user, "chat": _chat(chat_id, first_name),
                "date": int(time.time()), "text": ""}
            query_id = str(secrets.randbelow(10**19))
            self._queries[query_id] = False
            return self._enqueue({"callback_query": {
                "id": query_id, "from": user, "message": json.loads(json.dumps(message)),
                "chat_instance": str(-abs(hash((chat_id, self.token))) % 10**18), "data": data}})

    def send_text(self, chat_id: int, text: str, user_id: int | None = None,
                  first_name: str = "Trader") -> int:
        """Queue a ``message`` update (a user writing to the bot); returns its update_id."""
        with self._lock:
            msg = {"message_id": self._new_message_id(chat_id),
                   "from": _user(chat_id if user_id is None else user_id, first_name),
                   "chat": _chat(chat_id, first_name), "date": int(time.time()), "text": text}
            if text.startswith("/"):  # what makes PTB's CommandHandler match
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            self._messages[(chat_id, msg["message_id"])] = msg
            return self._enqueue({"message": msg})

    def send_document(self, chat_id: int, data: bytes, filename: str, mime_type: str | None = None,
                      caption: str | None = None, user_id: int | None = None, file_size: int | None = None) -> int:
        """Queue a ``message`` update with a document the user sent (kept for ``getFile``); returns its
        update_id. ``file_size`` overrides the size Telegram reports (e.g. 50 MB without the bytes)."""
        with self._lock:
            doc = self._keep_file(data, "documents", filename, file_size)
            doc.update({"file_name": filename, "mime_type": mime_type or "application/octet-stream"})
            msg = {"message_id": self._new_message_id(chat_id),
                   "from": _user(chat_id if user_id is None else user_id, "Trader"),
                   "chat": _chat(chat_id), "date": int(time.time()), "document": doc}
            if caption:
                msg["caption"] = caption
            self._messages[(chat_id, msg["message_id"])] = msg
            return self._enqueue({"message": msg})

    def send_photo(self, chat_id: int, data: bytes, caption: str | None = None, user_id: int | None = None) -> int:
        """Queue a ``message`` update with a photo the user sent; returns its update_id."""
        with self._lock:
            ref = self._keep_file(data, "photos", "photo.jpg", None)
            sizes = _photo_sizes(data, None)
            sizes[-1].update(file_id=ref["file_id"], file_unique_id=ref["file_unique_id"])
            msg = {"message_id": self._new_message_id(chat_id),
                   "from": _user(chat_id if user_id is None else user_id, "Trader"),
                   "chat": _chat(chat_id), "date": int(time.time()), "photo": sizes}
            if caption:
                msg["caption"] = caption
            self._messages[(chat_id, msg["message_id"])] = msg
            return self._enqueue({"message": msg})

    def _keep_file(self, data: bytes, folder: str, filename: str, file_size: int | None) -> dict:
        n = len(self._files) + 1
        file_id = f"BQAC{secrets.token_hex(12)}"
        suffix = filename.rsplit(".", 1)[-1] if "." in filename else "bin"
        self._files[file_id] = {"file_path": f"{folder}/file_{n}.{suffix}", "data": data,
                                "file_unique_id": f"AgAD{secrets.token_hex(6)}",
                                "file_size": len(data) if file_size is None else file_size}
        f = self._files[file_id]
        return {"file_id": file_id, "file_unique_id": f["file_unique_id"], "file_size": f["file_size"]}

    def _enqueue(self, update: dict) -> int:
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **update})
            self._cond.notify_all()
            return update_id

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    # -- HTTP --------------------------------------------------------------------------------------
    def _decode(self, fields: dict) -> dict:
        out = dict(fields)
        for key, value in fields.items():
            if not isinstance(value, str):
                continue
            if key in _JSON_PARAMS:
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    pass
            elif key in _INT_PARAMS and re.fullmatch(r"-?\d+", value):
                out[key] = int(value)
        return out

    def _serve(self, call: Call) -> Response:
        f = re.fullmatch(r"/file/bot([^/]*)/(.+)", call.path)
        if f:  # Telegram's file server: the bytes of a file getFile returned
            call.method = "download"
            self._record(call)
            if urllib.parse.unquote(f.group(1)) != self.token:  # httpx sends the token's ":" as %3A
                return _error(401, "Unauthorized")
            with self._lock:
                hit = next((x for x in self._files.values() if x["file_path"] == f.group(2)), None)
            if hit is None:
                return _error(404, "Not Found")
            self._hold(call)
            return 200, hit["data"], {}
        m = re.fullmatch(r"/bot([^/]*)/([^/]+)", call.path)
        if m:
            call.method = m.group(2)
        call.params = {**self._decode(call.query), **call.params}
        self._record(call)
        if not m:
            return _error(404, "Not Found")
        if m.group(1) != self.token:
            return _error(401, "Unauthorized")
        if call.body_error:
            return _error(400, "Bad Request: can't parse JSON")
        rule = self._take(self._failures, call)
        if rule:
            return _error(rule.status, rule.extra["description"], rule.extra["retry_after"])
        handler = getattr(self, "_m_" + call.method.lower(), None)
        if handler is None:
            return _error(404, "Not Found")
        try:
            result = handler(call.params, call.files)
        except _BadRequest as exc:
            return _error(400, f"Bad Request: {exc}")
        self._hold(call)
        return 200, {"ok": True, "result": result}, {}

    # -- methods (named _m_<lowercased Bot API method>) --------------------------------------------
    def _m_getme(self, p: dict, f: dict) -> dict:
        return {**self.bot_user, "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False,
                "has_main_web_app": False}

    def _m_deletewebhook(self, p: dict, f: dict) -> bool:
        return True

    def _m_getupdates(self, p: dict, f: dict) -> list:
        offset, limit = int(p.get("offset") or 0), int(p.get("limit") or 100)
        deadline = time.monotonic() + min(float(p.get("timeout") or 0), 1.0)
        with self._cond:
            if offset > 0:  # confirms every update before ``offset``
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and not self._closed.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return json.loads(json.dumps(self._updates[:limit]))

    def _m_sendmessage(self, p: dict, f: dict) -> dict:
        return self._send("sendMessage", p, None)

    def _m_sendphoto(self, p: dict, f: dict) -> dict:
        photo = f.get("photo", (None, None))[1]
        if photo is None and isinstance(p.get("photo"), str) and p["photo"].startswith("attach://"):
            photo = f.get(p["photo"][len("attach://"):], (None, None))[1]
        if photo is None and not p.get("photo"):
            raise _BadRequest("there is no photo in the request")
        return self._send("sendPhoto", p, photo)

    def _m_senddocument(self, p: dict, f: dict) -> dict:
        doc = _attached(p.get("document"), f, "document")
        if doc is None:
            raise _BadRequest("there is no document in the request")
        return self._send("sendDocument", p, None, document=doc)

    def _m_sendmediagroup(self, p: dict, f: dict) -> list:
        media = p.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise _BadRequest("wrong number of media in the album: 2-10 expected")
        kinds = {m.get("type") for m in media if isinstance(m, dict)}
        if kinds not in ({"photo"}, {"document"}):
            raise _BadRequest("an album holds photos or documents only, not a mix")
        files = []
        for item in media:
            data = _attached(item.get("media"), f, item["type"])
            if data is None:
                raise _BadRequest(f"there is no {item['type']} in the request")
            files.append(data)
        out = []
        for item, data in zip(media, files):
            q = {"chat_id": p.get("chat_id"), "caption": item.get("caption"), "parse_mode": item.get("parse_mode")}
            if item["type"] == "photo":
                out.append(self._send("sendPhoto", {**q, "photo": item.get("media")}, data[1], group=True))
            else:
                out.append(self._send("sendDocument", q, None, document=data, group=True))
        return out

    def _m_sendchataction(self, p: dict, f: dict) -> bool:
        chat_id = _chat_id(p)
        if p.get("action") not in _CHAT_ACTIONS:
            raise _BadRequest("wrong parameter action in request")
        with self._lock:
            self._actions.append({"chat_id": chat_id, "action": p["action"], "at": time.monotonic()})
        return True

    def _m_getfile(self, p: dict, f: dict) -> dict:
        with self._lock:
            hit = self._files.get(str(p.get("file_id") or ""))
        if hit is None:
            raise _BadRequest("invalid file_id")
        if hit["file_size"] > GET_FILE_LIMIT:
            raise _BadRequest("file is too big")
        return {"file_id": p["file_id"], "file_unique_id": hit["file_unique_id"], "file_size": hit["file_size"],
                "file_path": hit["file_path"]}

    def _send(self, method: str, p: dict, photo: bytes | None, document: tuple[str, bytes] | None = None,
              group: bool = False) -> dict:
        chat_id = _chat_id(p)
        key = "text" if method == "sendMessage" else "caption"
        raw = p.get(key)
        plain = _plain(raw or "", p.get("parse_mode"))
        if method == "sendMessage" and not plain.strip():
            raise _BadRequest("message text is empty")
        if len(plain.encode("utf-16-le")) // 2 > (4096 if method == "sendMessage" else 1024):
            raise _BadRequest("message caption is too long" if key == "caption" else "message is too long")
        markup = _check_markup(p.get("reply_markup"))
        with self._lock:
            msg = {"message_id": self._new_message_id(chat_id), "from": self.bot_user,
                   "chat": _chat(chat_id), "date": int(time.time())}
            if method == "sendPhoto":
                msg["photo"] = _photo_sizes(photo, p.get("photo"))
            elif method == "sendDocument":
                name, data = document
                msg["document"] = {"file_name": name, "file_id": f"BQAC{secrets.token_hex(12)}",
                                   "file_unique_id": f"AgAD{secrets.token_hex(6)}", "file_size": len(data)}
            else:
                msg["text"] = plain
            if method != "sendMessage" and plain:
                msg["caption"] = plain
            if group:
                msg["media_group_id"] = f"{chat_id}-album"
            if markup and "inline_keyboard" in markup:
                msg["reply_markup"] = markup
            self._messages[(chat_id, msg["message_id"])] = msg
            entry = {"chat_id": chat_id, "message_id": msg["message_id"], "method": method, key: raw,
                     "photo": photo, "reply_markup": markup, "parse_mode": p.get("parse_mode"), "date": msg["date"]}
            if document:
                entry.update(document=document[1], filename=document[0])
            if group:
                entry["album"] = True
            self._sent.append(entry)
            return json.loads(json.dumps(msg))

    def _edit(self, p: dict, changes: dict, needs: str | None = None) -> dict:
        if "inline_message_id" in p:
            raise _BadRequest("inline messages are not supported by the fake")
        chat_id, message_id = _chat_id(p), p.get("message_id")
        with self._lock:
            msg = self._messages.get((chat_id, message_id))
            if msg is None:
                raise _BadRequest("message to edit not found")
            if needs == "caption" and "photo" not in msg:
                raise _BadRequest("there is no caption in the message to edit")
            if needs == "text" and "text" not in msg:
                raise _BadRequest("there is no text in the message to edit")
            new = {k: v for k, v in {**msg, **changes}.items() if v is not None}
            if {k: v for k, v in new.items() if k != "edit_date"} == \
                    {k: v for k, v in msg.items() if k != "edit_date"}:
                raise _BadRequest("message is not modified: specified new message content and reply "
                                  "markup are exactly the same as a current content and reply markup "
                                  "of the message")
            new["edit_date"] = int(time.time())
            self._messages[(chat_id, message_id)] = new
            return json.loads(json.dumps(new))

    def _m_editmessagereplymarkup(self, p: dict, f: dict) -> dict:
        markup = _check_markup(p.get("reply_markup"))
        return self._edit(p, {"reply_markup": markup if markup and markup.get("inline_keyboard") else None})

    def _m_editmessagecaption(self, p: dict, f: dict) -> dict:
        plain = _plain(p.get("caption") or "", p.get("parse_mode"))
        if len(plain.encode("utf-16-le")) // 2 > 1024:
            raise _BadRequest("message caption is too long")
        markup = _check_markup(p.get("reply_markup"))  # absent -> the inline keyboard is removed
        return self._edit(p, {"caption": plain or None, "reply_markup": markup or None}, "caption")

    def _m_editmessagetext(self, p: dict, f: dict) -> dict:
        plain = _plain(p.get("text") or "", p.get("parse_mode"))
        if not plain.strip():
            raise _BadRequest("message text is empty")
        return self._edit(p, {"text": plain, "reply_markup": _check_markup(p.get("reply_markup")) or None},
                          "text")

    def _m_answercallbackquery(self, p: dict, f: dict) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        with self._lock:
            if self._queries.get(query_id, True):  # unknown or already answered
                raise _BadRequest("query is too old and response timeout expired or query ID is invalid")
            self._queries[query_id] = True
        return True

    def _m_setmycommands(self, p: dict, f: dict) -> bool:
        with self._lock:
            self._commands = p.get("commands") or []
        return True

    def _m_getmycommands(self, p: dict, f: dict) -> list:
        with self._lock:
            return list(self._commands)


# -- helpers -----------------------------------------------------------------------------------------
def _method_is(method: str):
    return lambda call: call.method.lower() == method.lower()


def _error(status: int, description: str, retry_after: int | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return status, body, {}


def _attached(ref: Any, files: dict, field: str) -> tuple[str, bytes] | None:
    """``(filename, bytes)`` of an uploaded file: the multipart part ``field`` or the part an
    ``attach://name`` reference names; None when absent (a file_id or URL is not uploaded data)."""
    if isinstance(ref, str) and ref.startswith("attach://"):
        return files.get(ref[len("attach://"):])
    return files.get(field)


def _user(user_id: int, first_name: str) -> dict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


def _chat(chat_id: int, first_name: str = "Trader") -> dict:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": first_name}
    kind = "supergroup" if chat_id < -10**12 else "group"
    return {"id": chat_id, "type": kind, "title": "ITA test group"}


def _chat_id(p: dict) -> int:
    chat_id = p.get("chat_id")
    if chat_id in (None, ""):
        raise _BadRequest("chat_id is empty")
    if not isinstance(chat_id, int):
        raise _BadRequest("chat not found")
    return chat_id


def _check_markup(markup: Any) -> dict | None:
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise _BadRequest("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                raise _BadRequest("BUTTON_DATA_INVALID")
    return markup


def _plain(text: str, parse_mode: str | None) -> str:
    """Text as Telegram shows it: for HTML, tags stripped and entities decoded after validating them."""
    if (parse_mode or "").upper() != "HTML":
        return text
    out, stack, pos = [], [], 0
    for m in re.finditer(r"<(/?)([^\s>/]*)[^>]*>|<|&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);", text):
        out.append(text[pos:m.start()])
        pos = m.end()
        token, offset = m.group(), len(text[:m.start()].encode("utf-8"))
        if token.startswith("&"):
            out.append(html.unescape(token))
            continue
        closing, name = m.group(1), (m.group(2) or "").lower()
        if token == "<" or not name or name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _BadRequest(f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset {offset}')
        if not closing:
            stack.append(name)
        elif not stack or stack[-1] != name:
            expected = f'"</{stack[-1]}>"' if stack else "nothing"
            raise _BadRequest(f'can\'t parse entities: Unmatched end tag at byte offset {offset}, '
                              f'expected {expected}, found "</{name}>"')
        else:
            stack.pop()
    if stack:
        raise _BadRequest(f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out) + text[pos:]


def _photo_sizes(photo: bytes | None, reference: Any) -> list[dict]:
    """PhotoSize list like Telegram's: a 90px thumbnail and the (<= 1280px) photo itself."""
    width = height = 512
    if photo and photo[:8] == b"\x89PNG\r\n\x1a\n" and len(photo) >= 24:
        width, height = struct.unpack(">II", photo[16:24])
    uid = secrets.token_hex(8)
    sizes = []
    for limit in (90, 1280):
        scale = min(1.0, limit / max(width, height, 1))
        sizes.append({"file_id": f"AgAC{uid}{limit}", "file_unique_id": f"AQAD{uid}{limit}"[:16],
                      "width": max(1, round(width * scale)), "height": max(1, round(height * scale)),
                      "file_size": len(photo) if photo and scale == 1.0 else max(1, len(photo or b"") // 10)})
    return sizes
