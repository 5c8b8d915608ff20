"""``ita renderer …``: the PNG renderer kept warm between one-shot commands (:mod:`ita.charts.daemon`)."""
from __future__ import annotations

import time

import typer

from ita.cli.common import console

renderer_app = typer.Typer(
    help="The PNG renderer (headless Chromium) that `ita backtest` keeps warm between runs for "
         "ITA_RENDERER_IDLE_S seconds (default 600; 0 = start a fresh one every run, keep none).",
    no_args_is_help=True)


@renderer_app.command("status")
def renderer_status():
    """Is a renderer kept for this ITA_HOME? Its process id, age, PNGs rendered and idle time-out.

    \b
    Examples:
      ita renderer status
    """
    from ita.charts import daemon

    st = daemon.status()
    if st is None:
        how = (f"the next `ita backtest` starts one and keeps it {daemon.idle_seconds():g} s after its last render"
               if daemon.enabled() else "none is kept: ITA_RENDERER_IDLE_S=0 (or no Unix sockets here)")
        console.print(f"No renderer running for {daemon.socket_path()} — {how}.", highlight=False)
        return
    up = time.time() - float(st.get("started", time.time()))
    console.print(f"Renderer running: pid {st['pid']}, up {up:,.0f} s, {st['renders']} PNGs rendered, exits after "
                  f"{st['idle_s']:g} s idle (socket {st['socket']}).", highlight=False)


@renderer_app.command("stop")
def renderer_stop():
    """Stop the kept renderer now (it also stops by itself after ITA_RENDERER_IDLE_S idle seconds).

    \b
    Examples:
      ita renderer stop
    """
    from ita.charts import daemon

    console.print("Renderer stopped." if daemon.stop() else "No renderer was running.")
