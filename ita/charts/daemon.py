"""A PNG renderer that outlives one-shot commands: one headless Chromium per ``ITA_HOME``, kept warm between runs.

A one-shot ``ita backtest`` spends ~1.7 s (idle machine; ~3 s loaded) starting Chromium before its first PNG —
more than the backtest itself. With the renderer kept in a small background process, the first command starts
it (the same cold cost as before) and every command within :func:`idle_seconds` of the last render renders at
once (~0.1 s a PNG). The daemon exits by itself after that idle time, or on ``ita renderer stop``.

Public API::

    enabled() -> bool                 # ITA_RENDERER_IDLE_S > 0 on a POSIX machine with Unix sockets
    idle_seconds() -> float           # ITA_RENDERER_IDLE_S (default 600 s; 0 = never keep a renderer)
    ensure_started() -> bool          # start it in the background unless one answers (never blocks long)
    started_here() -> bool            # this process started it (and it runs)
    render(fig_dicts, sizes) -> list | None   # PNG bytes or the exception per figure; None = use in-process
    status() -> dict | None           # {"pid", "ident", "renders", "idle_s", "started"} of the running one
    stop() -> bool                    # ask it to exit; True if one was running

Where: a Unix socket ``$ITA_HOME/run/renderer.sock`` (folder mode 0700: only this user can talk to it), a
lock ``renderer.lock`` beside it (two commands starting at once start one daemon), its log
``$ITA_HOME/logs/renderer.log``. Wire format: one request and one reply per connection, each a 4-byte big-endian
length and a JSON header; a render reply is followed by the PNG bytes back to back. Figures travel as JSON
written by plotly's ``PlotlyJSONEncoder`` — the encoder kaleido's own browser connection uses — so the browser
receives the same figure text as in-process and the PNGs are byte-identical (tested).

Identity: the daemon answers only clients of the same Python, ITA code and kaleido/plotly/choreographer
versions (:func:`identity`); a client of another build asks the stale one to exit and starts its own.
Anything unexpected (no Chromium, a dead daemon, a time-out) makes :func:`render` return ``None`` and the caller
renders in-process, whose error messages say what is wrong.
"""
from __future__ import annotations

import functools
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

PROTO = 1
DEFAULT_IDLE_S = 600.0
CONNECT_TIMEOUT_S = 0.5
START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 300.0
_MAX_MSG = 512 * 1024 * 1024


def idle_seconds() -> float:
    """Seconds an idle renderer daemon stays up: ``ITA_RENDERER_IDLE_S`` (default 600; ``0`` = no daemon, every
    command starts its own Chromium as before). Raises nothing: a malformed value means the default."""
    raw = os.environ.get("ITA_RENDERER_IDLE_S", "")
    try:
        v = float(raw) if raw.strip() else DEFAULT_IDLE_S
    except ValueError:
        return DEFAULT_IDLE_S
    return max(0.0, v)


def _run_dir() -> Path:
    from ita.config import settings

    return settings().home / "run"


def _private_run_dir() -> Path:
    """``$ITA_HOME/run``, created if needed, readable by this user only (0700): the socket and lock live there."""
    run = _run_dir()
    run.mkdir(parents=True, exist_ok=True)
    os.chmod(run, 0o700)
    return run


def socket_path() -> Path:
    """``$ITA_HOME/run/renderer.sock``."""
    return _run_dir() / "renderer.sock"


def enabled() -> bool:
    """True when one-shot commands should use the kept renderer: POSIX with Unix sockets, a socket path short
    enough for ``AF_UNIX`` (≤ 100 bytes), and ``ITA_RENDERER_IDLE_S`` > 0."""
    if os.name != "posix" or not hasattr(socket, "AF_UNIX") or idle_seconds() <= 0:
        return False
    return len(os.fsencode(str(socket_path()))) <= 100


@functools.lru_cache(maxsize=1)
def identity() -> str:
    """What a daemon and its client must share: protocol, Python executable, ITA's code (path + the renderer
    modules' modification times) and the kaleido / plotly / choreographer versions. Computed once per process."""
    from importlib import metadata

    here = Path(__file__).resolve().parent
    parts = [f"proto{PROTO}", sys.executable, str(here)]
    for name in ("daemon.py", "export.py"):
        try:
            parts.append(f"{name}:{(here / name).stat().st_mtime_ns}")
        except OSError:
            parts.append(f"{name}:?")
    for dist in ("kaleido", "plotly", "choreographer"):
        try:
            parts.append(f"{dist}={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}=none")
    return "|".join(parts)


# ---------------------------------------------------------------- wire format


def _send(sock: socket.socket, header: dict, payload: bytes = b"") -> None:
    body = json.dumps(header).encode()
    sock.sendall(struct.pack(">I", len(body)) + body + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        b = sock.recv(min(n - got, 1 << 20))
        if not b:
            raise ConnectionError("renderer daemon closed the connection")
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def _recv_header(sock: socket.socket) -> dict:
    (n,) = struct.unpack(">I", _recv_exact(sock, 4))
    if n > _MAX_MSG:
        raise ConnectionError(f"renderer message of {n} bytes refused")
    return json.loads(_recv_exact(sock, n))


def _connect(timeout: float = CONNECT_TIMEOUT_S) -> socket.socket | None:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(socket_path()))
        return s
    except OSError:
        s.close()
        return None


def _ask(header: dict, timeout: float = 5.0) -> dict | None:
    """One request without payload; the reply header, or None when no daemon answers."""
    s = _connect()
    if s is None:
        return None
    try:
        s.settimeout(timeout)
        _send(s, header)
        return _recv_header(s)
    except (OSError, ValueError, ConnectionError):
        return None
    finally:
        s.close()


# ---------------------------------------------------------------- client


_started: subprocess.Popen | None = None
_start_lock = threading.Lock()


def _spawn(idle: float) -> subprocess.Popen:
    from ita.config import settings

    logs = settings().home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "renderer.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "ita.charts.daemon", "--socket", str(socket_path()), "--idle", f"{idle:g}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            close_fds=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def ensure_started() -> bool:
    """Start the renderer daemon unless a matching one answers; True when one runs (or was just started).

    A daemon of another build (:func:`identity`) is asked to exit and replaced. Under the lock file only one
    of several commands starting at the same moment spawns it; a spawned daemon is waited for until it listens
    (~0.3–0.5 s, at most 10 s) — :func:`ita.charts.export.warm_up` calls this in a background thread. Returns
    False when :func:`enabled` is False or the spawned daemon already exited (e.g. no Chromium)."""
    global _started
    if not enabled():
        return False
    with _start_lock:
        if _started is not None and _started.poll() is None:
            return True
        me = identity()
        run = _private_run_dir()
        import fcntl

        with open(run / "renderer.lock", "a+") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            reply = _ask({"op": "ping"}, timeout=2.0)
            if reply is not None and reply.get("ident") == me:
                return True
            if reply is not None:  # another build's daemon: let it go, take the socket over
                _ask({"op": "stop"})
            _started = _spawn(idle_seconds())
            # hold the lock until the new daemon listens, so a second command does not spawn another
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline and _started.poll() is None:
                if _ask({"op": "ping"}, timeout=1.0) is not None:
                    break
                time.sleep(0.02)
        return _started.poll() is None


def started_here() -> bool:
    """True when this process started the kept renderer (so a command can say it stays up after it exits)."""
    return _started is not None and _started.poll() is None


def _encode_figs(fig_dicts: Sequence[dict]) -> list:
    """The figures as kaleido's browser connection would encode them (PlotlyJSONEncoder), decoded to plain
    JSON values for the wire."""
    from _plotly_utils.utils import PlotlyJSONEncoder

    return json.loads(json.dumps(list(fig_dicts), cls=PlotlyJSONEncoder))


def render(fig_dicts: Sequence[dict], sizes: Sequence[tuple[int, int]]) -> list | None:
    """Render on the kept renderer: PNG bytes (or an exception) per figure, in order; ``None`` when no
    matching daemon can be reached or started in time (the caller then renders in-process)."""
    if not enabled() or not ensure_started():
        return None
    figs = _encode_figs(fig_dicts)
    deadline = time.monotonic() + START_TIMEOUT_S
    s = None
    while s is None:
        s = _connect()
        if s is None:
            if time.monotonic() > deadline or (_started is not None and _started.poll() is not None):
                return None
            time.sleep(0.02)
    try:
        s.settimeout(RENDER_TIMEOUT_S)
        _send(s, {"op": "render", "ident": identity(), "figs": figs, "sizes": [list(x) for x in sizes]})
        head = _recv_header(s)
        if not head.get("ok"):
            return None
        out: list[Any] = []
        for r in head["results"]:
            if "png" in r:
                out.append(_recv_exact(s, int(r["png"])))
            else:
                out.append(RuntimeError(r.get("error", "render failed")))
        return out
    except (OSError, ValueError, ConnectionError, KeyError):
        return None
    finally:
        s.close()


def status() -> dict | None:
    """The running daemon's ``{"pid", "ident", "renders", "idle_s", "started", "socket"}``, or None."""
    reply = _ask({"op": "ping"})
    if reply is None:
        return None
    reply["socket"] = str(socket_path())
    return reply


def stop() -> bool:
    """Ask the running daemon (if any) to close its browser and exit; True if one answered."""
    return _ask({"op": "stop"}) is not None


# ---------------------------------------------------------------- server


class _Server:
    def __init__(self, path: Path, idle: float, tabs: int) -> None:
        from ita.charts.export import Renderer  # the same renderer class, in this process

        self.path, self.idle, self.ident = path, idle, identity()
        self.renderer = Renderer(tabs)  # Chromium starts now, while we bind
        self.active = 0
        self.renders = 0
        self.last = time.monotonic()
        self.started = time.time()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(tmp))
        os.chmod(tmp, 0o600)
        self.sock.listen(16)
        os.replace(tmp, path)  # atomically takes the name over from a stale socket file
        self.inode = path.stat().st_ino
        self.sock.settimeout(1.0)

    def serve(self) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} renderer {os.getpid()} listening on {self.path} "
              f"(idle exit after {self.idle:g} s)", flush=True)
        try:
            while not self.stopping.is_set():
                with self.lock:
                    if self.active == 0 and time.monotonic() - self.last > self.idle:
                        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} idle {self.idle:g} s: exiting", flush=True)
                        break
                try:
                    conn, _ = self.sock.accept()
                except socket.timeout:
                    continue
                except OSError:  # the listener was closed by a stop request
                    break
                threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
        finally:
            self.close()

    def stop_listening(self) -> None:
        """Stop taking requests at once: the socket name goes (a new daemon may take it), then the listener."""
        self.stopping.set()
        self._unlink()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _unlink(self) -> None:
        try:
            if self.path.stat().st_ino == self.inode:  # never remove a newer daemon's socket
                self.path.unlink()
        except OSError:
            pass

    def handle(self, conn: socket.socket) -> None:
        """One request. Only renders count as activity: ``status`` polling never keeps an idle daemon alive."""
        rendering = False
        try:
            conn.settimeout(RENDER_TIMEOUT_S)
            req = _recv_header(conn)
            op = req.get("op")
            if op == "ping":
                _send(conn, {"ok": True, "pid": os.getpid(), "ident": self.ident, "renders": self.renders,
                             "idle_s": self.idle, "started": self.started})
            elif op == "stop":
                _send(conn, {"ok": True, "pid": os.getpid()})
                self.stop_listening()
            elif op == "render":
                if req.get("ident") != self.ident:
                    _send(conn, {"ok": False, "error": "another build of ITA: this renderer exits"})
                    self.stop_listening()
                    return
                with self.lock:
                    self.active += 1
                    rendering = True
                sizes = [tuple(int(v) for v in s) for s in req["sizes"]]
                results = self.renderer.render(req["figs"], sizes)
                heads, blobs = [], []
                for r in results:
                    if isinstance(r, (bytes, bytearray)):
                        heads.append({"png": len(r)})
                        blobs.append(bytes(r))
                    else:
                        heads.append({"error": f"{type(r).__name__}: {r}"})
                with self.lock:
                    self.renders += len(sizes)
                _send(conn, {"ok": True, "results": heads}, b"".join(blobs))
            else:
                _send(conn, {"ok": False, "error": f"unknown op {op!r}"})
        except Exception as exc:  # noqa: BLE001 - one bad request never takes the daemon down
            try:
                _send(conn, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            except OSError:
                pass
            if isinstance(exc, TimeoutError) or "Chrom" in str(exc):
                self.stop_listening()  # a wedged or missing browser: exit, the next command starts a fresh daemon
        finally:
            conn.close()
            if rendering:
                with self.lock:
                    self.active -= 1
                    self.last = time.monotonic()

    def close(self) -> None:
        self._unlink()
        self.sock.close()
        self.renderer.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ita.charts.daemon --socket PATH --idle SECONDS [--tabs N]`` (started by :func:`ensure_started`)."""
    import argparse

    ap = argparse.ArgumentParser(description="ITA's kept PNG renderer (headless Chromium via kaleido).")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--idle", type=float, default=DEFAULT_IDLE_S)
    ap.add_argument("--tabs", type=int, default=1)
    a = ap.parse_args(argv)
    srv = _Server(Path(a.socket), max(1.0, a.idle), max(1, a.tabs))

    def _check_browser() -> None:
        try:
            srv.renderer.ready()
        except Exception as exc:  # noqa: BLE001 - no Chromium: say so in the log and exit; clients fall back
            print(f"renderer could not start Chromium: {type(exc).__name__}: {exc}", flush=True)
            srv.stop_listening()

    threading.Thread(target=_check_browser, daemon=True).start()
    import signal

    signal.signal(signal.SIGTERM, lambda *_: srv.stop_listening())  # `kill`: close the browser, then exit
    srv.serve()
    return 0

if __name__ == "__main__":
    sys.exit(main())
