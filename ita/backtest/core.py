"""The pure backtest: setup + candles → signals, trades, statistics. No files, no database.

Example::

    >>> from ita.data.store import load_candles
    >>> from ita.setups import load_setup
    >>> from ita.backtest import backtest
    >>> m5 = load_candles("EURUSD", "M5", "2024-12-28", "2025-12-31")        # doctest: +SKIP
    >>> res = backtest(load_setup("asia_fvg_break"), m5, "EURUSD", start="2025-01-01", end="2025-12-31")  # doctest: +SKIP
    >>> res.stats["Total R"]                                                 # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ita.backtest.engine import ExecutionModel, simulate
from ita.backtest.stats import by_month, compute_stats, equity_curve
from ita.data.instruments import get_instrument
from ita.setups.evaluate import evaluate
from ita.setups.loader import LoadedSetup


@dataclass
class BacktestResult:
    """Everything a backtest produced.

    ``stats`` labelled Series (:func:`ita.backtest.stats.compute_stats`); ``trades`` the trades table;
    ``signals`` every signal with its order ``status``; ``equity`` per-trade equity curve; ``by_month``
    monthly breakdown; ``setup`` the loaded setup; ``symbol``; ``model`` the execution model used;
    ``start``/``end`` the period (trading days D, inclusive).
    """

    setup: LoadedSetup
    symbol: str
    start: pd.Timestamp
    end: pd.Timestamp
    model: ExecutionModel
    signals: pd.DataFrame
    trades: pd.DataFrame
    stats: pd.Series
    equity: pd.DataFrame
    by_month: pd.DataFrame
    extra: dict = field(default_factory=dict)


def execution_model(loaded: LoadedSetup, symbol: str, spread_pips: float | str | None = None,
                    commission_per_lot: float | None = None, price_hint: float = 1.0) -> ExecutionModel:
    """Execution model for ``symbol``: ``spread_pips`` None → the instrument's typical spread, ``"data"``
    → the candles' own spread column, a number → that many pips; commission None → the instrument's."""
    inst = get_instrument(symbol)
    if spread_pips is None:
        sp = inst.typical_spread_pips
    elif isinstance(spread_pips, str) and spread_pips.lower() == "data":
        sp = None
    else:
        sp = float(spread_pips)
    s = loaded.setup
    return ExecutionModel(
        pip_size=inst.pip_size, spread_pips=sp, point=inst.point,
        commission_per_lot=inst.commission_per_lot if commission_per_lot is None else float(commission_per_lot),
        contract_size=inst.contract_size, quote_to_account=inst.quote_to_account(price_hint, s.risk.currency),
        intrabar="stop_first" if s.execution.intrabar == "lower_timeframe" else s.execution.intrabar,
        fill_bar=s.execution.fill_bar,
    )


def _session_window(loaded: LoadedSetup, name: str):
    from ita.errors import SetupError
    from ita.sessions import default_sessions

    known = set(loaded.setup.sessions) | set(default_sessions())
    if name not in known:
        from ita.errors import closest

        raise SetupError(f"Unknown session {name!r}.{closest(name, known)} Known: {', '.join(sorted(known))}.")
    return loaded.setup.session(name)


def _intrabar(loaded: LoadedSetup, lower: pd.DataFrame | None) -> tuple[str, bool]:
    """The setup's ``execution.intrabar`` mode and whether M1 candles resolve ambiguous bars in this run."""
    mode = loaded.setup.execution.intrabar
    return mode, (mode == "lower_timeframe" and lower is not None and len(lower) > 0 and loaded.setup.timeframe != "M1")


def orders_and_trades(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str, *, start=None, end=None,
                      spread_pips: float | str | None = None, commission_per_lot: float | None = None,
                      session: str | None = None, context=None, signals: pd.DataFrame | None = None,
                      lower: pd.DataFrame | None = None):
    """The signals and trades of :func:`backtest` without its statistics tables:
    ``(signals with status, trades, model, first day, last day)``. Same arguments and errors as :func:`backtest`
    (research sweeps call it once per variant and compute only the figures they rank by). ``signals``: the
    output of :func:`~ita.setups.evaluate.evaluate` for ``loaded`` on ``candles`` when the caller already has it
    (then nothing is evaluated here). ``lower``: M1 candles for intrabar resolution, see :func:`backtest`."""
    sig = evaluate(loaded, candles, symbol, context=context) if signals is None else signals
    sig = select_signals(loaded, sig, session=session, start=start, end=end)
    lo = pd.Timestamp(start).normalize() if start is not None else None
    hi = pd.Timestamp(end).normalize() if end is not None else None
    price = float(candles["close"].iloc[-1]) if len(candles) else 1.0
    model = execution_model(loaded, symbol, spread_pips, commission_per_lot, price)
    mode, use_lower = _intrabar(loaded, lower)
    trades, sig = simulate(candles, sig, model, lower=lower if use_lower else None)
    first = lo if lo is not None else (candles.index[0].normalize().tz_localize(None) if len(candles) else None)
    last = hi if hi is not None else (candles.index[-1].normalize().tz_localize(None) if len(candles) else None)
    return sig, trades, model, first, last


def select_signals(loaded: LoadedSetup, sig: pd.DataFrame, *, session: str | None = None, start=None,
                   end=None) -> pd.DataFrame:
    """The signals of ``sig`` (a frame of :func:`~ita.setups.evaluate.evaluate`) that :func:`backtest` simulates:
    those whose bar opens inside ``session`` (when given) and whose trading day is in [``start``, ``end``]
    (dates, inclusive; None = open). Raises :class:`~ita.errors.SetupError` for an unknown session name."""
    if session is not None and len(sig):
        inside, _ = _session_window(loaded, session).mask(pd.DatetimeIndex(sig["time"]))
        sig = sig[inside].reset_index(drop=True)
    elif session is not None:
        _session_window(loaded, session)
    lo = pd.Timestamp(start).normalize() if start is not None else None
    hi = pd.Timestamp(end).normalize() if end is not None else None
    if len(sig):
        day = pd.to_datetime(sig["day"])
        keep = pd.Series(True, index=sig.index)
        if lo is not None:
            keep &= day >= lo.tz_localize(None)
        if hi is not None:
            keep &= day <= hi.tz_localize(None)
        sig = sig[keep].reset_index(drop=True)
    return sig


def backtest(loaded: LoadedSetup, candles: pd.DataFrame, symbol: str, *, start=None, end=None,
             spread_pips: float | str | None = None, commission_per_lot: float | None = None,
             session: str | None = None, context=None, lower: pd.DataFrame | None = None) -> BacktestResult:
    """Evaluate ``loaded`` on ``candles`` and simulate its orders.

    ``candles`` must be the setup's timeframe and should start a day before ``start`` so the first
    day's session range is complete. Signals are kept when their trading day D is in
    [``start``, ``end``] (dates, inclusive; default: all) and, with ``session`` (a session/killzone name
    such as ``"london_killzone"``, the setup's own or a default one), when the bar that completed the
    signal opens inside that window ("only the London killzone"). See :func:`execution_model` for costs.
    ``context``: a :class:`~ita.setups.events.Context` for ``loaded`` and ``candles`` whose detectors already
    ran (see :func:`ita.setups.evaluate.evaluate`; research sweeps share detector runs this way).
    ``lower``: M1 candles of the period for intrabar resolution (:mod:`ita.backtest.intrabar`), used when the
    setup's ``execution.intrabar`` is ``lower_timeframe`` (the default) and its timeframe is above M1;
    ``extra["intrabar"]`` says what was used.
    Raises :class:`~ita.errors.SetupError` for an unknown session name.
    """
    sig, trades, model, first, last = orders_and_trades(
        loaded, candles, symbol, start=start, end=end, spread_pips=spread_pips, commission_per_lot=commission_per_lot,
        session=session, context=context, lower=lower)
    risk = loaded.setup.risk
    mode, use_lower = _intrabar(loaded, lower)
    stats = compute_stats(trades, start=first, end=last, account=risk.account, risk_pct=risk.risk_pct, signals=len(sig))
    how = ("M1 bars inside each ambiguous bar, else stop first" if use_lower else
           "stop first (no M1 candles for the period)" if mode == "lower_timeframe" else mode.replace("_", " "))
    return BacktestResult(setup=loaded, symbol=symbol, start=first, end=last, model=model, signals=sig, trades=trades,
                          stats=stats, equity=equity_curve(trades, risk.account, risk.risk_pct),
                          by_month=by_month(trades, risk.account, risk.risk_pct),
                          extra={"intrabar": {"mode": mode, "lower": "M1" if use_lower else None, "how": how}})
