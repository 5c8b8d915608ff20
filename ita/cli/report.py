"""``ita report …``: a stored backtest run as a Notion page (verified after writing), weekly / monthly reports of
the live signals (terminal, CSV, Notion, Telegram)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ita.cli.common import console, err_console, fail, print_tool_table
from ita.errors import ItaError

report_app = typer.Typer(help="Reports: a backtest run in Notion (verified), weekly / monthly live-signal reports.",
                         no_args_is_help=True)


@report_app.callback()
def _one_shot() -> None:
    """A one-shot command: its PNGs go to the renderer kept between commands (``ita renderer status``)."""
    from ita.charts.export import use_daemon

    use_daemon()


@report_app.command("backtest")
def report_backtest(
    run_id: Optional[str] = typer.Argument(None, help="A stored run (see `ita runs list`); default the latest."),
    notion: bool = typer.Option(False, "--notion", help="Write the report as a Notion page and verify it."),
    parent: Optional[str] = typer.Option(None, "--parent", help="The Notion page the report goes under (default ITA_NOTION_REPORTS_PAGE)."),
    sample: int = typer.Option(10, "--sample", help="How many random trades to show for checking (seed: the run id)."),
):
    """A backtest run as a report: period, win rate, average RR, max drawdown, PF, expectancy, the equity chart, the
    by-month table and random trades to check against trades.csv.

    \b
    With --notion the report becomes a page under ITA_NOTION_REPORTS_PAGE (or --parent); the page is then read
    back from Notion and every number and sampled trade on it is compared with the run — the command says what
    matched, or names each difference and exits with status 2.
    \b
    Examples:
      ita report backtest bt_20250101_120000_abc123
      ITA_NOTION_TOKEN=secret_… ITA_NOTION_REPORTS_PAGE=… ita report backtest bt_20250101_120000_abc123 --notion
    """
    from ita.tools import show_run

    r = show_run(run_id=run_id, sample=sample)
    if not r.ok:
        fail(ItaError(r.error))
    console.print(r.summary, highlight=False)
    if not notion:
        for t in r.tables.values():
            if t.rows:
                print_tool_table(t, title_justify="left")
        console.print(f"Files in {r.data['run_dir']}: " + ", ".join(a.name for a in r.artifacts), highlight=False)
        return
    from ita.reports.backtest import publish
    from ita.reports.notion import NotionPages

    try:
        pages = NotionPages.from_env(parent)
        with console.status("Writing the Notion page and reading it back …"):
            page, check = publish(r, pages)
    except ItaError as exc:
        fail(exc)
    console.print(f"Notion page: {page.get('url')}", highlight=False)
    counts = ", ".join(f"{n} {k}" for k, n in check.checked.items())
    if check.ok:
        console.print(f"[green]✓ Verified:[/] the page as Notion stores it matches the run ({counts}).", highlight=False)
        return
    for p in check.problems:
        err_console.print(f"[red]✗[/] {p}", highlight=False)
    err_console.print(f"[bold red]Error:[/] the page differs from the run in {len(check.problems)} place(s).")
    raise typer.Exit(2)


def _period_report(kind: str, period: Optional[str], setup: Optional[str], run: Optional[str], csv: Optional[str],
                   notion: bool, telegram: bool) -> None:
    from ita.reports.period import build, to_notion, to_telegram, write_csv

    try:
        rep = build(kind, period, setup, run)
    except ItaError as exc:
        fail(exc)
    console.print(f"[bold]{rep.title}[/]", highlight=False)
    console.print(rep.result.summary, highlight=False)
    table = rep.result.tables["performance"]
    if table.rows:
        from rich import box

        print_tool_table(table, title=None, box=box.SIMPLE_HEAD, pad_edge=False)
    console.print("[dim]Outcomes: what the backtest's simulator did with each alert on the stored candles; BT = the "
                  "backtest of the same setup version in the same period (every trade).[/]", highlight=False)
    try:
        if csv is not None:
            path = write_csv(rep, Path(csv) if csv else None)
            console.print(f"CSV: {path}", highlight=False)
        if notion:
            from ita.reports.notion import NotionPages

            page = to_notion(rep, NotionPages.from_env())
            console.print(f"Notion page: {page.get('url')}", highlight=False)
        if telegram:
            from ita.live.config import TelegramSettings

            settings = TelegramSettings.from_env()
            if settings is None:
                raise ItaError("Telegram is not configured: set ITA_TELEGRAM_TOKEN and ITA_TELEGRAM_CHAT_IDS.")
            n = to_telegram(rep, settings)
            console.print(f"Telegram: {n} message(s) to {', '.join(map(str, settings.chat_ids))}", highlight=False)
    except ItaError as exc:
        fail(exc)


PERIOD_HELP = {"weekly": "The ISO week, e.g. 2025-W10 (default: the last week that ended, Sunday 17:00 New York).",
               "monthly": "The month, e.g. 2025-03 (default: the last month that ended)."}
CSV_HELP = "Also write a CSV (a path, or empty for $ITA_HOME/reports/<kind>_<period>.csv)."


@report_app.command("weekly")
def report_weekly(
    period: Optional[str] = typer.Option(None, "--period", help=PERIOD_HELP["weekly"]),
    setup: Optional[str] = typer.Option(None, "--setup", help="Only this setup."),
    run: Optional[str] = typer.Option(None, "--run", help="A replay's run id, or replay for the latest (default the live journal)."),
    csv: Optional[str] = typer.Option(None, "--csv", help=CSV_HELP, show_default=False),
    notion: bool = typer.Option(False, "--notion", help="Also as a Notion page under ITA_NOTION_REPORTS_PAGE."),
    telegram: bool = typer.Option(False, "--telegram", help="Also send it to the Telegram chats."),
):
    """The week's live signals per setup and symbol — taken / skipped, outcomes, R, win rate — beside the backtest
    of the same week.

    \b
    `ita live start` sends it on its own every Sunday at 17:00 New York (each week once, also across restarts).
    \b
    Examples:
      ita report weekly
      ita report weekly --period 2025-W10 --run replay --csv ""
      ita report weekly --setup asia_fvg_break --telegram --notion
    """
    _period_report("weekly", period, setup, run, csv, notion, telegram)


@report_app.command("monthly")
def report_monthly(
    period: Optional[str] = typer.Option(None, "--period", help=PERIOD_HELP["monthly"]),
    setup: Optional[str] = typer.Option(None, "--setup", help="Only this setup."),
    run: Optional[str] = typer.Option(None, "--run", help="A replay's run id, or replay for the latest (default the live journal)."),
    csv: Optional[str] = typer.Option(None, "--csv", help=CSV_HELP, show_default=False),
    notion: bool = typer.Option(False, "--notion", help="Also as a Notion page under ITA_NOTION_REPORTS_PAGE."),
    telegram: bool = typer.Option(False, "--telegram", help="Also send it to the Telegram chats."),
):
    """The month's live signals per setup and symbol beside the backtest of the same month.

    \b
    `ita live start` sends it on its own on the 1st of each month (00:05 New York; each month once).
    \b
    Examples:
      ita report monthly --period 2025-03 --run replay
      ita report monthly --csv reports/march.csv --notion
    """
    _period_report("monthly", period, setup, run, csv, notion, telegram)
