"""Datasets: every setup signal (or detector event) of a period with its feature vector and its outcome, as
one DataFrame, stored as Parquet.

Setup dataset (kind ``setups``; one row per signal of every requested setup and symbol):

==========================  =================================================================================
identity                    ``event_id`` (= the signal id), ``source`` (``backtest`` | ``live``), ``setup_id``,
                            ``setup_version``, ``setup_hash``, ``symbol``, ``side`` (long/short), ``day`` (New
                            York trading day), ``known_at`` (UTC), ``entry_price``, ``sl_price``, ``tp_price``
features                    the catalogue, :data:`ita.learn.features.FEATURES` (units and rules there)
outcome                     ``filled`` (bool), ``r`` (R, NaN unfilled), ``win`` (R > 0), ``exit_reason``,
                            ``mfe_r``/``mae_r`` (R), ``bars_to_exit`` (bars held), ``exit_time`` (UTC),
                            ``outcome_end`` (UTC: the exit bar's close, or when the order expired)
==========================  =================================================================================

Detector datasets (kinds ``fvg``, ``sweep``) have the same identity/feature layout with the labels of
:mod:`ita.learn.labels`. The prediction targets (:data:`TARGETS`) pick a dataset kind, a population and a
label.

The setups are backtested from ``HISTORY_DAYS`` before the period (as far as the data goes) so the history
features of the first signals have what was known then; rows are kept for trading days in the period.

Files go to ``$ITA_HOME/learn/datasets/<kind>-<hash>.parquet`` (content-addressed, never rewritten), written
to a temporary name and renamed into place; ``latest.json`` names the newest per kind.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ita.config import settings
from ita.errors import DataError, ItaError
from ita.learn.features import FEATURE_HISTORY, FEATURES, HISTORY_DAYS, Bars, check_known_at, compute_features
from ita.learn.labels import EVENT_KINDS

M5 = pd.Timedelta(minutes=5)


@dataclass(frozen=True)
class Target:
    """A prediction target: ``kind`` (dataset kind), ``label`` (bool column), ``population`` (rows that have
    a final label), ``description`` (one sentence)."""

    name: str
    kind: str
    label: str
    description: str
    population: Callable[[pd.DataFrame], pd.Series]


def _all(df: pd.DataFrame) -> pd.Series:
    return pd.Series(True, index=df.index)


TARGETS: dict[str, Target] = {
    "setup_win": Target("setup_win", "setups", "win", "a filled setup trade ends with R > 0",
                        lambda df: df["filled"].astype(bool) & (df["exit_reason"] != "end_of_data")),
    "fvg_respected": Target("fvg_respected", "fvg", "respected",
                            "an FVG is mitigated within 36 bars and price then moves one gap height away", _all),
    "fvg_mitigated": Target("fvg_mitigated", "fvg", "mitigated", "an FVG is traded into within 36 bars", _all),
    "sweep_reversal": Target("sweep_reversal", "sweep", "reversal",
                             "a liquidity sweep is followed by a 1R reversal before its extreme is taken", _all),
}


def get_target(name: str) -> Target:
    """The target ``name``; raises :class:`~ita.errors.ItaError` naming the known ones."""
    from ita.errors import closest

    if name not in TARGETS:
        raise ItaError(f"Unknown target {name!r}.{closest(name, TARGETS)} Targets: {', '.join(TARGETS)}.")
    return TARGETS[name]


def datasets_dir() -> Path:
    d = settings().home / "learn" / "datasets"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _candles(store, symbol: str, start, end) -> pd.DataFrame:
    lo = pd.Timestamp(start) - pd.Timedelta(days=HISTORY_DAYS) - FEATURE_HISTORY - pd.Timedelta(days=2)
    return store.load(symbol, "M5", lo, pd.Timestamp(end) + pd.Timedelta(days=2))


def _setup_events(loaded, candles: pd.DataFrame, symbol: str, start, end) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(signals with outcomes, history of closed trades) of one setup on one symbol."""
    from ita.backtest import backtest

    first = candles.index[0].tz_convert(loaded.setup.timezone).normalize().tz_localize(None) + FEATURE_HISTORY
    hist_start = max(pd.Timestamp(start) - pd.Timedelta(days=HISTORY_DAYS), first)
    res = backtest(loaded, candles, symbol, start=hist_start, end=end)
    sig, tr = res.signals, res.trades
    if sig.empty:
        return pd.DataFrame(), pd.DataFrame()
    meta = sig["meta"]
    ev = pd.DataFrame({
        "event_id": sig["signal_id"], "source": "backtest", "setup_id": loaded.id, "setup_version": loaded.version,
        "setup_hash": loaded.content_hash, "symbol": symbol, "group": loaded.id,
        "side": sig["direction"], "direction": np.where(sig["direction"] == "long", 1.0, -1.0),
        "day": pd.to_datetime(sig["day"]), "known_at": sig["known_at"], "price": sig["entry_price"].astype(float),
        "entry_price": sig["entry_price"].astype(float), "stop": sig["sl_price"].astype(float),
        "sl_price": sig["sl_price"].astype(float), "tp_price": sig["tp_price"].astype(float),
        "rr": [float(m.get("rr", np.nan)) if isinstance(m, dict) else np.nan for m in meta],
        "zone_pips": [float((m.get("zone") or {}).get("size_pips", np.nan)) if isinstance(m, dict) else np.nan
                      for m in meta],
        "status": sig["status"],
        "expires_at": sig["expires_at"], "exit_by": sig["exit_by"],
    })
    out = outcome_columns(ev, tr)
    hist = pd.DataFrame(columns=["group", "day", "closed_at", "win"])
    if len(tr):
        hist = pd.DataFrame({"group": loaded.id, "day": pd.to_datetime(tr["day"]),
                             "closed_at": pd.DatetimeIndex(tr["exit_time"]) + M5, "win": tr["r"].to_numpy() > 0})
        hist = hist[tr["exit_reason"].to_numpy() != "end_of_data"]
    return out, hist


def outcome_columns(ev: pd.DataFrame, trades: pd.DataFrame) -> pd.DataFrame:
    """``ev`` (rows keyed by ``event_id`` = signal id, with ``status``, ``known_at``, ``expires_at``,
    ``exit_by``) plus the outcome columns from the simulator's ``trades`` (see the module doc)."""
    tr = trades.set_index("signal_id") if len(trades) else pd.DataFrame(
        columns=["r", "exit_reason", "mfe_r", "mae_r", "bars_held", "exit_time"])
    j = tr.reindex(ev["event_id"])
    out = ev.copy()
    out["filled"] = (ev["status"] == "filled").to_numpy()
    out["r"] = j["r"].to_numpy(dtype="float64")
    out["win"] = out["r"].to_numpy() > 0
    out["exit_reason"] = j["exit_reason"].astype(object).where(j["exit_reason"].notna(), ev["status"].to_numpy()).to_numpy()
    out["mfe_r"] = j["mfe_r"].to_numpy(dtype="float64")
    out["mae_r"] = j["mae_r"].to_numpy(dtype="float64")
    out["bars_to_exit"] = j["bars_held"].to_numpy(dtype="float64")
    out["exit_time"] = pd.to_datetime(j["exit_time"].to_numpy(), utc=True) if len(tr) else pd.NaT
    exit_close = pd.Series(pd.to_datetime(out["exit_time"], utc=True) + M5, index=out.index)
    no_fill = pd.Series(pd.to_datetime(ev["expires_at"], utc=True), index=out.index)
    no_fill = no_fill.fillna(pd.Series(pd.to_datetime(ev["exit_by"], utc=True), index=out.index))
    no_fill = no_fill.fillna(pd.Series(pd.to_datetime(ev["known_at"], utc=True), index=out.index))
    out["outcome_end"] = exit_close.where(out["filled"], no_fill).dt.as_unit("ns")
    return out


ID_COLUMNS = ["event_id", "source", "setup_id", "setup_version", "setup_hash", "symbol", "side", "day", "known_at",
              "entry_price", "sl_price", "tp_price"]
OUTCOME_COLUMNS = ["filled", "r", "win", "exit_reason", "mfe_r", "mae_r", "bars_to_exit", "exit_time", "outcome_end"]


def _order(front: list[str], back: list[str]) -> list[str]:
    """Identity columns, then the features (each once), then the outcome columns."""
    return list(dict.fromkeys([*front, *FEATURES, *back]))


def build_setup_dataset(setups: list, symbols: list[str], start, end, store=None, progress=None,
                        check: bool = True) -> pd.DataFrame:
    """The setup dataset (module doc) for loaded setups ``setups`` on ``symbols`` over trading days
    ``start``…``end`` (dates, inclusive). ``progress(done, total, text)`` is called per setup and symbol.
    ``check`` runs the features' known-at check (:func:`ita.learn.features.check_known_at`) on a few signals
    of each symbol.

    Raises :class:`~ita.errors.DataError` when a symbol has no stored M5 bars in the period,
    :class:`~ita.learn.features.FeatureLeakError` when a feature fails its known-at check.
    """
    from ita.data.store import CandleStore

    store = store or CandleStore()
    frames = []
    total, done = len(setups) * len(symbols), 0
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    for sym in symbols:
        candles = _candles(store, sym, lo, hi)
        bars = Bars(candles, sym)
        evs, hists = [], []
        for loaded in setups:
            ev, hist = _setup_events(loaded, candles, sym, lo, hi)
            done += 1
            if progress:
                progress(done, total, f"{loaded.id} v{loaded.version} {sym}: {len(ev)} signals")
            if len(ev):
                evs.append(ev)
                hists.append(hist)
        if not evs:
            continue
        ev = pd.concat(evs, ignore_index=True)
        hist = pd.concat(hists, ignore_index=True) if hists else None
        feats = compute_features(candles, ev, sym, history=hist, bars=bars)
        if check:
            check_known_at(candles, ev, sym, history=hist, sample=3, full=feats)
        ev = pd.concat([ev.drop(columns=[c for c in feats.columns if c in ev.columns]), feats], axis=1)
        day = pd.to_datetime(ev["day"])
        frames.append(ev[(day >= lo) & (day <= hi)])
    cols = _order(ID_COLUMNS, OUTCOME_COLUMNS)
    if not frames:
        return pd.DataFrame(columns=cols)
    df = pd.concat(frames, ignore_index=True)[cols]
    return df.sort_values(["known_at", "event_id"], kind="stable").reset_index(drop=True)


def build_event_dataset(kind: str, symbols: list[str], start, end, store=None, progress=None,
                        check: bool = True) -> pd.DataFrame:
    """A detector-event dataset (``kind`` ``fvg`` or ``sweep``, :mod:`ita.learn.labels`) with the feature
    catalogue, for events known on New York days ``start``…``end``. The history features read earlier
    events of the same group whose label was final by ``known_at``."""
    from ita.data.store import CandleStore

    if kind not in EVENT_KINDS:
        raise ItaError(f"Unknown event kind {kind!r}: one of {', '.join(EVENT_KINDS)}.")
    build, labels = EVENT_KINDS[kind]
    store = store or CandleStore()
    lo, hi = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    frames = []
    for k, sym in enumerate(symbols):
        candles = _candles(store, sym, lo, hi)
        ev = build(candles, sym)
        if progress:
            progress(k + 1, len(symbols), f"{kind} {sym}: {len(ev)} events")
        if ev.empty:
            continue
        first = candles.index[0] + FEATURE_HISTORY
        ev = ev[pd.DatetimeIndex(ev["known_at"]) >= first].reset_index(drop=True)
        lab = labels[0]
        hist = pd.DataFrame({"group": ev["group"], "day": ev["day"], "closed_at": ev["outcome_end"],
                             "win": ev[lab].astype(bool)})
        feats = compute_features(candles, ev, sym, history=hist, bars=Bars(candles, sym))
        if check:
            check_known_at(candles, ev, sym, history=hist, sample=3, full=feats)
        ev = pd.concat([ev.drop(columns=[c for c in feats.columns if c in ev.columns]), feats], axis=1)
        ev["source"], ev["setup_id"] = "detector", ev["group"]
        day = pd.to_datetime(ev["day"])
        frames.append(ev[(day >= lo) & (day <= hi)])
    if not frames:
        raise DataError(f"No {kind} events on {', '.join(symbols)} in {lo.date()} → {hi.date()}.")
    df = pd.concat(frames, ignore_index=True)
    front = ["event_id", "source", "setup_id", "symbol", "side", "day", "known_at"]
    rest = [c for c in df.columns if c not in front and c not in FEATURES and c != "group"]
    return df[_order(front, rest)].sort_values(["known_at", "event_id"], kind="stable").reset_index(drop=True)


def append_live(df: pd.DataFrame, live: pd.DataFrame) -> pd.DataFrame:
    """``df`` (a setups dataset) plus the live journal's signals that are not in it: ``live`` rows carry the
    identity columns, the feature vector journaled at the signal and the outcome followed live (``outcome``
    ``filled``/``expired``, ``outcome_r``, ``exit_reason``, ``exit_time``, ``mfe_r``, ``mae_r``,
    ``bars_to_exit``). Only final outcomes are added; ``source`` is ``live``."""
    if live is None or live.empty:
        return df
    new = live[~live["event_id"].isin(df["event_id"])] if len(df) else live
    if new.empty:
        return df
    out = pd.concat([df, new[[c for c in df.columns if c in new.columns]]], ignore_index=True)
    return out.sort_values(["known_at", "event_id"], kind="stable").reset_index(drop=True)


def dataset_hash(df: pd.DataFrame) -> str:
    """SHA-256 (16 hex) of a dataset's columns and values: same rows ⇔ same hash."""
    h = hashlib.sha256("|".join(map(str, df.columns)).encode())
    h.update(pd.util.hash_pandas_object(df.astype({c: str for c in df.columns if df[c].dtype == object}),
                                        index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def write_dataset(df: pd.DataFrame, kind: str, meta: dict, path: str | Path | None = None) -> Path:
    """Store ``df`` as Parquet (``meta`` in the file's metadata under ``ita``): at ``path``, or content-addressed
    under :func:`datasets_dir`, and mark it the latest of ``kind``. Written to a temporary name and renamed."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    digest = dataset_hash(df)
    target = Path(path) if path else datasets_dir() / f"{kind}-{digest}.parquet"
    target.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[b"ita"] = json.dumps({**meta, "kind": kind, "hash": digest}, default=str).encode()
    table = table.replace_schema_metadata(md)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    latest = datasets_dir() / "latest.json"
    cur = json.loads(latest.read_text()) if latest.is_file() else {}
    cur[kind] = str(target)
    tmp = latest.with_name(f".latest.{os.getpid()}.partial")
    tmp.write_text(json.dumps(cur, indent=1))
    os.replace(tmp, latest)
    return target


def read_dataset(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A stored dataset and its metadata. Raises :class:`~ita.errors.ItaError` for a missing or unreadable file."""
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file():
        raise ItaError(f"No dataset at {p}. Build one with `ita learn dataset`.")
    try:
        table = pq.read_table(p)
    except Exception as exc:  # noqa: BLE001 - any parquet error is a bad file
        raise ItaError(f"{p}: not a readable Parquet dataset ({exc}).") from None
    meta = json.loads((table.schema.metadata or {}).get(b"ita", b"{}"))
    return table.to_pandas(), meta


def latest_dataset(kind: str) -> Path | None:
    """The newest stored dataset of ``kind`` (``setups``, ``fvg``, ``sweep``), or None."""
    latest = datasets_dir() / "latest.json"
    if not latest.is_file():
        return None
    p = json.loads(latest.read_text()).get(kind)
    return Path(p) if p and Path(p).is_file() else None
