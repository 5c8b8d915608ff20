"""PNG export through kaleido ≥ 1 (headless Chromium): one warm renderer per process, several figures per call.

Public API::

    warm_up(tabs=None, wait=False)                   # start the renderer in the background, return at once
    render_pngs(figs, paths, width=1400, height=800) -> list[Path]   # several figures, rendered concurrently
    save_png(fig, path, width=1400, height=800) -> Path               # one figure
    close_png_server()                               # stop the browser (optional; done at exit)
    use_daemon(True)                                 # one-shot commands: render on the kept renderer

A one-shot command (``ita backtest``) calls :func:`use_daemon` first: its renders then go to a renderer kept
warm between commands (:mod:`ita.charts.daemon`, ``ITA_RENDERER_IDLE_S``), falling back to the in-process one.

Why a renderer of our own and not ``kaleido.start_sync_server()``: kaleido 1.5's global sync server runs the
browser start inside a daemon thread and hands work over with ``Queue.join()``. When Chromium is missing or
fails to start, that thread dies with the error and every later call blocks forever (checked with
``BROWSER_PATH=/nonexistent``). ITA keeps its own small renderer on the public async API: a daemon thread runs
an asyncio loop holding one ``kaleido.Kaleido(n=tabs, mathjax=False)`` browser; :func:`render_pngs` submits
one ``Kaleido.calc_fig`` per figure to it (kaleido hands them to its tabs as they free up) and waits with a
timeout, so start-up and render errors reach the caller.

Speed (this 2-core machine): starting Chromium ~1.7 s with one tab (~3 s with two), so a long-lived process
(chat, Chainlit, live, Telegram) calls :func:`warm_up` at start-up and a one-shot command calls it first thing,
overlapping the start with its own work. A render then takes ~0.1 s: kaleido reloads a tab after every figure
(re-parsing the 4.8 MB plotly.js, ~0.15–0.25 s); ITA's renderer reloads a tab only every
:data:`RELOAD_EVERY` figures instead (plotly.js' ``toImage`` draws each figure on a fresh element and purges
it, and the PNGs are byte-identical either way). The 7 PNGs of a backtest take ~0.5–0.7 s instead of ~2 s.

Calls are thread-safe and may overlap (their figures share the tabs); a failed render drops the browser and
the next call starts a fresh one; the browser is closed at interpreter exit or by :func:`close_png_server`.
After ``fork`` the child starts its own browser.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ita.charts.mode import daemon_mode, use_daemon  # noqa: F401 - use_daemon is part of this module's API
from ita.errors import ItaError

START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 120.0
RELOAD_EVERY = 25
"""A tab is reloaded (fresh page) after this many figures instead of after each one."""
TABS = max(1, min(2, os.cpu_count() or 1))
"""Tabs of a renderer started by :func:`warm_up` without ``tabs``: concurrent renders (one per core, at most 2).
A renderer started on demand by a render call has one tab (it starts in about half the time)."""

_CHROME_HINT = ("PNG export needs Chromium: `apt-get install -y chromium` (Debian/Ubuntu), or a Chrome/Chromium/"
                "Edge install on macOS/Windows, or `kaleido_get_chrome` (downloads Chrome for kaleido); set "
                "BROWSER_PATH to use a specific browser executable. Charts in the HTML report do not need it.")


def _kaleido_class():
    """``kaleido.Kaleido`` with a tab reloaded every :data:`RELOAD_EVERY` figures instead of after each.

    Overrides kaleido's tab hand-back (``_return_kaleido_tab``, kaleido 1.x); should a later kaleido rename it,
    the override is simply never called and every figure gets kaleido's own reload (slower, same PNGs)."""
    import kaleido  # imported lazily: pulls in choreographer

    class _Kaleido(kaleido.Kaleido):
        async def _return_kaleido_tab(self, tab) -> None:
            uses = getattr(self, "_ita_uses", None)
            if uses is None:
                uses = self._ita_uses = {}
            n = uses.get(id(tab), 0) + 1
            if n < RELOAD_EVERY:
                uses[id(tab)] = n
                await self.tabs_ready.put(tab)
                return
            uses[id(tab)] = 0
            await super()._return_kaleido_tab(tab)

    return _Kaleido


class Renderer:
    """One headless Chromium (via kaleido) driven from a private event-loop thread; starts in the background."""

    def __init__(self, tabs: int) -> None:
        self.pid = os.getpid()
        self.tabs = tabs
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ita-kaleido", daemon=True)
        self.thread.start()
        self.k = None

        async def _open():
            k = _kaleido_class()(n=tabs, mathjax=False, timeout=RENDER_TIMEOUT_S)
            await k.open()
            self.k = k
            return k

        self.opening = asyncio.run_coroutine_threadsafe(_open(), self.loop)

    def ready(self, timeout: float = START_TIMEOUT_S):
        """Wait until the browser is open; its start-up error (e.g. no Chromium) is raised here."""
        try:
            return self.opening.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"headless Chromium did not start within {timeout:.0f} s") from None

    def render(self, fig_dicts: Sequence[dict], sizes: Sequence[tuple[int, int]]) -> list:
        """PNG bytes (or the exception) per figure, rendered concurrently on the renderer's tabs."""
        k = self.ready()

        async def _all():
            jobs = [k.calc_fig(f, opts=dict(format="png", width=w, height=h, scale=1))
                    for f, (w, h) in zip(fig_dicts, sizes)]
            return await asyncio.gather(*jobs, return_exceptions=True)

        fut = asyncio.run_coroutine_threadsafe(_all(), self.loop)
        try:
            return fut.result(RENDER_TIMEOUT_S * max(1, -(-len(fig_dicts) // self.tabs)))
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"headless Chromium did not answer within {RENDER_TIMEOUT_S:.0f} s per figure") from None

    def close(self) -> None:
        try:
            if self.thread.is_alive():
                self.ready(30.0)
                asyncio.run_coroutine_threadsafe(self.k.close(), self.loop).result(30.0)
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
_server: Renderer | None = None
_atexit_registered = False
def _daemon():
    """:mod:`ita.charts.daemon` when this process renders through it, else None."""
    if not daemon_mode():
        return None
    from ita.charts import daemon

    return daemon if daemon.enabled() else None


def _chrome_missing(exc: BaseException) -> bool:
    try:
        from choreographer.errors import ChromeNotFoundError
    except ImportError:  # pragma: no cover - choreographer always ships with kaleido >= 1
        ChromeNotFoundError = ()  # type: ignore[assignment]  # noqa: N806
    name = type(exc).__name__
    return isinstance(exc, ChromeNotFoundError) or ("Chrome" in name and "NotFound" in name)


def _start_error(exc: BaseException) -> ItaError:
    if isinstance(exc, ImportError):
        return ItaError(f"PNG export needs the kaleido package (>= 1): pip install 'kaleido>=1' ({exc})")
    if _chrome_missing(exc):
        return ItaError(f"{_CHROME_HINT} ({exc})")
    return ItaError(f"PNG export could not start headless Chromium: {exc}. {_CHROME_HINT}")


def _get_server(tabs: int = 1) -> Renderer:
    """The process's renderer, started (in the background) on first use."""
    global _server, _atexit_registered
    with _lock:
        if _server is not None and (_server.pid != os.getpid() or not _server.thread.is_alive()):
            _server = None  # forked child or dead loop: start afresh (never touch the parent's browser)
        if _server is None:
            _server = Renderer(tabs)
            if not _atexit_registered:
                atexit.register(close_png_server)
                _atexit_registered = True
        return _server


def _drop(srv: Renderer) -> None:
    """Forget a renderer that failed (the next call starts a fresh one) and close it in the background."""
    global _server
    with _lock:
        if _server is srv:
            _server = None
    threading.Thread(target=srv.close, daemon=True).start()


def warm_up(tabs: int | None = None, wait: bool = False) -> None:
    """Start the process's renderer (headless Chromium with ``tabs`` tabs, default :data:`TABS`) in the
    background and return at once, so the first PNG does not wait for the browser start (~1.7–3 s). A no-op
    when it is already running or starting. Without ``wait`` it never raises: a start-up error (no Chromium,
    no kaleido) is reported by the next :func:`render_pngs` / :func:`save_png` as their
    :class:`~ita.errors.ItaError`; with ``wait=True`` it blocks until the browser is up and raises that
    :class:`~ita.errors.ItaError` itself (a long-lived process checks at start-up: "charts will be skipped").

    With :func:`use_daemon` (one-shot commands) it starts the kept renderer instead, unless it already runs.

    Example (a long-lived process, at start-up)::

        >>> from ita.charts import warm_up
        >>> warm_up()                       # returns at once; Chromium starts beside the rest of the start-up
    """
    d = _daemon()
    if d is not None and not wait:
        threading.Thread(target=d.ensure_started, name="ita-renderer-start", daemon=True).start()
        return
    try:
        srv = _get_server(max(1, int(tabs or TABS)))
    except Exception as exc:  # noqa: BLE001 - reported by the next render
        if wait:
            raise _start_error(exc) from None
        return
    if wait:
        try:
            srv.ready()
        except Exception as exc:  # noqa: BLE001
            _drop(srv)
            raise _start_error(exc) from None


def close_png_server() -> None:
    """Close the headless Chromium started by :func:`warm_up` / :func:`save_png` (no-op if none). Safe to call
    repeatedly; a later render starts a new one."""
    global _server
    with _lock:
        srv, _server = _server, None
    if srv is not None and srv.pid == os.getpid():
        srv.close()


def _fig_dict(fig: Any) -> dict:
    return fig.to_dict() if hasattr(fig, "to_dict") else dict(fig)


def _write_atomic(path: Path, data: bytes) -> Path:
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


def render_pngs(figs: Sequence[Any], paths: Sequence[Any], width: int = 1400, height: int = 800,
                sizes: Sequence[tuple[int, int]] | None = None) -> list[Path]:
    """Render ``figs`` to PNGs at ``paths`` in one call to the process's warm renderer; returns the paths.

    ``figs``: plotly Figures or figure dicts (``{"data": [...], "layout": {...}}``), as many as ``paths``
    (str or Path; parent folders are created). Every PNG is exactly ``width`` × ``height`` pixels, or
    ``sizes[i]`` = ``(width, height)`` per figure. The figures are rendered concurrently on the renderer's tabs
    (see :func:`warm_up`; started here if needed, ~1.7 s once per process), ~0.1 s each. Each file is written to
    a temporary name beside it and moved into place with ``os.replace``: a reader never sees a partial PNG.
    Thread-safe; calls from several threads share the browser.

    Raises :class:`ita.errors.ItaError` when Chromium/Chrome cannot be found or started (the message says how
    to install it) or a render fails or times out — the PNGs that did render are written, the message names the
    ones that did not, and nothing is written at their paths; :class:`ValueError` for a non-positive size or
    ``figs`` and ``paths`` of different lengths.

    Example::

        >>> from ita.charts import equity_figure, render_pngs, warm_up
        >>> warm_up()                                                     # doctest: +SKIP
        >>> render_pngs([equity_figure(res.equity, res.stats, "EURUSD")], ["equity.png"])  # doctest: +SKIP
    """
    paths = [Path(p) for p in paths]
    if len(figs) != len(paths):
        raise ValueError(f"render_pngs: {len(figs)} figures for {len(paths)} paths")
    sizes = [(int(w), int(h)) for w, h in sizes] if sizes is not None else [(int(width), int(height))] * len(paths)
    if len(sizes) != len(paths):
        raise ValueError(f"render_pngs: {len(sizes)} sizes for {len(paths)} paths")
    for w, h in sizes:
        if w <= 0 or h <= 0:
            raise ValueError(f"render_pngs: width and height must be positive, got {w}×{h}")
    if not paths:
        return []
    dicts = [_fig_dict(f) for f in figs]
    d = _daemon()
    results = d.render(dicts, sizes) if d is not None else None
    if results is not None:
        return _write_results(paths, results, None)
    srv = _get_server()
    try:
        srv.ready()
    except Exception as exc:  # noqa: BLE001
        _drop(srv)
        raise _start_error(exc) from None
    try:
        results = srv.render(dicts, sizes)
    except Exception as exc:  # noqa: BLE001 - the browser may be wedged or gone: start a fresh one next time
        _drop(srv)
        raise ItaError(f"PNG export of {', '.join(p.name for p in paths)} failed: {type(exc).__name__}: {exc}") from None
    return _write_results(paths, results, srv)


def _write_results(paths: list[Path], results: list, srv: Renderer | None) -> list[Path]:
    """Write each rendered PNG atomically; raise one :class:`ItaError` naming the figures that failed (all
    failed from an in-process renderer ``srv``: it is dropped, the next call starts a fresh one)."""
    failed = []
    for path, data in zip(paths, results):
        if isinstance(data, BaseException):
            failed.append(f"{path.name} ({type(data).__name__}: {data})")
        elif not isinstance(data, (bytes, bytearray)) or bytes(data[:8]) != b"\x89PNG\r\n\x1a\n":
            failed.append(f"{path.name} (the renderer returned no PNG data)")
        else:
            _write_atomic(path, bytes(data))
    if failed:
        if len(failed) == len(paths) and srv is not None:
            _drop(srv)
        raise ItaError(f"PNG export of {'; '.join(failed)} failed")
    return paths


def save_png(fig: Any, path, width: int = 1400, height: int = 800) -> Path:
    """Render ``fig`` (a plotly Figure or figure dict) to a PNG of exactly ``width`` × ``height`` pixels at
    ``path`` and return the path — :func:`render_pngs` for one figure (same errors, same atomic write).
    The first call in a process starts the renderer (~1.7 s) unless :func:`warm_up` did; later calls ~0.1 s."""
    return render_pngs([fig], [path], width, height)[0]
