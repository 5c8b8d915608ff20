"""Errors a user can act on.

Every error ITA raises for bad input is an :class:`ItaError`: its message says *what* is wrong, *where*
(file, line, field) and *how to fix it*. The CLI prints the message and exits non-zero without a stack
trace; nothing stored is changed when one is raised.
"""
from __future__ import annotations


class ItaError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the full, user-facing message."""


class DataError(ItaError):
    """A candle file or the candle store is malformed, or the requested data does not exist."""


class UnknownSymbolError(ItaError):
    """A symbol is not in the instrument registry (see ``ita/data/instruments.yaml``)."""


class SetupError(ItaError):
    """A setup YAML is missing, invalid, or an override names a parameter that does not exist."""


def closest(name: str, choices, n: int = 3) -> str:
    """Return ``" Did you mean: A, B?"`` with the closest of ``choices`` to ``name``, or ``""``."""
    import difflib

    hits = difflib.get_close_matches(str(name), [str(c) for c in choices], n=n, cutoff=0.5)
    if hits:  # keep only the near-best: 'asia_fvg_brake' suggests asia_fvg_break, not also asia_sweep
        score = [difflib.SequenceMatcher(None, str(name), h).ratio() for h in hits]
        hits = [h for h, sc in zip(hits, score) if sc >= score[0] - 0.1]
    return f" Did you mean: {', '.join(hits)}?" if hits else ""


def write_text_atomic(path, text: str, what: str = "file"):
    """Write ``text`` to ``path`` via a temporary file beside it and ``os.replace`` (readers never see half a
    file; parent folders are created). Raises :class:`ItaError` naming ``what`` and the path on failure."""
    import os
    import threading
    from pathlib import Path

    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise ItaError(f"Could not write the {what} {path}: {exc}") from None
    return path
