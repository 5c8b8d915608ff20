"""Dask (issue 13 item 8): the same sweep in this process, on a LocalCluster of 2 worker processes and on a real
`dask scheduler` + `dask worker` pair started on 127.0.0.1 gives identical results; an unreachable scheduler fails
clearly within 10 s and stores nothing; Ctrl-C keeps the finished variants and --resume completes the sweep."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ita.errors import ItaError
from ita.research.store import ResearchStore
from ita.research.sweep import sweep

GRID = {"rr": "1.5,2,3", "fvg.min_gap_pips": "0.5,1.5"}
PERIOD = ("2025-02-01", "2025-04-30")
FIELDS = ("index", "params", "status", "trades", "total_r", "expectancy", "profit_factor", "max_dd_r", "sharpe",
          "t_day", "t_r", "t_entry", "effective_hash", "rank")


@pytest.fixture
def store_dir(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _same(a, b):
    assert len(a.variants) == len(b.variants)
    for x, y in zip(a.variants, b.variants):
        for k in FIELDS:
            vx, vy = x.get(k), y.get(k)
            if isinstance(vx, float) and vx != vx:
                assert vy != vy, k
            else:
                assert vx == vy, (k, x["index"])


@pytest.fixture
def dask_cluster(tmp_path):
    """A real scheduler and one worker process (1 thread) on 127.0.0.1, stopped after the test."""
    bindir = Path(sys.executable).parent
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
    logs = [open(tmp_path / "scheduler.log", "w"), open(tmp_path / "worker.log", "w")]
    sched = subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                              "--no-dashboard"], stdout=logs[0], stderr=subprocess.STDOUT, env=env)
    procs = [sched]
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.3)
        else:
            pytest.fail("dask scheduler did not start")
        procs.append(subprocess.Popen([str(bindir / "dask"), "worker", addr, "--nworkers", "2", "--nthreads", "1",
                                       "--no-dashboard", "--host", "127.0.0.1"], stdout=logs[1],
                                      stderr=subprocess.STDOUT, env=env))
        from distributed import Client

        with Client(addr, timeout="30s") as c:
            c.wait_for_workers(2, timeout=90)
        yield addr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()


@pytest.mark.slow
def test_identical_results_whatever_the_workers(store_dir, dask_cluster):
    local = sweep("asia_fvg_break", "EURUSD", *PERIOD, grid=GRID, min_trades=5, charts=False)
    assert local.where == "this process"
    two = sweep("asia_fvg_break", "EURUSD", *PERIOD, grid=GRID, min_trades=5, charts=False, workers=2)
    assert two.where == "local Dask cluster, 2 worker processes"
    remote = sweep("asia_fvg_break", "EURUSD", *PERIOD, grid=GRID, min_trades=5, charts=False, cluster=dask_cluster)
    assert remote.where == f"Dask cluster {dask_cluster}"
    _same(local, two)
    _same(local, remote)
    assert local.row["pbo"] == remote.row["pbo"] and local.row["dsr"] == remote.row["dsr"]


def test_unreachable_scheduler_fails_fast_and_stores_nothing(store_dir, monkeypatch):
    monkeypatch.setenv("ITA_DASK_SCHEDULER", f"tcp://127.0.0.1:{_free_port()}")
    t0 = time.perf_counter()
    with pytest.raises(ItaError) as e:
        sweep("asia_fvg_break", "EURUSD", *PERIOD, grid=GRID, charts=False)
    assert time.perf_counter() - t0 < 20
    assert "Cannot reach the Dask scheduler" in str(e.value) and "Nothing was stored" in str(e.value)
    assert ResearchStore().sweeps().empty


def test_ctrl_c_keeps_finished_variants_and_resume_completes(store_dir):
    calls = []

    def interrupt_after_two(done, total):
        calls.append(done)
        if done == 2:
            raise KeyboardInterrupt

    part = sweep("asia_fvg_break", "EURUSD", *PERIOD, grid=GRID, min_trades=5, charts=False,
                 progress=interrupt_after_two)
    assert part.interrupted and len(part.variants) == 2
    row = ResearchStore().get_sweep(part.sweep_id)
    assert row["status"] == "interrupted" and row["n_done"] == 2 and row["n_variants"] == 6
    assert len(ResearchStore().variants(part.sweep_id)) == 2
    with pytest.raises(ItaError, match="complete"):
        done = sweep(resume=part.sweep_id, charts=False)
        sweep(resume=done.sweep_id, charts=False)
    full = sweep("asia_fvg_break", "EURUSD", *PERIOD, grid=GRID, min_trades=5, charts=False)
    resumed = ResearchStore().variants(part.sweep_id)
    assert [v["params"] for v in resumed] == [v["params"] for v in full.variants]
    assert [v["t_r"] for v in resumed] == [v["t_r"] for v in full.variants]
    assert [v["rank"] for v in resumed] == [v["rank"] for v in full.variants]
    assert ResearchStore().get_sweep(part.sweep_id)["status"] == "complete"


@pytest.mark.slow
def test_ctrl_c_in_the_cli_keeps_finished_variants(store_dir, tmp_path):
    """A real SIGINT to `ita research sweep`: the finished variants are stored as an interrupted sweep, the command
    says how to resume, and `--resume` completes it."""
    import signal

    env = {**os.environ, "ITA_DATA_DIR": str(store_dir.data_dir)}
    ita = str(Path(sys.executable).parent / "ita")
    cmd = [ita, "research", "sweep", "asia_fvg_break", "--from", "2025-01-01", "--to", "2025-12-31",
           "--grid", "rr=2,3", "--grid", "fvg.min_gap_pips=0.05:3:0.05", "--grid", "within_bars=1:20:1",
           "--grid", "stop.buffer_pips=0.5:2:0.5", "--no-charts"]   # 9,600 variants, 1,200 walks + 3,600 replays
    n = 2 * 60 * 20 * 4
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    db = Path(os.environ["ITA_HOME"]) / "ita.db"
    time.sleep(10)                       # set-up done, variants running (all of them take far longer)
    assert p.poll() is None, p.communicate()[0]
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=max(10, deadline - time.time()))
    assert p.returncode == 0, out
    assert "INTERRUPTED after" in out and "--resume" in out
    rows = ResearchStore(db).sweeps()
    assert len(rows) == 1 and rows.iloc[0]["status"] == "interrupted"
    done = int(rows.iloc[0]["n_done"])
    assert 0 < done < n
    sid = rows.iloc[0]["sweep_id"]
    assert len(ResearchStore(db).variants(sid)) == done
    r = subprocess.run([ita, "research", "sweep", "--resume", sid, "--no-charts"], env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    row = ResearchStore(db).get_sweep(sid)
    assert row["status"] == "complete" and row["n_done"] == n
