"""``run_backtest``: the main job. Load data (importing the samples on first use), backtest, write the
run folder, record the run in SQLite, return the result with its run id and artifact paths.

Run folder ``$ITA_RUNS_DIR/<run_id>/``:

==================  ===========================================================================
``summary.json``    the seed's backtest-result schema (run_id, setup_id, symbol, period, trades_count,
                    winrate, avg_rr, max_drawdown, trades_csv, png_sample) plus every statistic,
                    setup version + hashes, overrides, costs, data fingerprint, by-month table
``trades.csv``      one row per trade (times UTC ISO-8601; prices; R; P&L in account currency)
``signals.csv``     every signal with its order status and detector evidence (``meta`` as JSON)
``by_month.csv``    monthly breakdown
``equity.png``      equity curve in R with drawdown
``trade_NNN.png``   sample trades annotated with the session range, FVG zone, entry/SL/TP and exit
``report.html``     interactive report (plotly, self-contained)
==================  ===========================================================================

The folder is built under a temporary name and renamed into place when complete; the SQLite rows are
written in one transaction after that. A failure leaves earlier runs untouched.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ita import __version__
from ita.backtest.core import BacktestResult, backtest
from ita.config import settings
from ita.data.instruments import get_instrument
from ita.data.store import SAMPLE_FILES, CandleStore
from ita.errors import DataError, ItaError
from ita.setups.evaluate import warmup
from ita.setups.loader import load_setup
from ita.store import RunStore, json_scalar, new_run_folder, run_folder


@dataclass
class Run:
    """A stored backtest run: the :class:`BacktestResult` plus ``run_id``, ``run_dir``, ``artifacts``
    (name → path), ``summary`` (the summary.json content) and ``warnings`` (e.g. PNG export skipped)."""

    run_id: str
    run_dir: Path
    result: BacktestResult
    artifacts: dict[str, Path]
    summary: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def stats(self) -> pd.Series:
        return self.result.stats

    @property
    def trades(self) -> pd.DataFrame:
        return self.result.trades


def _period(start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    except (ValueError, TypeError) as exc:
        raise ItaError(f"Bad period {start!r} → {end!r}: {exc}. Use dates like 2025-01-01.") from None
    if hi < lo:
        raise ItaError(f"The period ends ({hi.date()}) before it starts ({lo.date()}).")
    return lo.normalize(), hi.normalize()


def load_period_candles(store: CandleStore, loaded, symbol: str, start, end) -> pd.DataFrame:
    """The setup's candles for trading days ``start``…``end`` (dates, inclusive) with the history its
    detectors need before the first day (:func:`ita.setups.warmup`), so a backtest of any period gives the
    signals the whole history gives for it — and the live loop's bounded window agrees with both.

    Returns the canonical frame of the setup's timeframe (UTC index). Raises
    :class:`~ita.errors.DataError` when the store holds no bars of the period (naming the period).
    """
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    candles = store.load(symbol, loaded.setup.timeframe, lo - warmup(loaded.setup) - pd.Timedelta(days=1),
                         hi + pd.Timedelta(days=1, hours=23, minutes=59))
    tz = loaded.setup.timezone
    first_day = candles.index[0].tz_convert(tz).normalize().tz_localize(None)
    last_day = candles.index[-1].tz_convert(tz).normalize().tz_localize(None)
    if last_day < lo or first_day > hi:
        raise DataError(f"No {symbol} data in {lo.date()} → {hi.date()}.")
    return candles


def lower_timeframe_candles(store: CandleStore, loaded, symbol: str, candles: pd.DataFrame) -> pd.DataFrame | None:
    """The stored M1 candles over ``candles``' period when the setup resolves intrabar ambiguity on the lower
    timeframe (``execution.intrabar: lower_timeframe``, its timeframe above M1); None when it does not or no M1
    is stored for the period (the simulator then decides stop first)."""
    from ita.data.timeframes import tf_delta

    s = loaded.setup
    if s.execution.intrabar != "lower_timeframe" or s.timeframe == "M1" or not len(candles):
        return None
    if "M1" not in store.stored_timeframes(symbol):
        return None
    try:
        return store.load(symbol, "M1", candles.index[0], candles.index[-1] + tf_delta(s.timeframe))
    except DataError:
        return None


def fingerprint(candles: pd.DataFrame) -> str:
    """SHA-256 (16 hex) of the candles' times and OHLC: same data ⇔ same fingerprint."""
    h = hashlib.sha256(candles.index.as_unit("ns").asi8.tobytes())
    for c in ("open", "high", "low", "close"):
        h.update(np.ascontiguousarray(candles[c].to_numpy(dtype="float64")).tobytes())
    return h.hexdigest()[:16]


def data_changed(run: dict) -> str | None:
    """Whether the candles a stored run used (``run``: a row of :meth:`ita.store.RunStore.get_run` with
    ``setup_id``, ``setup_version``, ``overrides``, ``symbol``, ``start``, ``end``, ``data_fingerprint``) are
    still the stored ones: ``None`` when the fingerprint matches, else a one-line note with both fingerprints
    (the series was replaced or restored since, see ``ita data history``). Never raises: a setup or data that
    is gone is said so."""
    try:
        over = run.get("overrides")
        over = json.loads(over) if isinstance(over, str) and over.strip().startswith("{") else (over or None)
        loaded = load_setup(run["setup_id"], run["setup_version"], over if isinstance(over, dict) else None)
        candles = load_period_candles(CandleStore(), loaded, run["symbol"], run["start"], run["end"])
    except ItaError as exc:
        return f"cannot check the data against the run: {exc}"
    now = fingerprint(candles)
    if now == run.get("data_fingerprint"):
        return None
    return (f"the stored {run['symbol']} candles changed since this run (data {run.get('data_fingerprint')} then, "
            f"{now} now): re-run it to compare; `ita data history {run['symbol']}` lists kept versions")


def pick_samples(trades: pd.DataFrame, n: int) -> list[int]:
    """Up to ``n`` trade numbers for sample charts: winners and losers, spread evenly over the period."""
    if n <= 0 or len(trades) == 0:
        return []
    wins = trades[trades["r"] > 0]["trade"].tolist()
    rest = trades[trades["r"] <= 0]["trade"].tolist()
    k_w = min(len(wins), max(n // 2, n - len(rest)))
    k_l = min(len(rest), n - k_w)

    def spread(xs, k):
        return [xs[int(i)] for i in np.linspace(0, len(xs) - 1, k).round()] if k else []

    return sorted(set(spread(wins, k_w) + spread(rest, k_l)))


def _csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.DatetimeTZDtype):
            out[c] = out[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif out[c].dtype == object and len(out) and isinstance(out[c].iloc[0], dict):
            out[c] = out[c].map(lambda d: json.dumps(d, default=str))
    return out


def run_backtest(setup_id: str, symbol: str, start="2025-01-01", end="2025-12-31", *, version=None,
                 params: dict | None = None, spread: float | str | None = None, commission: float | None = None,
                 charts: bool = True, samples: int = 6, html: bool = True, session: str | None = None,
                 progress: Callable[[str], None] | None = None,
                 on_result: Callable[[BacktestResult], None] | None = None) -> Run:
    """Backtest ``setup_id`` on ``symbol`` for trading days ``start``…``end`` (inclusive) and store the run.

    ``version`` None = latest; ``params`` one-off overrides (``{"rr": 3}``) that never change the stored
    YAML; ``spread`` in pips (None = the instrument's typical spread, ``"data"`` = the candles' own);
    ``commission`` round-turn per lot in account currency; ``charts`` write PNGs (needs Chromium);
    ``samples`` how many trade PNGs; ``html`` write the interactive report; ``session`` keep only the
    signals completed inside that session/killzone (e.g. ``"london_killzone"``); ``progress`` receives
    one-line status messages; ``on_result`` receives the :class:`BacktestResult` the moment the simulation
    ends, before the run folder, the PNGs and the HTML report are written (the CLI prints the statistics
    there and the chat answers with them, so the trader reads them while the charts render); its
    ``extra["run_id"]`` / ``extra["run_dir"]`` say where the run will be stored once complete.

    Charts are off the critical path: with ``charts`` the PNG renderer (:func:`ita.charts.export.warm_up`) starts
    in the background first thing, while the candles load and the simulation runs; the PNGs are then rendered in
    one concurrent call while the HTML report is built beside them.

    Raises :class:`~ita.errors.ItaError` subclasses for an unknown setup/symbol, bad period, missing data.
    """
    say = progress or (lambda _m: None)
    if charts:
        from ita.charts.export import warm_up

        warm_up(tabs=1)  # Chromium starts while the data loads and the simulation runs (no-op when warm)
    loaded = load_setup(setup_id, version, params)
    inst = get_instrument(symbol)
    lo, hi = _period(start, end)
    store = CandleStore()
    if inst.symbol in SAMPLE_FILES and "M5" not in store.stored_timeframes(inst.symbol):
        store.ensure_samples([inst.symbol], log=say)
    say(f"Loading {inst.symbol} {loaded.setup.timeframe} candles {lo.date()} → {hi.date()} "
        f"(+ {warmup(loaded.setup).days} days of warm-up)")
    candles = load_period_candles(store, loaded, inst.symbol, lo, hi)
    first_day = candles.index[0].tz_convert(loaded.setup.timezone).normalize().tz_localize(None)
    last_day = candles.index[-1].tz_convert(loaded.setup.timezone).normalize().tz_localize(None)
    lower = lower_timeframe_candles(store, loaded, inst.symbol, candles)
    if lower is not None:
        say(f"Intrabar: {len(lower):,} M1 bars resolve bars that touch both stop and target")
    say(f"Running {loaded.label}: detectors {', '.join(loaded.setup.detector_kinds)} → signals → simulation")
    res = backtest(loaded, candles, inst.symbol, start=lo, end=hi, spread_pips=spread, commission_per_lot=commission,
                   session=session, lower=lower)
    run_id, tmp, final, created = new_run_folder("bt", f"{loaded.effective_hash}{inst.symbol}{lo}{hi}{res.model}{session}")
    if on_result is not None:
        res.extra["run_id"], res.extra["run_dir"] = run_id, final  # where the run will be stored when complete
        on_result(res)

    warnings: list[str] = []
    artifacts: dict[str, Path] = {}
    coverage = (candles.index[0], candles.index[-1])
    if first_day > lo or last_day < hi:
        warnings.append(f"Data covers {coverage[0]:%Y-%m-%d %H:%M} → {coverage[1]:%Y-%m-%d %H:%M} UTC, "
                        f"not the whole requested period {lo.date()} → {hi.date()}.")
    with run_folder(tmp, final):
        risk = loaded.setup.risk
        trades = res.trades.copy()
        if len(trades):
            trades["pnl"] = trades["r"] * risk.account * risk.risk_pct / 100.0
        trades.insert(1, "symbol", inst.symbol)
        trades.insert(2, "setup_id", loaded.id)
        trades.insert(3, "setup_version", loaded.version)
        _csv_frame(trades).to_csv(tmp / "trades.csv", index=False)
        _csv_frame(res.signals).to_csv(tmp / "signals.csv", index=False)
        res.by_month.to_csv(tmp / "by_month.csv")
        for name in ("trades.csv", "signals.csv", "by_month.csv"):
            artifacts[name] = final / name
        png_sample = None
        if charts or html:
            png_sample = _charts(res, candles, tmp, final, artifacts, warnings, charts, samples, html, say, run_id)
        stats = {k: json_scalar(v) for k, v in res.stats.items()}
        summary = {
            "run_id": run_id,
            "setup_id": loaded.id,
            "symbol": inst.symbol,
            "period": [str(lo.date()), str(hi.date())],
            "trades_count": int(res.stats["Trades"]),
            "winrate": None if not res.stats["Trades"] else round(res.stats["Win Rate [%]"] / 100.0, 6),
            "avg_rr": json_scalar(res.stats["Avg RR [R]"]),
            "max_drawdown": round(res.stats["Max Drawdown [%]"] / 100.0, 6),
            "trades_csv": str(final / "trades.csv"),
            "png_sample": str(png_sample) if png_sample else None,
            "setup_version": loaded.version,
            "setup_hash": loaded.content_hash,
            "effective_hash": loaded.effective_hash,
            "setup_file": str(loaded.path),
            "overrides": loaded.overrides,
            "session_filter": session,
            "timeframe": loaded.setup.timeframe,
            "spread_pips": "data" if res.model.spread_pips is None else res.model.spread_pips,
            "commission_per_lot": res.model.commission_per_lot,
            "intrabar": loaded.setup.execution.intrabar,
            "intrabar_resolution": res.extra["intrabar"]["how"],
            "data_fingerprint": fingerprint(candles),
            "data_coverage": [coverage[0].isoformat(), coverage[1].isoformat()],
            "stats": stats,
            "by_month": json.loads(res.by_month.to_json(orient="index")),
            "artifacts": {k: str(v) for k, v in artifacts.items()},
            "warnings": warnings,
            "created_at": created.isoformat(timespec="seconds"),
            "ita_version": __version__,
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        artifacts = {"summary.json": final / "summary.json", **artifacts}
    row = {
        "run_id": run_id, "created_at": summary["created_at"], "setup_id": loaded.id, "setup_version": loaded.version,
        "setup_hash": loaded.content_hash, "effective_hash": loaded.effective_hash,
        "overrides": json.dumps(loaded.overrides), "session_filter": session or "", "symbol": inst.symbol, "timeframe": loaded.setup.timeframe,
        "start": str(lo.date()), "end": str(hi.date()), "spread": str(summary["spread_pips"]),
        "commission_per_lot": res.model.commission_per_lot, "data_fingerprint": summary["data_fingerprint"],
        "run_dir": str(final), "trades_count": summary["trades_count"], "winrate": summary["winrate"],
        "total_r": stats["Total R"], "profit_factor": stats["Profit Factor"], "max_drawdown_r": stats["Max Drawdown [R]"],
        "stats": json.dumps(stats),
    }
    try:
        RunStore().record_run(row, trades, res.signals)
    except Exception as exc:
        warnings.append(f"The run folder is complete but recording it in {settings().db_path} failed: {exc}")
    return Run(run_id=run_id, run_dir=final, result=res, artifacts=artifacts, summary=summary, warnings=warnings)


def _charts(res: BacktestResult, candles, tmp: Path, final: Path, artifacts: dict, warnings: list, charts: bool,
            samples: int, html: bool, say, run_id: str):
    """Write equity/trade PNGs and the HTML report; failures become warnings, never a lost run.

    The PNGs go to the renderer in one call (a worker thread waits for it) while this thread builds the HTML
    report: Chromium and Python work side by side."""
    from concurrent.futures import ThreadPoolExecutor

    from ita.charts.export import render_pngs
    from ita.charts.figures import NO_TEMPLATE, equity_spec, trade_spec
    from ita.charts.report import report_html

    inst = get_instrument(res.symbol)
    title = f"{res.setup.label} · {res.symbol} · {res.start.date()} → {res.end.date()}"
    names: list[str] = []
    pngs: dict[str, Path] = {}
    with ThreadPoolExecutor(1, thread_name_prefix="ita-png") as pool:
        job = None
        if charts:
            try:
                specs = [equity_spec(res.equity, res.stats, title)]
                names.append("equity.png")
                sig_by_id = res.signals.set_index("signal_id")
                for n in pick_samples(res.trades, samples):
                    tr = res.trades[res.trades["trade"] == n].iloc[0]
                    sg = sig_by_id.loc[tr["signal_id"]].to_dict()
                    sg["signal_id"] = tr["signal_id"]
                    spec = trade_spec(candles, tr.to_dict(), sg, f"{res.setup.label} · {res.symbol} · trade {n}",
                                      inst.pip_size)
                    spec["layout"] = {**spec["layout"], "template": NO_TEMPLATE}  # as trade_figure().to_dict() has it
                    specs.append(spec)
                    names.append(f"trade_{n:03d}.png")
                say(f"Rendering {len(names)} PNGs (equity curve + {len(names) - 1} sample trades)"
                    + (" and the HTML report" if html else ""))
                job = pool.submit(render_pngs, specs, [tmp / name for name in names])
            except (ItaError, ValueError) as exc:
                warnings.append(f"PNG charts skipped: {exc}")
        report = None
        if html:
            try:
                if job is None:
                    say("Writing interactive HTML report")
                report_html(candles, res.trades, res.signals, res.equity, res.stats, title, tmp / "report.html")
                report = final / "report.html"
            except ItaError as exc:
                warnings.append(f"HTML report skipped: {exc}")
        if job is not None:
            try:
                job.result()
            except ItaError as exc:
                warnings.append(f"PNG charts skipped: {exc}")
        for name in names:
            if (tmp / name).is_file():
                pngs[name] = final / name
    artifacts.update(pngs)
    if report is not None:
        artifacts["report.html"] = report
    return next((p for name, p in pngs.items() if name.startswith("trade_")), None)
