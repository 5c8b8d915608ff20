"""asia_fvg_break v1 with zero spread and commission equals, trade by trade, an independent
implementation written from the rule text alone (tests/reference/asia_fvg_break_reference.py, which
also parses the raw CSV itself)."""
from __future__ import annotations

import pandas as pd
import pytest

from ita.backtest import backtest
from ita.setups import load_setup
from tests.conftest import sample_file
from tests.reference.asia_fvg_break_reference import load_mt5_csv, reference_trades


@pytest.mark.parametrize("symbol, pip", [("EURUSD", 0.0001), ("XAUUSD", 0.1)])
def test_trades_match_independent_reference(symbol, pip, sample_store):
    ref = reference_trades(load_mt5_csv(sample_file(symbol)), pip=pip).reset_index(drop=True)
    ours = backtest(load_setup("asia_fvg_break"), sample_store.load(symbol, "M5"), symbol,
                    spread_pips=0, commission_per_lot=0).trades.reset_index(drop=True)
    assert len(ref) > 50
    assert len(ours) == len(ref), (len(ours), len(ref))
    assert ours["direction"].tolist() == ref["direction"].tolist()
    for col in ("entry_time", "exit_time"):
        assert (pd.DatetimeIndex(ours[col]) == pd.DatetimeIndex(ref[col])).all(), col
    pairs = [("entry_price", "entry_price"), ("exit_price", "exit_price"), ("limit_price", "limit"),
             ("sl_price", "stop"), ("tp_price", "target"), ("r", "r")]
    for a, b in pairs:
        diff = (ours[a].astype(float) - ref[b].astype(float)).abs().max()
        assert diff < 1e-9, (a, diff)
    assert ours["exit_reason"].tolist() == ref["exit_reason"].tolist()
