"""The templated comment: three sentences (what lined up, what argues against it, the risk note) built from a
real signal's own evidence — levels named by what they are, the numbers the signal's."""
from __future__ import annotations

import re

import pytest

from ita.live.comment import template_comment
from ita.setups import evaluate, load_setup


def _first(setup_id, m5, symbol="EURUSD", day="2025-03-04"):
    loaded = load_setup(setup_id)
    sig = evaluate(loaded, m5[(m5.index >= "2025-02-20") & (m5.index < "2025-03-08")], symbol)
    row = sig[sig["day"] == day].iloc[0].to_dict()
    return row, loaded.setup


@pytest.mark.parametrize("setup_id, fragments, absent", [
    ("asia_fvg_break", ["Long EURUSD: a close above the Asia range at 02:45, then a bullish FVG of 1.6 pips",
                        "a limit at the zone with 2.0R to the target", "does not pay at this RR (p 0.22, expected −0.35R)",
                        "the Asia range is wide (25 pips) against a 2.6-pip stop",
                        "Risk 2.6 pips; the order is valid until 11:00 NY and the trade is flat by 16:00 NY"], []),
    ("ib_raid", ["Short EURUSD: a sweep of the initial balance high, closed back inside on the same bar",
                 "a market entry with 4.9R", "pays at this RR", "the trade is flat by 11:30 NY"], ["valid until"]),
])
def test_three_sentences_from_the_signal(setup_id, fragments, absent, eurusd_m5):
    sig, setup = _first(setup_id, eurusd_m5)
    p = 0.2174 if setup_id == "asia_fvg_break" else 0.2083
    rr = sig["meta"]["rr"]
    text = template_comment(sig, score=p, expected_r=p * rr - (1 - p), setup=setup)
    for f in fragments:
        assert f in text, (f, text)
    for f in absent:
        assert f not in text
    assert len(re.findall(r"[.!?](?:\s|$)", text)) == 3
    assert f"Risk {sig['meta']['risk_pips']:.1f} pips" in text


def test_without_evidence_or_score_it_still_says_something_useful(eurusd_m5):
    sig, _ = _first("silver_bullet", eurusd_m5, day="2025-03-03")
    bare = {**sig, "meta": {}}
    text = template_comment(bare)
    assert text.startswith("Long EURUSD from silver_bullet; a limit at the zone.") and "flat by 15:00 NY" in text
