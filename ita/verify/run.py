"""A verification run from files: :func:`run_verify` writes the run folder (``verify.csv``, ``report.html``,
``summary.json``, a copy of the labels) like a backtest run."""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ita.errors import ItaError
from ita.setups.evaluate import warmup
from ita.times import NY, iso_z
from ita.verify.labels import LabelFile, fmt_local, read_labels
from ita.verify.matching import VerifyResult, period_bound, trading_date, trading_day, verify_labels
from ita.verify.metrics import json_metric
from ita.verify.report import case_pngs, verify_report_html


@dataclass
class VerifyRun:
    """A written verification run: the :class:`VerifyResult`, its folder and files (name → path)."""

    run_id: str
    run_dir: Path
    result: VerifyResult
    label_file: LabelFile
    artifacts: dict[str, Path]
    warnings: list[str] = field(default_factory=list)


def verify_table(res: VerifyResult) -> pd.DataFrame:
    """The ``verify.csv`` rows: one per label (``kind`` label) then one per unlabelled detection (``kind``
    unlabelled); times as UTC ISO-8601 plus the label's own zone and New York wall-clock."""
    rows = []
    for r in res.labels.to_dict("records"):
        rows.append({
            "kind": "label", "label": r["label"], "symbol": r["symbol"], "timeframe": r["timeframe"],
            "direction": r["direction"], "result": r["result"], "time_utc": iso_z(r["bar_time"]),
            "time_label": r["time_text"], "label_tz": r["tz"], "time_ny": fmt_local(r["bar_time"], NY),
            "day": f"{r['day']:%Y-%m-%d}", "signal_id": r["signal_id"] or "", "signal_time_utc": iso_z(r["signal_time"]),
            "signal_time_ny": fmt_local(r["signal_time"], NY),
            "offset_bars": "" if pd.isna(r["offset_bars"]) else round(float(r["offset_bars"]), 2), "at": r["at"],
            "nearest_signal_id": r["nearest_signal_id"] or "", "nearest_direction": r["nearest_direction"] or "",
            "nearest_time_ny": fmt_local(r["nearest_time"], NY),
            "nearest_bars": "" if pd.isna(r["nearest_bars"]) else round(float(r["nearest_bars"]), 2),
            "rule_reason": r["rule_reason"], "why": r["why"], "note": r["note"], "screenshot": r["screenshot"] or "",
        })
    for r in res.unlabelled.to_dict("records"):
        rows.append({
            "kind": "unlabelled", "label": "", "symbol": r["symbol"], "timeframe": r["tf"], "direction": r["direction"],
            "result": "unlabelled", "time_utc": iso_z(r["time"]), "time_label": "", "label_tz": "",
            "time_ny": fmt_local(r["time"], NY), "day": f"{trading_date(r['day']):%Y-%m-%d}", "signal_id": r["signal_id"],
            "signal_time_utc": iso_z(r["time"]), "signal_time_ny": fmt_local(r["time"], NY), "offset_bars": "", "at": "",
            "nearest_signal_id": "", "nearest_direction": "", "nearest_time_ny": "", "nearest_bars": "",
            "rule_reason": "signal", "why": "detection without a label in the checked period", "note": "",
            "screenshot": "",
        })
    return pd.DataFrame(rows)


def run_verify(setup_id: str, labels_path, *, tz: str = "UTC", screenshots=None, tolerance: int = 3, start=None,
               end=None, version=None, html: bool = True, png: bool = False,
               progress: Callable[[str], None] | None = None) -> VerifyRun:
    """Read ``labels_path``, load candles from the store (importing the sample data on first use), verify,
    and write the run folder ``$ITA_RUNS_DIR/verify_<UTC time>_<hash>/``:

    ``verify.csv`` (:func:`verify_table`), ``summary.json`` (metrics, setup version and hash, options),
    ``labels.csv`` (a copy of the input), ``report.html`` (``html``; our chart of every case beside the
    trader's screenshot, :func:`ita.verify.report.verify_report_html`) and ``case_NN.png`` per label
    (``png``; needs Chromium, ~0.5 s each). The folder is built under a temporary name and renamed when
    complete. Raises :class:`~ita.errors.ItaError` subclasses for bad labels, setup, symbol or period.
    """
    from ita.data.store import SAMPLE_FILES, CandleStore
    from ita.setups import load_setup

    say = progress or (lambda _m: None)
    loaded = load_setup(setup_id, version)
    lf = read_labels(labels_path, tz=tz, screenshots=screenshots, setup_id=loaded.id)
    if tolerance < 0:
        raise ItaError(f"--tolerance must be ≥ 0 bars, got {tolerance}.")
    lo = period_bound(start, "--from")
    hi = period_bound(end, "--to")
    stz = loaded.setup.timezone
    days = [trading_day(t, stz) for t in lf.labels["bar_time"]]
    first = min([*days, *([lo] if lo is not None else [])])
    last = max([*days, *([hi] if hi is not None else [])])
    store = CandleStore()
    tf = loaded.setup.timeframe
    candles = {}
    for sym in sorted(lf.labels["symbol"].unique()):
        if sym in SAMPLE_FILES and "M5" not in store.stored_timeframes(sym):
            store.ensure_samples([sym], log=say)
        say(f"Loading {sym} {tf} candles {first.date()} → {last.date()}")
        candles[sym] = store.load(sym, tf, first - warmup(loaded.setup) - pd.Timedelta(days=1),
                                  last + pd.Timedelta(days=2))
    say(f"Evaluating {loaded.label} and matching {len(lf.labels)} labels (tolerance {tolerance} bars)")
    res = verify_labels(loaded, lf.labels, candles, tolerance=tolerance, start=lo, end=hi)

    from ita.store import new_run_folder, run_folder

    run_id, tmp, final, created = new_run_folder("verify", f"{loaded.effective_hash}{lf.path.resolve()}{tolerance}")
    artifacts: dict[str, Path] = {}
    warnings: list[str] = []
    with run_folder(tmp, final):
        verify_table(res).to_csv(tmp / "verify.csv", index=False)
        artifacts["verify.csv"] = final / "verify.csv"
        shutil.copyfile(lf.path, tmp / "labels.csv")
        artifacts["labels.csv"] = final / "labels.csv"
        if html or png:
            title = f"{loaded.label} · labels {lf.path.name}"
            if html:
                say("Writing the HTML report (our chart of each case beside the trader's screenshot)")
                verify_report_html(res, tmp / "report.html", title=title)
                artifacts["report.html"] = final / "report.html"
            if png:
                say("Rendering case PNGs")
                try:
                    for name in case_pngs(res, tmp):
                        artifacts[name] = final / name
                except ItaError as exc:
                    warnings.append(f"PNG charts skipped: {exc}")
        summary = {
            "run_id": run_id, "kind": "verify", "setup_id": loaded.id, "setup_version": loaded.version,
            "setup_hash": loaded.content_hash, "setup_file": str(loaded.path), "labels_file": str(lf.path.resolve()),
            "tz_default": tz, "tolerance_bars": int(tolerance), "skipped_rows": lf.skipped,
            "period": [f"{res.start:%Y-%m-%d}", f"{res.end:%Y-%m-%d}"],
            "metrics": {k: json_metric(v) for k, v in res.metrics.items()},
            "hits": [int(x) for x in res.labels.loc[res.labels["result"] == "hit", "label"]],
            "misses": [int(x) for x in res.labels.loc[res.labels["result"] == "miss", "label"]],
            "unlabelled": list(res.unlabelled["signal_id"]),
            "artifacts": {k: str(v) for k, v in artifacts.items()},
            "warnings": warnings, "created_at": created.isoformat(timespec="seconds"),
        }
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
        artifacts = {"summary.json": final / "summary.json", **artifacts}
    return VerifyRun(run_id=run_id, run_dir=final, result=res, label_file=lf, artifacts=artifacts, warnings=warnings)
