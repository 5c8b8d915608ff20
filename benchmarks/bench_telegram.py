"""Telegram chat latency through the real python-telegram-bot and the fake Bot API (``tests/fakes``).

Run: ``.venv/bin/python benchmarks/bench_telegram.py [N]`` — a temporary ITA_HOME, the sample data imported
once, the bot (``ita.telegram.serve``) polling a fake Bot API on 127.0.0.1, one warm-up turn; then N times
each request. Measured from the moment the fake queues the user's message:

* **typing** — until ``sendChatAction typing`` arrives (target ≤ 1 s);
* **answer** — until the text answer arrives (a backtest's: its statistics, sent before the charts are rendered;
  the progress message "⏳ working…" does not count);
* **complete** — until the last photo / document of the answer arrives (the flagship backtest with its equity
  curve and sample trades as photos, trades.csv and report.html; target ≤ 5 s warm).

Medians and best of N; ``uptime`` load printed beside them (the machine is shared). The reference is the same
request through ``ChatSession.ask`` directly (``benchmarks/bench_chat.py``): the difference is Telegram's part
(polling, pacing at one message per second per chat, uploads).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHAT = 4242
REQUESTS = [("backtest asia_fvg_break on EURUSD for 2025", True), ("same on XAUUSD", True), ("list setups", False)]


def main(repeats: int = 3) -> None:
    os.environ.setdefault("ITA_HOME", tempfile.mkdtemp(prefix="ita_bench_tg_"))
    os.environ.pop("OPENAI_API_KEY", None)
    from rich.console import Console
    from rich.table import Table

    from ita.agent import ChatSession
    from ita.data.store import CandleStore
    from ita.live.config import TelegramSettings
    from ita.telegram import serve
    from tests.fakes import FakeTelegram

    CandleStore().ensure_samples()
    with FakeTelegram() as tg:
        stop, ready = threading.Event(), threading.Event()
        th = threading.Thread(target=serve, args=(TelegramSettings(tg.token, (CHAT,), tg.base_url), stop),
                              kwargs={"ready": lambda b: ready.set()}, daemon=True)
        th.start()
        ready.wait(120)

        def turn(text: str, files: bool) -> tuple[float, float, float]:
            n_sent, n_actions = len(tg.sent), len(tg.chat_actions)
            tg.send_text(CHAT, text)
            t0 = time.monotonic()
            typing = tg.wait_for(lambda f: f.chat_actions[n_actions:] and f.chat_actions[n_actions], 60)["at"]
            answer = tg.wait_for(lambda f: next((s for s in f.sent[n_sent:] if s["method"] == "sendMessage"
                                                 and not (s.get("text") or "").startswith("⏳")), None), 300)
            t_answer = time.monotonic()
            if files:
                tg.wait_for(lambda f: sum(1 for s in f.sent[n_sent:] if s.get("document") is not None) >= 2, 300)
            t_done = time.monotonic()
            del answer
            return typing - t0, t_answer - t0, t_done - t0

        t = time.perf_counter()
        turn(*REQUESTS[0])
        warm = time.perf_counter() - t
        direct = ChatSession("bench-direct")
        direct.ask(REQUESTS[0][0])
        tab = Table(title=f"Telegram message → typing / answer / complete (warm; first turn incl. warm-up {warm:.1f} s; "
                          f"load {os.getloadavg()[0]:.2f})")
        for c in ("request", "typing med [s]", "answer med [s]", "complete med [s]", "complete best [s]",
                  "ChatSession.ask med [s]"):
            tab.add_column(c, justify="left" if c == "request" else "right")
        for text, files in REQUESTS:
            rows = [turn(text, files) for _ in range(repeats)]
            ref = []
            for _ in range(repeats):
                t = time.perf_counter()
                direct.ask(text)
                ref.append(time.perf_counter() - t)
            tab.add_row(text, *(f"{statistics.median(x):.2f}" for x in zip(*rows)), f"{min(r[2] for r in rows):.2f}",
                        f"{statistics.median(ref):.2f}")
        stop.set()
        th.join(30)
    Console().print(tab)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
