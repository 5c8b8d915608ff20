"""``ita live status``: the live loop's health — the numbers its Prometheus metrics expose
(:mod:`ita.live.metrics`), scraped from the running service or, when none answers, computed from the journal."""
from __future__ import annotations

from typing import Optional

import typer

from ita.cli.common import console, fail, print_tool_table
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
    from ita.tools import live_status as status_tool

    r = status_tool(url=None if run else url, run=run)
    if not r.ok:
        fail(ItaError(r.error))
    d = r.data
    if d["running"]:
        console.print(f"[green]●[/] live service answering at {d['source']}", highlight=False)
    else:
        console.print(f"[yellow]○[/] no service answers at {url}: the journal's numbers for {d['run']} (feed lag "
                      "and last run need `ita live start --metrics-port 9108`).", highlight=False)
    for t in r.tables.values():
        if t.rows:
            print_tool_table(t, title_justify="left")
    dec = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(d["decisions"].items())) or "none yet"
    console.print(f"Signals: {sum(d['decisions'].values())} — {dec}", highlight=False)
    console.print(f"Outbox: {d['outbox']} not sent yet" + (" — `ita live outbox`" if d["outbox"] else ""),
                  highlight=False)
    if d["feedback"]:
        console.print("Feedback: " + ", ".join(f"{a} {n}" for a, n in sorted(d["feedback"].items())), highlight=False)
