"""One signal at a time: its feature vector (the feature journal's entry) and its p(success) — from the
trained model where the live gate lets it, else Laplace's rule.

A signal is a row of :func:`ita.setups.evaluate` (``rule_id``, ``direction``, ``entry_price``, ``sl_price``,
``known_at``, ``day``, ``meta``) or of the live journal (``setup_id``, …). Its features are computed by the
catalogue (:mod:`ita.learn.features`) on the symbol's M5 candles closed by ``known_at`` over
:data:`~ita.learn.features.FEATURE_HISTORY` (the candle store, with the live window's newer bars on top) and
its history features on the setup's backtest trades of the ``HISTORY_DAYS`` days before its day — exactly what
the dataset computes for the same signal.

Example::

    >>> sc = SignalScorer()
    >>> s = sc.score(signal, loaded, laplace_p=0.23, laplace_basis="…")        # doctest: +SKIP
    >>> s.p, s.kind, s.basis                                                    # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ita.errors import ItaError
from ita.learn.features import FEATURE_HISTORY, FEATURES, HISTORY_DAYS, Bars, compute_features

M5 = pd.Timedelta(minutes=5)
H1 = pd.Timedelta(hours=1)
HTF_CACHE_SIZE = 16          # higher-timeframe states kept (a few hours of each live symbol)
HISTORY_RANGES = 8           # backtest ranges kept per setup and symbol


def candles_digest(candles: pd.DataFrame) -> str:
    """BLAKE2b (32 hex) of a candle frame's index, column names and values: the exact input of a cached state."""
    h = hashlib.blake2b(digest_size=16)
    h.update(candles.index.as_unit("ns").asi8.tobytes())
    for col in candles.columns:
        h.update(str(col).encode())
        v = candles[col].to_numpy()
        h.update(np.ascontiguousarray(v).tobytes() if v.dtype != object else repr(v.tolist()).encode())
    return h.hexdigest()


def signal_event(sig: dict) -> dict:
    """The feature catalogue's event fields of a signal (evaluate row or journal row)."""
    meta = sig.get("meta") if isinstance(sig.get("meta"), dict) else {}
    entry, stop = float(sig["entry_price"]), float(sig["sl_price"])
    rr = meta.get("rr", sig.get("rr"))
    if rr is None and sig.get("tp_price") is not None and entry != stop:
        rr = abs(float(sig["tp_price"]) - entry) / abs(entry - stop)
    zone = (meta.get("zone") or {}).get("size_pips", np.nan)
    return {"known_at": pd.Timestamp(sig["known_at"]), "direction": 1.0 if sig["direction"] == "long" else -1.0,
            "price": entry, "stop": stop, "rr": float(rr) if rr is not None else np.nan,
            "zone_pips": float(zone) if zone is not None else np.nan,
            "group": str(sig.get("rule_id") or sig.get("setup_id")), "day": pd.Timestamp(sig["day"]).normalize()}


@dataclass(frozen=True)
class Score:
    """``p`` (p(success) 0–1), ``kind`` (``model`` | ``laplace``), ``basis`` (one sentence), ``model_id`` (or
    None), ``features`` (the signal's feature vector as a dict; None when it could not be computed),
    ``laplace`` (Laplace's p, always shown beside the model's), ``why`` (the model's top SHAP contributions in
    words, when the model scored it)."""

    p: float
    kind: str
    basis: str
    model_id: str | None
    features: dict | None
    laplace: float
    why: str | None = None


class SignalScorer:
    """Features and the gated score of signals; caches the active ``setup_win`` model, the setups' trade
    history and the symbols' higher-timeframe state per completed H1 bar. Thread-safe. ``store``: the candle
    store (default ``ITA_DATA_DIR``); ``cache=False`` recomputes the higher-timeframe state for every signal
    (the same numbers, slower: the reference the tests compare the cache with).

    **Higher-timeframe state.** The H1 / H4 / D1 features (ADR, Asia range, H1/H4 structure, previous day and
    week levels) read only complete H1 bars. For a signal known at ``known_at`` they are computed on the M5
    bars of the complete H1 bars that every moment of its hour shares: the bars closed by ``C`` =
    ``known_at`` floored to the hour (the last H1 close at or before it) and opened at or after
    ``C + 1 h − FEATURE_HISTORY`` — within the 35 days before ``known_at``, and nothing after ``C``. That state
    is cached under ``(symbol, C, digest of exactly those bars)``: a signal can only get a state whose every bar
    closed by its ``known_at``, and a change in any of those bars (a revised or newly stored bar) is a new key.
    The M5 features (ATR, its percentile, momentum, spread, session) are computed per signal as before."""

    def __init__(self, store=None, target: str = "setup_win", *, cache: bool = True):
        self.store, self.target, self.cache = store, target, cache
        self._lock = threading.Lock()
        self._model = None
        self._model_note: str | None = None
        self._loaded_model = False
        self._hist: dict = {}
        self._day: dict = {}
        self._htf: OrderedDict = OrderedDict()
        self.htf_stats = {"hits": 0, "misses": 0}

    # ---- the model ----------------------------------------------------------------------------------------
    def model(self):
        """The active model of the target (None with :attr:`model_note` saying why)."""
        with self._lock:
            if not self._loaded_model:
                from ita.learn.registry import load_model

                try:
                    self._model = load_model(self.target)
                except ItaError as exc:
                    self._model, self._model_note = None, str(exc)
                self._loaded_model = True
            return self._model

    @property
    def model_note(self) -> str | None:
        return self._model_note

    def gate(self, setup_id: str) -> tuple[bool, str]:
        """``(use the model?, why)`` for ``setup_id`` (no model → Laplace, and why)."""
        m = self.model()
        if m is None:
            return False, "no trained model: Laplace"
        return m.gate(setup_id)

    # ---- features ------------------------------------------------------------------------------------------
    def _store(self):
        if self.store is None:
            from ita.data.store import CandleStore

            self.store = CandleStore()
        return self.store

    def history(self, loaded, symbol: str, day: pd.Timestamp) -> pd.DataFrame:
        """The setup's backtest trades on the stored days ``day − HISTORY_DAYS`` … ``day − 1`` (never earlier than
        the store's first bar + ``FEATURE_HISTORY``, like the dataset): ``group``, ``day``, ``closed_at``, ``win``.
        One backtest per setup and symbol covers the days up to the last stored one; later requests slice it."""
        from ita.errors import DataError

        day = pd.Timestamp(day).normalize()
        lo, hi = day - pd.Timedelta(days=HISTORY_DAYS), day - pd.Timedelta(days=1)
        empty = pd.DataFrame(columns=["group", "day", "closed_at", "win"])
        try:
            first = self._first_bar(symbol).tz_convert(loaded.setup.timezone).normalize().tz_localize(None)
        except DataError:
            return empty
        lo = max(lo, first + FEATURE_HISTORY)
        if lo > hi:
            return empty
        key = ("trades", loaded.id, loaded.version, loaded.effective_hash, symbol)
        with self._lock:
            day = self._day.get(key)              # the slice is the same for every signal of the day
            if day is not None and day[0] == (lo, hi):
                return day[1]
            got = next((r for r in self._hist.get(key, []) if r[0] <= lo and r[1] >= hi), None)
        if got is None:
            want = max(hi, lo + pd.Timedelta(days=2 * HISTORY_DAYS))
            got = (lo, want, self._backtest(loaded, symbol, lo, want))
            with self._lock:                     # a few ranges: scoring old signals of several months never thrashes
                self._hist[key] = [*self._hist.get(key, []), got][-HISTORY_RANGES:]
        tr = got[2]
        out = tr[(tr["day"] >= lo) & (tr["day"] <= hi)].reset_index(drop=True) if len(tr) else empty
        with self._lock:
            self._day[key] = ((lo, hi), out)
        return out

    def _backtest(self, loaded, symbol: str, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        """The exited trades (history columns) of one backtest over the stored days lo … hi."""
        from ita.backtest import backtest
        from ita.backtest.runner import load_period_candles
        from ita.errors import DataError

        try:
            candles = load_period_candles(self._store(), loaded, symbol, lo, hi)
        except DataError:
            return pd.DataFrame(columns=["group", "day", "closed_at", "win"])
        tr = backtest(loaded, candles, symbol, start=lo, end=hi).trades
        tr = tr[tr["exit_reason"] != "end_of_data"]
        out = pd.DataFrame({"group": loaded.id, "day": pd.to_datetime(tr["day"]),
                            "closed_at": pd.DatetimeIndex(tr["exit_time"]) + M5, "win": tr["r"].to_numpy() > 0})
        return out

    def _first_bar(self, symbol: str) -> pd.Timestamp:
        from ita.errors import DataError

        key = ("first", symbol)
        if key not in self._hist:
            p = self._store().path(symbol, "M5")
            if not p.is_file():
                raise DataError(f"no stored {symbol} M5 bars")
            idx = pd.DatetimeIndex(pd.read_parquet(p, columns=[]).index)
            self._hist[key] = (idx.tz_localize("UTC") if idx.tz is None else idx.tz_convert("UTC"))[0]
        return self._hist[key]

    def _stored(self, symbol: str) -> pd.DataFrame | None:
        """The store's M5 series of ``symbol``, read once (features only read bars closed before a signal)."""
        from ita.errors import DataError

        key = ("m5", symbol)
        with self._lock:
            if key in self._hist:
                return self._hist[key]
        try:
            c = self._store().load(symbol, "M5")
        except DataError:
            c = None
        with self._lock:
            self._hist[key] = c
        return c

    def candles(self, symbol: str, known_at: pd.Timestamp, window: pd.DataFrame | None = None) -> pd.DataFrame:
        """M5 candles closed by ``known_at`` over ``FEATURE_HISTORY``: the store's, continued by ``window`` (the
        live feed's bars) where the store ends."""
        lo = known_at - FEATURE_HISTORY
        base = self._stored(symbol)
        parts = []
        if base is not None and len(base):
            i0 = int(base.index.searchsorted(lo - M5, "right"))
            i1 = int(base.index.searchsorted(known_at - M5, "right"))
            parts.append(base.iloc[i0:i1])
        if window is not None and len(window):
            after = parts[0].index[-1] if parts and len(parts[0]) else lo - M5
            w = window[(window.index > after) & (window.index + M5 <= known_at) & (window.index + M5 > lo)]
            if len(w):
                parts.append(w)
        parts = [p for p in parts if len(p)]
        if not parts:
            raise ItaError(f"No {symbol} M5 candles before {known_at:%Y-%m-%d %H:%M} UTC to compute features on.")
        return pd.concat(parts) if len(parts) > 1 else parts[0]

    def htf_state(self, symbol: str, known_at: pd.Timestamp, window: pd.DataFrame | None = None, *,
                  candles: pd.DataFrame | None = None) -> dict | None:
        """The higher-timeframe state of ``symbol`` for a signal known at ``known_at`` (see the class doc); None
        when no complete H1 bar precedes it. Cached (unless ``cache=False``) per completed H1 bar and its bars'
        digest. ``candles``: the signal's own cut (:meth:`candles` at ``known_at``), which holds those bars."""
        known_at = pd.Timestamp(known_at)
        close = known_at.floor("h")
        if candles is None:
            try:
                candles = self.candles(symbol, known_at, window)
            except ItaError:
                return None
        ns = candles.index.as_unit("ns").asi8
        i0 = int(np.searchsorted(ns, (close + H1 - FEATURE_HISTORY).value, "left"))
        i1 = int(np.searchsorted(ns, (close - M5).value, "right"))       # bars closed by the hour's close
        c = candles.iloc[i0:i1]
        if not len(c):
            return None
        key = (symbol, close.value, candles_digest(c))
        if self.cache:
            with self._lock:
                got = self._htf.get(key)
                if got is not None:
                    self._htf.move_to_end(key)
                    self.htf_stats["hits"] += 1
                    return got
        state = Bars(c, symbol).htf_state()
        if self.cache:
            with self._lock:
                self.htf_stats["misses"] += 1
                self._htf[key] = state
                while len(self._htf) > HTF_CACHE_SIZE:
                    self._htf.popitem(last=False)
        return state

    def prepare(self, symbol: str, now: pd.Timestamp, window: pd.DataFrame | None = None) -> None:
        """Build (and cache) the higher-timeframe state of ``symbol``'s current hour ahead of its signals — the
        live loop calls it after a run, so a later signal in the hour scores without building it. Never raises."""
        try:
            self.htf_state(symbol, pd.Timestamp(now), window)
        except Exception:  # noqa: BLE001 - a warm-up is an optimisation only
            pass

    def features(self, sig: dict, loaded, *, window: pd.DataFrame | None = None,
                 same_day: list[dict] | None = None) -> pd.DataFrame:
        """The signal's feature vector (one row, the catalogue's columns). ``same_day``: the setup's earlier
        signals of the day (for ``signals_today``); ``window``: the live feed's bars."""
        ev = signal_event(sig)
        rows = [signal_event(s) for s in (same_day or []) if pd.Timestamp(s["known_at"]) < ev["known_at"]]
        events = pd.DataFrame(rows + [ev])
        symbol = str(sig["symbol"])
        c = self.candles(symbol, ev["known_at"], window)
        q = pd.DatetimeIndex(events["known_at"]).as_unit("ns").asi8
        bars = Bars(c, symbol, at=np.searchsorted(c.index.as_unit("ns").asi8 + M5.value, q, "right") - 1)
        state = self.htf_state(symbol, ev["known_at"], window, candles=c)
        if state is not None:
            bars.adopt_htf(state)
        hist = self.history(loaded, symbol, ev["day"])
        return compute_features(c, events, symbol, history=hist, bars=bars).iloc[[-1]].reset_index(drop=True)

    # ---- the score ------------------------------------------------------------------------------------------
    def score(self, sig: dict, loaded, *, laplace_p: float, laplace_basis: str, window: pd.DataFrame | None = None,
              same_day: list[dict] | None = None) -> Score:
        """The gated score of one signal: the model's calibrated p where the gate lets it for this setup, else
        ``laplace_p``; the features are computed either way (they go to the journal). A failure to compute
        features never stops the caller: the score is then Laplace's and ``features`` None."""
        try:
            feats = self.features(sig, loaded, window=window, same_day=same_day)
        except Exception as exc:  # noqa: BLE001 - a live score never fails on a feature problem
            return Score(laplace_p, "laplace", f"{laplace_basis} (features unavailable: {exc})", None, None, laplace_p)
        fdict = {k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                 for k, v in feats.iloc[0].items() if k in FEATURES}
        use, why = self.gate(str(loaded.id))
        m = self.model()
        if not use or m is None:
            return Score(laplace_p, "laplace", laplace_basis, None, fdict, laplace_p)
        p = float(m.predict(feats)[0])
        words = None
        try:
            from ita.learn.explain import contributions, in_words

            x = feats
            if m.manifest.get("formulas"):
                from ita.learn.discover import add_formulas

                x = add_formulas(feats, m.manifest["formulas"])
            words = in_words(contributions(m.fitted, x, float(m.manifest.get("base_p", 0.5)))[1], 3)
        except Exception:  # noqa: BLE001 - an explanation never blocks a score
            words = None
        return Score(p, "model", f"model {m.model_id} ({why}); Laplace would say {laplace_p:.2f}", m.model_id, fdict,
                     laplace_p, words)
