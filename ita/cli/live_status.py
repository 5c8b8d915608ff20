"""``ita live status``: the live loop's health — the numbers its Prometheus metrics expose
(:mod:`ita.live.metrics`), scraped from the running service or, when none answers, computed from the journal."""
from __future__ import annotations

import time
from typing import Optional

import typer
from rich.table import Table

from ita.cli.common import console, fail
from ita.errors import ItaError


def live_status(
    url: str = typer.Option("http://127.0.0.1:9108/metrics", "--url", help="The metrics endpoint of a running `ita live start --metrics-port`."),
    run: Optional[str] = typer.Option(None, "--run", help="Without a running service: a replay's run id (default the live journal)."),
):
    """The live loop's health: feed lag and last run per symbol, signals by decision, deliveries by channel and
    status, latency p50 / p95 per channel, the outbox — the same numbers as its Prometheus metrics.

    \b
    Read from the running service (--url, default http://127.0.0.1:9108/metrics, served by
    `ita live start --metrics-port 9108`); when none answers, the journal's numbers are shown (the loop's own
    gauges — feed lag, last run — need the running service). Latency quantiles are estimated from the
    histogram buckets exactly as Grafana's histogram_quantile does.
    \b
    Examples:
      ita live status
      ita live status --url http://10.0.0.5:9108/metrics
      ita live status --run replay_20250303_101500_ab12cd
    """
    from ita.live.journal import LIVE
    from ita.live.metrics import read_status

    try:
        st = read_status(None if run else url, run=run or LIVE)
    except ItaError as exc:
        fail(exc)
    now = time.time()
    if st.running:
        console.print(f"[green]●[/] live service answering at {st.source}", highlight=False)
        t = Table(title="Feed (per symbol and timeframe)", title_justify="left")
        for c in ("symbol", "tf", "feed lag", "last run", "errors"):
            t.add_column(c, justify="left" if c in ("symbol", "tf") else "right")
        for (sym, tf), ts in sorted(st.last_tick.items()):
            lag = st.feed_lag.get((sym, tf))
            t.add_row(sym, tf, "—" if lag is None else _dur(lag), f"{_dur(now - ts)} ago", str(st.errors.get(sym, 0)))
        console.print(t)
    else:
        console.print(f"[yellow]○[/] no service answers at {url}: the journal's numbers for {run or LIVE} "
                      "(feed lag and last run need `ita live start --metrics-port 9108`).", highlight=False)
    dec = ", ".join(f"{n} {d.replace('_', ' ')}" for d, n in sorted(st.decisions.items())) or "none yet"
    console.print(f"Signals: {sum(st.decisions.values())} — {dec}", highlight=False)
    t = Table(title="Deliveries", title_justify="left")
    for c in ("channel", "sent", "pending", "failed", "p50 [s]", "p95 [s]"):
        t.add_column(c, justify="left" if c == "channel" else "right")
    for ch in sorted({c for c, _ in st.deliveries}):
        lat = st.latency.get(ch) or {}
        t.add_row(ch, *(str(st.deliveries.get((ch, s), 0)) for s in ("sent", "pending", "failed")),
                  _num(lat.get("p50")), _num(lat.get("p95")))
    if st.deliveries:
        console.print(t)
    console.print(f"Outbox: {st.outbox} not sent yet" + (" — `ita live outbox`" if st.outbox else ""), highlight=False)
    if st.feedback:
        console.print("Feedback: " + ", ".join(f"{a} {n}" for a, n in sorted(st.feedback.items())), highlight=False)
    if st.scores:
        console.print("Latest scores: " + ", ".join(f"{s} {sym} {v:.2f} ({k})" for s, sym, k, v in sorted(st.scores)),
                      highlight=False)


def _dur(s: float) -> str:
    s = max(float(s), 0.0)
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


def _num(v) -> str:
    return "—" if v is None else f"{v:.2f}"
