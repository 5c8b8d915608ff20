"""The PNG renderer kept between one-shot commands (:mod:`ita.charts.daemon`): real processes, a real headless
Chromium, a real Unix socket. Clients are separate Python processes, as successive ``ita backtest`` runs are."""
from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ita.charts import daemon

from .test_charts import needs_chrome

pytestmark = [needs_chrome, pytest.mark.skipif(os.name != "posix", reason="Unix sockets")]

CLIENT = r"""
import datetime, json, os, sys
import numpy as np
from ita.charts import daemon
from ita.charts.export import render_pngs, use_daemon
if sys.argv[2] == "daemon":
    use_daemon()
x = [datetime.datetime(2025, 3, 3, 9, 30) + datetime.timedelta(minutes=5 * i) for i in range(6)]
figs = [{"data": [{"type": "scatter", "x": x, "y": np.array([1.1, 3.25, 2.0, float("nan"), 4.5, 1 / 3]) * (i + 1)},
                  {"type": "bar", "y": np.arange(6, dtype="float32")}],
         "layout": {"title": {"text": f"figure {i} – ünïcode"}, "template": {}}} for i in range(3)]
paths = [os.path.join(sys.argv[1], f"f{i}.png") for i in range(3)]
try:
    render_pngs(figs, paths, sizes=[(400, 300), (640, 360), (300, 300)])
    st = daemon.status() or {}
    print(json.dumps({"ok": True, "pid": st.get("pid"), "renders": st.get("renders")}))
except Exception as exc:
    print(json.dumps({"ok": False, "error": str(exc)}))
"""


def _client(out: Path, mode: str = "daemon", **env) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-c", CLIENT, str(out), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env})


def _result(p: subprocess.Popen) -> dict:
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _daemons() -> list[int]:
    """Pids of renderer daemons serving this test's ITA_HOME (from /proc)."""
    sock = str(daemon.socket_path())
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"ita.charts.daemon" in cmd and sock.encode() in cmd:
                pids.append(int(d.name))
    return pids


@pytest.fixture()
def kept(monkeypatch):
    monkeypatch.setenv("ITA_RENDERER_IDLE_S", "60")
    yield
    daemon.stop()
    deadline = time.monotonic() + 20
    while _daemons() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _daemons(), "the renderer daemon did not exit after stop"


def test_kept_renderer_serves_later_commands_with_identical_pngs(kept, tmp_path):
    first = _result(_client(tmp_path / "a"))
    assert first["ok"] and first["pid"] and first["renders"] == 3
    second = _result(_client(tmp_path / "b"))
    assert second["ok"] and second["pid"] == first["pid"] and second["renders"] == 6  # the same daemon, warm
    assert _daemons() == [first["pid"]]
    ref = _result(_client(tmp_path / "c", mode="in-process"))  # the in-process renderer, as without a daemon
    assert ref["ok"]
    for i in range(3):
        a, b, c = ((tmp_path / d / f"f{i}.png").read_bytes() for d in "abc")
        assert a[:8] == b"\x89PNG\r\n\x1a\n" and a == b == c
    w, h = struct.unpack(">II", (tmp_path / "a" / "f1.png").read_bytes()[16:24])
    assert (w, h) == (640, 360)
    sock = daemon.socket_path()
    assert sock.is_socket() and (sock.stat().st_mode & 0o777) == 0o600
    assert (sock.parent.stat().st_mode & 0o777) == 0o700


def test_two_cold_commands_at_once_start_one_renderer(kept, tmp_path):
    a, b = _client(tmp_path / "a"), _client(tmp_path / "b")
    ra, rb = _result(a), _result(b)
    assert ra["ok"] and rb["ok"] and ra["pid"] == rb["pid"]
    assert _daemons() == [ra["pid"]]
    assert (tmp_path / "a" / "f2.png").read_bytes() == (tmp_path / "b" / "f2.png").read_bytes()


def test_idle_renderer_exits_and_removes_its_socket(monkeypatch, tmp_path):
    monkeypatch.setenv("ITA_RENDERER_IDLE_S", "1")
    r = _result(_client(tmp_path / "a"))
    assert r["ok"]
    deadline = time.monotonic() + 30
    while (daemon.status() is not None or _daemons()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert daemon.status() is None and not _daemons()
    assert not daemon.socket_path().exists()


def test_zero_idle_keeps_no_renderer(monkeypatch, tmp_path):
    monkeypatch.setenv("ITA_RENDERER_IDLE_S", "0")
    r = _result(_client(tmp_path / "a"))
    assert r["ok"] and r["pid"] is None
    assert (tmp_path / "a" / "f0.png").stat().st_size > 1000
    assert not _daemons() and not daemon.socket_path().exists()


def test_a_stale_socket_file_is_replaced(kept, tmp_path):
    sock = daemon.socket_path()
    sock.parent.mkdir(parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))  # a socket file nobody listens on (a daemon killed with -9)
    s.close()
    r = _result(_client(tmp_path / "a"))
    assert r["ok"] and r["pid"] and _daemons() == [r["pid"]]


def test_a_renderer_of_another_build_is_told_to_exit_and_replaced(kept, tmp_path):
    sock = daemon.socket_path()
    sock.parent.mkdir(parents=True, exist_ok=True)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(sock))
    srv.listen(4)
    srv.settimeout(30)
    ops: list[str] = []

    def fake_old_daemon():  # answers like a daemon of an older ITA would
        try:
            while "stop" not in ops:
                conn, _ = srv.accept()
                with conn:
                    (n,) = struct.unpack(">I", conn.recv(4, socket.MSG_WAITALL))
                    req = json.loads(conn.recv(n, socket.MSG_WAITALL))
                    ops.append(req["op"])
                    body = json.dumps({"ok": True, "pid": 1, "ident": "proto0|some other build"}).encode()
                    conn.sendall(struct.pack(">I", len(body)) + body)
        except OSError:
            pass

    t = threading.Thread(target=fake_old_daemon, daemon=True)
    t.start()
    r = _result(_client(tmp_path / "a"))
    srv.close()
    assert ops[:2] == ["ping", "stop"]
    assert r["ok"] and r["pid"] not in (None, 1)
    assert daemon.status()["ident"] == daemon.identity()


def test_no_chromium_falls_back_to_the_in_process_error(kept, tmp_path):
    r = _result(_client(tmp_path / "a", BROWSER_PATH=str(tmp_path / "no-such-chrome")))
    assert not r["ok"] and "Chromium" in r["error"] and "apt-get install" in r["error"]
    deadline = time.monotonic() + 20
    while _daemons() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _daemons()
    assert not list((tmp_path / "a").glob("*.png"))
    assert "could not start Chromium" in (daemon.socket_path().parent.parent / "logs" / "renderer.log").read_text()


def test_cli_renderer_status_and_stop(kept, tmp_path):
    from ita.cli import app

    runner = CliRunner()
    out = runner.invoke(app, ["renderer", "status"])
    assert out.exit_code == 0 and "No renderer running" in out.output and "600" not in out.output
    assert "keeps it 60 s" in out.output
    r = _result(_client(tmp_path / "a"))
    out = runner.invoke(app, ["renderer", "status"])
    assert out.exit_code == 0 and f"pid {r['pid']}" in out.output and "3 PNGs rendered" in out.output
    out = runner.invoke(app, ["renderer", "stop"])
    assert out.exit_code == 0 and "Renderer stopped." in out.output
    out = runner.invoke(app, ["renderer", "stop"])
    assert "No renderer was running." in out.output


def test_ita_backtest_says_once_that_it_keeps_the_renderer(kept, sample_store, tmp_path):
    ita = str(Path(sys.executable).with_name("ita"))
    env = {**os.environ, "ITA_DATA_DIR": str(sample_store.data_dir), "COLUMNS": "200"}
    args = [ita, "backtest", "asia_fvg_break", "--symbol", "EURUSD", "--from", "2025-03-03", "--to", "2025-03-14",
            "--samples", "1", "--no-html"]
    outs = [subprocess.run(args, capture_output=True, text=True, env=env, timeout=180) for _ in range(2)]
    assert all(o.returncode == 0 for o in outs), outs[0].stderr[-2000:]
    assert "The PNG renderer stays up 1 min for your next backtest" in outs[0].stdout
    assert "stays up" not in outs[1].stdout  # the second run used the one the first started
    assert len(_daemons()) == 1 and all("equity.png" in o.stdout for o in outs)
