"""The live graph's state: what one run of the graph (one symbol and timeframe at one candle close) carries
from node to node. Nothing is kept between runs here: the journal (SQLite) remembers."""
from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import pandas as pd


class LiveState(TypedDict, total=False):
    """State of one live-graph run.

    Fields
    ------
    symbol, timeframe : what this run looks at (``"EURUSD"``, ``"M5"``): the setups on that timeframe.
    now : the clock's time when the run started (UTC; simulated in a replay).
    expected_close : the candle close this run was scheduled for (UTC); the fetch node waits up to
        ``wait_s`` for the feed to deliver it while the market is open.
    candles : the closed bars of the window (canonical frame, UTC index), from ``cursor − warm-up`` on.
    last_close : the close of the newest closed bar (UTC) — the decision time of this run.
    cursor : the close of the last bar evaluated by an earlier run (UTC); signals known after it are new.
    contexts : ``{setup key: detector context}`` — every declared detector run once on ``candles``.
    candidates : the new signals (rows of :func:`ita.setups.evaluate` as dicts, plus ``setup_key``),
        in order of ``known_at``.
    scored : the candidates with ``score`` (p(success)), ``score_basis`` and ``expected_r``.
    alerts : the signal ids this run journaled as alerts and must deliver (a signal already journaled by
        another run is not among them: never twice).
    decisions : every candidate's ``{signal_id, decision, reason, score}`` for the run's report.
    delivered : ``{signal_id: {channel: status}}`` after notify/journal.
    errors : problems that stopped the run or part of it (a malformed feed line, a chart that failed),
        each one sentence naming where; nodes append.
    timings : seconds spent per node; nodes add theirs.
    """

    symbol: str
    timeframe: str
    now: pd.Timestamp
    expected_close: pd.Timestamp | None
    candles: pd.DataFrame
    last_close: pd.Timestamp | None
    cursor: pd.Timestamp | None
    contexts: dict[str, Any]
    candidates: list[dict[str, Any]]
    scored: list[dict[str, Any]]
    alerts: list[str]
    decisions: list[dict[str, Any]]
    delivered: dict[str, dict[str, str]]
    errors: Annotated[list[str], operator.add]
    timings: Annotated[dict[str, float], operator.or_]
