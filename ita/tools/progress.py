"""Progress of long tool calls (sweeps, walk-forward, library ingestion), for whichever face is listening — and
early results: a tool whose numbers exist before its files (a backtest's statistics before its charts) hands the
face a preview of its :class:`~ita.tools.results.ToolResult` with :func:`preview`, so the face can show the text
while the charts render; the tool's return value stays the complete result.

A tool reports with :func:`report`; a face (the CLI's rich progress bar, Telegram's one edited message, the web
chat) listens with :func:`progress_to` around the call. The listener travels in a :mod:`contextvars` variable,
which LangGraph copies into the threads that run graph nodes, so a tool called by the chat graph reaches the
face that asked. Without a listener :func:`report` does nothing, so tools call it freely.

Example::

    >>> from ita.tools.progress import progress_to, report
    >>> seen = []
    >>> with progress_to(lambda done, total, text: seen.append((done, total, text))):
    ...     report(3, 10, "grid point 3 of 10")
    >>> seen
    [(3, 10, 'grid point 3 of 10')]
    >>> report(4, 10, "nobody listens")   # no listener: nothing happens
    >>> early = []
    >>> with previews_to(early.append):
    ...     preview("a ToolResult without its charts yet")
    >>> early
    ['a ToolResult without its charts yet']
"""
from __future__ import annotations

import contextvars
import logging
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

log = logging.getLogger(__name__)

#: ``listener(done, total, text)``: ``done``/``total`` counts (either may be None: unknown), ``text`` one line.
Listener = Callable[[Optional[float], Optional[float], str], None]

_LISTENER: contextvars.ContextVar[Optional[Listener]] = contextvars.ContextVar("ita_progress", default=None)
#: ``preview_listener(result)``: a :class:`~ita.tools.results.ToolResult` whose files are still being written.
_PREVIEW: contextvars.ContextVar[Optional[Callable[[Any], None]]] = contextvars.ContextVar("ita_preview", default=None)


@contextmanager
def progress_to(listener: Optional[Listener]) -> Iterator[None]:
    """Send every :func:`report` made inside the block (in this context and the threads LangGraph starts from
    it) to ``listener``."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)


def report(done: Optional[float] = None, total: Optional[float] = None, text: str = "") -> None:
    """Tell the listening face how far a long job is (``done`` of ``total``, and/or one line of ``text``).
    A listener that fails is logged, never raised into the tool."""
    listener = _LISTENER.get()
    if listener is None:
        return
    try:
        listener(done, total, text)
    except Exception:  # noqa: BLE001 - a face's display problem must not break the computation
        log.debug("progress listener failed", exc_info=True)


@contextmanager
def previews_to(listener: Optional[Callable[[Any], None]]) -> Iterator[None]:
    """Send every :func:`preview` made inside the block (also in the threads LangGraph starts from it) to
    ``listener``; ``None`` stops the previews of an outer block inside this one."""
    token = _PREVIEW.set(listener)
    try:
        yield
    finally:
        _PREVIEW.reset(token)


def preview_listener() -> Optional[Callable[[Any], None]]:
    """The listener :func:`preview` would call now (None: nobody listens, a tool need not build a preview)."""
    return _PREVIEW.get()


def preview(result: Any) -> None:
    """Hand the listening face an early :class:`~ita.tools.results.ToolResult` (its numbers, not yet its files).
    A listener that fails is logged, never raised into the tool."""
    listener = _PREVIEW.get()
    if listener is None:
        return
    try:
        listener(result)
    except Exception:  # noqa: BLE001 - a face's display problem must not break the computation
        log.warning("preview listener failed", exc_info=True)
