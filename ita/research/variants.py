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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from ita.backtest.core import _intrabar, backtest, execution_model, select_signals
from ita.backtest.engine import Bars, ExecutionModel, OrderArrays, simulate_orders
from ita.data.instruments import get_instrument
from ita.errors import ItaError, SetupError
from ita.setups.events import Context, StepEvents
from ita.setups.evaluate import _Walk, evaluate  # _Walk: the order step is replayed (see orders())
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


#: Parameters (path prefixes) a variant may differ in and still share the walk of another: ``target.rr`` re-prices
#: the targets of a shared walk, other ``stop.*``/``target.*`` values replay its order step (:meth:`VariantRunner.orders`).
SHARED_WALK_PREFIXES = ("target.", "stop.")


def walk_key(params: dict) -> str:
    """Variants with the same key share detector runs and the walk (they differ at most in ``stop.*`` and
    ``target.*``): the executor keeps them in one batch so one worker's caches serve them all."""
    return json.dumps({k: v for k, v in sorted(params.items()) if not k.startswith(SHARED_WALK_PREFIXES)},
                      default=str)


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
    """:class:`~ita.setups.events.StepEvents` whose payload rows are boxed once per sweep (on first use) instead
    of once per variant."""

    @classmethod
    def wrap(cls, ev: StepEvents) -> "_ListEvents":
        out = cls(ev.bar, ev.dir, ev.rows, ev.at)
        out.memo = {}
        return out

    def row(self, j: int) -> dict:
        # boxed on first use and kept: the walks of a sweep read few rows of large detector outputs, often
        # the same ones (a copy is returned, as the base class returns a new dict)
        r = self.memo.get(j)
        if r is None:
            r = self.memo[j] = StepEvents.row(self, j)
        return dict(r)


class _RecordingWalk(_Walk):
    """The evaluator's own walk, recording every order it tried to build — ``calls``: ``(day, bias, bar,
    chain, built)`` — so a variant differing only in its stop or target can replay just the order step."""

    def __init__(self, *args, **kw):
        self.calls: list[tuple] = []
        super().__init__(*args, **kw)

    def _order(self, D, bias: int, i: int, chain):
        order, why = super()._order(D, bias, i, chain)
        self.calls.append((D, bias, i, chain, order is not None))
        return order, why


#: Step fields read only by the walk (:class:`ita.setups.evaluate._StepView` / ``_next``), never by
#: :meth:`~ita.setups.events.Context.events`.
_WALK_ONLY_STEP_FIELDS = ("within_bars", "direction", "from_bar", "until")


class _CachedContext(Context):
    """:class:`~ita.setups.events.Context` whose detector outputs and step events come from a shared cache."""

    def __init__(self, setup: Setup, candles: pd.DataFrame, inst, cache: dict, data_key: str):
        super().__init__(setup, candles, inst)
        self._cache = cache
        self._data_key = data_key
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

    def window_mask(self, win):
        key = f"mask|{self._data_key}|{win!r}"
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = super().window_mask(win)
        return hit

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
        self._t = candles.index.as_unit("ns").asi8
        self._price = float(candles["close"].iloc[-1]) if len(candles) else 1.0  # the execution model's price hint
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

    def _walk_key(self, loaded: LoadedSetup) -> str:
        """Cache key of ``loaded``'s walk: its whole rule except ``target.rr``."""
        dump = loaded.setup.model_dump(mode="json")
        dump["target"]["rr"] = None
        return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()

    def _walked(self, loaded: LoadedSetup) -> tuple[float, pd.DataFrame]:
        """``(rr, signals)`` of the first variant evaluated with ``loaded``'s walk (an ``rr`` target)."""
        key = "sig|" + self._walk_key(loaded)
        hit = self.cache.get(key)
        if hit is None:
            # exactly evaluate(loaded, candles, symbol, context=…): the walk, then its signals frame
            walk = _RecordingWalk(loaded, self.candles, self.symbol, self.context(loaded, False))
            sig = walk.run().signals()
            self.cache["rec|" + key] = walk
            hit = self.cache[key] = (loaded.setup.target.rr, sig)
        return hit

    @staticmethod
    def _replay_key(loaded: LoadedSetup) -> str:
        """Variants with the same key walk identically up to the order step: they differ at most in ``stop`` and
        ``target``, which only the order step (entry, stop, target of a found chain) reads."""
        dump = loaded.setup.model_dump(mode="json")
        dump.pop("stop")
        dump.pop("target")
        return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()

    def _replayed(self, loaded: LoadedSetup, base: tuple):
        """The orders of ``loaded`` from a recorded walk of a variant with another stop/target: the order step
        re-run on each recorded chain. None (walk it) unless every chain builds an order exactly when it did in
        the recorded walk — then the walk's path, hence its signals, differ only in stops and targets — and
        every entry is unchanged."""
        walk0, rows_of, oa0, tday = base
        w = _Walk.__new__(_Walk)
        w.loaded, w.s, w.symbol, w.ctx = loaded, loaded.setup, self.symbol, walk0.ctx
        new = []
        for D, bias, i, chain, built in walk0.calls:
            order, _why = w._order(D, bias, i, chain)
            if (order is not None) != built:
                return None
            if order is not None:
                new.append(order)
        if any(new[r]["entry_price"] != e or new[r]["signal_id"] != sid
               for r, e, sid in zip(rows_of, oa0.entry, oa0.ids)):
            return None
        return replace(oa0, sl=[new[r]["sl_price"] for r in rows_of], tp=[new[r]["tp_price"] for r in rows_of]), tday

    @staticmethod
    def _repriced_tp(rr: float, long_: np.ndarray, entry: np.ndarray, stop: np.ndarray) -> list[float]:
        """Targets ``entry ± rr × |entry − stop|`` rounded as the evaluator rounds (Python floats)."""
        dist = np.abs(entry - stop)
        return [round(float(x), 10) for x in np.where(long_, entry + rr * dist, entry - rr * dist)]

    def signals(self, loaded: LoadedSetup) -> pd.DataFrame:
        """:func:`~ita.setups.evaluate.evaluate` of ``loaded`` (no evidence), reused across variants that differ
        only in ``target.rr`` of an ``rr`` target: the walk, entries and stops do not depend on it, so those
        variants re-price the target — ``entry ± rr × |entry − stop|`` rounded as the evaluator rounds — and
        skip the walk (equality with a full evaluation is tested trade by trade)."""
        s = loaded.setup
        if s.target.type != "rr":
            return evaluate(loaded, self.candles, self.symbol, context=self.context(loaded, False))
        rr0, sig = self._walked(loaded)
        if rr0 == s.target.rr or not len(sig):
            return sig
        out = sig.copy()
        entry, stop = out["entry_price"].to_numpy(dtype="float64"), out["sl_price"].to_numpy(dtype="float64")
        out["tp_price"] = self._repriced_tp(s.target.rr, out["direction"].to_numpy() == "long", entry, stop)
        return out

    def _prepared(self, loaded: LoadedSetup, sig: pd.DataFrame) -> tuple[OrderArrays, list[int]]:
        """The orders :func:`~ita.backtest.core.orders_and_trades` would simulate from ``sig`` (session and
        period applied) as :class:`~ita.backtest.engine.OrderArrays`, with each order's index in ``days``."""
        sig = select_signals(loaded, sig, session=self.session, start=self.start, end=self.end)
        oa = OrderArrays.of(sig, self._t)
        days = pd.DatetimeIndex(pd.to_datetime(sig["day"])).as_unit("ns").asi8 if len(sig) else []
        return oa, [self._day_pos.get(int(d), -1) for d in days]

    def _bars(self, loaded: LoadedSetup) -> tuple[ExecutionModel, Bars]:
        """The execution model of ``loaded`` (as :func:`~ita.backtest.core.orders_and_trades` builds it) and
        the simulator's arrays for it, built once per distinct model."""
        s = loaded.setup
        mkey = ("model", s.risk.currency, s.execution.intrabar, s.execution.fill_bar)   # all it reads of the setup
        model = self.cache.get(mkey)
        if model is None:
            model = self.cache[mkey] = execution_model(loaded, self.symbol, self.spread, self.commission, self._price)
        _mode, use_lower = _intrabar(loaded, self.lower)
        key = ("bars", model, use_lower)
        bars = self.cache.get(key)
        if bars is None:
            bars = self.cache[key] = Bars.of(self.candles, model, self.lower if use_lower else None)
        return model, bars

    def orders(self, loaded: LoadedSetup) -> tuple[OrderArrays, list[int], dict | None]:
        """What one variant simulates: ``(orders, day index per order, memo)`` — exactly the orders of
        :func:`~ita.backtest.core.orders_and_trades` with :meth:`signals` (session and period selected), built
        once per walk (variants differing only in ``target.rr`` re-price the targets). ``memo`` (None for other
        targets) is shared by the variants of one walk: :func:`~ita.backtest.engine.simulate_orders` keeps each
        order's target-independent work in it (per execution model)."""
        s = loaded.setup
        if s.target.type != "rr":
            return (*self._prepared(loaded, self.signals(loaded)), None)
        wkey = self._walk_key(loaded)
        key = ("orders", wkey)
        hit = self.cache.get(key)
        if hit is None:
            rkey = ("replay", self._replay_key(loaded))
            base = self.cache.get(rkey)
            got = self._replayed(loaded, base) if base is not None else None
            if got is not None:
                rr0, (oa, tday) = s.target.rr, got
            else:
                rr0, sig = self._walked(loaded)
                oa, tday = self._prepared(loaded, sig)
                walk = self.cache.get("rec|sig|" + wkey)
                ids = {r["signal_id"]: k for k, r in enumerate(walk.rows)} if walk is not None else {}
                if base is None and walk is not None and len(ids) == len(walk.rows):
                    self.cache[rkey] = (walk, [ids[x] for x in oa.ids], oa, tday)
            hit = self.cache[key] = (rr0, oa, tday, np.asarray(oa.long, dtype=bool),
                                     np.asarray(oa.entry, dtype="float64"), np.asarray(oa.sl, dtype="float64"), {})
        rr0, oa, tday, long_, entry, stop, memos = hit
        if rr0 != s.target.rr and len(oa.ids):
            oa = replace(oa, tp=self._repriced_tp(s.target.rr, long_, entry, stop))
        return oa, tday, memos

    def run(self, params: dict | None, index: int = 0) -> VariantResult:
        """One variant's :class:`VariantResult`; an error inside the variant is recorded (``status="failed"``),
        never raised. The trades are those of :func:`~ita.backtest.core.orders_and_trades` (the simulator's
        core on the cached orders, no trades table built)."""
        try:
            loaded = self.loaded(params)
            oa, tday, memos = self.orders(loaded)
            model, bars = self._bars(loaded)
            memo = None if memos is None else memos.setdefault(id(bars), {})
            _status, done = simulate_orders(bars, oa, model, memo=memo, excursions=False)
        except (ItaError, ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as exc:
            return VariantResult(index=index, params=dict(params or {}), status="failed",
                                 error=f"{type(exc).__name__}: {exc}".splitlines()[0][:500])
        r = np.array([x[11] for x in done], dtype="float64")
        t_day = [tday[x[0]] for x in done]
        fill_ns = np.array([bars.t[x[1]] for x in done], dtype="int64")
        entry = pd.DatetimeIndex(fill_ns.view("M8[ns]")).as_unit("s").asi8.tolist() if len(done) else []
        inside = np.asarray(t_day, dtype="int64") >= 0
        st = trade_stats(r)
        return VariantResult(index=index, params=dict(params or {}), effective_hash=loaded.effective_hash, **st,
                             sharpe=sharpe(daily_r(np.asarray(t_day)[inside], r[inside], len(self.days))),
                             t_day=t_day, t_r=[float(x) for x in r], t_entry=entry)
