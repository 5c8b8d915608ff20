"""Hand-checked, dated detector examples on the real EURUSD / XAUUSD samples, with a chart per case.

``tests/fixtures/detector_cases.yaml`` lists, per detector, a few dated cases: the parameters, a chart
window, the rows the detector must produce (times UTC, prices as quoted) and a ``why`` with the reasoning
done on the raw bars. This module runs every detector on the whole sample, finds each expected row by its
key columns, and compares every listed field (times exactly, prices within 1e-9, ``None`` = NaT/NaN);
``absent`` rows must not exist. Every expected row lists ``confirmed_at``: *when* the event became
knowable is part of what was checked by hand.

Each case also builds its review chart with :func:`ita.charts.detectors.detector_figure` and checks that
every expected event and its ``confirmed_at`` tick are drawn. PNGs are written only with
``ITA_RENDER_FIXTURES=1``, to ``$ITA_TEST_ARTIFACTS`` (default: the test's ``tmp_path``);
``python scripts/detector_gallery.py`` renders them all into ``docs/detectors/``.
"""
from __future__ import annotations

import copy
import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from ita import detectors as D
from ita.charts.detectors import detector_figure
from ita.data.instruments import get_instrument
from ita.data.resample import resample
from ita.sessions import SessionWindow, get_session

CASES_PATH = Path(__file__).parent / "fixtures" / "detector_cases.yaml"
FLOAT_TOL = 1e-9
M5 = pd.Timedelta(minutes=5)

# columns that identify an expected row in each detector's output
KEYS: dict[str, tuple[str, ...]] = {
    "fvg": ("time", "direction"),
    "session_range": ("day",),
    "initial_balance": ("day",),
    "range_break": ("day",),
    "swings": ("time", "kind"),
    "structure_breaks": ("time", "direction"),
    "order_blocks": ("break_time", "direction"),
    "previous_period_levels": ("label",),
    "opening_levels": ("label",),
    "equal_levels": ("side", "first_time", "second_time"),
    "sweeps": ("time", "level", "level_confirmed_at"),
    "atr": ("time",),
}
REQUIRED = tuple(KEYS)


# ------------------------------------------------------------------------------------------- the cases

def load_cases(path: Path = CASES_PATH) -> list[dict]:
    """Flat list of cases, each with its ``detector`` name and a ``case_id`` ``<detector>/<id>``."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for detector, cases in doc["detectors"].items():
        for case in cases:
            out.append({**case, "detector": detector, "case_id": f"{detector}/{case['id']}"})
    return out


def _window(spec: Any) -> SessionWindow:
    """``{session: asia}`` or ``{start, end, timezone?, name?}`` → SessionWindow."""
    if "session" in spec:
        return get_session(spec["session"])
    return SessionWindow(**spec)


def _run(candles: pd.DataFrame, detector: str, params: dict, pip: float) -> pd.DataFrame:
    """Run one detector with the plain parameters of a YAML case (M5 candles)."""
    p = dict(params or {})
    if detector == "fvg":
        return D.fvg(candles, pip, timeframe="M5", **p)
    if detector == "session_range":
        return D.session_range(candles, _window(p.pop("window")), timeframe="M5", **p)
    if detector == "initial_balance":
        win = p.pop("window", None)
        return D.initial_balance(candles, *([_window(win)] if win else []), timeframe="M5")
    if detector == "range_break":
        ranges = _run(candles, "session_range", {"window": p.pop("range")}, pip)
        return D.range_break(candles, ranges, _window(p.pop("window")), timeframe="M5", **p)
    if detector in ("swings", "structure_breaks", "order_blocks"):
        sw = D.swings(candles, p.pop("left", 2), p.pop("right", 2), timeframe="M5")
        if detector == "swings":
            return sw
        br = D.structure_breaks(candles, sw, p.pop("by", "close"), timeframe="M5")
        if detector == "structure_breaks":
            return br
        return D.order_blocks(candles, br, p.pop("zone", "wick"), timeframe="M5")
    if detector == "previous_period_levels":
        return D.previous_period_levels(candles, p.pop("period", "D"), timeframe="M5")
    if detector == "opening_levels":
        return D.opening_levels(candles, timeframe="M5", **p)
    if detector == "equal_levels":
        return D.equal_levels(candles, pip_size=pip, timeframe="M5", **p)
    if detector == "sweeps":
        src = p.pop("levels")
        levels = _run(candles, src["detector"], src.get("params", {}), pip)
        return D.sweeps(candles, levels, pip_size=pip, timeframe="M5", **p)
    if detector == "atr":
        a = D.atr(candles, p.pop("period", 14))
        return pd.DataFrame({"time": candles.index, "confirmed_at": candles.index + M5, "value": a.to_numpy()})
    raise ValueError(f"no runner for detector {detector!r}")


_CACHE: dict[tuple, pd.DataFrame] = {}


def events_for(case: dict, candles: pd.DataFrame) -> pd.DataFrame:
    """The detector's output for a case on its whole sample (memoised per symbol/detector/params)."""
    key = (case["symbol"], case["detector"], json.dumps(case.get("params", {}), sort_keys=True))
    if key not in _CACHE:
        _CACHE[key] = _run(candles, case["detector"], copy.deepcopy(case.get("params", {})), pip_of(case["symbol"]))
    return _CACHE[key]


@lru_cache(maxsize=None)
def pip_of(symbol: str) -> float:
    return float(get_instrument(symbol).pip_size)


# ---------------------------------------------------------------------------------------- comparisons

def _is_time(col: pd.Series) -> bool:
    return isinstance(col.dtype, pd.DatetimeTZDtype) or (len(col) and isinstance(col.iloc[0], pd.Timestamp)
                                                         and col.iloc[0].tzinfo is not None)


def _is_date(col: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(col.dtype) and not isinstance(col.dtype, pd.DatetimeTZDtype)


def _match_mask(df: pd.DataFrame, name: str, want: Any) -> np.ndarray:
    """Rows of ``df`` whose column ``name`` equals the YAML value ``want``."""
    col = df[name]
    if _is_time(col):
        return np.asarray(pd.DatetimeIndex(pd.to_datetime(col, utc=True)) == pd.Timestamp(want, tz="UTC"))
    if _is_date(col):
        return (pd.to_datetime(col).dt.strftime("%Y-%m-%d") == str(want)).to_numpy()
    if pd.api.types.is_float_dtype(col.dtype):
        return np.abs(col.to_numpy(dtype="float64") - float(want)) <= FLOAT_TOL
    return (col.astype(str) == str(want)).to_numpy()


def find_rows(df: pd.DataFrame, keys: dict) -> pd.DataFrame:
    mask = np.ones(len(df), dtype=bool)
    for name, want in keys.items():
        mask &= _match_mask(df, name, want)
    return df[mask]


def _same(got: Any, want: Any, is_time: bool, is_date: bool) -> bool:
    if want is None:
        return got is None or (not isinstance(got, str) and pd.isna(got))
    if is_time:
        return not pd.isna(got) and pd.Timestamp(got).tz_convert("UTC") == pd.Timestamp(want, tz="UTC")
    if is_date:
        return pd.Timestamp(got).strftime("%Y-%m-%d") == str(want)
    if isinstance(want, float) or (isinstance(got, (float, np.floating)) and not isinstance(want, bool)):
        return got is not None and not pd.isna(got) and math.isclose(float(got), float(want), rel_tol=0.0,
                                                                     abs_tol=FLOAT_TOL)
    if isinstance(want, (bool, int)):
        return int(got) == int(want)
    return str(got) == str(want)


def check_case(case: dict, events: pd.DataFrame) -> list:
    """Assert the case's ``expect`` and ``absent`` rows; return the index labels of the expected rows."""
    keys = KEYS[case["detector"]]
    labels = []
    for k, exp in enumerate(case.get("expect") or []):
        where = f"{case['case_id']} expect[{k}]"
        assert "confirmed_at" in exp, f"{where}: every expected row states confirmed_at"
        rows = find_rows(events, {c: exp[c] for c in keys})
        assert len(rows) == 1, f"{where}: {len(rows)} rows with {({c: exp[c] for c in keys})}"
        row = rows.iloc[0]
        for name, want in exp.items():
            assert name in events.columns, f"{where}: the detector has no column {name!r}"
            col = events[name]
            got = row[name]
            assert _same(got, want, _is_time(col), _is_date(col)), f"{where}: {name} is {got!r}, expected {want!r}"
        labels.append(rows.index[0])
    for k, keyset in enumerate(case.get("absent") or []):
        rows = find_rows(events, keyset)
        assert len(rows) == 0, f"{case['case_id']} absent[{k}]: found {rows.head(2).to_dict('records')}"
    return labels


# ------------------------------------------------------------------------------------------ the charts

def case_figure(case: dict, candles: pd.DataFrame, events: pd.DataFrame, labels: list):
    """The review chart of a case: its window, all events there, the expected ones focused."""
    win = case["window"]
    chart_tf = case.get("chart_timeframe")
    day = pd.Timedelta(days=1)
    bars = candles.loc[pd.Timestamp(win[0], tz="UTC") - day:pd.Timestamp(win[1], tz="UTC") + day]
    if chart_tf:
        bars = resample(bars, chart_tf)
    title = f"{case['symbol']} · {case['detector']} · {case['id']}"
    params = ", ".join(f"{k}={v}" for k, v in (case.get("params") or {}).items())
    sub = f"{_esc_text(params)}<br>{_esc_text(case.get('title', ''))}"
    return detector_figure(bars, events, case["detector"], win[0], win[1], title, pip_of(case["symbol"]),
                           focus=labels, subtitle=sub, reference_levels=case.get("reference_levels"))


def _esc_text(s: str) -> str:
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def element_names(fig) -> set[str]:
    names = {getattr(t, "name", None) for t in fig.data}
    names |= {s.name for s in fig.layout.shapes} | {a.name for a in fig.layout.annotations}
    return {n for n in names if n}


# --------------------------------------------------------------------------------------------- tests

CASES = load_cases()


@pytest.fixture(scope="module")
def samples(eurusd_m5, xauusd_m5):
    return {"EURUSD": eurusd_m5, "XAUUSD": xauusd_m5}


def test_every_detector_has_three_to_five_documented_cases():
    by = {}
    for c in CASES:
        by.setdefault(c["detector"], []).append(c)
    assert set(by) == set(REQUIRED), f"detectors without cases: {set(REQUIRED) - set(by)}"
    for det, cases in by.items():
        most = 6 if det == "previous_period_levels" else 5   # that one: 3 daily + 3 weekly
        assert 3 <= len(cases) <= most, f"{det}: {len(cases)} cases"
        for c in cases:
            assert c.get("why", "").strip() and c.get("title", "").strip(), f"{c['case_id']}: needs title and why"
            assert c["symbol"] in ("EURUSD", "XAUUSD") and len(c["window"]) == 2
            assert c.get("expect") or c.get("absent"), f"{c['case_id']}: nothing to check"
    assert len({c["case_id"] for c in CASES}) == len(CASES), "case ids must be unique per detector"


@pytest.mark.parametrize("case", CASES, ids=[c["case_id"] for c in CASES])
def test_case(case, samples, tmp_path):
    candles = samples[case["symbol"]]
    events = events_for(case, candles)
    labels = check_case(case, events)
    fig = case_figure(case, candles, events, labels)
    names = element_names(fig)
    for lab in labels:
        assert f"event {lab}" in names, f"{case['case_id']}: expected event {lab} is not drawn"
        assert f"event {lab} known" in names, f"{case['case_id']}: confirmed_at of event {lab} is not marked"
    if os.environ.get("ITA_RENDER_FIXTURES") == "1":
        from ita.charts.export import save_png
        from ita.charts.detectors import HEIGHT, WIDTH

        out = Path(os.environ.get("ITA_TEST_ARTIFACTS") or tmp_path) / "detector_fixtures"
        path = save_png(fig, out / f"{case['detector']}_{case['id']}.png", width=WIDTH, height=HEIGHT)
        assert path.stat().st_size > 10_000


def _mutations(row: dict) -> list[tuple[str, Any]]:
    """One wrong value per field of an expected row (a tick, 5 minutes, a flipped label …)."""
    out = []
    for name, v in row.items():
        if v is None:
            out.append((name, "2025-01-01 00:00"))           # NaT expected → a time
        elif isinstance(v, bool):
            out.append((name, not v))
        elif isinstance(v, int):
            out.append((name, v + 1))
        elif isinstance(v, float):
            out.append((name, v + max(abs(v) * 1e-6, 1e-5)))
        elif isinstance(v, str) and len(v) >= 10 and v[:4].isdigit() and v[4] == "-":
            ts = pd.Timestamp(v)
            out.append((name, str((ts + (pd.Timedelta(days=1) if len(v) == 10 else M5)).date() if len(v) == 10
                                  else ts + M5)))
        else:
            out.append((name, v + "_x"))
    return out


WITH_ROWS = [c for c in CASES if c.get("expect")]


@pytest.mark.parametrize("case", WITH_ROWS, ids=[c["case_id"] for c in WITH_ROWS])
def test_a_wrong_expected_value_fails(case, samples):
    """Each field of the first expected row is really compared: any single wrong value fails the case."""
    events = events_for(case, samples[case["symbol"]])
    for name, wrong in _mutations(case["expect"][0]):
        bad = copy.deepcopy(case)
        bad["expect"][0][name] = wrong
        with pytest.raises(AssertionError):
            check_case(bad, events)
    exp = case["expect"][0]
    bad = copy.deepcopy(case)
    bad["absent"] = [{k: exp[k] for k in KEYS[case["detector"]]}]   # an existing row listed as absent
    with pytest.raises(AssertionError):
        check_case(bad, events)
