"""Chat latency: time from a message to the complete answer, on a warm session (no LLM).

Run: ``.venv/bin/python benchmarks/bench_chat.py [--charts/--no-charts]`` — a temporary ITA_HOME, the sample
data imported once, one warm-up turn (imports, Chromium start for PNGs), then each request N times;
prints best / median seconds per request. The issue's target is "within seconds" for the backtest.
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


def main(repeats: int = 3) -> None:
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
    tab = Table(title=f"Message → complete answer, warm session (first turn incl. warm-up: {warm:.1f} s)")
    for c in ("request", "tools", "best [s]", "median [s]"):
        tab.add_column(c, justify="left" if c in ("request", "tools") else "right")
    for text in REQUESTS:
        times, tools = [], ""
        for _ in range(repeats):
            t = time.perf_counter()
            turn = chat.ask(text)
            times.append(time.perf_counter() - t)
            tools = ", ".join(r.tool for r in turn.results) or "—"
        tab.add_row(text, tools, f"{min(times):.2f}", f"{statistics.median(times):.2f}")
    Console().print(tab)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
