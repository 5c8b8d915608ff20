"""Promotion gates: the metrics a setup version must show before it goes live, as data (``setups/gates.yaml``)
over a registry of metric functions (:data:`METRICS`, one per gate).

A gate is ``metric op threshold`` (``>=`` or ``<=``). Its result is ``pass``, ``fail``, ``not measured``
(the number does not exist yet — e.g. no walk-forward was run; **not passed**) or ``n/a`` (nothing to compare
with — e.g. no active setup yet for the portfolio gates; passes). Each result carries the value, the
threshold, the margin (how far it passes or fails, in the metric's unit) and how it was measured.

The measurements (:class:`Evaluation`): the version is backtested on the evaluation symbols and period
(``gates.yaml`` ``evaluation``; default the setup's own ``symbols`` that have stored data, all stored days)
with each instrument's typical spread and commission; its trades on all symbols form one series in exit
order. The **active portfolio** is every *other* setup's active version (same file hash as when promoted),
backtested on the same symbols and period.

=============================  ======  ==================================================================
metric                         unit    what
=============================  ======  ==================================================================
``profit_factor``              PF      gross winning R / gross losing R of the evaluation backtest
``trades_after_costs``         trades  trades of the evaluation backtest (spread and commission included)
``max_drawdown_vs_portfolio``  ×       max drawdown [R] / the active setups' mean max drawdown [R]
``correlation_with_portfolio`` r       Pearson r of daily R with the active portfolio's daily R
                                       (every weekday, 0 R without trades; 95 % Fisher-z interval shown)
``walk_forward_pf``            PF      out-of-sample PF of the walk-forward (:mod:`ita.promotion.research`)
``deflated_sharpe``            p       deflated Sharpe ratio of the sweep (Bailey & López de Prado, 2014)
``pbo``                        p       probability of backtest overfitting, CSCV (Bailey et al., 2015)
=============================  ======  ==================================================================

Example::

    >>> from ita.promotion.gates import evaluate_gates, load_gates
    >>> from ita.setups import load_setup
    >>> report = evaluate_gates(load_setup("asia_fvg_break", 1), load_gates())         # doctest: +SKIP
    >>> [(g.name, g.result) for g in report.gates][:2]                                  # doctest: +SKIP
    [('pf_in_sample', 'fail'), ('pf_out_of_sample', 'not measured')]
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Literal, NamedTuple

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ita.config import REPO_ROOT, settings
from ita.errors import ItaError, closest
from ita.promotion.status import with_status


# ---------------------------------------------------------------------------------------------- measurements

@dataclass(frozen=True)
class Measure:
    """One metric's outcome: ``value`` (None unless ``status`` is ``measured``), ``status`` (``measured`` |
    ``not_measured`` | ``not_applicable``), ``detail`` (how it was measured, one line) and ``hint`` (what to
    run to measure it)."""

    value: float | None
    status: Literal["measured", "not_measured", "not_applicable"] = "measured"
    detail: str = ""
    hint: str = ""


class Metric(NamedTuple):
    """A registered gate metric: ``name``, ``unit`` (``pf`` | ``count`` | ``ratio`` | ``r`` | ``p``), ``label``,
    ``fn(evaluation) -> Measure``."""

    name: str
    unit: str
    label: str
    fn: Callable[["Evaluation"], Measure]


#: The metric registry: name → :class:`Metric`. ``gates.yaml`` names these.
METRICS: dict[str, Metric] = {}


def metric(name: str, unit: str, label: str):
    """Register ``fn(evaluation) -> Measure`` as the gate metric ``name`` (its docstring documents it)."""
    def deco(fn):
        METRICS[name] = Metric(name, unit, label, fn)
        return fn
    return deco


class Evaluation:
    """What the gate metrics measure, computed once each when first needed: the version's backtests on
    ``symbols`` for ``start``…``end`` (New York dates) and the active portfolio's (``portfolio``: loaded
    setups; None = read the active versions from the promotion store)."""

    def __init__(self, loaded, symbols: list[str], start: str, end: str, portfolio: list | None = None, store=None,
                 progress: Callable[[str], None] | None = None):
        self.loaded, self.symbols, self.start, self.end = loaded, list(symbols), start, end
        self._portfolio, self._store = portfolio, store
        self.say = progress or (lambda _m: None)

    def _backtests(self, loaded) -> list:
        from ita.backtest.core import backtest
        from ita.backtest.runner import load_period_candles
        from ita.data.store import CandleStore

        store = self._store or CandleStore()
        out = []
        for sym in self.symbols:
            self.say(f"Backtesting {loaded.label} on {sym} {self.start} → {self.end}")
            candles = load_period_candles(store, loaded, sym, self.start, self.end)
            out.append(backtest(loaded, candles, sym, start=self.start, end=self.end))
        return out

    @staticmethod
    def _combined(results) -> tuple[pd.DataFrame, pd.Series]:
        from ita.backtest.portfolio import merge_trades
        from ita.backtest.stats import compute_stats

        t = merge_trades(results)
        t = t.sort_values(["exit_known", "entry_time"], kind="stable") if len(t) else t
        st = compute_stats(t, start=results[0].start, end=results[0].end)
        return t, st

    def _daily(self, trades: pd.DataFrame) -> pd.Series:
        from ita.backtest.portfolio import daily_r

        d = daily_r(trades.assign(all="all") if len(trades) else trades, "all", self.start, self.end)
        return d["all"] if "all" in d.columns else pd.Series(0.0, index=d.index)

    @cached_property
    def results(self) -> list:
        """The version's backtest per symbol."""
        return self._backtests(self.loaded)

    @cached_property
    def _own(self) -> tuple[pd.DataFrame, pd.Series]:
        return self._combined(self.results)

    @property
    def trades(self) -> pd.DataFrame:
        """The version's trades on every symbol, in exit order."""
        return self._own[0]

    @property
    def stats(self) -> pd.Series:
        """Statistics of :attr:`trades` (:func:`ita.backtest.stats.compute_stats`)."""
        return self._own[1]

    @cached_property
    def portfolio(self) -> list:
        """The active versions of the other setups (loaded), the portfolio the version is compared with."""
        if self._portfolio is not None:
            return [p for p in self._portfolio if p.id != self.loaded.id]
        from ita.setups.loader import load_setup
        from ita.store.promotions import PromotionStore

        out = []
        for sid, v, h in with_status("active", PromotionStore().path):
            if sid == self.loaded.id:
                continue
            try:
                ls = load_setup(sid, v)
            except ItaError:
                continue                  # a deleted file is not part of the portfolio
            if ls.content_hash == h:
                out.append(ls)
        return out

    @cached_property
    def portfolio_stats(self) -> list[tuple[str, pd.Series, pd.DataFrame]]:
        """``(label, statistics, trades)`` of each active portfolio setup on the same symbols and period."""
        return [(f"{ls.id} v{ls.version}", *self._combined(self._backtests(ls))[::-1]) for ls in self.portfolio]

    def where(self) -> str:
        return f"{', '.join(self.symbols)} {self.start} → {self.end}"

    def research(self):
        from ita.promotion.research import research_metrics

        return research_metrics(self.loaded.id, self.loaded.version, self.loaded.content_hash, self.symbols,
                                self.start, self.end)


@metric("profit_factor", "pf", "profit factor (in-sample)")
def _profit_factor(ev: Evaluation) -> Measure:
    """Gross winning R / gross losing R of the version's evaluation backtest (all symbols, with costs). No
    trades → 0; no losing trade → ∞."""
    st = ev.stats
    n = int(st["Trades"])
    pf = float(st["Profit Factor"]) if n else 0.0
    return Measure(pf, detail=f"{n} trades, total {st['Total R']:+.2f}R on {ev.where()}")


@metric("trades_after_costs", "count", "trades after costs")
def _trades(ev: Evaluation) -> Measure:
    """Trades of the evaluation backtest, each with the instrument's typical spread and commission."""
    per = ", ".join(f"{r.symbol} {len(r.trades)}" for r in ev.results)
    return Measure(float(len(ev.trades)), detail=f"{per} in {ev.start} → {ev.end}")


@metric("max_drawdown_vs_portfolio", "ratio", "max drawdown vs the portfolio")
def _max_dd(ev: Evaluation) -> Measure:
    """The version's max drawdown [R] (all symbols, exit order) divided by the mean max drawdown [R] of the active
    portfolio's setups on the same symbols and period. n/a without active setups."""
    if not ev.portfolio:
        return Measure(None, "not_applicable", "no active setup yet: nothing to compare with")
    mine = float(ev.stats["Max Drawdown [R]"])
    dds = [float(st["Max Drawdown [R]"]) for _, st, _ in ev.portfolio_stats]
    mean = float(np.mean(dds))
    ratio = (mine / mean) if mean > 0 else (0.0 if mine == 0 else math.inf)
    return Measure(ratio, detail=f"max DD {mine:.2f}R vs the active setups' mean {mean:.2f}R "
                                 f"({', '.join(f'{lbl} {d:.2f}R' for (lbl, _, _), d in zip(ev.portfolio_stats, dds))})")


@metric("correlation_with_portfolio", "r", "correlation with the portfolio")
def _correlation(ev: Evaluation) -> Measure:
    """Pearson r of the version's daily R with the active portfolio's daily R (sum of its setups), every weekday
    of the period (0 R without trades), on the same symbols; the detail gives the 95 % Fisher-z interval.
    n/a without active setups; not measured when either side never traded."""
    from ita.backtest.portfolio import correlation_ci

    if not ev.portfolio:
        return Measure(None, "not_applicable", "no active setup yet: nothing to compare with")
    mine = ev._daily(ev.trades)
    other = sum((ev._daily(t) for _, _, t in ev.portfolio_stats), start=pd.Series(0.0, index=mine.index))
    mine, other = mine.align(other, fill_value=0.0)
    if mine.std() == 0 or other.std() == 0:
        return Measure(None, "not_measured", "no trades on one side: no correlation", "")
    r = float(np.corrcoef(mine.to_numpy(), other.to_numpy())[0, 1])
    lo, hi = correlation_ci(r, len(mine))
    names = ", ".join(lbl for lbl, _, _ in ev.portfolio_stats)
    return Measure(r, detail=f"95 % interval [{lo:+.2f}, {hi:+.2f}] over {len(mine)} days, vs {names}")


def _research(ev: Evaluation, attr: str, hint: str) -> Measure:
    rm = ev.research()
    v = getattr(rm, attr)
    if v is None:
        return Measure(None, "not_measured", "not measured", hint)
    return Measure(float(v), detail=rm.source)


@metric("walk_forward_pf", "pf", "profit factor out of sample (walk-forward)")
def _wf_pf(ev: Evaluation) -> Measure:
    """Profit factor of the walk-forward's concatenated out-of-sample trades (:mod:`ita.promotion.research`)."""
    return _research(ev, "walk_forward_pf", f"run `ita research walk-forward {ev.loaded.id} --symbol "
                                            f"{ev.symbols[0]} …` first")


@metric("deflated_sharpe", "p", "deflated Sharpe ratio")
def _dsr(ev: Evaluation) -> Measure:
    """Deflated Sharpe ratio of the sweep that produced the version (probability 0–1; Bailey & López de Prado, 2014)."""
    return _research(ev, "deflated_sharpe", f"run `ita research sweep {ev.loaded.id} --symbol {ev.symbols[0]} …` first")


@metric("pbo", "p", "probability of backtest overfitting")
def _pbo(ev: Evaluation) -> Measure:
    """Probability of backtest overfitting of that sweep, by CSCV (Bailey, Borwein, López de Prado & Zhu, 2015)."""
    return _research(ev, "pbo", f"run `ita research sweep {ev.loaded.id} --symbol {ev.symbols[0]} …` first")


# ---------------------------------------------------------------------------------------------- gates as data

class GateSpec(BaseModel):
    """One gate of ``gates.yaml``: ``name``, ``metric`` (a key of :data:`METRICS`), ``op`` (``>=`` | ``<=``),
    ``threshold``, ``why``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    metric: str
    op: Literal[">=", "<="]
    threshold: float
    why: str = ""

    @field_validator("metric")
    @classmethod
    def _known(cls, v):
        if v not in METRICS:
            raise ValueError(f"unknown metric {v!r}.{closest(v, METRICS)} Metrics: {', '.join(METRICS)}")
        return v


class EvaluationSpec(BaseModel):
    """``evaluation`` of ``gates.yaml``: ``symbols`` and the period ``start``/``end`` (dates; null = defaults)."""

    model_config = ConfigDict(extra="forbid")
    symbols: list[str] | None = None
    start: str | None = None
    end: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, v):
        if v is None or v == "":
            return None
        try:
            return pd.Timestamp(str(v)).strftime("%Y-%m-%d")
        except ValueError:
            raise ValueError(f"{v!r} is not a date like 2025-01-01") from None


class GatesConfig(BaseModel):
    """``gates.yaml``: ``enforce_for`` (statuses whose promotion needs every gate passed), ``evaluation``
    (symbols, start, end; null = defaults) and the ``gates``; ``path`` where it was read from."""

    model_config = ConfigDict(extra="forbid")
    enforce_for: list[Literal["paper", "active"]] = ["active"]
    evaluation: EvaluationSpec = EvaluationSpec()
    gates: list[GateSpec] = Field(min_length=1)
    path: str = ""

    @model_validator(mode="after")
    def _unique(self):
        names = [g.name for g in self.gates]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"gate name(s) used twice: {', '.join(dup)}")
        return self


def gates_path() -> Path:
    """``<setups dir>/gates.yaml``, else the repository's ``setups/gates.yaml`` (the seed's defaults)."""
    own = settings().setups_dir / "gates.yaml"
    return own if own.is_file() else REPO_ROOT / "setups" / "gates.yaml"


def load_gates(path: str | Path | None = None) -> GatesConfig:
    """Read and validate the gates file (default :func:`gates_path`). Raises :class:`ItaError` naming the file
    and the field for a YAML or validation error."""
    p = Path(path) if path else gates_path()
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ItaError(f"Cannot read the promotion gates {p}: {exc}.") from None
    except yaml.YAMLError as exc:
        raise ItaError(f"{p}: not valid YAML ({exc}).") from None
    try:
        return GatesConfig.model_validate({**raw, "path": str(p)})
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise ItaError(f"{p}: {loc}: {str(e['msg']).removeprefix('Value error, ')}.") from None


# ---------------------------------------------------------------------------------------------- results

@dataclass
class GateResult:
    """One gate's outcome: ``result`` ``pass`` | ``fail`` | ``not measured`` | ``n/a``; ``margin`` how far it
    passes (> 0) or fails (< 0) in the metric's unit (None when not measured); ``value``/``threshold``."""

    name: str
    metric: str
    op: str
    threshold: float
    value: float | None
    result: str
    margin: float | None
    detail: str
    hint: str = ""
    unit: str = ""

    @property
    def passed(self) -> bool:
        return self.result in ("pass", "n/a")

    def text(self) -> str:
        """``"pf_in_sample: 0.55 < 1.3 — fails by 0.75 (98 trades …)"``."""
        v = fmt_value(self.value, self.unit)
        thr = fmt_value(self.threshold, self.unit)
        if self.result == "not measured":
            return f"{self.name}: not measured — {self.hint or self.detail}"
        if self.result == "n/a":
            return f"{self.name}: n/a — {self.detail}"
        rel = self.op if self.passed else {">=": "<", "<=": ">"}[self.op]
        how = "passes" if self.passed else "fails"
        return f"{self.name}: {v} {rel} {thr} — {how} by {fmt_value(abs(self.margin or 0.0), self.unit)} ({self.detail})"


def fmt_value(v: float | None, unit: str) -> str:
    """A gate value as a trader reads it: PF 2 decimals, trades whole, ratios ``1.45×``, r signed, p 2 decimals."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "∞"
    if unit == "count":
        return f"{v:,.0f}"
    if unit == "ratio":
        return f"{v:.2f}×"
    if unit == "r":
        return f"{v:+.2f}"
    return f"{v:.2f}"


@dataclass
class GateReport:
    """All gates of one evaluation: ``gates`` (in ``gates.yaml`` order), ``evaluation`` (symbols, period,
    portfolio compared with, gates file), ``enforce_for``."""

    gates: list[GateResult]
    evaluation: dict
    enforce_for: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def failed(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]

    def as_rows(self) -> list[dict]:
        return [asdict(g) for g in self.gates]


def _judge(spec: GateSpec, m: Measure, unit: str) -> GateResult:
    if m.status == "not_applicable":
        return GateResult(spec.name, spec.metric, spec.op, spec.threshold, None, "n/a", None, m.detail, m.hint, unit)
    if m.status == "not_measured" or m.value is None or (isinstance(m.value, float) and math.isnan(m.value)):
        return GateResult(spec.name, spec.metric, spec.op, spec.threshold, None, "not measured", None,
                          m.detail or "not measured", m.hint, unit)
    v = float(m.value)
    margin = (v - spec.threshold) if spec.op == ">=" else (spec.threshold - v)
    ok = margin >= -1e-12
    return GateResult(spec.name, spec.metric, spec.op, spec.threshold, v, "pass" if ok else "fail",
                      margin if math.isfinite(margin) else (math.inf if ok else -math.inf), m.detail, m.hint, unit)


def evaluation_scope(loaded, config: GatesConfig, symbols=None, start=None, end=None, store=None) -> tuple[list[str], str, str]:
    """The symbols and period (New York dates) the gates measure: the arguments, else ``gates.yaml``'s
    ``evaluation``, else the setup's own ``symbols`` with stored data (every stored symbol when none) over the
    days every symbol has data. Raises :class:`ItaError` when nothing is stored for them."""
    from ita.data.instruments import get_instrument
    from ita.data.store import SAMPLE_FILES, CandleStore
    from ita.errors import DataError

    store = store or CandleStore()
    ev = config.evaluation
    syms = list(symbols or ev.symbols or [])
    if not syms:
        stored = set(store.symbols()) | set(SAMPLE_FILES)
        syms = [s for s in loaded.setup.symbols if s in stored] or sorted(stored)
    syms = list(dict.fromkeys(get_instrument(s).symbol for s in syms))
    need = [s for s in syms if s in SAMPLE_FILES and "M5" not in store.stored_timeframes(s)]
    if need:
        store.ensure_samples(need)
    firsts, lasts = [], []
    tz = loaded.setup.timezone
    for s in syms:
        tfs = store.stored_timeframes(s)
        if not tfs:
            raise DataError(f"No candles stored for {s}: the gates of {loaded.id} cannot be measured on it.")
        idx = pd.DatetimeIndex(pd.read_parquet(store.path(s, tfs[0]), columns=[]).index).tz_convert(tz)
        firsts.append(idx[0].strftime("%Y-%m-%d"))
        lasts.append(idx[-1].strftime("%Y-%m-%d"))
    lo = max([start or ev.start or max(firsts), max(firsts)])
    hi = min([end or ev.end or min(lasts), min(lasts)])
    if hi < lo:
        raise DataError(f"No common data for {', '.join(syms)} in {start or ev.start} → {end or ev.end}.")
    return syms, str(lo), str(hi)


def evaluate_gates(loaded, config: GatesConfig | None = None, *, symbols=None, start=None, end=None,
                   portfolio: list | None = None, store=None, progress=None) -> GateReport:
    """Measure every gate of ``config`` (default :func:`load_gates`) for the loaded setup version.

    ``symbols``/``start``/``end`` override the evaluation scope (:func:`evaluation_scope`); ``portfolio`` the
    active versions compared with (default: from the promotion store). Raises :class:`ItaError` for data
    that is missing."""
    config = config or load_gates()
    syms, lo, hi = evaluation_scope(loaded, config, symbols, start, end, store)
    ev = Evaluation(loaded, syms, lo, hi, portfolio=portfolio, store=store, progress=progress)
    results = [_judge(g, METRICS[g.metric].fn(ev), METRICS[g.metric].unit) for g in config.gates]
    evaluation = {"symbols": syms, "period": [lo, hi], "gates_file": config.path,
                  "portfolio": [f"{ls.id} v{ls.version}" for ls in ev.portfolio] if any(
                      METRICS[g.metric].name in ("max_drawdown_vs_portfolio", "correlation_with_portfolio")
                      for g in config.gates) else [],
                  "costs": "each instrument's typical spread and commission"}
    return GateReport(results, evaluation, list(config.enforce_for))
