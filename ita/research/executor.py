"""Where variants run: in this process (default), on a local Dask cluster of worker processes
(``workers=N``), or on an existing Dask cluster (``cluster="tcp://HOST:8786"`` or ``ITA_DASK_SCHEDULER``).

* The candles are sent to every worker **once** (``Client.scatter(..., broadcast=True)``); tasks carry only the
  setup text and a batch of variants. Each worker process keeps one :class:`~ita.research.variants.VariantRunner`
  per (setup, data) — with its detector cache — across all the batches it runs.
* Results are identical whatever runs them: a variant is a pure function of (setup text, parameters,
  candles), and results are returned ordered by variant index.
* ``progress(done, total)`` is called as variants finish. Ctrl-C (``KeyboardInterrupt``) cancels what is
  still queued and returns the finished variants with ``interrupted=True`` — they are kept.
* An unreachable scheduler raises :class:`~ita.errors.ItaError` within :data:`CONNECT_TIMEOUT_S` seconds.

For real clusters start ``dask scheduler`` and ``dask worker tcp://HOST:8786`` on the machines (same Python
environment with ``ita`` installed), or create the cluster with dask-kubernetes / dask-jobqueue and pass its
scheduler address.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ita.errors import ItaError

CONNECT_TIMEOUT_S = 10
#: Variants per Dask task: large enough to amortise the task overhead, small enough for a smooth progress bar.
BATCH = 8

Progress = Callable[[int, int], None]

_RUNNERS: dict[str, object] = {}  # per process: spec key → VariantRunner (with its detector cache)
_PROGRESS: ContextVar[Progress | None] = ContextVar("ita_research_progress", default=None)


@contextmanager
def reporting(progress: Progress):
    """Within the block, research runs started without their own ``progress`` report to ``progress(done,
    total)`` — how the CLI's rich bar follows a tool call."""
    token = _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def current_progress() -> Progress | None:
    """The progress callback set by :func:`reporting`, or None."""
    return _PROGRESS.get()


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to rebuild the variant runner: the setup's YAML text and identity, the symbol, the
    period and costs. ``key`` identifies it (with the data fingerprint) for the per-worker runner cache."""

    setup_id: str
    version: int
    path: str
    content_hash: str
    raw_text: str
    symbol: str
    start: str
    end: str
    spread: float | str | None = None
    commission: float | None = None
    session: str | None = None
    data_key: str = ""

    @property
    def key(self) -> str:
        d = json.dumps(self.__dict__, sort_keys=True, default=str)
        return hashlib.sha256(d.encode()).hexdigest()[:24]


def runner_for(spec: RunSpec, candles):
    """This process's :class:`~ita.research.variants.VariantRunner` for ``spec`` (built on first use).
    ``candles``: the setup's timeframe, or ``(candles, m1)`` when stored M1 bars resolve intrabar ambiguity."""
    from ita.research.variants import VariantRunner
    from ita.setups.loader import LoadedSetup, parse_setup_text

    candles, lower = candles if isinstance(candles, tuple) else (candles, None)
    r = _RUNNERS.get(spec.key)
    if r is None:
        if len(_RUNNERS) > 4:
            _RUNNERS.clear()
        setup = parse_setup_text(spec.raw_text, spec.path)
        eff = hashlib.sha256(json.dumps(setup.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
        base = LoadedSetup(setup=setup, path=Path(spec.path), version=spec.version, content_hash=spec.content_hash,
                           overrides={}, effective_hash=eff)
        r = _RUNNERS[spec.key] = VariantRunner(base, spec.raw_text, spec.symbol, candles, spec.start, spec.end,
                                               spread=spec.spread, commission=spec.commission, session=spec.session,
                                               lower=lower)
    return r


def run_batch(spec: RunSpec, candles, jobs: list[tuple[int, dict]]) -> list[dict]:
    """Run ``jobs`` (``[(index, params)]``) in this process; their :class:`VariantResult` s as dicts."""
    runner = runner_for(spec, candles)
    return [runner.run(params, index).to_dict() for index, params in jobs]


def batches_of(jobs: list[tuple[int, dict]], size: int = BATCH) -> list[list[tuple[int, dict]]]:
    """Jobs in batches of about ``size``, variants sharing a walk (:func:`~ita.research.variants.walk_key`: they
    differ at most in ``stop.*``/``target.*``) together — so the worker that runs them computes the shared
    detectors and walk once. A group larger than ``4 × size`` is cut only between its ``target.rr`` sub-groups
    (variants differing only in ``rr``), each kept whole and in index order, so every worker prices a sub-group
    from the same first variant as a run in one process. Results are sorted by index whatever the batches."""
    from ita.research.variants import walk_key

    groups: dict[str, dict[str, list]] = {}
    for job in jobs:
        sub = json.dumps({k: v for k, v in sorted(job[1].items()) if k != "target.rr"}, default=str)
        groups.setdefault(walk_key(job[1]), {}).setdefault(sub, []).append(job)
    out: list[list] = []
    cur: list = []
    for g in groups.values():
        parts: list[list] = [[]]
        for sub in g.values():
            if parts[-1] and len(parts[-1]) + len(sub) > 4 * size:   # a very large group: big pieces
                parts.append([])
            parts[-1].extend(sub)
        for part in parts:
            if cur and len(cur) + len(part) > size:
                out.append(cur)
                cur = []
            cur = cur + part
    if cur:
        out.append(cur)
    return out


def scheduler_address(cluster: str | None) -> str | None:
    """``cluster`` or ``$ITA_DASK_SCHEDULER`` (None = no external cluster)."""
    return cluster or os.environ.get("ITA_DASK_SCHEDULER") or None


class Executor:
    """Runs batches of variants; a context manager that owns the Dask client/cluster it created.

    ``workers`` None/0/1 and no ``cluster`` → in-process; ``workers`` ≥ 2 → a ``LocalCluster`` of that many
    single-threaded worker processes; ``cluster`` (or ``ITA_DASK_SCHEDULER``) → connect to that scheduler.
    Raises :class:`~ita.errors.ItaError` when the scheduler cannot be reached.
    """

    def __init__(self, workers: int | None = None, cluster: str | None = None):
        self.address = scheduler_address(cluster)
        self.workers = int(workers or 0)
        self.client = None
        self._cluster = None

    @property
    def where(self) -> str:
        if self.address:
            return f"Dask cluster {self.address}"
        if self.workers >= 2:
            return f"local Dask cluster, {self.workers} worker processes"
        return "this process"

    def __enter__(self) -> "Executor":
        if not self.address and self.workers < 2:
            return self
        logging.getLogger("distributed").setLevel(logging.ERROR)
        from distributed import Client, LocalCluster

        if self.address:
            try:
                self.client = Client(self.address, timeout=f"{CONNECT_TIMEOUT_S}s", set_as_default=True)
            except (OSError, TimeoutError) as exc:
                raise ItaError(f"Cannot reach the Dask scheduler at {self.address} within {CONNECT_TIMEOUT_S} s "
                               f"({type(exc).__name__}). Start one with `dask scheduler` and `dask worker "
                               f"{self.address}`, or drop --cluster / ITA_DASK_SCHEDULER to run locally. "
                               "Nothing was stored.") from None
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self._cluster, set_as_default=True)
        return self

    def __exit__(self, *exc) -> None:
        for obj in (self.client, self._cluster):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # noqa: BLE001 - closing must not hide the real outcome
                    pass

    def run(self, spec: RunSpec, candles, jobs: list[tuple[int, dict]],
            progress: Progress | None = None, done_before: int = 0, total: int | None = None) -> tuple[list[dict], bool]:
        """Run ``jobs``; ``(results ordered by index, interrupted)``. ``progress(done, total)`` counts from
        ``done_before`` up to ``total`` (default: ``done_before + len(jobs)``)."""
        total = total if total is not None else done_before + len(jobs)
        tick = progress or (lambda _d, _t: None)
        out: list[dict] = []
        interrupted = False
        tick(done_before, total)
        if self.client is None:
            try:
                runner = runner_for(spec, candles)
                for index, params in jobs:
                    out.append(runner.run(params, index).to_dict())
                    tick(done_before + len(out), total)
            except KeyboardInterrupt:
                interrupted = True
            return sorted(out, key=lambda d: d["index"]), interrupted
        from distributed import as_completed

        futures = []
        seen: set = set()
        try:
            data = self.client.scatter(candles, broadcast=True, hash=False)
            batches = batches_of(jobs)
            futures = [self.client.submit(run_batch, spec, data, b, pure=False) for b in batches]
            for fut in as_completed(futures):
                out.extend(fut.result())
                seen.add(fut.key)
                tick(done_before + len(out), total)
        except KeyboardInterrupt:
            interrupted = True
            for f in futures:
                if f.key in seen:
                    continue
                if f.status == "finished":  # finished but not yet collected: keep it
                    try:
                        out.extend(f.result(timeout=5))
                        continue
                    except Exception:  # noqa: BLE001 - cannot fetch it now: it will be run again on --resume
                        pass
                f.cancel()
        return sorted(out, key=lambda d: d["index"]), interrupted
