"""The learning module on the sample data: dataset, walk-forward training, scoring one live signal, one SHAP
explanation, nearest neighbours.

Run: ``.venv/bin/python benchmarks/bench_learn.py [--repeats 3] [--fvg]`` — prints medians of ``--repeats`` runs
(the per-signal steps: medians over 40 signals) next to the issue's targets, and the machine's load. It works
in a throw-away ``ITA_HOME`` (``$TMPDIR/ita_bench_learn``; the samples are imported there once) and never
touches ``~/.ita``.

The live score is timed as the live loop runs it: after each run the loop builds the symbol's higher-timeframe
feature state of the hour (``SignalScorer.prepare``), so a signal later in the hour finds it cached; a signal
right at an H1 close builds it on its own path — the second live-score row times every signal that way.

Targets (issue 14): dataset for all shipped setups on both sample symbols ≤ 10 s; a full purged walk-forward
training ≤ 60 s; scoring one live signal ≤ 20 ms; one SHAP explanation ≤ 100 ms; nearest neighbours ≤ 50 ms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def timed(fn, repeats: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fvg", action="store_true", help="also train fvg_respected (≈18 000 FVGs)")
    a = ap.parse_args()
    home = Path(os.environ.get("ITA_BENCH_LEARN_HOME", Path(tempfile.gettempdir()) / "ita_bench_learn"))
    os.environ["ITA_HOME"] = str(home)
    for var in ("ITA_DATA_DIR", "ITA_RUNS_DIR", "ITA_DB"):
        os.environ.pop(var, None)

    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from ita.data.store import CandleStore
    from ita.learn.dataset import build_event_dataset, build_setup_dataset
    from ita.learn.explain import contributions
    from ita.learn.features import FEATURES
    from ita.learn.model import fit_final, walk_forward
    from ita.learn.registry import load_model
    from ita.learn.scoring import SignalScorer
    from ita.learn.similar import nearest
    from ita.learn.train import train
    from ita.setups import list_setups, load_setup

    store = CandleStore()
    store.ensure_samples()
    setups = [load_setup(s) for s in list_setups()]
    syms = ["EURUSD", "XAUUSD"]
    rows = []
    t_ds, ds = timed(lambda: build_setup_dataset(setups, syms, "2025-01-01", "2025-12-31", store=store), a.repeats)
    rows.append(("dataset: 5 setups × 2 symbols (setup_win)", f"{len(ds)} signals", t_ds, 10.0))
    t_wf, wf = timed(lambda: (walk_forward(ds, "setup_win"), fit_final(ds, "setup_win")), a.repeats)
    rows.append(("purged walk-forward + final model (setup_win)", f"{wf[0].pooled['model']['n']} OOS", t_wf, 60.0))
    if a.fvg:
        t_fd, fd = timed(lambda: build_event_dataset("fvg", syms, "2025-01-01", "2025-12-31", store=store), 1)
        rows.append(("dataset: every FVG (fvg_respected)", f"{len(fd)} FVGs", t_fd, None))
        t_fw, _ = timed(lambda: (walk_forward(fd, "fvg_respected"), fit_final(fd, "fvg_respected")), 1)
        rows.append(("purged walk-forward + final model (fvg_respected)", f"{len(fd)} FVGs", t_fw, 60.0))

    train("setup_win", ds, png=False)
    m = load_model("setup_win")
    scorer = SignalScorer(store=store)
    sample = ds.sample(40, random_state=0)
    sigs = []
    for r in sample.to_dict("records"):
        sig = {"rule_id": r["setup_id"], "setup_id": r["setup_id"], "symbol": r["symbol"], "direction": r["side"],
               "entry_price": r["entry_price"], "sl_price": r["sl_price"], "tp_price": r["tp_price"],
               "known_at": r["known_at"], "day": r["day"], "meta": {"rr": r["rr"], "zone": {"size_pips": r["zone_pips"]}}}
        sigs.append((sig, load_setup(r["setup_id"])))
    for sig, loaded in sigs:                       # warm the setups' trade-history cache (once a day live)
        scorer.history(loaded, sig["symbol"], pd.Timestamp(sig["day"]))
    window = {s: store.load(s, "M5") for s in syms}
    m5 = pd.Timedelta(minutes=5)
    lat, cold = [], []
    for sig, loaded in sigs:
        w = window[sig["symbol"]]
        w = w[w.index + m5 <= sig["known_at"]].tail(12 * 24 * 12)   # the live window
        # as in the live loop: the run of the previous bar built its hour's higher-timeframe state afterwards
        # (a signal right at an H1 close still builds its own hour's state on its path)
        scorer.prepare(sig["symbol"], sig["known_at"] - m5, w.iloc[:-1])
        t = time.perf_counter()
        scorer.score(sig, loaded, laplace_p=0.25, laplace_basis="b", window=w)
        lat.append(time.perf_counter() - t)
        scorer.cache = False                                     # the state built on the path, nothing cached
        t = time.perf_counter()
        scorer.score(sig, loaded, laplace_p=0.25, laplace_basis="b", window=w)
        cold.append(time.perf_counter() - t)
        scorer.cache = True
    rows.append(("score one live signal end to end, as in the live loop: features from 35 days of M5 + gate + p",
                 "median of 40", statistics.median(lat), 0.020))
    rows.append(("  the same with the hour's higher-timeframe state built on the signal's path (first of the hour)",
                 "median of 40", statistics.median(cold), 0.020))
    feats = ds[list(FEATURES)]
    t_p = statistics.median(timed(lambda r=feats.iloc[[k]]: (m.gate(str(r["setup"].iloc[0])), m.predict(r)), 1)[0]
                            for k in range(40))
    rows.append(("  the score itself: gate + calibrated p (features given)", "median of 40", t_p, 0.020))
    base = float(m.manifest["base_p"])
    t_shap = statistics.median(timed(lambda r=feats.iloc[[k]]: contributions(m.fitted, r, base), 1)[0] for k in range(40))
    rows.append(("one SHAP explanation (TreeExplainer)", "median of 40", t_shap, 0.100))
    q = [ds.iloc[k] for k in range(len(ds) - 40, len(ds))]
    t_nn = statistics.median(timed(lambda r=r: nearest(ds, r, 10), 1)[0] for r in q)
    rows.append(("10 nearest earlier signals", "median of 40", t_nn, 0.050))

    tab = Table(title=f"Learning on the sample data (medians; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for c in ("what", "size", "time", "target", ""):
        tab.add_column(c, justify="left" if c in ("what", "size") else "right")
    for what, size, t, target in rows:
        fmt = (lambda x: f"{x * 1000:.1f} ms") if (target or t) < 1 else (lambda x: f"{x:.2f} s")
        ok = "" if target is None else ("✓" if t <= target else "✗")
        tab.add_row(what, size, fmt(t), fmt(target) if target else "", ok)
    Console().print(tab)


if __name__ == "__main__":
    main()
