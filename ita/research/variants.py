"""Run many variants of one setup on one candle frame, fast: the work that does not depend on the swept
parameters is done once.

:class:`VariantRunner` holds the candles, the setup's parsed YAML and a **detector cache**: every detector
output and every step's candidate events (the range-break scan, sweeps, FVGs …) is keyed by the detector's
own definition, the setup's sessions/days/time zone/timeframe and the data fingerprint, so variants that
share detector parameters reuse one detector run. A grid over rule or exit parameters (``rr``,
``valid_until``, ``within_bars`` …) then costs little more than the walks and simulations themselves.
Variants are built from the parsed YAML in memory (no file read, no YAML parse per variant) with exactly
:func:`ita.setups.loader.apply_overrides` and the setup schema, so a variant equals
``ita backtest … --param`` with the same values trade by trade (tested).

A variant's result (:class:`VariantResult`) is compact and JSON-able: headline statistics plus its trades
as (trading-day index, R, entry time) arrays — everything a ranking, a walk-forward window or the
overfitting statistics need. Every trade belongs to its signal's trading day D (New York date).

Example::

    >>> runner = VariantRunner.for_setup("asia_fvg_break", None, "EURUSD", candles, "2025-01-01", "2025-12-31")  # doctest: +SKIP
    >>> runner.run({"target.rr": 3.0}).total_r                                                                  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from ita.backtest.core import backtest, orders_and_trades
from ita.data.instruments import get_instrument
from ita.errors import ItaError, SetupError
from ita.setups.events import Context, StepEvents
from ita.setups.evaluate import evaluate
from ita.setups.loader import LoadedSetup, apply_overrides, load_setup
from ita.setups.schema import Setup

#: Trading days per year used to annualise the Sharpe ratio of daily R.
DAYS_PER_YEAR = 252


def fingerprint(candles: pd.DataFrame) -> str:
    """SHA-256 (16 hex) of the candles' times and OHLC (same as :func:`ita.backtest.runner.fingerprint`)."""
    from ita.backtest.runner import fingerprint as fp

    return fp(candles)


@dataclass
class VariantResult:
    """One variant's outcome.

    ``index`` its number in the sweep; ``params`` ``{path: value}``; ``effective_hash`` the SHA-256 of the
    effective rule (as ``ita backtest --param`` records it); ``status`` ``ok`` | ``failed`` (``error`` says
    why); headline statistics in R (``trades``, ``wins``, ``win_rate`` %, ``total_r``, ``expectancy``,
    ``profit_factor`` — ``inf`` without losers, NaN without trades —, ``max_dd_r``, ``sharpe`` = annualised
    Sharpe ratio of daily R over every trading day of the period, NaN when flat); ``t_day`` (index into the
    runner's ``days``), ``t_r`` (R), ``t_entry`` (UTC entry time, epoch seconds) per trade in trade order.
    """

    index: int
    params: dict
    effective_hash: str = ""
    status: str = "ok"
    error: str = ""
    trades: int = 0
    wins: int = 0
    win_rate: float = math.nan
    total_r: float = 0.0
    expectancy: float = math.nan
    profit_factor: float = math.nan
    max_dd_r: float = 0.0
    sharpe: float = math.nan
    t_day: list = field(default_factory=list)
    t_r: list = field(default_factory=list)
    t_entry: list = field(default_factory=list)

    def to_dict(self) -> dict:
        # a shallow copy (the lists are built fresh per variant): ``asdict``'s deep copy of the trade lists
        # cost ~1 ms a variant
        return {k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v)
                for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "VariantResult":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


#: The parameter a variant may differ in and still share the walk of another (see :meth:`VariantRunner.signals`).
SHARED_WALK_PATH = "target.rr"


def walk_key(params: dict) -> str:
    """Variants with the same key share detector runs and the walk (they differ at most in ``target.rr``): the
    executor keeps them in one batch so one worker's caches serve them all."""
    return json.dumps({k: v for k, v in sorted(params.items()) if k != SHARED_WALK_PATH}, default=str)


def trade_stats(r: np.ndarray) -> dict:
    """Headline statistics of a sequence of trade R multiples (definitions of :mod:`ita.backtest.stats`):
    ``trades``, ``wins``, ``win_rate`` (%), ``total_r``, ``expectancy``, ``profit_factor``, ``max_dd_r``."""
    r = np.asarray(r, dtype="float64")
    n = len(r)
    gw, gl = r[r > 0].sum(), -r[r < 0].sum()
    pf = gw / gl if gl > 0 else (math.inf if n and gw > 0 else math.nan)
    cum = np.cumsum(r)
    dd = float((np.maximum.accumulate(np.r_[0.0, cum])[1:] - cum).max()) if n else 0.0
    return {"trades": int(n), "wins": int((r > 0).sum()), "win_rate": float((r > 0).mean() * 100) if n else math.nan,
            "total_r": float(r.sum()), "expectancy": float(r.mean()) if n else math.nan,
            "profit_factor": float(pf), "max_dd_r": dd}


def daily_r(t_day, t_r, n_days: int) -> np.ndarray:
    """R summed per trading day (``n_days`` long; days without trades are 0)."""
    out = np.zeros(n_days)
    if len(t_day):
        np.add.at(out, np.asarray(t_day, dtype="int64"), np.asarray(t_r, dtype="float64"))
    return out


def sharpe(day_r: np.ndarray, annualise: bool = True) -> float:
    """Sharpe ratio of daily R: mean / standard deviation (ddof 1), × √252 when ``annualise``; NaN when flat
    or shorter than two days."""
    x = np.asarray(day_r, dtype="float64")
    if len(x) < 2:
        return math.nan
    sd = x.std(ddof=1)
    if not sd > 1e-12:
        return math.nan
    return float(x.mean() / sd * (math.sqrt(DAYS_PER_YEAR) if annualise else 1.0))


class _ListEvents(StepEvents):
    """:class:`~ita.setups.events.StepEvents` whose payload rows are read from Python lists built once (the
    values — Timestamps included — boxed once per sweep instead of once per variant)."""

    @classmethod
    def wrap(cls, ev: StepEvents) -> "_ListEvents":
        out = cls(ev.bar, ev.dir, ev.rows, ev.at)
        out.lists = {c: list(ev.rows[c].array) for c in ev.rows.columns}
        return out

    def row(self, j: int) -> dict:
        return {c: a[j] for c, a in self.lists.items()}


#: Step fields read only by the walk (:class:`ita.setups.evaluate._StepView` / ``_next``), never by
#: :meth:`~ita.setups.events.Context.events`.
_WALK_ONLY_STEP_FIELDS = ("within_bars", "direction", "from_bar", "until")


class _CachedContext(Context):
    """:class:`~ita.setups.events.Context` whose detector outputs and step events come from a shared cache."""

    def __init__(self, setup: Setup, candles: pd.DataFrame, inst, cache: dict, data_key: str):
        super().__init__(setup, candles, inst)
        self._cache = cache
        scope = json.dumps({"tf": setup.timeframe, "tz": setup.timezone, "days": setup.days,
                            "sessions": {k: v.model_dump(mode="json") for k, v in setup.sessions.items()}},
                           sort_keys=True)
        self._det_key = {name: f"{data_key}|{scope}|{det.model_dump_json()}"
                         for name, det in setup.detectors.items()}
        for name in setup.detectors:
            key = "det|" + self._det_key[name]
            if key in cache:
                self.outputs[name] = cache[key]
            else:
                cache[key] = self.outputs[name]
        lk = f"local|{data_key}|{setup.timezone}"
        if lk in cache:
            self.__dict__["_local"] = cache[lk]
        else:
            self.local_day  # noqa: B018 - fills the context's cache
            cache[lk] = self.__dict__["_local"]

    def events(self, st):
        refs = [getattr(st, a, None) for a in ("detector", "range", "of")]
        # the step's own filters (`within_bars`, `direction`, `from_bar`, `until`) are applied by the walk, not
        # by :meth:`Context.events`: variants differing only in them share one set of candidate events
        d = st.model_dump(mode="json", exclude=set(_WALK_ONLY_STEP_FIELDS))
        key = "ev|" + json.dumps(d, sort_keys=True) + "|" + "|".join(self._det_key.get(r, "") for r in refs if r)
        ev = self._cache.get(key)
        if ev is None:
            ev = self._cache[key] = _ListEvents.wrap(super().events(st))
        return ev


class VariantRunner:
    """Backtests variants of one setup version on one candle frame with a shared detector cache.

    ``raw_text`` the setup YAML's text (variants are built from it in memory — remote workers need no setup
    files); ``base`` the loaded setup; ``candles`` the setup's timeframe with warm-up before ``start``;
    ``start``/``end`` trading days (inclusive); ``spread``/``commission`` as :func:`ita.backtest.backtest`.
    ``days`` (DatetimeIndex, naive dates) the period's trading days of the setup. ``lower``: stored M1 candles of
    the period (:func:`ita.backtest.runner.lower_timeframe_candles`) when they resolve intrabar ambiguity, exactly
    as ``ita backtest`` does.
    """

    def __init__(self, base: LoadedSetup, raw_text: str, symbol: str, candles: pd.DataFrame, start, end,
                 spread: float | str | None = None, commission: float | None = None, session: str | None = None,
                 lower: pd.DataFrame | None = None):
        self.base, self.symbol, self.candles, self.lower = base, symbol, candles, lower
        self.raw = yaml.safe_load(raw_text)
        self.start, self.end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
        self.spread, self.commission, self.session = spread, commission, session
        self.inst = get_instrument(symbol)
        self.data_key = fingerprint(candles)
        self.cache: dict[str, Any] = {}
        s = base.setup
        local = candles.index.tz_convert(s.timezone).tz_localize(None).normalize().unique() if len(candles) else \
            pd.DatetimeIndex([])
        days = local[(local >= self.start) & (local <= self.end)]
        self.days = days[np.isin(days.day_of_week, s.weekdays)]
        self._day_pos = {d.value: i for i, d in enumerate(self.days)}

    @classmethod
    def for_setup(cls, setup_id: str, version, symbol: str, candles: pd.DataFrame, start, end, **kw) -> "VariantRunner":
        base = load_setup(setup_id, version)
        return cls(base, base.path.read_text(encoding="utf-8"), symbol, candles, start, end, **kw)

    def loaded(self, params: dict | None) -> LoadedSetup:
        """The variant as a :class:`LoadedSetup` (same rule and ``effective_hash`` as
        ``load_setup(id, version, params)``). Raises :class:`~ita.errors.SetupError` naming the path, the
        value and the problem for a value the schema refuses."""
        if not params:
            return self.base
        raw, overrides = apply_overrides(self.raw, params)
        try:
            setup = Setup.model_validate(raw)
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(p) for p in e["loc"]) or "the setup"
            msg = e["msg"].removeprefix("Value error, ")
            raise SetupError(f"{', '.join(f'{k}={v!r}' for k, v in overrides.items())}: {where}: {msg}.") from None
        eff = hashlib.sha256(json.dumps(setup.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
        b = self.base
        return LoadedSetup(setup=setup, path=b.path, version=b.version, content_hash=b.content_hash,
                           overrides=overrides, effective_hash=eff)

    def backtest(self, params: dict | None):
        """The full :class:`~ita.backtest.BacktestResult` of one variant (detector cache used, evidence built)."""
        loaded = self.loaded(params)
        return backtest(loaded, self.candles, self.symbol, start=self.start, end=self.end, spread_pips=self.spread,
                        commission_per_lot=self.commission, session=self.session, context=self.context(loaded),
                        lower=self.lower)

    def context(self, loaded: LoadedSetup, evidence: bool = True) -> Context:
        """A :class:`~ita.setups.events.Context` for ``loaded`` on the runner's candles, detectors from the cache."""
        ctx = _CachedContext(loaded.setup, self.candles, self.inst, self.cache, self.data_key)
        ctx.evidence = evidence
        return ctx

    def signals(self, loaded: LoadedSetup) -> pd.DataFrame:
        """:func:`~ita.setups.evaluate.evaluate` of ``loaded`` (no evidence), reused across variants that differ
        only in ``target.rr`` of an ``rr`` target: the walk, entries and stops do not depend on it, so those
        variants re-price the target — ``entry ± rr × |entry − stop|`` rounded as the evaluator rounds — and
        skip the walk (equality with a full evaluation is tested trade by trade)."""
        s = loaded.setup
        if s.target.type != "rr":
            return evaluate(loaded, self.candles, self.symbol, context=self.context(loaded, False))
        dump = s.model_dump(mode="json")
        dump["target"]["rr"] = None
        key = "sig|" + hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()
        hit = self.cache.get(key)
        if hit is None:
            sig = evaluate(loaded, self.candles, self.symbol, context=self.context(loaded, False))
            self.cache[key] = (s.target.rr, sig)
            return sig
        rr0, sig = hit
        if rr0 == s.target.rr or not len(sig):
            return sig
        out = sig.copy()
        entry, stop = out["entry_price"].to_numpy(dtype="float64"), out["sl_price"].to_numpy(dtype="float64")
        dist = np.abs(entry - stop)
        long_ = out["direction"].to_numpy() == "long"
        out["tp_price"] = [round(float(x), 10) for x in np.where(long_, entry + s.target.rr * dist,
                                                                 entry - s.target.rr * dist)]
        return out

    def run(self, params: dict | None, index: int = 0) -> VariantResult:
        """One variant's :class:`VariantResult`; an error inside the variant is recorded (``status="failed"``),
        never raised."""
        try:
            loaded = self.loaded(params)
            _sig, tr, _m, _a, _b = orders_and_trades(
                loaded, self.candles, self.symbol, start=self.start, end=self.end, spread_pips=self.spread,
                commission_per_lot=self.commission, session=self.session, signals=self.signals(loaded),
                lower=self.lower)
        except (ItaError, ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as exc:
            return VariantResult(index=index, params=dict(params or {}), status="failed",
                                 error=f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
        r = tr["r"].to_numpy(dtype="float64") if len(tr) else np.zeros(0)
        days = pd.DatetimeIndex(pd.to_datetime(tr["day"])).as_unit("ns").asi8 if len(tr) else []
        t_day = [self._day_pos.get(int(d), -1) for d in days]
        entry = pd.DatetimeIndex(tr["entry_time"]).as_unit("s").asi8.tolist() if len(tr) else []
        inside = np.asarray(t_day, dtype="int64") >= 0
        st = trade_stats(r)
        return VariantResult(index=index, params=dict(params or {}), effective_hash=loaded.effective_hash, **st,
                             sharpe=sharpe(daily_r(np.asarray(t_day)[inside], r[inside], len(self.days))),
                             t_day=t_day, t_r=[float(x) for x in r], t_entry=entry)
