"""The detector catalogue (ita/detectors/catalog.yaml) is the one list of detectors: every entry is complete and
true to the detector it names, and the tools, the chat's vocabulary and the charts read it."""
from __future__ import annotations

import re
import typing

import pytest

import ita.detectors as D
from ita.charts.detectors import KINDS as CHART_KINDS
from ita.detectors import catalog as C
from ita.errors import ItaError


def test_every_entry_names_a_detector_function_and_a_chart_drawing():
    assert len(C.KINDS) == 12 and C.KINDS[0] == "fvg"
    for k, e in C.catalog().items():
        assert callable(getattr(D, e.function)), k
        assert e.chart in CHART_KINDS, (k, e.chart)
        assert e.words and e.label and e.source, k
        for w in e.words:  # every vocabulary word is a usable pattern
            re.compile(w[3:] if w.startswith("re:") else re.escape(w))
        assert set(e.ints) <= set(e.params) and set(e.choices) <= set(e.params), k


def test_setup_kinds_are_the_setup_languages_detector_kinds():
    from ita.setups.schema import DetectorSpec

    union = typing.get_args(typing.get_args(DetectorSpec)[0])
    schema_kinds = {typing.get_args(m.model_fields["kind"].annotation)[0] for m in union}
    named = {e.setup_kind for e in C.catalog().values() if e.setup_kind and " " not in e.setup_kind}
    assert named == schema_kinds


@pytest.mark.parametrize("k", C.KINDS)
def test_event_columns_are_columns_of_the_output(k, eurusd_m5):
    candles = eurusd_m5.loc["2025-03-03":"2025-03-07"]
    p = C.detector_params(k)
    ev = C.run(k, candles, 0.0001, "M5", p)
    assert len(ev), k
    assert "confirmed_at" in ev.columns or k == "atr"
    derived = {"range_pips", "value_pips"}  # computed by the events table from high/low and value
    missing = {col for _, col, _ in C.kind(k).columns} - set(ev.columns) - derived
    assert not missing, (k, missing)


def test_aliases_and_errors():
    assert C.resolve("BOS") == "structure" and C.resolve("order block") == "order_blocks"
    assert C.resolve("IFVG") == "inverse_fvg" and C.resolve("nothing") is None
    with pytest.raises(ItaError, match=r"Did you mean: fvg\?"):
        C.kind("fvgg")
    assert C.detector_params("fvg", {"min_gap_pips": "1"}) == {"min_gap_pips": 1.0, "mitigation": "touch",
                                                               "join": "none", "require_displacement_close": False}
    assert C.detector_params("fvg", {"require_displacement_close": "yes"})["require_displacement_close"] is True
    with pytest.raises(ItaError, match="must be true or false"):
        C.detector_params("fvg", {"require_displacement_close": "maybe"})
    with pytest.raises(ItaError, match="use one of: touch, midpoint, close_through"):
        C.detector_params("fvg", {"mitigation": "sometimes"})


def test_the_tool_and_the_parser_read_the_catalogue():
    from ita.tools import ARG_MODELS, DETECTORS

    assert DETECTORS == C.KINDS
    desc = ARG_MODELS["run_detector"].model_fields["detector"].description
    assert all(k in desc for k in C.KINDS)
