"""Check a setup's detector against a trader's labelled examples ("did ITA find what I would mark?").

A **labels file** is a CSV, one row per setup the trader marked on a chart::

    symbol,timeframe,time,direction,tz,note
    EURUSD,M5,2025.10.14 07:15,long,Europe/Athens,"Asia high 1.15815 …"

=============  ========  =====================================================================================
column         required  meaning
=============  ========  =====================================================================================
``symbol``     yes       instrument, e.g. EURUSD (see ``ita/data/instruments.yaml``)
``timeframe``  yes       chart the trader read, e.g. M5 (labels match only signals of the setup's timeframe)
``time``       yes       open time of the marked candle, as read off the chart: ``2025-10-14 07:15``,
                         ``2025.10.14 07:15`` (MT5) or ISO 8601 with an offset (``2025-10-14T07:15+03:00``)
``direction``  yes       ``long``/``buy`` or ``short``/``sell`` (any case)
``tz``         no        IANA zone of ``time`` (MT5 charts show broker server time, e.g. ``Europe/Athens``);
                         default ``--tz`` (UTC). A time with an explicit offset ignores it.
``setup``      no        setup id; rows naming another setup are skipped
``screenshot`` no        image file of the trader's chart, relative to ``--screenshots`` (else to the CSV's
                         folder); without it, ``--screenshots DIR`` is searched for ``01.png``, ``row_01.png``,
                         ``1.png`` … (row number, also .jpg/.jpeg/.gif/.webp)
``note``       no        the trader's reasoning, shown in the report
=============  ========  =====================================================================================

Rows are numbered 1, 2, … in file order (the ``#`` everywhere; blank lines are not counted). A time
inside a bar means that bar (``07:17`` on M5 → the ``07:15`` candle).

**Matching.** A signal's *setup candles* run from its earliest evidence candle (the break bar, or the
fair value gap's first candle if that comes earlier) to the signal bar (the bar that completed the
signal: the FVG's third candle); see :func:`signal_span`. The **distance** of a label to a signal is 0
when the labelled candle is one of those, else the number of bars to the nearer end (wall-clock time ÷
bar length). A label is a **hit** when a signal of the same symbol, direction and timeframe lies within
``tolerance`` bars (either side); so the trader may mark the break, the displacement candle or the
candle that completes the gap. Pairs are assigned greedily, nearest first (ties: the label closer to
the signal bar, then file order): one signal matches at most one label. Other labels are **misses**,
reported with the nearest signal of any direction and the evaluator's own reason for that trading day
(:func:`ita.setups.explain`), e.g. *no bullish FVG with its third candle within 3 bars after the long
break at 00:10*, or *the rule went long that day*.

**Unlabelled detections** are the signals whose trading day lies in the checked period (first to last
label day, or ``start``/``end``) that no label matched: false positives from the trader's point of
view. Metrics: ``precision = hits / (hits + unlabelled)``, ``recall = hits / labels``.

The label's trading day (used for the evaluator's reason) is its date in the setup's time zone; a label
at or after 17:00 there belongs to the next day (the FX day rolls at 17:00 New York).

Example::

    >>> from ita.setups import load_setup
    >>> from ita.verify import read_labels, verify_labels
    >>> lf = read_labels("examples/labels/eurusd_2025_asia_fvg_break.csv")     # doctest: +SKIP
    >>> res = verify_labels(load_setup("asia_fvg_break"), lf.labels, {"EURUSD": m5})   # doctest: +SKIP
    >>> res.metrics["Recall [%]"]                                               # doctest: +SKIP
    80.0

:func:`run_verify` does all of it from files and the candle store and writes a run folder
(``verify.csv``, ``report.html``, ``summary.json``, a copy of the labels) like a backtest run.

Modules: :mod:`ita.verify.labels` (reading the CSV), :mod:`ita.verify.matching` (labels ↔ detections),
:mod:`ita.verify.metrics` (precision/recall), :mod:`ita.verify.report` (the HTML report) and
:mod:`ita.verify.run` (the run folder). Verification sits above :mod:`ita.setups` and :mod:`ita.charts`;
neither imports it.
"""
from __future__ import annotations

from ita.verify.labels import (
    DIRECTIONS,
    IMAGE_EXT,
    LABEL_COLUMNS,
    OPTIONAL,
    REQUIRED,
    LabelError,
    LabelFile,
    fmt_local,
    parse_label_time,
    read_labels,
)
from ita.verify.matching import (
    DAY_ROLL_HOUR,
    RESULT_COLUMNS,
    VerifyResult,
    bars_between,
    signal_candles,
    signal_span,
    span_distance,
    trading_day,
    verify_labels,
)
from ita.verify.metrics import METRIC_LABELS
from ita.verify.report import case_figure, case_pngs, case_spec, verify_report_html
from ita.verify.run import VerifyRun, run_verify, verify_table

__all__ = [
    "DAY_ROLL_HOUR", "DIRECTIONS", "IMAGE_EXT", "LABEL_COLUMNS", "METRIC_LABELS", "OPTIONAL", "REQUIRED",
    "RESULT_COLUMNS", "LabelError", "LabelFile", "VerifyResult", "VerifyRun", "bars_between", "case_figure",
    "case_pngs", "case_spec", "fmt_local", "parse_label_time", "read_labels", "run_verify", "signal_candles",
    "signal_span", "span_distance", "trading_day", "verify_labels", "verify_report_html", "verify_table",
]
