"""The latency a trader feels: commands and chat answers, median and p95 over several runs, against targets.

Run from the repo root::

    .venv/bin/python benchmarks/bench_latency.py [--runs 5] [--home DIR] [--skip-chat]

Each row of issue 12's target table is measured as a trader meets it:

* ``ita backtest asia_fvg_break --symbol EURUSD --from 2025-01-01 --to 2025-12-31`` as a new process: the time
  until the statistics table is printed, and until the process ends (7 PNGs + the HTML report written) — with
  the PNG renderer kept warm from the previous run (``ita.charts.daemon``, the normal case of a trader running
  one backtest after another) and cold (``ita renderer stop`` before each, untimed: the first run of the day);
* the flagship backtest asked in a warm chat session (renderer started, one turn before): message → text
  answer (the early answer with the statistics, which every chat face sends first) and → complete answer with
  its images and files;
* ``ita chat "list setups"``, ``ita --help``, ``ita setups list`` as new processes;
* ``backtest()`` on the EURUSD year ×10 (week-shifted copies, as in ``bench_backtest.py``) over the year.

Runs use a throw-away ``ITA_HOME`` (the sample data is imported once, before timing; ``--home`` reuses one) and
no LLM. Reported: median and p95 (linear interpolation) of ``--runs`` runs, the target and median / target —
never the best run — and, for the new processes, their median CPU seconds. The machine's load average is printed before and after: on a shared machine read the
medians together with it.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

ITA = str(Path(sys.executable).with_name("ita"))
BACKTEST = ["backtest", "asia_fvg_break", "--symbol", "EURUSD", "--from", "2025-01-01", "--to", "2025-12-31"]
FLAGSHIP = "backtest asia_fvg_break on EURUSD for 2025"
STATS_MARK = "Statistics (R = multiples"

#: (key, what, target, unit) in the order of the issue's table.
TARGETS = [
    ("backtest_stats", "ita backtest … year, statistics printed", 1.0, "s"),
    ("backtest_all", "ita backtest … year, everything incl. 7 PNGs + HTML (renderer kept from the last run)", 3.0, "s"),
    ("backtest_cold", "  the same, renderer cold (first run, or after `ita renderer stop`)", 3.0, "s"),
    ("chat_text", "chat (warm) flagship backtest → text answer (statistics)", 1.5, "s"),
    ("chat_backtest", "chat (warm) flagship backtest → complete answer with images", 1.5, "s"),
    ("chat_list", 'ita chat "list setups" as a new process', 1.0, "s"),
    ("help", "ita --help", 0.3, "s"),
    ("setups_list", "ita setups list", 0.5, "s"),
    ("x10", "year ×10 / year (backtest(): detect → evaluate → simulate → stats)", 11.0, "×"),
]


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    k = (len(s) - 1) * 0.95
    lo = int(k)
    return s[lo] + (s[min(lo + 1, len(s) - 1)] - s[lo]) * (k - lo)


CPU: dict[str, list[float]] = {}
"""CPU seconds (user + system) of each new-process run, with the processes it started (the browser): on an
idle machine the wall time of a one-process command is close to it, so it reads through the load."""


def run_cli(args: list[str], env: dict, mark: str | None = None, key: str | None = None) -> tuple[float | None, float]:
    """Run ``ita ARGS`` as a new process: (seconds until a stdout line contains ``mark``, seconds until exit);
    its CPU seconds are added to :data:`CPU` under ``key``."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    seen = None
    proc = subprocess.Popen([ITA, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    for line in proc.stdout:
        if mark and seen is None and mark in line:
            seen = time.perf_counter() - t0
    proc.wait()
    total = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if key:
        CPU.setdefault(key, []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"ita {' '.join(args)} failed ({proc.returncode}): {proc.stderr.read()[-1500:]}")
    return seen, total


def bench_cli(runs: int, env: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in ("backtest_stats", "backtest_all", "backtest_cold", "chat_list",
                                                    "help", "setups_list")}
    run_cli(BACKTEST, env)  # sample import, first-run caches, the kept renderer started (not timed)
    run_cli(["chat", "--no-llm", "list setups"], env)
    for _ in range(runs):
        stats, total = run_cli(BACKTEST, env, STATS_MARK, key="backtest_all")
        out["backtest_stats"].append(stats if stats is not None else float("nan"))
        out["backtest_all"].append(total)
        run_cli(["renderer", "stop"], env)
        time.sleep(1.0)  # let the stopped browser exit
        out["backtest_cold"].append(run_cli(BACKTEST, env, key="backtest_cold")[1])
        out["chat_list"].append(run_cli(["chat", "--no-llm", "--thread", "bench", "list setups"], env, key="chat_list")[1])
        out["help"].append(run_cli(["--help"], env, key="help")[1])
        out["setups_list"].append(run_cli(["setups", "list"], env, key="setups_list")[1])
    return out


def bench_chat(runs: int) -> tuple[list[float], list[float]]:
    """The flagship backtest in a warm chat session: (seconds to the text answer — the early answer with the
    statistics the faces send first —, seconds to the complete answer with images), one pair per run."""
    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig
    from ita.charts import warm_up

    warm_up()  # what a long-lived chat process does at start-up
    chat = ChatSession("bench-latency", AgentConfig.from_env(use_llm=False))
    first = chat.ask(FLAGSHIP)  # imports, Chromium start (not timed)
    if not any(a.kind == "image" for a in first.artifacts):
        print(f"note: the chat answer has no images ({first.results[0].data.get('warnings') if first.results else ''})")
    text, complete = [], []
    for _ in range(runs):
        seen: list[float] = []
        t = time.perf_counter()
        turn = chat.ask(FLAGSHIP, early=lambda _turn: seen.append(time.perf_counter() - t))
        complete.append(time.perf_counter() - t)
        assert turn.artifacts, "the flagship answer lost its artifacts"
        assert seen, "the flagship answer had no early text"
        text.append(seen[0])
    return text, complete


def bench_scaling(runs: int) -> tuple[list[float], list[float]]:
    from benchmarks.bench_backtest import repeat_by_weeks
    from ita.backtest import backtest
    from ita.data.store import CandleStore
    from ita.setups import load_setup

    year = CandleStore().load("EURUSD", "M5")
    x10 = repeat_by_weeks(year, 10)
    t1, t10 = [], []
    for _ in range(runs):
        for frame, start, end, acc in ((year, "2025-01-01", "2025-12-31", t1), (x10, None, None, t10)):
            t = time.perf_counter()
            backtest(load_setup("asia_fvg_break"), frame, "EURUSD", start=start, end=end, spread_pips=0)
            acc.append(time.perf_counter() - t)
    return t1, t10


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per measurement (≥ 5 for a p95 worth reading)")
    ap.add_argument("--home", default=None, help="ITA_HOME to use (default: a new temporary folder)")
    ap.add_argument("--skip-chat", action="store_true", help="skip the in-process chat measurement")
    a = ap.parse_args(argv)
    home = a.home or tempfile.mkdtemp(prefix="ita_bench_latency_")
    os.environ["ITA_HOME"] = home
    os.environ.pop("OPENAI_API_KEY", None)
    env = {**os.environ, "ITA_HOME": home, "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
    load0 = os.getloadavg()

    res: dict[str, list[float]] = bench_cli(a.runs, env)
    if not a.skip_chat:
        res["chat_text"], res["chat_backtest"] = bench_chat(a.runs)
    t1, t10 = bench_scaling(a.runs)
    res["x10"] = [statistics.median(t10) / statistics.median(t1)]
    load1 = os.getloadavg()

    from rich.console import Console
    from rich.table import Table

    tab = Table(title=f"Latency, median and p95 of {a.runs} runs (ITA_HOME {home})", title_justify="left")
    for c in ("what", "median", "p95", "target", "median / target", "CPU s", "runs"):
        tab.add_column(c, justify="left" if c == "what" else "right")
    for key, what, target, unit in TARGETS:
        xs = res.get(key)
        if not xs:
            tab.add_row(what, "—", "—", f"≤ {target:g} {unit}", "skipped", "—", "0")
            continue
        med = statistics.median(xs)
        ratio = med / target
        colour = "green" if ratio <= 1 else "red"
        if key == "x10":
            tab.add_row(what, f"{med:.1f}×", "—", f"≤ {target:g}×", f"[{colour}]{ratio:.2f}[/]", "—",
                        f"{a.runs} + {a.runs}")
        else:
            cpu = f"{statistics.median(CPU[key]):.2f}" if key in CPU else "—"
            tab.add_row(what, f"{med:.2f} s", f"{p95(xs):.2f} s", f"≤ {target:g} s", f"[{colour}]{ratio:.2f}[/]", cpu,
                        str(len(xs)))
    con = Console(width=160)
    con.print(tab)
    run_cli(["renderer", "stop"], env)
    con.print(f"backtest() year {statistics.median(t1) * 1e3:.0f} ms, ×10 {statistics.median(t10) * 1e3:.0f} ms (medians). "
              f"Load average before {load0[0]:.2f} / after {load1[0]:.2f} on {os.cpu_count()} CPUs "
              "(above the CPU count the processes queue: read the medians with it). CPU s: median CPU seconds of "
              "the process and the processes it waited for (the backtest's includes its headless Chromium).")


if __name__ == "__main__":
    main()
