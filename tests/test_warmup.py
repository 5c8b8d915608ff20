"""The warm-up rule (:func:`ita.setups.warmup`): a backtest of any period — and the live loop's bounded
window — gives exactly the signals the whole history gives for that period.

For every shipped setup and both sample symbols, every trading day D of the sample year is evaluated on
the bars from ``D − warmup − 1 day`` to the end of D only, and its signals are compared field by field with
the evaluation of the whole year. A shorter window is shown to be not enough, so the test can fail.
"""
from __future__ import annotations

import pandas as pd
import pytest

from ita.setups import evaluate, list_setups, load_setup, warmup
from ita.setups.schema import Setup

COLS = ["signal_id", "direction", "entry_type", "entry_price", "sl_price", "tp_price", "time", "known_at",
        "expires_at", "exit_by"]
SHIPPED = [(sid, v) for sid, versions in list_setups().items() for v in versions]


def _by_day(loaded, m5, symbol, days_before: pd.Timedelta) -> pd.DataFrame:
    tz = loaded.setup.timezone
    local = m5.index.tz_convert(tz)
    days = pd.DatetimeIndex(local.normalize().unique())[3:]
    out = []
    for d in days:
        end = (d + pd.Timedelta(days=1)).tz_convert("UTC")
        win = m5[(m5.index >= end - days_before - pd.Timedelta(days=1)) & (m5.index < end)]
        sig = evaluate(loaded, win, symbol)
        out.append(sig[sig["day"] == d.tz_localize(None)])
    return pd.concat(out, ignore_index=True), days[0].tz_localize(None)


@pytest.mark.slow
@pytest.mark.parametrize("symbol", ["EURUSD", "XAUUSD"])
@pytest.mark.parametrize("setup_id,version", SHIPPED)
def test_each_day_on_its_warmup_window_equals_the_whole_history(setup_id, version, symbol, eurusd_m5, xauusd_m5):
    m5 = eurusd_m5 if symbol == "EURUSD" else xauusd_m5
    loaded = load_setup(setup_id, version)
    full = evaluate(loaded, m5, symbol)
    got, first = _by_day(loaded, m5, symbol, warmup(loaded.setup))
    ref = full[full["day"] >= first].reset_index(drop=True)
    assert len(ref) > 0
    pd.testing.assert_frame_equal(got[COLS].sort_values("signal_id").reset_index(drop=True),
                                  ref[COLS].sort_values("signal_id").reset_index(drop=True), check_dtype=False)


def test_three_days_are_not_enough_for_the_h1_structure_of_silver_bullet(xauusd_m5):
    """The old fixed 3-day margin missed XAUUSD silver_bullet signals (H1 structure state): the warm-up rule
    exists for a reason, and the comparison above can fail."""
    loaded = load_setup("silver_bullet")
    full = evaluate(loaded, xauusd_m5, "XAUUSD")
    got, first = _by_day(loaded, xauusd_m5, "XAUUSD", pd.Timedelta(days=2))
    assert set(full[full["day"] >= first]["signal_id"]) != set(got["signal_id"])


def test_warmup_grows_with_what_the_detectors_remember():
    base = load_setup("asia_fvg_break").setup
    assert warmup(base) == pd.Timedelta(days=10)
    raw = base.model_dump(mode="json", by_alias=True, exclude_none=True)

    def with_detector(spec: dict) -> Setup:
        return Setup.model_validate({**raw, "detectors": {**raw["detectors"], "extra": spec}})

    assert warmup(with_detector({"kind": "previous_levels", "period": "M"})) == pd.Timedelta(days=70)
    assert warmup(with_detector({"kind": "previous_levels", "period": "W"})) == pd.Timedelta(days=21)
    assert warmup(with_detector({"kind": "structure", "timeframe": "D1"})) == pd.Timedelta(days=60)
    assert warmup(with_detector({"kind": "atr", "period": 14, "timeframe": "H4"})) == pd.Timedelta(hours=4 * 700)
