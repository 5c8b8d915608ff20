"""Chat latency: time from a message to the text answer (the early answer a backtest's statistics give, which
every chat face sends first) and to the complete answer with images, on a warm session (no LLM).

Run: ``.venv/bin/python benchmarks/bench_chat.py [N]`` — a temporary ITA_HOME, the sample data imported once,
one warm-up turn (imports, Chromium start for PNGs), then each request N times (default 5); prints the median
seconds to the text and best / median to the complete answer per request (a request without charts has no early
answer: its text is the complete answer).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

REQUESTS = [
    "backtest asia_fvg_break on EURUSD for 2025",
    "same on XAUUSD",
    "with rr 3",
    "show trade 3",
    "list setups",
    "бэктест asia_sweep по EURUSD за 2025",
]


def main(repeats: int = 5) -> None:
    os.environ.setdefault("ITA_HOME", tempfile.mkdtemp(prefix="ita_bench_"))
    os.environ.pop("OPENAI_API_KEY", None)
    from rich.console import Console
    from rich.table import Table

    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig
    from ita.data.store import CandleStore

    CandleStore().ensure_samples()
    chat = ChatSession("bench", AgentConfig.from_env(use_llm=False))
    t0 = time.perf_counter()
    chat.ask(REQUESTS[0])
    warm = time.perf_counter() - t0
    tab = Table(title=f"Message → text answer / complete answer, warm session, median of {repeats} "
                      f"(first turn incl. warm-up: {warm:.1f} s)")
    for c in ("request", "tools", "text median [s]", "complete best [s]", "complete median [s]"):
        tab.add_column(c, justify="left" if c in ("request", "tools") else "right")
    for text in REQUESTS:
        times, early, tools = [], [], ""
        for _ in range(repeats):
            seen: list[float] = []
            t = time.perf_counter()
            turn = chat.ask(text, early=lambda _turn: seen.append(time.perf_counter() - t))
            times.append(time.perf_counter() - t)
            early.append(seen[0] if seen else times[-1])  # no early answer: the text is the complete answer
            tools = ", ".join(r.tool for r in turn.results) or "—"
        tab.add_row(text, tools, f"{statistics.median(early):.2f}", f"{min(times):.2f}",
                    f"{statistics.median(times):.2f}")
    Console().print(tab)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
