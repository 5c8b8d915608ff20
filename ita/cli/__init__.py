"""The ``ita`` command line. Every command prints ``--help`` with examples.

One module per command group (:mod:`ita.cli.data`, ``instruments``, ``setups``, ``backtest``, ``runs``, ``research``,
``chat``, ``live``, ``kb``, ``eval``, ``learn``, ``renderer``); :mod:`ita.cli.common` holds what they share. This module builds the root :data:`app` from them;
a new group is a new module plus one ``add_typer`` line here.

Errors a user can fix (bad file, unknown symbol or setup, YAML typo, period without data) print one
clear message and exit with status 2; nothing stored is changed. Every error text and log record goes through
:func:`ita.secrets.redact` (:func:`ita.secrets.install_log_redaction` runs once when a command starts), so a
configured token or key never reaches the terminal.
"""
from __future__ import annotations

import sys

import typer

from ita.cli import backtest as backtest_cmd
from ita.cli import chat as chat_cmd
from ita.cli.common import err_console, print_error
from ita.cli.data import data_app
from ita.cli.eval import eval_app
from ita.cli.instruments import instruments_app
from ita.cli.kb import kb_app
from ita.cli.learn import learn_app
from ita.cli.live import live_app
from ita.cli.research import research_app
from ita.cli.renderer import renderer_app
from ita.cli.report import report_app
from ita.cli.runs import runs_app
from ita.cli.setups import setups_app
from ita.cli.telegram import telegram_app
from ita.errors import ItaError
from ita.secrets import install_log_redaction, redact

__all__ = ["app", "main"]

HELP = """ITA — Intelligent Trading Agent for discretionary prop traders. It never places orders.

\b
Main job (imports the sample data on first use):
  ita backtest asia_fvg_break --symbol EURUSD --from 2025-01-01 --to 2025-12-31
\b
Your own data:
  ita data import EURUSD_M5.csv --symbol EURUSD --timeframe M5 --server-tz Europe/Athens [--replace]
  ita data list | ita data history EURUSD | ita data restore EURUSD VERSION
  ita instruments list | ita instruments show GBPJPY | ita instruments add AVAXUSDT --pip 0.01 --digits 2 …
\b
Setups (YAML in setups/<id>/v<N>.yaml):
  ita setups list | ita setups show asia_fvg_break | ita setups validate setups/asia_fvg_break/v1.yaml
  ita setups new-version asia_fvg_break --param rr=3 | ita setups diff asia_fvg_break v1 v2
  ita setups promote fvg_reversal v2 [--to paper|active] | ita setups gates
\b
Several setups together under the risk governor:
  ita backtest --portfolio asia_fvg_break,asia_sweep --symbols EURUSD,XAUUSD --max-daily-loss 2R
\b
Research (sweeps, walk-forward, Monte Carlo, prop-firm odds; on Dask):
  ita research sweep asia_fvg_break --grid rr=1.5,2,2.5,3 --grid fvg.min_gap_pips=0.5:2:0.5
  ita research walk-forward asia_fvg_break --train 6M --test 1M --grid rr=1.5,2,3
  ita research montecarlo | ita research challenge --rules ftmo_2step --risk 0.5,1,2
\b
Live signals (never places orders):
  ita live replay EURUSD --from 2025-03-03 --to 2025-03-07 --speed 600
  ita live start --setups asia_fvg_break,asia_sweep --symbols EURUSD,XAUUSD
  ita live signals | ita live stats | ita live status | ita live outbox | ita live check
\b
Telegram (chat, /commands, documents into the theory library):
  ita telegram start            |  ita live start … --chat   (alerts and chat in one process)
\b
Reports:
  ita report backtest RUN_ID --notion  |  ita report weekly | ita report monthly  [--csv] [--notion] [--telegram]
\b
Learning (a walk-forward p(success) model that must beat chance):
  ita learn dataset --setups all --symbols EURUSD,XAUUSD | ita learn train | ita learn status
\b
The PNG renderer `ita backtest` keeps warm between runs (ITA_RENDERER_IDLE_S, default 600 s; 0 = none):
  ita renderer status | ita renderer stop
"""

#: The root ``ita`` app (typer); the groups and top-level commands in the order ``ita --help`` lists them.
app = typer.Typer(help=HELP, no_args_is_help=True, rich_markup_mode=None, add_completion=False)


@app.callback()
def _start() -> None:
    """Runs before every command: redact secrets from every log record of this process."""
    install_log_redaction()


app.add_typer(data_app, name="data")
app.add_typer(instruments_app, name="instruments")
app.add_typer(setups_app, name="setups")
app.add_typer(runs_app, name="runs")
app.command("backtest")(backtest_cmd.backtest)
app.command("chat")(chat_cmd.chat)
app.add_typer(research_app, name="research")
app.add_typer(live_app, name="live")
app.add_typer(telegram_app, name="telegram")
app.add_typer(report_app, name="report")
app.add_typer(kb_app, name="kb")
app.add_typer(eval_app, name="eval")
app.add_typer(learn_app, name="learn")
app.add_typer(renderer_app, name="renderer")


STARTUP_GC_PAUSE_S = 2.0


def _pause_gc_during_startup() -> None:
    """Pause Python's cyclic garbage collector for the first :data:`STARTUP_GC_PAUSE_S` seconds of a command.

    Starting a command creates ~120k long-lived objects (modules, pydantic models, the LangGraph graph) and the
    collector, triggered every 700 allocations, walks them ~330 times: ~10 % of ``ita chat "list setups"``.
    Reference counting still frees everything else meanwhile; a daemon timer turns the collector back on, so a
    long-lived command (an interactive chat, ``ita live start``) runs with it as usual."""
    import gc
    import threading

    gc.disable()
    timer = threading.Timer(STARTUP_GC_PAUSE_S, gc.enable)
    timer.daemon = True
    timer.start()


def main() -> None:
    """Entry point of the ``ita`` console script: run :data:`app`. An :class:`ItaError` that escaped a command
    prints ``Error: …`` and exits with status 2; any other exception prints its traceback and exits with
    status 1 — both with secrets redacted."""
    _pause_gc_during_startup()
    install_log_redaction()
    try:
        app()
    except ItaError as exc:  # anything that escaped a command
        print_error(exc)
        sys.exit(2)
    except Exception:  # noqa: BLE001 - a bug: show it, but never a token
        import traceback

        err_console.print(redact(traceback.format_exc()), markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
