"""The bot's commands, in the convention traders know from freqtrade, and what each one runs.

==================  =====================================================================================
command             runs
==================  =====================================================================================
``/backtest ARGS``  the chat: ``backtest ARGS`` (``/backtest asia_sweep XAUUSD 2025``); without ARGS the
                    chat asks what to test
``/setups``         the chat: ``list setups``
``/signals [N]``    :func:`ita.tools.live_signals` — the N latest journaled signals (default 10)
``/daily [N]``      :func:`ita.tools.live_performance` by day (last N days, default 7)
``/weekly [N]``     … by ISO week (last N weeks, default 8)
``/monthly [N]``    … by month (last N months, default 6)
``/performance``    … by setup and symbol, beside the backtest of the same period
``/stats``          … by exit reason (target, stop, time, not filled, open)
``/status``         :func:`ita.tools.live_status` — the live loop's health (its Prometheus metrics)
``/help``           this list (``/start`` too)
==================  =====================================================================================

The journal commands also take a setup id, a symbol and ``replay`` (the latest replay) or a replay's run id:
``/weekly asia_fvg_break EURUSD replay``. Russian names of the commands do not exist in Telegram (Latin
only), but every free-text request works in Russian as in the web chat.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ita.times import today_ny

COMMANDS = {  # name: (English, Russian) descriptions, in the order Telegram's menu shows them
    "backtest": ("Backtest a setup: /backtest asia_fvg_break EURUSD 2025", "Бэктест: /backtest asia_fvg_break EURUSD 2025"),
    "signals": ("The latest live signals", "Последние сигналы"),
    "daily": ("Live alerts by day: trades, win rate, R", "Сигналы по дням: сделки, винрейт, R"),
    "weekly": ("Live alerts by week", "Сигналы по неделям"),
    "monthly": ("Live alerts by month", "Сигналы по месяцам"),
    "performance": ("Per setup and symbol vs the backtest", "По сетапам и инструментам против бэктеста"),
    "stats": ("Live alerts by exit reason", "Сигналы по причине выхода"),
    "setups": ("The setups and their versions", "Сетапы и их версии"),
    "status": ("Live loop health: feed, latency, outbox", "Состояние live: фид, задержка, outbox"),
    "help": ("What I can do", "Что я умею"),
}
PERIODS = {"daily": ("day", 1), "weekly": ("week", 7), "monthly": ("month", None)}


@dataclass
class Action:
    """What a command does: ask the chat ``text``, or call ``tool`` with ``args``; ``help`` for /help."""

    text: str | None = None
    tool: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    help: bool = False


def parse_command(name: str, args: list[str], lang: str = "en") -> Action:
    """The :class:`Action` of ``/name args`` (``name`` without the slash and bot suffix). Unknown names and
    ``start`` / ``help`` → help."""
    name = name.lower()
    rest = " ".join(args).strip()
    if name == "backtest":
        word = "бэктест" if lang == "ru" or re.search(r"[А-Яа-яЁё]", rest) else "backtest"
        return Action(text=f"{word} {rest}".strip())
    if name == "setups":
        return Action(text="покажи сетапы" if lang == "ru" else "list setups")
    if name in ("signals", "daily", "weekly", "monthly", "performance", "stats", "status"):
        opts = _journal_args(args)
        if name == "signals":
            return Action(tool="live_signals", args={"limit": min(int(opts.pop("n", 10)), 100),
                                                     **({"run": opts["run"]} if "run" in opts else {})})
        if name == "status":
            return Action(tool="live_status", args={k: v for k, v in opts.items() if k == "run"})
        n = opts.pop("n", None)
        if name in PERIODS:
            period, days = PERIODS[name]
            args_ = {"period": period, "by": "period", **opts}
            if n and "run" not in opts:  # a replay's window is its own signals' days
                end = pd.Timestamp(today_ny())
                start = end - (pd.DateOffset(months=int(n)) if days is None else pd.Timedelta(days=days * int(n)))
                args_["start"] = f"{start + pd.Timedelta(days=1):%Y-%m-%d}"
            return Action(tool="live_performance", args=args_)
        return Action(tool="live_performance",
                      args={"period": "all", "by": "setup" if name == "performance" else "exit", **opts})
    return Action(help=True)


def _journal_args(args: list[str]) -> dict:
    """``N``, ``replay`` / ``replay_…`` (run), a setup id and a symbol, in any order."""
    from ita.data.instruments import instruments

    out: dict = {}
    symbols = {s.upper() for s in instruments()}
    for a in args:
        if a.isdigit():
            out["n"] = int(a)
        elif a.lower() == "replay" or a.startswith("replay_"):
            out["run"] = a if a.startswith("replay_") else "replay"
        elif a.upper() in symbols:
            out["symbol"] = a.upper()
        elif re.fullmatch(r"[a-z][a-z0-9_]*", a):
            out["setup_id"] = a
    return out


def help_text(lang: str = "en") -> str:
    """The /help answer (Telegram HTML)."""
    ru = lang == "ru"
    head = ("Я ITA — ассистент трейдера: бэктесты, сетапы, детекторы, графики и live-сигналы. Ордеров я не "
            "выставляю.\n\nПишите как в веб-чате: <i>бэктест asia_fvg_break на EURUSD за 2025</i>, <i>то же на "
            "XAUUSD</i>, <i>покажи сделку 3</i>, <i>что такое FVG?</i>. Пришлите PDF, Markdown или текст — "
            "добавлю в библиотеку теории.\n\nКоманды:" if ru else
            "I am ITA, a trader's assistant: backtests, setups, detectors, charts and live signals. I never place "
            "orders.\n\nWrite as in the web chat: <i>backtest asia_fvg_break on EURUSD for 2025</i>, <i>same on "
            "XAUUSD</i>, <i>show trade 3</i>, <i>what is an FVG?</i>. Send a PDF, Markdown or text file and it goes "
            "into your theory library.\n\nCommands:")
    lines = [f"/{n} — {d[1] if ru else d[0]}" for n, d in COMMANDS.items()]
    tail = ("Команды журнала принимают сетап, инструмент и <code>replay</code>: <code>/weekly asia_fvg_break "
            "EURUSD replay</code>." if ru else "Journal commands take a setup, a symbol and <code>replay</code>: "
            "<code>/weekly asia_fvg_break EURUSD replay</code>.")
    return "\n".join([head, *lines, "", tail])
