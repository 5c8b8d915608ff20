"""Guided feature discovery: a formula the human features hide (a product) is found on the discovery months and
kept because it raises the AUC on later months; on noise nothing is kept; kept formulas become features a model
carries into the live score."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ita.errors import ItaError
from ita.learn.discover import add_formulas, discover, evaluate_expression, kept_formulas, store_discovery
from tests.test_learn_model import synth


def test_expressions_evaluate_with_gplearns_protected_functions():
    df = pd.DataFrame({"a": [1.0, -4.0, np.nan], "b": [2.0, 0.0, 3.0]})
    np.testing.assert_allclose(evaluate_expression("add(a, mul(b, 0.5))", df, {"a": 0.0}), [2.0, -4.0, 1.5])
    np.testing.assert_allclose(evaluate_expression("div(a, b)", df, {"a": 0.0}), [0.5, 1.0, 0.0])   # x/0 → 1
    np.testing.assert_allclose(evaluate_expression("sqrt(a)", df, {"a": 0.0}), [1.0, 2.0, 0.0])
    with pytest.raises(ItaError, match="cannot evaluate"):
        evaluate_expression("__import__('os')", df)
    with pytest.raises(ItaError, match="not an expression"):
        evaluate_expression("add(a,", df)


def test_a_hidden_product_is_found_and_kept_noise_is_refused():
    df = synth(1400, planted=False, seed=21)
    rng = np.random.default_rng(99)
    df["win"] = (df["atr_pct_20d"] * df["stop_atr"] + rng.normal(0, 0.3, len(df))) > 0.4
    d = discover(df, "setup_win", generations=6, n_components=3, population_size=300)
    f = d.formulas
    assert f["kept"].any(), f
    best = f[f["kept"]].iloc[0]
    assert "atr_pct_20d" in best["expression"] and "stop_atr" in best["expression"]
    assert best["gain_lo"] > 0 and best["auc_with"] > best["auc_base"] + 0.05
    assert max(d.eval_folds) > d.discovery_end            # checked only on months after the search's data
    noise = discover(synth(1400, planted=False, seed=22), "setup_win", generations=4, n_components=3,
                     population_size=200)
    assert not noise.formulas["kept"].any()
    store_discovery(d, "h")
    store_discovery(noise, "h")
    kept = kept_formulas("setup_win")
    assert [k["expression"] for k in kept] == list(f.loc[f["kept"], "expression"][::-1])
    with_cols = add_formulas(df, kept)
    assert all(k["name"] in with_cols and np.isfinite(with_cols[k["name"]]).all() for k in kept)


def test_a_model_trained_with_kept_formulas_computes_them_when_scoring():
    from ita.learn.registry import load_model
    from ita.learn.train import train

    df = synth(900, planted=True, seed=8)
    formula = {"name": "gp_test0001", "expression": "mul(atr_pct_20d, stop_atr)", "fill": {}, "kept": True,
               "target": "setup_win"}
    import json

    from ita.learn.discover import discovered_path

    discovered_path().parent.mkdir(parents=True, exist_ok=True)
    discovered_path().write_text(json.dumps([formula]))
    res = train("setup_win", add_formulas(df, [formula]), png=False)
    assert [f["name"] for f in res.manifest["formulas"]] == ["gp_test0001"] and "gp_test0001" in res.manifest["features"]
    m = load_model("setup_win")
    plain = df.tail(20)                                   # the catalogue's features only, as the live loop has them
    np.testing.assert_allclose(m.predict(plain), m.fitted.predict(add_formulas(plain, [formula])))
