"""Reading a ``ita eval kb`` run: the change against the previous run, the questions some mode missed, the
out-of-library questions (frames for the CLI to print)."""
from __future__ import annotations

import math

import pandas as pd


def deltas(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """``current − previous`` for the modes and metrics both have (NaN elsewhere; all NaN without a previous)."""
    if previous is None:
        return current * math.nan
    return current.subtract(previous.reindex(index=current.index, columns=current.columns))


def worst_questions(df: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """In-library questions that some mode missed or ranked below 1st, worst first: one row per question,
    with the rank of the first relevant passage per mode (None = not in the top k) and the top-1 page."""
    pq = df.attrs["questions"]
    pq = pq[pq["in_library"]]
    modes = list(dict.fromkeys(pq["mode"]))
    rank = pq.pivot(index="id", columns="mode", values="first_rank")
    rr = pq.pivot(index="id", columns="mode", values="rr").reindex(columns=modes)
    top1 = pq.pivot(index="id", columns="mode", values="top1")
    meta = pq.drop_duplicates("id").set_index("id")[["question", "lang", "kind", "cross_lingual", "expected"]]
    out = meta.join(rank.add_prefix("rank:")).join(top1.add_prefix("top1:"))
    out["mean_rr"] = rr.mean(axis=1)
    missed = (rr.min(axis=1) < 1.0).reindex(out.index, fill_value=False)
    out = out[missed].sort_values(["mean_rr", "id"])
    return out.head(n)


def out_of_library(df: pd.DataFrame) -> pd.DataFrame:
    """Out-of-library questions: per mode the number of passages returned, the best score and its page."""
    pq = df.attrs["questions"]
    pq = pq[~pq["in_library"]]
    meta = pq.drop_duplicates("id").set_index("id")[["question", "lang"]]
    wide = pq.pivot(index="id", columns="mode", values=["n_passages", "top1_score", "top1"])
    wide.columns = [f"{a}:{b}" for a, b in wide.columns]
    return meta.join(wide)
