"""The live journal in a real SQLite file: a signal is journaled once, a delivery is claimed by one worker only,
failures go back to the outbox with backoff or stay as failed, a process killed mid-send is recovered, latency
statistics and feedback."""
from __future__ import annotations

import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from ita.live.channels import OutboxChannel, SendError, backoff, deliver
from ita.live.journal import Journal, signal_key

T = pd.Timestamp("2025-03-04 07:55", tz="UTC")


def _signal(sid: str = "asia_fvg_break-v1-EURUSD-M5-20250304T0750", **kw) -> dict:
    base = {"signal_id": sid, "symbol": "EURUSD", "tf": "M5", "direction": "long", "entry_type": "limit",
            "entry_price": 1.04975, "sl_price": 1.04949, "tp_price": 1.05027, "rule_id": "asia_fvg_break",
            "rule_version": 1, "setup_hash": "abc", "day": pd.Timestamp("2025-03-04"), "time": T - pd.Timedelta(minutes=5),
            "known_at": T, "active_from": T, "expires_at": T + pd.Timedelta(hours=8), "exit_by": T + pd.Timedelta(hours=13),
            "max_bars": float("nan"), "meta": {"rr": 2.0, "risk_pips": 2.6}}
    base.update(kw)
    return base


def _record(j: Journal, sig: dict, decision: str = "alert", channels=("outbox", "telegram:1")) -> bool:
    return j.record("live", sig, score=0.22, score_basis="4 of 21", decision=decision, reason="r",
                    close_wall=time.time(), channels=list(channels))


class Flaky:
    """A channel failing with the given errors first, then accepting."""

    name = "flaky"

    def __init__(self, errors):
        self.errors, self.calls = list(errors), []

    def send(self, signal, target, uncertain):
        self.calls.append((signal["signal_id"], target, uncertain))
        if self.errors:
            raise self.errors.pop(0)
        return "m-1"


def test_a_signal_is_journaled_once_with_its_deliveries(tmp_path):
    j = Journal(tmp_path / "ita.db")
    s = _signal()
    assert _record(j, s) is True
    assert _record(j, s) is False  # an overlapping run or a restart: never twice
    assert _record(j, _signal("x-v1-EURUSD-M5-20250304T0800"), decision="below_threshold") is True
    d = j.deliveries("live")
    assert sorted(d["channel"]) == ["outbox", "telegram:1"] and set(d["status"]) == {"pending"}
    row = j.signal("live", s["signal_id"])
    assert row["meta"] == {"rr": 2.0, "risk_pips": 2.6} and row["rr"] == 2.0 and row["key"] == signal_key(s["signal_id"])
    assert j.by_key(row["key"])["signal_id"] == s["signal_id"]
    assert j.last_alert("live", "EURUSD") == T and j.last_alert("live", "EURUSD", "other") is None
    assert len(j.signals("live")) == 2 and j.signals("replay_x").empty


def test_only_one_worker_claims_a_delivery(tmp_path):
    j = Journal(tmp_path / "ita.db")
    _record(j, _signal())
    wins = []
    barrier = threading.Barrier(8)

    def worker():
        barrier.wait()
        if j.claim("live", _signal()["signal_id"], "outbox") is not None:
            wins.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert j.claim("live", _signal()["signal_id"], "outbox") is None  # held under its lease


def test_transient_failures_back_off_and_permanent_ones_wait_for_a_fix(tmp_path):
    j = Journal(tmp_path / "ita.db")
    sid = _signal()["signal_id"]
    _record(j, _signal(), channels=("flaky:a",))
    ch = Flaky([SendError("500"), SendError("429", retry_after=1.0)])
    t0 = time.time()
    assert deliver(j, "live", sid, "flaky:a", {"flaky": ch}, deadline=time.time() + 10) == "sent"
    assert 2.9 < time.time() - t0 < 6  # backoff 1 s, then max(retry-after 1 s, backoff 2 s) = 2 s
    assert [c[1] for c in ch.calls] == ["a", "a", "a"]
    row = j.deliveries("live").iloc[0]
    assert row["status"] == "sent" and row["attempts"] == 3 and row["remote_id"] == "m-1" and row["latency_s"] > 0

    _record(j, _signal("y-v1-EURUSD-M5-20250304T0800"), channels=("flaky:b",))
    ch2 = Flaky([SendError("timeout", uncertain=True)])
    assert deliver(j, "live", "y-v1-EURUSD-M5-20250304T0800", "flaky:b", {"flaky": ch2}) == "pending"
    row = j.deliveries("live").set_index("signal_id").loc["y-v1-EURUSD-M5-20250304T0800"]
    assert row["next_at"] > time.time() and row["uncertain"] == 1 and j.outstanding("live") == 1
    assert j.due("live") == []  # not due before its backoff

    _record(j, _signal("z-v1-EURUSD-M5-20250304T0805"), channels=("flaky:c",))
    ch3 = Flaky([SendError("401 Unauthorized", permanent=True)])
    assert deliver(j, "live", "z-v1-EURUSD-M5-20250304T0805", "flaky:c", {"flaky": ch3}, deadline=time.time() + 10) == "failed"
    assert len(ch3.calls) == 1
    assert j.deliveries("live", undelivered=True)["status"].tolist() == ["pending", "failed"]
    assert j.requeue("live") == 1
    assert deliver(j, "live", "z-v1-EURUSD-M5-20250304T0805", "flaky:c", {"flaky": ch3}) == "sent"
    assert [backoff(n) for n in (1, 2, 3, 10, 30)] == [1, 2, 4, 300, 300]


def test_a_delivery_left_sending_by_a_killed_process_is_recovered_as_uncertain(tmp_path):
    j = Journal(tmp_path / "ita.db")
    sid = _signal()["signal_id"]
    _record(j, _signal(), channels=("outbox",))
    # a real process claims the delivery and dies mid-send
    code = (f"import os; from ita.live.journal import Journal; j = Journal({str(tmp_path / 'ita.db')!r}); "
            f"assert j.claim('live', {sid!r}, 'outbox') is not None; os._exit(9)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 9
    assert j.deliveries("live").iloc[0]["status"] == "sending"
    assert j.due("live") == []  # its lease has not expired: only recovery can tell the process is gone
    assert j.recover("live") == 1
    row = j.claim("live", sid, "outbox")
    assert row is not None and row["uncertain"] == 1 and row["attempts"] == 2
    # a live owner (this process) is never taken over
    assert j.recover("live") == 0


def test_outbox_channel_writes_a_folder_once(tmp_path):
    j = Journal(tmp_path / "ita.db")
    _record(j, _signal(), channels=("outbox",))
    j.annotate("live", _signal()["signal_id"], comment="Long EURUSD: a close above the Asia range.")
    out = OutboxChannel(tmp_path / "outbox")
    assert deliver(j, "live", _signal()["signal_id"], "outbox", {"outbox": out}) == "sent"
    folder = tmp_path / "outbox" / _signal()["signal_id"]
    assert sorted(p.name for p in folder.iterdir()) == ["message.txt", "signal.json"]
    text = (folder / "message.txt").read_text()
    assert "LONG EURUSD · asia_fvg_break v1 · M5" in text and "Limit 1.04975 · SL 1.04949 · TP 1.05027 · RR 2.0" in text
    assert "Long EURUSD: a close above the Asia range." in text
    assert out.send(j.signal("live", _signal()["signal_id"])) == str(folder)  # idempotent


def test_latency_percentiles_and_feedback(tmp_path):
    j = Journal(tmp_path / "ita.db")
    for k in range(10):
        sid = f"s{k}-v1-EURUSD-M5-20250304T08{k:02d}"
        j.record("live", _signal(sid), score=0.5, score_basis="", decision="alert", reason="", close_wall=100.0,
                 channels=["telegram:1", "notion"])
        j.claim("live", sid, "telegram:1")
        j.delivered("live", sid, "telegram:1", sent_wall=100.0 + k + 1, latency_s=float(k + 1))
    lat = j.latency("live").set_index("channel")
    assert list(lat.index) == ["telegram"]
    assert lat.loc["telegram", "n"] == 10 and lat.loc["telegram", "p50"] == pytest.approx(5.5)
    assert lat.loc["telegram", "p95"] == pytest.approx(9.55) and lat.loc["telegram", "max"] == 10
    sid = "s0-v1-EURUSD-M5-20250304T0800"
    for a in ("taken", "up", "skipped"):
        j.feedback("live", sid, action=a, channel="telegram:1", chat_id=1, user_id=2, user="Trader")
    assert j.feedback_of("live", sid) == {"taken": "skipped", "vote": "up"}
    with pytest.raises(ValueError, match="unknown feedback action"):
        j.feedback("live", sid, action="maybe", channel="t", chat_id=1, user_id=2, user="x")
