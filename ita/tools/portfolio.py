"""Portfolio tool: ``portfolio_backtest`` — several setups on several symbols traded together under the risk
governor (max daily loss, max open risk, max trades per day), with the correlation of the setups' daily R."""
from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Any

from pydantic import Field, field_validator

from ita.format import DASH, as_float, fmt_num, fmt_r
from ita.tools.access import candle_store, period_warning, trading_period
from ita.tools.format import compare_table, stats_dict, stats_line
from ita.tools.registry import END_DESC, START_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Artifact, Table, ToolResult

log = logging.getLogger(__name__)

GOVERNOR_DESC = ("Risk governor limits, e.g. {\"max_daily_loss\": \"3R\"} (or \"2%\" of the account), "
                 "{\"max_open_risk\": \"2R\"}, {\"max_trades_per_day\": 3}, {\"day_start\": \"17:00\"} (New York; "
                 "default the FX day). Empty = every trade is taken.")


def _names(v: Any, what: str) -> list[str]:
    from ita.backtest.portfolio_run import split_list

    if v is None:
        return []
    items = split_list(v if isinstance(v, (list, tuple, str)) else [v])
    if not items:
        raise ValueError(f"{what}: name at least one.")
    return items


class PortfolioBacktestArgs(ToolArgs):
    setup_ids: list[str] = Field(description="Setups traded together, e.g. [\"asia_fvg_break\", \"asia_sweep\"]; "
                                             "id@N for a version (fvg_reversal@2).",
                                 examples=[["asia_fvg_break", "asia_sweep"]])
    symbols: list[str] = Field(description="Instruments each setup trades, e.g. [\"EURUSD\", \"XAUUSD\"].",
                               examples=[["EURUSD", "XAUUSD"]])
    start: str | None = Field(None, description=START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=END_DESC, examples=["2025-12-31"])
    governor: dict[str, Any] = Field(default_factory=dict, description=GOVERNOR_DESC,
                                     examples=[{"max_daily_loss": "3R", "max_trades_per_day": 3}])
    charts: bool = Field(True, description="Render the equity and correlation PNGs and the HTML report.")
    spread: float | str | None = Field(None, description="Spread in pips for every symbol (default: each "
                                       "instrument's typical spread; \"data\" = the candles' own).")
    commission: float | None = Field(None, ge=0, description="Round-turn commission per lot, account currency "
                                                             "(default: each instrument's).")

    @field_validator("spread", mode="before")
    @classmethod
    def _spread(cls, v):
        if v is None or (isinstance(v, str) and v.strip().lower() == "data"):
            return None if v is None else "data"
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"spread {v!r}: give pips (e.g. 0.8 or 0) or 'data' for the candles' own spread.") from None
        if f < 0:
            raise ValueError("spread must be ≥ 0 pips.")
        return f

    @field_validator("setup_ids", mode="before")
    @classmethod
    def _setups(cls, v):
        return _names(v, "setup_ids")

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, v):
        from ita.data.instruments import get_instrument
        from ita.errors import ItaError

        try:
            return list(dict.fromkeys(get_instrument(s).symbol for s in _names(v, "symbols")))
        except ItaError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("governor", mode="before")
    @classmethod
    def _governor(cls, v):
        from ita.tools.registry import parse_params

        return parse_params(v)


def _pct_cell(v) -> str:
    f = as_float(v)
    return DASH if f is None or math.isnan(f) else f"{f:+.2f}"


@tool(PortfolioBacktestArgs)
def portfolio_backtest(a: PortfolioBacktestArgs) -> ToolResult:
    """Backtest several setups on several symbols together under the risk governor (max daily loss, max open
    risk, max trades per day): portfolio statistics with and without the governor, per setup × symbol, the
    trades it blocked, and the correlation of the setups' daily R — stored as a portfolio run."""
    from ita.backtest.governor import GovernorRules
    from ita.backtest.portfolio_run import parse_setup_ref, run_portfolio
    from ita.setups.loader import load_setup

    rules = GovernorRules.from_mapping(a.governor)
    tz = load_setup(*parse_setup_ref(a.setup_ids[0])).setup.timezone
    los, his, warns = [], [], []
    for sym in a.symbols:
        lo, hi = trading_period(candle_store(sym), sym, a.start, a.end, tz)
        los.append(lo)
        his.append(hi)
        warns.append(period_warning(sym, a.start, a.end, lo, hi))
    run = run_portfolio(a.setup_ids, a.symbols, max(los), min(his), rules=rules, spread=a.spread,
                        commission=a.commission, charts=a.charts, html=a.charts)
    pf = run.result
    st, sa = stats_dict(pf.stats), stats_dict(pf.stats_all)
    currency = pf.currency
    lo, hi = str(pf.start.date()), str(pf.end.date())
    setups = list(dict.fromkeys(f"{r.setup.id} v{r.setup.version}" for r in pf.components))
    blocked = Counter(w.split(":")[0] for w in pf.blocked["blocked_by"]) if len(pf.blocked) else Counter()
    comp_rows = [[c["component"], int(c["trades"]), int(c["taken"]), int(c["blocked"]), fmt_r(c["total_r_all"]),
                  fmt_r(c["total_r"]), fmt_num(c["profit_factor"], 2), fmt_r(c["max_drawdown_r"], signed=False)]
                 for c in pf.by_component.to_dict("records")]
    pair_rows = [[p["a"], p["b"], _pct_cell(p["r"]),
                  DASH if not math.isfinite(p["ci_low"]) else f"[{p['ci_low']:+.2f}, {p['ci_high']:+.2f}]", int(p["days"])]
                 for p in pf.pairs.to_dict("records")]
    stopped = pf.days[pf.days["stopped"] != ""]["stopped"].value_counts().to_dict() if len(pf.days) else {}
    gov_text = "; ".join(rules.describe()) or "no governor limits"
    corr_text = "; ".join(f"{p['a']} × {p['b']} {_pct_cell(p['r'])}" for p in pf.pairs.to_dict("records")[:3])
    summary = (f"Portfolio {' + '.join(setups)} on {', '.join(a.symbols)}, {lo} → {hi} ({gov_text}): "
               f"{stats_line(st)}, max DD {fmt_r(st.get('Max Drawdown [R]'), signed=False)}"
               + (f"; the governor blocked {len(pf.blocked)} of {len(pf.candidates)} trades "
                  f"(without it {fmt_r(sa.get('Total R'))})" if len(pf.blocked) else "")
               + (f". Daily-R correlation: {corr_text} over {len(pf.daily)} days" if corr_text else "")
               + f"; run {run.run_id}.")
    artifacts = []
    for name, kind, caption in (("equity.png", "image", "Portfolio equity in R: governed, without the governor, each setup × symbol"),
                                ("correlation.png", "image", "Correlation of the setups' daily R"),
                                ("trades.csv", "file", "Portfolio trades (times UTC)"),
                                ("candidates.csv", "file", "Every trade with the governor's decision"),
                                ("report.html", "file", "Interactive portfolio report")):
        if name in run.artifacts:
            artifacts.append(Artifact(kind=kind, path=str(run.artifacts[name]), name=name, caption=caption))
    data = {"run_id": run.run_id, "setup_ids": a.setup_ids, "setups": setups, "symbols": a.symbols,
            "period": [lo, hi], "governor": rules.as_dict(), "governor_text": rules.describe(), "stats": st,
            "stats_all": sa, "currency": currency, "candidates": len(pf.candidates), "blocked": len(pf.blocked),
            "blocked_by": dict(blocked), "days_stopped": {str(k): int(v) for k, v in stopped.items()},
            "by_component": jsonable(pf.by_component.to_dict("records")),
            "correlation": jsonable(pf.pairs.to_dict("records")), "days": len(pf.daily), "run_dir": str(run.run_dir),
            "warnings": [w for w in (*warns, *run.warnings) if w]}
    tables = {"stats": compare_table(sa, st, "every trade", "governed", currency,
                                     title=f"Portfolio ({gov_text}) vs every trade"),
              "components": Table(columns=["setup · symbol", "trades", "taken", "blocked", "total R (all)",
                                           "total R (taken)", "PF", "max DD"], rows=comp_rows,
                                  title="By setup × symbol")}
    if pair_rows:
        tables["correlation"] = Table(columns=["setup", "with", "r", "95% interval", "days"], rows=pair_rows,
                                      title="Correlation of daily R (no governor)")
    if blocked:
        tables["blocked"] = Table(columns=["reason", "trades blocked"], rows=[[k, v] for k, v in blocked.most_common()],
                                  title="What the governor blocked")
    return ToolResult(tool="portfolio_backtest", summary=summary, data=data, tables=tables, artifacts=artifacts,
                      context={"setup_ids": a.setup_ids, "symbols": a.symbols, "start": lo, "end": hi,
                               "portfolio_run_id": run.run_id})
