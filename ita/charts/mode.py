"""Where this process renders its PNGs: in-process (default) or on the renderer kept between commands.

Kept import-free, so a command can choose before it knows whether it will draw anything (``ita chat "…"`` sets
it without loading the renderer's modules). Read by :mod:`ita.charts.export`.
"""
from __future__ import annotations

_daemon_mode = False


def use_daemon(on: bool = True) -> None:
    """Route this process's renders to the renderer kept between commands (:mod:`ita.charts.daemon`) when it
    is enabled (``ITA_RENDERER_IDLE_S`` > 0, POSIX); for one-shot commands, whose own Chromium would cost
    ~1.7 s per run. Long-lived processes (chat, live, Chainlit) keep their in-process renderer.

    Example::

        >>> from ita.charts.export import use_daemon, warm_up
        >>> use_daemon()       # doctest: +SKIP
        >>> warm_up(tabs=1)    # doctest: +SKIP  (starts the kept renderer in the background unless it runs)
    """
    global _daemon_mode
    _daemon_mode = bool(on)


def daemon_mode() -> bool:
    """True after :func:`use_daemon` (and not turned off since)."""
    return _daemon_mode
