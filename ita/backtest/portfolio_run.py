"""``run_portfolio``: load the candles, backtest every setup × symbol, trade them together under the governor,
write the run folder and record the run in SQLite (:class:`ita.store.portfolio.PortfolioStore`).

Run folder ``$ITA_RUNS_DIR/<pf_run_id>/``:

=====================  ======================================================================================
``summary.json``       components (setup id, version, hash, symbol), period, governor rules, statistics of the
                       governed portfolio and of every trade, per component, correlation pairs, data
                       fingerprints, costs, warnings
``trades.csv``         the taken trades in fill order (times UTC ISO-8601; ``component``, ``r``, ``pnl``)
``candidates.csv``     every component trade with ``taken`` and ``blocked_by`` (the governor's reason)
``governor_days.csv``  per governor day: candidates, taken, blocked, total R, what the blocked would have made,
                       why the day stopped
``daily_r.csv``        R per day per setup (no governor) — the input of the correlation
``correlation.csv``    each pair: Pearson r, 95 % interval, days
``by_component.csv``   per setup × symbol: trades, taken, blocked, total R with / without the governor
``equity.png``         the governed portfolio, every trade without the governor, each component
``correlation.png``    the daily-R correlation heatmap
``report.html``        both charts and the tables, interactive, offline
=====================  ======================================================================================

Built under a temporary name and renamed into place; the SQLite rows are written in one transaction after.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ita import __version__
from ita.backtest.core import backtest
from ita.backtest.governor import GovernorRules
from ita.backtest.portfolio import PortfolioResult, component_key, portfolio_backtest
from ita.backtest.runner import fingerprint, load_period_candles
from ita.config import settings
from ita.data.instruments import get_instrument
from ita.data.store import SAMPLE_FILES, CandleStore
from ita.errors import ItaError, SetupError
from ita.store import json_scalar, new_run_folder, run_folder

MAX_COMPONENTS = 40


def parse_setup_ref(ref: str) -> tuple[str, int | None]:
    """``"fvg_reversal@2"`` / ``"fvg_reversal:v2"`` / ``"fvg_reversal v2"`` → ``("fvg_reversal", 2)``;
    ``"asia_sweep"`` → ``("asia_sweep", None)`` (the latest version). Raises :class:`SetupError`."""
    s = str(ref).strip()
    m = re.fullmatch(r"([A-Za-z0-9_]+)\s*(?:[@:]\s*|\s+)[vV]?(\d+)", s)
    if m:
        return m.group(1), int(m.group(2))
    if re.fullmatch(r"[A-Za-z0-9_]+", s):
        return s, None
    raise SetupError(f"Bad setup reference {ref!r}: use an id, or id@N for a version, e.g. fvg_reversal@2.")


def split_list(values) -> list[str]:
    """``["a,b", "c"]`` / ``"a, b"`` → ``["a", "b", "c"]`` (empty parts dropped, order kept, duplicates removed)."""
    items = [values] if isinstance(values, str) else list(values or [])
    out: list[str] = []
    for v in items:
        out += [x.strip() for x in str(v).split(",") if x.strip()]
    return list(dict.fromkeys(out))


@dataclass
class PortfolioRun:
    """A stored portfolio run: ``run_id`` (``pf_…``), ``run_dir``, the :class:`PortfolioResult`, ``artifacts``
    (name → path), ``summary`` (summary.json) and ``warnings`` (charts skipped, data not covering the period)."""

    run_id: str
    run_dir: Path
    result: PortfolioResult
    artifacts: dict[str, Path]
    summary: dict
    warnings: list[str] = field(default_factory=list)


def _csv(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def run_portfolio(setups, symbols, start="2025-01-01", end="2025-12-31", *, rules: GovernorRules | None = None,
                  spread: float | str | None = None, commission: float | None = None, charts: bool = True,
                  html: bool = True, progress: Callable[[str], None] | None = None) -> PortfolioRun:
    """Backtest every setup in ``setups`` (ids, ``id@N`` for a version) on every symbol in ``symbols`` for trading
    days ``start``…``end`` (inclusive), trade them together under ``rules`` and store the run.

    ``spread`` / ``commission`` as in :func:`ita.backtest.runner.run_backtest` (None = each instrument's typical).
    Raises :class:`ItaError` subclasses for an unknown setup or symbol, a bad period, data missing for the period,
    or more than :data:`MAX_COMPONENTS` setup × symbol combinations.
    """
    from ita.setups.loader import load_setup

    say = progress or (lambda _m: None)
    rules = rules or GovernorRules()
    refs, syms = split_list(setups), [get_instrument(s).symbol for s in split_list(symbols)]
    if not refs:
        raise ItaError("Name the setups of the portfolio, e.g. --portfolio asia_fvg_break,asia_sweep.")
    if not syms:
        raise ItaError("Name the symbols of the portfolio, e.g. --symbols EURUSD,XAUUSD.")
    if len(refs) * len(syms) > MAX_COMPONENTS:
        raise ItaError(f"{len(refs)} setups × {len(syms)} symbols = {len(refs) * len(syms)} combinations; at most "
                       f"{MAX_COMPONENTS} in one portfolio.")
    loaded = [load_setup(*parse_setup_ref(r)) for r in refs]
    try:
        lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    except (ValueError, TypeError) as exc:
        raise ItaError(f"Bad period {start!r} → {end!r}: {exc}. Use dates like 2025-01-01.") from None
    if hi < lo:
        raise ItaError(f"The period ends ({hi.date()}) before it starts ({lo.date()}).")
    store = CandleStore()
    want = [s for s in syms if s in SAMPLE_FILES and "M5" not in store.stored_timeframes(s)]
    if want:
        store.ensure_samples(want, log=say)
    frames, prints, warnings = [], {}, []
    for ls in loaded:
        for sym in syms:
            frames.append((ls, sym, load_period_candles(store, ls, sym, lo, hi)))
            prints[f"{sym} {ls.setup.timeframe}"] = fingerprint(frames[-1][2])
    # the period every component has data for (a day of daily R without data would count as 0 R)
    first = max(c.index[0].tz_convert(ls.setup.timezone).normalize().tz_localize(None) for ls, _, c in frames)
    last = min(c.index[-1].tz_convert(ls.setup.timezone).normalize().tz_localize(None) for ls, _, c in frames)
    used_lo, used_hi = max(lo, first), min(hi, last)
    if used_hi < used_lo:
        raise ItaError(f"The symbols have no common data in {lo.date()} → {hi.date()}: "
                       + ", ".join(f"{sym} {c.index[0]:%Y-%m-%d} → {c.index[-1]:%Y-%m-%d}" for _, sym, c in frames[:len(syms)])
                       + " (UTC).")
    if (used_lo, used_hi) != (lo, hi):
        warnings.append(f"Data for every symbol covers {used_lo.date()} → {used_hi.date()}, not the whole period "
                        f"{lo.date()} → {hi.date()}: the portfolio used {used_lo.date()} → {used_hi.date()}.")
        lo, hi = used_lo, used_hi
    results = []
    for ls, sym, candles in frames:
        say(f"Backtesting {ls.label} on {sym} {lo.date()} → {hi.date()}")
        results.append(backtest(ls, candles, sym, start=lo, end=hi, spread_pips=spread, commission_per_lot=commission))
    say("Trading them together under the governor" + (f" ({', '.join(rules.describe())})" if rules.active else ""))
    pf = portfolio_backtest(results, rules)
    key = "".join(f"{r.setup.effective_hash}{r.symbol}" for r in results) + f"{lo}{hi}{rules}{spread}{commission}"
    run_id, tmp, final, created = new_run_folder("pf", key)
    artifacts: dict[str, Path] = {}
    with run_folder(tmp, final):
        trades = pf.trades.copy()
        if len(trades):
            trades["pnl"] = trades["r"] * pf.account * trades["risk_pct"] / 100.0
        files = {"trades.csv": trades, "candidates.csv": pf.candidates,
                 "governor_days.csv": pf.days.reset_index(), "daily_r.csv": pf.daily.reset_index(),
                 "correlation.csv": pf.pairs, "by_component.csv": pf.by_component}
        for name, df in files.items():
            _csv(df).to_csv(tmp / name, index=False)
            artifacts[name] = final / name
        if charts or html:
            _charts(pf, tmp, final, artifacts, warnings, charts, html, say)
        stats = {k: json_scalar(v) for k, v in pf.stats.items()}
        stats_all = {k: json_scalar(v) for k, v in pf.stats_all.items()}
        comps = [{"setup_id": r.setup.id, "setup_version": r.setup.version, "setup_hash": r.setup.content_hash,
                  "symbol": r.symbol} for r in results]
        pairs = [{k: json_scalar(v) for k, v in p.items()} for p in pf.pairs.to_dict("records")]
        spread_used = sorted({"data" if r.model.spread_pips is None else r.model.spread_pips for r in results}, key=str)
        summary = {
            "run_id": run_id, "kind": "portfolio", "components": comps, "setups": refs, "symbols": syms,
            "period": [str(lo.date()), str(hi.date())], "governor": rules.as_dict(),
            "governor_text": rules.describe(), "stats": stats, "stats_all": stats_all,
            "blocked": int((~pf.candidates["taken"]).sum()) if len(pf.candidates) else 0,
            "by_component": json.loads(pf.by_component.to_json(orient="records")),
            "correlation": pairs, "account": pf.account, "currency": pf.currency,
            "spread_pips": spread_used if len(spread_used) > 1 else spread_used[0],
            "commission_per_lot": commission, "data_fingerprints": prints,
            "artifacts": {k: str(v) for k, v in artifacts.items()}, "warnings": warnings + pf.notes,
            "created_at": created.isoformat(timespec="seconds"), "ita_version": __version__,
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        artifacts = {"summary.json": final / "summary.json", **artifacts}
    row = {"run_id": run_id, "created_at": summary["created_at"], "components": comps,
           "setups": ",".join(f"{ls.id}@{ls.version}" for ls in loaded), "symbols": ",".join(syms),
           "start": str(lo.date()), "end": str(hi.date()), "governor": rules.as_dict(),
           "spread": str(summary["spread_pips"]), "commission_per_lot": commission, "data_fingerprints": prints,
           "run_dir": str(final), "trades_count": int(pf.stats["Trades"]), "total_r": stats["Total R"],
           "profit_factor": stats["Profit Factor"], "max_drawdown_r": stats["Max Drawdown [R]"],
           "blocked": summary["blocked"], "stats": stats, "stats_all": stats_all, "correlation": pairs}
    try:
        from ita.store.portfolio import PortfolioStore

        PortfolioStore().record(row, trades)
    except Exception as exc:  # noqa: BLE001 - the folder is complete; say what failed
        warnings.append(f"The run folder is complete but recording it in {settings().db_path} failed: {exc}")
    return PortfolioRun(run_id=run_id, run_dir=final, result=pf, artifacts=artifacts, summary=summary,
                        warnings=warnings + pf.notes)


def _charts(pf: PortfolioResult, tmp: Path, final: Path, artifacts: dict, warnings: list, charts: bool, html: bool,
            say) -> None:
    """equity.png, correlation.png and report.html; a failure becomes a warning, never a lost run."""
    from ita.backtest.stats import equity_curve
    from ita.charts import render_pngs
    from ita.charts.portfolio import correlation_figure, portfolio_equity_figure, portfolio_report_html
    from ita.format import fmt_num, fmt_r

    names = ", ".join(dict.fromkeys(f"{r.setup.id} v{r.setup.version}" for r in pf.components))
    syms = ", ".join(dict.fromkeys(r.symbol for r in pf.components))
    period = f"{pf.start.date()} → {pf.end.date()}"
    st, sa = pf.stats, pf.stats_all
    sub = (f"{int(st['Trades'])} trades, {fmt_r(st['Total R'])}, PF {fmt_num(st['Profit Factor'], 2)}, max DD "
           f"{fmt_r(st['Max Drawdown [R]'], signed=False)} · without the governor: {int(sa['Trades'])} trades, "
           f"{fmt_r(sa['Total R'])} · {'; '.join(pf.rules.describe()) or 'no governor limits'}")
    comps = {}
    for r in pf.components:
        t = pf.candidates[pf.candidates["component"] == component_key(r)]
        t = t.sort_values("exit_known", kind="stable") if len(t) else t
        comps[component_key(r)] = equity_curve(t, pf.account, 1.0)
    eq = portfolio_equity_figure(pf.equity, pf.equity_all, comps, f"Portfolio · {names} · {syms} · {period}", sub,
                                 start=pf.start)
    days = int(pf.pairs["days"].iloc[0]) if len(pf.pairs) else len(pf.daily)
    cf = correlation_figure(pf.correlation, pf.pairs, "Correlation of daily R (no governor)",
                            f"Pearson r per pair over {days} days, 95 % interval in brackets · {period}")
    if charts:
        try:
            say("Rendering the equity and correlation charts (PNG)")
            render_pngs([eq, cf], [tmp / "equity.png", tmp / "correlation.png"], sizes=[(1400, 800), (900, 700)])
        except ItaError as exc:
            warnings.append(f"PNG charts skipped: {exc}")
        for name in ("equity.png", "correlation.png"):  # one may have rendered when the other failed
            if (tmp / name).is_file():
                artifacts[name] = final / name
    if html:
        try:
            say("Writing the interactive HTML report")
            comp = pf.by_component.copy()
            for c in ("total_r_all", "total_r", "max_drawdown_r"):
                comp[c] = comp[c].map(lambda v: f"{v:+.2f}")
            comp["profit_factor"] = comp["profit_factor"].map(lambda v: fmt_num(v, 2))
            blocked = pf.blocked[["component", "entry_time", "r", "blocked_by"]].copy()
            blocked["entry_time"] = pd.DatetimeIndex(blocked["entry_time"]).tz_convert("America/New_York").strftime("%Y-%m-%d %H:%M")
            blocked["r"] = blocked["r"].map(lambda v: f"{v:+.2f}")
            portfolio_report_html(f"Portfolio · {names} · {syms}", f"{period} · {sub}", [eq, cf],
                                  {"By setup × symbol": comp,
                                   "Trades the governor blocked (entry New York)": blocked.rename(
                                       columns={"entry_time": "entry (NY)", "r": "R it would have made"})},
                                  tmp / "report.html")
            artifacts["report.html"] = final / "report.html"
        except ItaError as exc:
            warnings.append(f"HTML report skipped: {exc}")
