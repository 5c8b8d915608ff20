"""What the learning tools read about signals: the learning dataset (the active model's, else the latest), one
signal with its feature vector from the live journal or the dataset, and the live journal's finished signals as
dataset rows. Raises :class:`~ita.errors.ItaError` with one sentence when a signal is not found."""
from __future__ import annotations

from ita.errors import ItaError
from ita.tools.access import candle_store


def live_rows(setup_ids: list[str], symbols: list[str]) -> pd.DataFrame:
    """The live journal's signals (run ``live``; replays repeat the backtest) of these setups and symbols whose
    outcome is final and whose features were journaled, as dataset rows."""
    import json

    import numpy as np
    import pandas as pd

    from ita.learn.features import FEATURES
    from ita.live.journal import LIVE, Journal

    sig = Journal().signals(LIVE)
    if sig.empty or "features" not in sig:
        return pd.DataFrame()
    sig = sig[sig["setup_id"].isin(setup_ids) & sig["symbol"].isin(symbols) & sig["features"].notna()
              & sig["outcome"].isin(["filled", "expired"])]
    rows = []
    for r in sig.to_dict("records"):
        f = json.loads(r["features"])
        filled = r["outcome"] == "filled"
        known = pd.Timestamp(r["known_at"])
        rows.append({"event_id": r["signal_id"], "source": "live", "setup_id": r["setup_id"],
                     "setup_version": int(r["version"]), "setup_hash": r["setup_hash"], "side": r["direction"],
                     "day": pd.Timestamp(r["day"]), "known_at": known, "entry_price": r["entry_price"],
                     "sl_price": r["sl_price"], "tp_price": r["tp_price"],
                     **{k: (np.nan if f.get(k) is None else f[k]) for k in FEATURES},
                     "filled": filled, "r": r["outcome_r"] if filled else np.nan,
                     "win": bool(filled and (r["outcome_r"] or 0) > 0), "exit_reason": r["exit_reason"],
                     "mfe_r": r["mfe_r"], "mae_r": r["mae_r"], "bars_to_exit": r["bars_to_exit"],
                     "exit_time": pd.Timestamp(r["exit_time"]) if r.get("exit_time") else pd.NaT,
                     "outcome_end": (pd.Timestamp(r["exit_time"]) + pd.Timedelta(minutes=5)) if filled and r.get("exit_time")
                     else pd.Timestamp(r["expires_at"] or r["exit_by"] or known)})
    return pd.DataFrame(rows)


def signal_dataset():
    """(dataset, stored model or None, why there is no model): the active setup_win model's dataset, else the
    latest setups dataset."""
    from ita.learn.dataset import latest_dataset, read_dataset
    from ita.learn.registry import load_model

    try:
        m = load_model("setup_win")
        return m.dataset(), m, None
    except ItaError as exc:
        p = latest_dataset("setups")
        return (read_dataset(p)[0] if p else None), None, str(exc)


def find_signal(signal_id: str | None, setup_id: str | None = None, symbol: str | None = None) -> dict:
    """A signal from the live journal (any run) or the dataset, with its feature vector: ``signal_id``,
    ``source``, ``setup_id``, ``version``, ``symbol``, ``side``, ``known_at``, ``day``, ``entry_price``,
    ``sl_price``, ``tp_price``, ``features`` (dict), ``outcome`` (R or None), ``journal`` (row or None)."""
    import numpy as np
    import pandas as pd
    from ita.learn.features import FEATURES
    from ita.live.journal import Journal

    j = Journal()
    ds, _, _ = signal_dataset()
    jr = None
    if signal_id:
        jr = j.find(signal_id)
    elif not setup_id:
        jr = j.latest()
    row = None
    if ds is not None and len(ds):
        if signal_id:
            hit = ds[ds["event_id"] == signal_id]
        elif jr is not None:
            hit = ds[ds["event_id"] == jr["signal_id"]]
        else:
            sel = pd.Series(True, index=ds.index)
            if setup_id:
                sel &= ds["setup_id"] == setup_id
            if symbol:
                sel &= ds["symbol"] == symbol
            hit = ds[sel].tail(1)
        row = hit.iloc[-1] if len(hit) else None
    if jr is None and row is None:
        where = "the live journal or the learning dataset"
        if signal_id:
            raise ItaError(f"No signal {signal_id!r} in {where}. `ita live signals` lists journaled signals; "
                           "`ita learn dataset` builds the dataset.")
        raise ItaError(f"No signal yet{' of ' + setup_id if setup_id else ''} in {where}: run `ita live replay` "
                       "or build a dataset with `ita learn dataset`.")
    if jr is not None:
        out = {"signal_id": jr["signal_id"], "source": f"journal ({jr['run']})", "setup_id": jr["setup_id"],
               "version": int(jr["version"]), "symbol": jr["symbol"], "side": jr["direction"],
               "known_at": pd.Timestamp(jr["known_at"]), "day": pd.Timestamp(jr["day"]),
               "entry_price": jr["entry_price"], "sl_price": jr["sl_price"], "tp_price": jr["tp_price"],
               "features": jr.get("features"), "outcome": jr.get("outcome_r"), "journal": jr,
               "score": jr.get("score"), "score_kind": jr.get("score_kind")}
    else:
        out = {"signal_id": row["event_id"], "source": "dataset", "setup_id": row["setup_id"],
               "version": int(row["setup_version"]), "symbol": row["symbol"], "side": row["side"],
               "known_at": pd.Timestamp(row["known_at"]), "day": pd.Timestamp(row["day"]),
               "entry_price": row["entry_price"], "sl_price": row["sl_price"], "tp_price": row["tp_price"],
               "features": None, "outcome": row["r"] if row["filled"] else None, "journal": None}
    if row is not None and not out["features"]:
        out["features"] = {f: (None if isinstance(row[f], float) and not np.isfinite(row[f]) else row[f]) for f in FEATURES}
    if not out["features"]:                          # a journaled signal from before the feature journal
        from ita.learn.scoring import SignalScorer
        from ita.setups import load_setup

        jr2 = dict(jr, rule_id=jr["setup_id"])
        out["features"] = SignalScorer(store=candle_store(out["symbol"])).features(
            jr2, load_setup(jr["setup_id"], int(jr["version"]))).iloc[0].to_dict()
    return out


def feature_row(sig: dict) -> pd.DataFrame:
    import numpy as np
    import pandas as pd
    from ita.learn.features import FEATURES

    return pd.DataFrame([{f: sig["features"].get(f, np.nan) if sig["features"].get(f) is not None else np.nan
                          for f in FEATURES}])
