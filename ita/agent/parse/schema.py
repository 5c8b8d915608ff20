"""What the parser produces and the tool contract it targets: the intents, the tools' argument names, the
required arguments, the defaults, and the two result models (:class:`ParsedRequest`, :class:`Resolution`)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ita.agent.parse.vocab import detector_entries

DEFAULT_YEAR = 2025            # a month without a year (and no year in the context) means this year: the sample's
DEFAULT_TIMEFRAME = "M5"
DEFAULT_RUNS_LIMIT = 10
MAX_RUNS_LIMIT = 200           # list_runs takes at most this many
MAX_TEXT = 2000                # only the first characters of a very long message are read

Intent = Literal["backtest", "evaluate_setup", "run_detector", "render_chart", "show_trade", "compare_versions",
                 "compare_runs", "list_setups", "show_setup", "validate_setup", "explain_day", "data_coverage",
                 "list_runs", "optimise", "walk_forward", "monte_carlo", "challenge", "help", "greeting",
                 "theory_question", "unsupported", "unknown",
                 "portfolio_backtest", "promote_setup", "list_instruments", "show_instrument",
                 "show_run", "live_signals", "live_performance", "live_status",
                 "signal_probability", "explain_signal", "similar_signals", "recommend_changes", "learn_status",
                 "train_model", "build_dataset", "list_features", "discover_features"]

# the tools layer implements exactly these names and arguments (in this order)
TOOL_ARGS: dict[str, tuple[str, ...]] = {
    "run_backtest": ("setup_id", "symbol", "start", "end", "version", "params", "session"),
    "evaluate_setup": ("setup_id", "symbol", "start", "end", "version", "params", "session"),
    "run_detector": ("detector", "symbol", "start", "end", "timeframe", "params"),
    "render_chart": ("symbol", "time", "timeframe", "setup_id"),
    "show_trade": ("trade", "run_id"),
    "compare_versions": ("setup_id", "version_a", "version_b", "symbol", "start", "end"),
    "compare_runs": ("run_a", "run_b"),
    "list_setups": (),
    "show_setup": ("setup_id", "version"),
    "validate_setup": ("setup_id",),
    "explain_day": ("setup_id", "symbol", "day"),
    "data_coverage": ("symbol",),
    "list_runs": ("limit",),
    "portfolio_backtest": ("setup_ids", "symbols", "start", "end", "governor"),
    "promote_setup": ("setup_id", "version", "to"),
    "list_instruments": (),
    "show_instrument": ("symbol",),
    "show_run": ("run_id",),
    "live_signals": ("limit",),
    "live_performance": ("period", "by", "start", "end", "setup_id", "symbol"),
    "live_status": (),
    "run_sweep": ("setup_id", "symbol", "start", "end", "version", "grid", "search", "trials", "objective"),
    "run_walk_forward": ("setup_id", "symbol", "start", "end", "version", "grid", "train", "test", "anchored",
                         "objective"),
    "run_montecarlo": ("run_id", "setup_id", "symbol", "n", "method"),
    "challenge_odds": ("run_id", "setup_id", "symbol", "rules", "risk"),
    "signal_probability": ("signal_id", "setup_id", "symbol"),      # learning (ita/tools/learn.py)
    "explain_signal": ("signal_id",),
    "similar_signals": ("signal_id", "k"),
    "recommend_changes": ("setup_id", "symbol"),
    "learn_status": (),
    "train_model": ("target",),
    "build_dataset": ("kind",),
    "list_features": (),
    "discover_features": ("target",),
}
# without these a tool call is not made: the trader is asked (in this order, one question)
# (show_trade without a run id means the latest run; data_coverage without a symbol means all of them)
REQUIRED_ARGS: dict[str, tuple[str, ...]] = {
    "run_backtest": ("setup_id", "symbol"),
    "evaluate_setup": ("setup_id", "symbol"),
    "run_detector": ("detector", "symbol"),
    "render_chart": ("symbol", "time"),
    "show_trade": ("trade",),
    "compare_versions": ("setup_id", "version_a", "version_b", "symbol"),
    "compare_runs": ("run_a", "run_b"),
    "show_setup": ("setup_id",),
    "validate_setup": ("setup_id",),
    "explain_day": ("setup_id", "symbol", "day"),
    "portfolio_backtest": ("setup_ids", "symbols"),
    "promote_setup": ("setup_id", "version"),
    "show_instrument": ("symbol",),
    "run_sweep": ("setup_id", "symbol"),
    "run_walk_forward": ("setup_id", "symbol"),
    "recommend_changes": ("setup_id",),
}
INTENT_TOOL: dict[str, str] = {
    "backtest": "run_backtest", "evaluate_setup": "evaluate_setup", "run_detector": "run_detector",
    "render_chart": "render_chart", "show_trade": "show_trade", "compare_versions": "compare_versions",
    "compare_runs": "compare_runs", "list_setups": "list_setups", "show_setup": "show_setup",
    "validate_setup": "validate_setup", "explain_day": "explain_day", "data_coverage": "data_coverage",
    "list_runs": "list_runs", "portfolio_backtest": "portfolio_backtest", "promote_setup": "promote_setup",
    "list_instruments": "list_instruments", "show_instrument": "show_instrument",
    "show_run": "show_run", "live_signals": "live_signals", "live_performance": "live_performance",
    "live_status": "live_status",
    "optimise": "run_sweep", "walk_forward": "run_walk_forward",
    "monte_carlo": "run_montecarlo", "challenge": "challenge_odds",
    **{t: t for t in ("signal_probability", "explain_signal", "similar_signals", "recommend_changes",
                      "learn_status", "train_model", "build_dataset", "list_features", "discover_features")},
}
LIST_TOOLS = ("portfolio_backtest",)          # take every setup and symbol named at once (no one call per name)
ARG_DEFAULTS: dict[str, Any] = {"timeframe": DEFAULT_TIMEFRAME, "limit": DEFAULT_RUNS_LIMIT, "objective": "total_r",
                                "train": "6M", "test": "1M", "rules": "ftmo_2step", "search": "grid",
                                "anchored": False, "n": 10_000, "method": "bootstrap"}
# research tools that read a stored run: the conversation's last run unless a setup is named
RUN_TOOLS = ("run_montecarlo", "challenge_odds")
# tools a follow-up ("same on XAUUSD") can repeat
FOLLOWABLE = ("run_backtest", "evaluate_setup", "run_detector", "render_chart", "compare_versions", "explain_day",
              "show_setup", "data_coverage", "run_sweep", "run_walk_forward", "run_montecarlo", "challenge_odds")
# the research tools and the arguments only they take ("now by profit factor", "with optuna", "and at 2 % risk?")
RESEARCH_TOOLS = ("run_sweep", "run_walk_forward", "run_montecarlo", "challenge_odds")
RESEARCH_ARGS = ("grid", "objective", "search", "trials", "train", "test", "anchored", "method", "n", "rules", "risk")
BACKTEST_LIKE = ("run_backtest", "evaluate_setup")


class ParsedRequest(BaseModel):
    """What the text alone says."""

    text: str
    lang: Literal["en", "ru"]
    intent: Intent
    args: dict = Field(default_factory=dict)   # only what the text said, under the tools' argument names
    follow_up: bool = False                   # the text only modifies the previous request
    confidence: float = 0.0                   # 0..1 (unknown → 0)
    explicit: bool = False                    # the intent was said in words ("backtest …"), not guessed from names
    also: list[dict] = Field(default_factory=list)      # further setups/symbols named: [{"setup_id": …}, …]
    period: dict | None = None                # a period relative to today: {"said", "start", "end", "today"}
    refused: list[str] = Field(default_factory=list)    # parts of the text refused (orders, deletions, commands)
    unsupported: str | None = None            # what was asked that no tool does (a key of messages.unsupported)


class Resolution(BaseModel):
    """What to do: call a tool with complete arguments, ask one question, or answer with a message."""

    action: Literal["tool", "ask", "help", "unknown", "greeting", "theory_question"]
    tool: str | None = None
    args: dict = Field(default_factory=dict)
    question: str | None = None
    message: str | None = None
    lang: str = "en"
    note: str | None = None                   # shown with the answer: the exact dates of a relative period, the
    #                                           part of the request refused, further calls made
    calls: list[dict] = Field(default_factory=list)     # further tool calls of one request: [{"tool", "args"}, …]
    missing: str | None = None                # the argument an "ask" asks for (the pending question)


DETECTORS: tuple[str, ...] = tuple(detector_entries())   # the detector catalogue's kinds, in its order
SESSIONS: tuple[str, ...] = ("asia", "london_killzone", "new_york_killzone", "london_close", "silver_bullet_am",
                             "silver_bullet_london", "silver_bullet_pm", "london", "new_york", "tokyo")
