"""PNG export through kaleido ≥ 1 (headless Chromium), with one persistent browser per process.

Why not ``kaleido.start_sync_server()``: kaleido 1.5's global sync server runs the browser start inside a
daemon thread and hands work over with ``Queue.join()``. When Chromium is missing or fails to start, that
thread dies with the error and every later call blocks forever (checked with ``BROWSER_PATH=/nonexistent``).
ITA therefore keeps its own small server on the public async API: a daemon thread runs an asyncio loop
holding one ``kaleido.Kaleido(n=1, mathjax=False)`` browser; each :func:`save_png` submits
``Kaleido.calc_fig`` to it with ``asyncio.run_coroutine_threadsafe`` and waits with a timeout, so start-up
and render errors reach the caller. Cost: the first PNG in a process ~3–4 s (browser start), later ones
~0.3–0.5 s. Calls are serialised by a lock (safe from several threads); a failed render closes the browser
and the next call starts a fresh one; the browser is closed at interpreter exit or by
:func:`close_png_server`. After ``fork`` the child starts its own browser.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
from pathlib import Path

import plotly.graph_objects as go

from ita.errors import ItaError

START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 120.0

_CHROME_HINT = ("PNG export needs Chromium: `apt-get install -y chromium` (Debian/Ubuntu), or a Chrome/Chromium/"
                "Edge install on macOS/Windows, or `kaleido_get_chrome` (downloads Chrome for kaleido); set "
                "BROWSER_PATH to use a specific browser executable. Charts in the HTML report do not need it.")


class _PngServer:
    """One headless Chromium (via kaleido) driven from a private event-loop thread."""

    def __init__(self) -> None:
        import kaleido  # imported lazily: pulls in choreographer

        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ita-kaleido", daemon=True)
        self.thread.start()

        async def _open():
            k = kaleido.Kaleido(n=1, mathjax=False, timeout=RENDER_TIMEOUT_S)
            await k.open()
            return k

        try:
            self.k = self._run(_open(), START_TIMEOUT_S)
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro, timeout: float):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"headless Chromium did not answer within {timeout:.0f} s") from None

    def render(self, fig_dict: dict, width: int, height: int) -> bytes:
        opts = dict(format="png", width=int(width), height=int(height), scale=1)
        return self._run(self.k.calc_fig(fig_dict, opts=opts), RENDER_TIMEOUT_S)

    def close(self) -> None:
        try:
            if self.thread.is_alive():
                self._run(self.k.close(), 30.0)
        except BaseException:  # noqa: BLE001 - closing is best effort
            pass
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10.0)
        if not self.thread.is_alive() and not self.loop.is_closed():
            self.loop.close()


_lock = threading.Lock()
_server: _PngServer | None = None
_atexit_registered = False


def _chrome_missing(exc: BaseException) -> bool:
    try:
        from choreographer.errors import ChromeNotFoundError
    except ImportError:  # pragma: no cover - choreographer always ships with kaleido >= 1
        ChromeNotFoundError = ()  # type: ignore[assignment]  # noqa: N806
    name = type(exc).__name__
    return isinstance(exc, ChromeNotFoundError) or ("Chrome" in name and "NotFound" in name)


def _get_server() -> _PngServer:
    """The process's server, started on first use (caller holds ``_lock``)."""
    global _server, _atexit_registered
    if _server is not None and (_server.pid != os.getpid() or not _server.thread.is_alive()):
        _server = None  # forked child or dead loop: start afresh (never touch the parent's browser)
    if _server is None:
        try:
            _server = _PngServer()
        except ImportError as exc:
            raise ItaError(f"PNG export needs the kaleido package (>= 1): pip install 'kaleido>=1' ({exc})") from None
        except Exception as exc:  # noqa: BLE001
            if _chrome_missing(exc):
                raise ItaError(f"{_CHROME_HINT} ({exc})") from None
            raise ItaError(f"PNG export could not start headless Chromium: {exc}. {_CHROME_HINT}") from None
        if not _atexit_registered:
            atexit.register(close_png_server)
            _atexit_registered = True
    return _server


def close_png_server() -> None:
    """Close the headless Chromium started by :func:`save_png` (no-op if none). Safe to call repeatedly;
    a later :func:`save_png` starts a new one."""
    global _server
    with _lock:
        srv, _server = _server, None
        if srv is not None and srv.pid == os.getpid():
            srv.close()


def save_png(fig: go.Figure, path, width: int = 1400, height: int = 800) -> Path:
    """Render ``fig`` to a PNG of exactly ``width`` × ``height`` pixels at ``path`` and return the path.

    ``fig``: a plotly Figure (or figure dict). ``path``: file path (str or Path; parent folders are
    created); written to a temporary file in the same folder, then moved into place with ``os.replace`` so
    a reader never sees a partial PNG. The first call in a process starts a headless Chromium through
    kaleido (~3–4 s); later calls reuse it (~0.3–0.5 s). Thread-safe (renders are serialised).

    Raises :class:`ita.errors.ItaError` when Chromium/Chrome cannot be found or started (the message says how
    to install it) or a render fails or times out (:data:`RENDER_TIMEOUT_S`); :class:`ValueError` for a
    non-positive size. On error nothing is written at ``path``.
    """
    if int(width) <= 0 or int(height) <= 0:
        raise ValueError(f"save_png: width and height must be positive, got {width}×{height}")
    path = Path(path)
    fig_dict = fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)
    with _lock:
        srv = _get_server()
        try:
            data = srv.render(fig_dict, int(width), int(height))
        except Exception as exc:  # noqa: BLE001
            # the browser may be wedged or gone: drop it so the next call starts a fresh one
            global _server
            _server = None
            threading.Thread(target=srv.close, daemon=True).start()
            raise ItaError(f"PNG export of {path.name} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(data, (bytes, bytearray)) or not bytes(data[:8]) == b"\x89PNG\r\n\x1a\n":
        raise ItaError(f"PNG export of {path.name} failed: the renderer returned no PNG data")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path
