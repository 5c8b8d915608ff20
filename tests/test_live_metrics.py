"""Prometheus metrics of the live loop: scraped over HTTP from a running replay (real prometheus-client server,
real httpx), they equal the journal's counts; ``ita live status`` prints the same numbers; a taken port is one
clear error at start."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ita.live.journal import Journal
from ita.live.metrics import LiveMetrics, histogram_quantile, parse_status, read_status
from tests.conftest import REPO
from tests.fakes import FakeTelegram

CHAT = 4242


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def samples(text: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def telegram_env(monkeypatch):
    with FakeTelegram() as tg:
        monkeypatch.setenv("ITA_TELEGRAM_TOKEN", tg.token)
        monkeypatch.setenv("ITA_TELEGRAM_CHAT_IDS", str(CHAT))
        monkeypatch.setenv("ITA_TELEGRAM_API_URL", tg.base_url)
        yield tg


@pytest.mark.slow
def test_metrics_scraped_from_a_running_replay_equal_the_journal(sample_store, telegram_env):
    from ita.live.service import LiveService

    svc = LiveService.replay_service(["asia_fvg_break", "ib_raid", "silver_bullet"], ["EURUSD"], "2025-03-03",
                                     "2025-03-05", speed=None, notify=("outbox", "telegram"), charts=(),
                                     store=sample_store)
    telegram_env.fail_next("sendMessage", 429, retry_after=1)  # one delivery waits and is retried
    port = free_port()
    metrics = LiveMetrics(svc.ctx.journal, svc.ctx.run).attach(svc)
    metrics.serve(port)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        during: list[str] = []
        worker = threading.Thread(target=lambda: during.append(svc.replay().get("run")))
        worker.start()
        mid = httpx.get(url, timeout=5).text  # the server answers while the replay runs
        worker.join(300)
        assert during == [svc.ctx.run]
        text = httpx.get(url, timeout=5).text
    finally:
        metrics.close()
        svc.close()
    assert "ita_live_signals_total" in mid or "ita_live_outbox_size" in mid
    got = samples(text)
    j = Journal(svc.ctx.journal.path)
    sig = j.signals(svc.ctx.run)
    dl = j.deliveries(svc.ctx.run)
    assert len(sig) >= 3  # the replay produced signals on both days
    for decision, n in sig["decision"].value_counts().items():
        assert got[("ita_live_signals_total", (("decision", decision),))] == n
    assert sum(v for (name, _), v in got.items() if name == "ita_live_signals_total") == len(sig)
    dl["kind"] = dl["channel"].str.split(":").str[0]
    for (kind, status), n in dl.groupby(["kind", "status"]).size().items():
        assert got[("ita_live_deliveries", (("channel", kind), ("status", status)))] == n
    sent = dl[dl["status"] == "sent"]
    for kind, grp in sent.groupby("kind"):
        assert got[("ita_live_delivery_latency_seconds_count", (("channel", kind),))] == len(grp)
        assert got[("ita_live_delivery_latency_seconds_sum", (("channel", kind),))] == pytest.approx(grp["latency_s"].sum())
        le1 = got[("ita_live_delivery_latency_seconds_bucket", (("channel", kind), ("le", "1.0")))]
        assert le1 == (grp["latency_s"] <= 1.0).sum()
    assert got[("ita_live_outbox_size", ())] == j.outstanding(svc.ctx.run)
    assert got[("ita_live_baseline_score", (("setup", "asia_fvg_break"), ("symbol", "EURUSD")))] == pytest.approx(
        svc.ctx.baseline("asia_fvg_break@1", "EURUSD").p)
    assert got[("ita_live_feed_lag_seconds", (("symbol", "EURUSD"), ("timeframe", "M5")))] >= 0
    assert got[("ita_live_tick_duration_seconds_count", (("symbol", "EURUSD"),))] > 100  # every candle close
    tg_sent = [s for s in telegram_env.sent if s["chat_id"] == CHAT]
    assert len(tg_sent) == int(((dl["kind"] == "telegram") & (dl["status"] == "sent")).sum())

    # `ita live status` reads the same numbers (here from the journal: the service is gone)
    st = read_status(None, run=svc.ctx.run)
    assert st.source == "journal" and sum(st.decisions.values()) == len(sig)
    assert st.latency["telegram"]["count"] == int(((dl["kind"] == "telegram") & (dl["status"] == "sent")).sum())
    assert parse_status(text, url).decisions == st.decisions


def test_histogram_quantile_matches_prometheus_rules():
    b = [(0.5, 0.0), (1.0, 10.0), (2.0, 20.0), (float("inf"), 20.0)]
    assert histogram_quantile(0.5, b) == pytest.approx(1.0)
    assert histogram_quantile(0.75, b) == pytest.approx(1.5)
    assert histogram_quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None
    assert histogram_quantile(0.99, [(1.0, 1.0), (float("inf"), 5.0)]) == 1.0  # beyond the last finite bucket


def test_a_taken_metrics_port_is_one_clear_error(tmp_path):
    from ita.errors import ItaError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        m = LiveMetrics(Journal(tmp_path / "ita.db"), "live")
        with pytest.raises(ItaError, match=f"Cannot serve metrics on 127.0.0.1:{port}.*--metrics-port"):
            m.serve(port)
        env = {**os.environ, "ITA_HOME": str(tmp_path / "home")}
        exe = Path(sys.executable).with_name("ita")
        p = subprocess.run([str(exe), "live", "replay", "EURUSD", "--from", "2025-03-04", "--to", "2025-03-04",
                            "--speed", "max", "--charts", "none", "--setups", "asia_fvg_break", "--metrics-port",
                            str(port)], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert p.returncode == 2, p.stdout + p.stderr
    assert f"Cannot serve metrics on 127.0.0.1:{port}" in p.stderr and "Traceback" not in p.stderr


def test_live_status_without_a_service_reads_the_journal(tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path))
    env = {**os.environ, "ITA_HOME": str(tmp_path), "COLUMNS": "160"}
    exe = Path(sys.executable).with_name("ita")
    p = subprocess.run([str(exe), "live", "status", "--url", f"http://127.0.0.1:{free_port()}/metrics"],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "no service answers" in p.stdout and "Signals: 0" in p.stdout and "Outbox: 0 not sent yet" in p.stdout


def test_the_grafana_dashboard_queries_only_metrics_the_service_exposes(tmp_path):
    import json
    import re

    m = LiveMetrics(Journal(tmp_path / "ita.db"), "live")
    names = set()
    for fam in m.registry.collect():
        names.add(fam.name + {"counter": "_total", "histogram": "_bucket"}.get(fam.type, ""))
    dash = json.loads((REPO / "dashboards" / "ita_live.json").read_text())
    used = set()
    for p in dash["panels"]:
        for t in p["targets"]:
            used |= set(re.findall(r"\bita_live_\w+", t["expr"]))
    assert used and used <= names, used - names
    assert {"ita_live_delivery_latency_seconds_bucket", "ita_live_signals_total", "ita_live_feed_lag_seconds",
            "ita_live_outbox_size", "ita_live_deliveries", "ita_live_last_tick_timestamp_seconds",
            "ita_live_signal_score"} <= used
