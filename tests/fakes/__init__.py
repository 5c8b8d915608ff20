"""Fake Telegram Bot API and Notion API servers on 127.0.0.1 for tests of the real client libraries.

``FakeTelegram`` (python-telegram-bot) and ``FakeNotion`` (notion-client) each run a standard-library
``ThreadingHTTPServer`` on a free port in a daemon thread and answer in the service's wire format, so
tests drive the real clients end to end (no mocking). This module holds what both share: the recorded
:class:`Call`, request-body parsing (JSON, form, multipart via :mod:`email`), scripted failures and
delays, and ``wait_for``. Every response closes its connection (HTTP/1.0), so after ``close()`` a
client gets "connection refused" like a server that went away, never a stale keep-alive socket.
"""
from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

Response = tuple[int, "dict | bytes", dict]  # (HTTP status, JSON body or raw bytes, extra headers)


@dataclass
class Call:
    """One request as it arrived (recorded before any scripted failure or delay applies)."""

    method: str  # Telegram: the Bot API method as sent ("sendPhoto"); Notion: the HTTP verb ("POST")
    path: str  # URL path without the query string
    params: dict  # Telegram: decoded parameters; Notion: the JSON body (or the multipart's text fields)
    files: dict  # uploaded files {field: (filename, bytes)}
    headers: dict  # header names lower-cased
    at: float  # time.monotonic() on arrival
    http_method: str = "POST"
    query: dict = field(default_factory=dict)
    status: int | None = None  # HTTP status answered (None while still being processed)
    body_error: str | None = None  # set when the body could not be parsed (e.g. invalid JSON)


@dataclass
class _Rule:
    match: Callable[[Call], bool]
    times: int
    status: int = 0
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def parse_body(body: bytes, content_type: str) -> tuple[dict, dict]:
    """``(fields, files)`` of a JSON, form-urlencoded or multipart/form-data body; ValueError if bad JSON."""
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return {}, {}
    if ctype == "application/json":
        return json.loads(body), {}
    if ctype == "multipart/form-data":
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
        fields: dict = {}
        files: dict = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            data = part.get_payload(decode=True) or b""
            if part.get_filename() is None:
                fields[name] = data.decode("utf-8")
            else:
                files[name] = (part.get_filename(), data)
        return fields, files
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}


class FakeServer:
    """Base: HTTP plumbing, recording, scripting. Subclasses implement ``_serve(call) -> Response``."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._closed = threading.Event()
        self._requests: list[Call] = []
        self._failures: list[_Rule] = []
        self._delays: list[_Rule] = []
        self._errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()

    # -- lifecycle ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the server (idempotent); pending long polls and delays end at once."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- recorded state ----------------------------------------------------------------------------
    @property
    def requests(self) -> list[Call]:
        """Every request received, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions inside the fake itself (each answered with HTTP 500); should stay empty."""
        with self._lock:
            return list(self._errors)

    def wait_for(self, predicate: Callable[[Any], Any], timeout: float = 5.0) -> Any:
        """Poll ``predicate(self)`` until truthy and return its value; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self)
            if value:
                return value
            if time.monotonic() >= deadline:
                seen = [f"{c.http_method} {c.path} -> {c.status}" for c in self.requests]
                raise AssertionError(f"condition not met within {timeout}s; requests: {seen}")
            time.sleep(0.01)

    async def wait_for_async(self, predicate: Callable[[Any], Any], timeout: float = 5.0) -> Any:
        """``wait_for`` for coroutines (sleeps with asyncio, so the client's event loop keeps running)."""
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            if time.monotonic() >= deadline:
                seen = [f"{c.http_method} {c.path} -> {c.status}" for c in self.requests]
                raise AssertionError(f"condition not met within {timeout}s; requests: {seen}")
            await asyncio.sleep(0.01)
        return value

    # -- scripting ---------------------------------------------------------------------------------
    def _script(self, rules: list[_Rule], rule: _Rule) -> None:
        if rule.times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            rules.append(rule)

    def _take(self, rules: list[_Rule], call: Call) -> _Rule | None:
        with self._lock:
            for rule in rules:
                if rule.match(call):
                    rule.times -= 1
                    if rule.times == 0:
                        rules.remove(rule)
                    return rule
        return None

    def _serve(self, call: Call) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def _decode(self, fields: dict) -> dict:
        """Hook: turn parsed body fields into ``Call.params`` (Telegram decodes JSON-in-form values)."""
        return fields

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        headers = {k.lower(): v for k, v in h.headers.items()}
        call = Call(method=h.command, path=url.path, params={}, files={}, headers=headers,
                    at=time.monotonic(), http_method=h.command, query=dict(parse_qsl(url.query)))
        try:
            fields, call.files = parse_body(_read_body(h), headers.get("content-type", ""))
            if not isinstance(fields, dict):
                raise ValueError("the JSON body is not an object")
            call.params = self._decode(fields)
        except (ValueError, UnicodeDecodeError) as exc:
            call.body_error = str(exc)
        try:
            status, payload, extra = self._serve(call)  # records the call first thing
        except Exception:  # a bug in the fake: answer 500 and keep the traceback for the test to see
            trace = traceback.format_exc()
            with self._lock:
                self._errors.append(trace)
                if not any(c is call for c in self._requests):
                    self._requests.append(call)
            status, payload, extra = 500, {"fake_server_error": trace}, {}
        call.status = status
        if isinstance(payload, (bytes, bytearray)):  # a file download: the bytes as they are
            data, ctype = bytes(payload), extra.pop("Content-Type", "application/octet-stream")
        else:
            data, ctype = json.dumps(payload, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                h.send_header(k, str(v))
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. killed mid-send)
            pass

    def _record(self, call: Call) -> None:
        with self._cond:
            self._requests.append(call)
            self._cond.notify_all()

    def _hold(self, call: Call) -> None:
        """Apply a scripted delay for this call, if any (returns early when the fake closes)."""
        rule = self._take(self._delays, call)
        if rule:
            self._closed.wait(rule.seconds)


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while size := int(h.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
        while h.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(chunks)
    return h.rfile.read(int(h.headers.get("Content-Length") or 0))


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _go(self) -> None:
            fake._dispatch(self)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _go

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    return Handler


from .notion import FakeNotion  # noqa: E402  (after the shared base, which the submodules import)
from .telegram import FakeTelegram  # noqa: E402

__all__ = ["Call", "FakeNotion", "FakeTelegram"]
