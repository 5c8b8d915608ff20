"""The Chainlit web chat end to end: a real ``chainlit run`` server, then (1) the websocket protocol with
python-socketio and (2) a real browser (Debian's chromium driven by Playwright).

One server per module, started with a temporary ``ITA_HOME``, the session's sample candle store and no
``OPENAI_API_KEY`` (the deterministic parser answers). The browser test saves ``chainlit_backtest.png``
into ``$ITA_TEST_ARTIFACTS`` (default: the test's ``tmp_path``) for a human to look at.
"""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
START_TIMEOUT = 60.0
TURN_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chainlit_bin() -> list[str]:
    exe = Path(sys.executable).with_name("chainlit")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "chainlit"]


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Server:
    def __init__(self, url: str, proc: subprocess.Popen, log: Path, started_in: float):
        self.url, self.proc, self.log, self.started_in = url, proc, log, started_in

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


@pytest.fixture(scope="module")
def server(sample_store, tmp_path_factory):
    pytest.importorskip("chainlit")
    home = tmp_path_factory.mktemp("chainlit_home")
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ITA_RUNS_DIR", "ITA_DB", "ITA_CHAT_DB")}
    env.update(ITA_HOME=str(home / "ita_home"), ITA_DATA_DIR=str(sample_store.data_dir), ITA_LLM="off",
               PYTHONUNBUFFERED="1", ITA_DEFAULT_SYMBOL="EURUSD")
    log = home / "chainlit.log"
    cmd = [*_chainlit_bin(), "run", "ita/agent/chainlit_app.py", "--headless", "--host", "127.0.0.1", "--port", str(port)]
    t0 = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    srv = Server(url, proc, log, 0.0)
    srv.home = home / "ita_home"
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chainlit exited with {proc.returncode}:\n{srv.log_tail()}")
            if time.perf_counter() - t0 > START_TIMEOUT:
                pytest.fail(f"chainlit did not answer HTTP within {START_TIMEOUT:.0f} s:\n{srv.log_tail()}")
            try:
                with urllib.request.urlopen(url + "/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        srv.started_in = time.perf_counter() - t0
        print(f"\nchainlit up in {srv.started_in:.1f} s at {url}")
        yield srv
    finally:
        _kill_group(proc)


def _check_alive(server: Server) -> None:
    assert server.proc.poll() is None, f"the chainlit server died:\n{server.log_tail()}"


def test_socketio_list_setups(server):
    """The websocket protocol the web client speaks: connect, send "list setups", get the setup list back."""
    socketio = pytest.importorskip("socketio")
    pytest.importorskip("aiohttp")  # the asyncio client's websocket transport (the sync one needs websocket-client)
    messages: list[dict] = []

    async def talk() -> bool:
        got = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("new_message")
        async def _new_message(data):
            messages.append(data)
            if "asia_fvg_break" in str(data.get("output", "")):
                got.set()

        return await _turn(sio, server, "list setups", got)

    ok = asyncio.run(talk())
    _check_alive(server)
    outputs = [str(m.get("output", ""))[:300] for m in messages]
    assert ok, f"no answer listing asia_fvg_break; messages: {outputs}\n{server.log_tail(30)}"
    answer = next(m for m in messages if "asia_fvg_break" in str(m.get("output", "")))
    assert "Traceback" not in answer["output"]
    assert "|" in answer["output"], "the setup list is a Markdown table"



async def _connect(sio, server: Server) -> None:
    """Open a web-app session on the Chainlit server's websocket (as the browser does)."""
    auth = {"clientType": "webapp", "sessionId": str(uuid.uuid4()), "threadId": None, "userEnv": "{}",
            "chatProfile": None}
    await sio.connect(server.url, socketio_path="/ws/socket.io", transports=["websocket"], auth=auth, wait_timeout=15)


async def _turn(sio, server: Server, text: str, done: asyncio.Event, settle: float = 0.0) -> bool:
    """Connect, send ``text``, wait until ``done`` is set (then ``settle`` seconds more for late events);
    False when the answer did not come within TURN_TIMEOUT. Always disconnects."""
    await _connect(sio, server)
    try:
        await _send(sio, text)
        await asyncio.wait_for(done.wait(), TURN_TIMEOUT)
        await asyncio.sleep(settle)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        await sio.disconnect()


async def _send(sio, text: str) -> None:
    """The browser's user message: a new connection's greeting, then the message itself."""
    await sio.emit("connection_successful")
    await sio.emit("client_message", {
        "message": {"id": str(uuid.uuid4()), "threadId": "", "name": "User", "type": "user_message",
                    "output": text, "createdAt": datetime.now(timezone.utc).isoformat()},
        "fileReferences": [],
    })

def _socketio_turn(server: Server, text: str) -> list[tuple[str, float, dict]]:
    """One message over the websocket; every event back as (event, wall-clock arrival, payload), until the task
    ended after elements arrived."""
    socketio = pytest.importorskip("socketio")
    pytest.importorskip("aiohttp")
    events: list[tuple[str, float, dict]] = []

    async def talk() -> bool:
        done = asyncio.Event()
        sio = socketio.AsyncClient(reconnection=False)

        def record(name):
            async def handler(data):
                events.append((name, time.time(), data if isinstance(data, dict) else {"value": data}))
                if name == "task_end" and any(e == "element" for e, _, _ in events):
                    done.set()
            return handler

        for name in ("new_message", "update_message", "element", "task_end"):
            sio.on(name, record(name))
        return await _turn(sio, server, text, done, settle=0.5)

    ok = asyncio.run(talk())
    _check_alive(server)
    assert ok, f"no complete backtest answer; events: {[e for e, _, _ in events]}\n{server.log_tail(30)}"
    return events


def test_socketio_backtest_text_before_the_charts(server):
    """Text before images, on the websocket: the backtest's message with the statistics table (and a "rendering"
    line) arrives before the first chart is written; the same message is then updated with the files line and
    the charts and files arrive as its elements."""
    events = _socketio_turn(server, "backtest asia_fvg_break on EURUSD for March 2025")
    first = next(i for i, (e, _, d) in enumerate(events) if e == "new_message" and "Win rate" in str(d.get("output")))
    name, arrived, msg = events[first]
    assert "|" in msg["output"] and "Rendering 4 charts and the HTML report" in msg["output"]
    elements = [i for i, (e, _, _) in enumerate(events) if e == "element"]
    update = next(i for i, (e, _, d) in enumerate(events) if e == "update_message" and d.get("id") == msg["id"])
    assert first < update < elements[0]
    assert "Files:" in events[update][2]["output"] and "Rendering" not in events[update][2]["output"]
    assert {events[i][2].get("forId") for i in elements} == {msg["id"]}   # attached to that message
    assert sum(events[i][2].get("type") == "image" for i in elements) == 4
    run_id = re.search(r"bt_\d{8}_\d{6}_[0-9a-f]{6}", msg["output"]).group(0)
    pngs = sorted((server.home / "runs" / run_id).glob("*.png"))
    assert len(pngs) == 4
    assert arrived < min(p.stat().st_mtime for p in pngs), "the text waited for the charts"


def test_socketio_two_backtests_fill_one_message(server):
    """A request with two backtests: the first one's statistics come at once, the message grows with the second's,
    and ends with both files lines and all eight charts attached to it."""
    events = _socketio_turn(server, "backtest asia_fvg_break on EURUSD and XAUUSD for March 2025")
    msgs = [d for e, _, d in events if e == "new_message" and "asia_fvg_break v1" in str(d.get("output"))]
    assert len(msgs) == 1 and "Rendering" in msgs[0]["output"] and "XAUUSD, 2025" not in msgs[0]["output"]
    updates = [d["output"] for e, _, d in events if e == "update_message" and d.get("id") == msgs[0]["id"]]
    assert updates and updates[-1].count("Files:") == 2 and "Rendering" not in updates[-1]
    assert any("XAUUSD, 2025" in u and "Rendering" in u for u in updates)   # the second's early answer
    images = [d for e, _, d in events if e == "element" and d.get("type") == "image"]
    assert len(images) == 8 and {d.get("forId") for d in images} == {msgs[0]["id"]}


def test_browser_backtest(server, tmp_path):
    """A trader's first request in a real browser: metrics table and chart images render."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (Debian: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    out_dir = Path(os.environ.get("ITA_TEST_ARTIFACTS") or tmp_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    shot = out_dir / "chainlit_backtest.png"

    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1800}, locale="en-US")
            page.goto(server.url, wait_until="domcontentloaded")
            # the settings button appears once the websocket is up and on_chat_start has sent the settings;
            # a message typed before that is silently dropped by the client
            page.locator("#chat-settings-open-modal").wait_for(state="visible", timeout=30_000)
            page.locator("#chat-input").click()
            page.keyboard.type("backtest asia_fvg_break on EURUSD for 2025")  # real key events (React state)
            page.wait_for_function("() => !document.querySelector('#chat-submit')?.disabled", timeout=10_000)
            t0 = time.perf_counter()
            page.keyboard.press("Enter")

            table = page.locator("table").filter(has_text=re.compile(r"win rate|trades", re.I)).first
            table.wait_for(state="visible", timeout=TURN_TIMEOUT * 1000)
            page.wait_for_function(
                """() => Array.from(document.querySelectorAll('img')).some(
                       i => i.complete && i.naturalWidth > 0 && !/logo|avatar|favicon/i.test(i.src))""",
                timeout=TURN_TIMEOUT * 1000)
            latency = time.perf_counter() - t0
            page.wait_for_timeout(1500)  # the remaining charts and files arrive one after another
            # the conversation scrolls inside its own container: make the window as tall as the conversation
            # so the screenshot shows the whole answer (table, charts, files)
            height = page.evaluate("""() => {
                let e = document.querySelector('.ai-message');
                while (e && !(e.scrollHeight > e.clientHeight + 5 && getComputedStyle(e).overflowY !== 'visible'))
                    e = e.parentElement;
                return e ? e.scrollHeight : 0; }""")
            page.set_viewport_size({"width": 1440, "height": max(1800, min(int(height) + 320, 6000))})
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot))
            text = page.locator("body").inner_text()
        finally:
            browser.close()

    print(f"\nbrowser turn: {latency:.1f} s; screenshot: {shot}")
    _check_alive(server)
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert "Traceback" not in text
    assert re.search(r"win rate", text, re.I), text[-2000:]
