"""Parameter grids of a research run: parse ``--grid PATH=VALUES`` specs, resolve the paths against the setup,
check every value against the setup schema, and enumerate variants (grid, random sample, or Optuna trials).

A grid spec is ``PATH=VALUES`` where ``PATH`` is the setup YAML's own dotted path (``target.rr``,
``detectors.fvg.min_gap_pips``), a unique tail of one (``fvg.min_gap_pips``), or a unique leaf name (``rr``);
``VALUES`` is a comma list (``1.5,2,2.5,3``, ``close,wick``) or an inclusive numeric range ``START:STOP:STEP``
(``0.5:2:0.5`` → 0.5, 1.0, 1.5, 2.0).

Example::

    >>> from ita.research.grid import parse_values
    >>> parse_values("0.5:2:0.5")
    [0.5, 1.0, 1.5, 2.0]
    >>> parse_values("1.5,2,3")
    [1.5, 2, 3]
"""
from __future__ import annotations

import itertools
import json
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from ita.errors import ItaError, SetupError, closest
from ita.setups.loader import leaf_paths

#: More variants than this need an explicit ``--yes`` (``confirm=True``).
MAX_VARIANTS_WITHOUT_CONFIRM = 10_000


def _scalar(text: str) -> Any:
    s = text.strip()
    if re.fullmatch(r"\d{1,2}:\d{2}", s):  # a time of day stays text (YAML 1.1 would read 10:30 as 630)
        return s
    try:
        return yaml.safe_load(s)
    except yaml.YAMLError:
        return s


def parse_values(spec: Any) -> list:
    """Grid values from ``"1.5,2,3"``, ``"0.5:2:0.5"`` (inclusive range), a list, or one scalar.

    Raises :class:`~ita.errors.ItaError` for an empty list, a malformed or endless range (step ≤ 0, more than
    10,000 values)."""
    if isinstance(spec, (list, tuple)):
        vals = list(spec)
    elif isinstance(spec, str):
        s = spec.strip()
        m = re.fullmatch(r"(-?[\d.]+)\s*:\s*(-?[\d.]+)\s*:\s*(-?[\d.]+)", s)
        if m:
            try:
                a, b, st = (float(x) for x in m.groups())
            except ValueError:
                raise ItaError(f"grid range {s!r}: use START:STOP:STEP with numbers, e.g. 0.5:2:0.5.") from None
            if st <= 0 or b < a:
                raise ItaError(f"grid range {s!r}: the step must be > 0 and STOP ≥ START, e.g. 0.5:2:0.5.")
            n = int(math.floor((b - a) / st + 1e-9)) + 1
            if n > MAX_VARIANTS_WITHOUT_CONFIRM:
                raise ItaError(f"grid range {s!r} has {n:,} values; use a larger step.")
            ints = all(float(x).is_integer() for x in (a, st))
            vals = [int(round(a + k * st)) if ints else round(a + k * st, 10) for k in range(n)]
        else:
            vals = [_scalar(p) for p in s.split(",") if p.strip()]
    else:
        vals = [spec]
    if not vals:
        raise ItaError(f"grid {spec!r} has no values; give e.g. 1.5,2,3 or 0.5:2:0.5.")
    out: list = []
    for v in vals:  # keep the first of duplicates, in order
        if v not in out:
            out.append(v)
    return out


def parse_grid_specs(items: list[str] | dict | None) -> dict[str, list]:
    """``["rr=1.5,2", "fvg.min_gap_pips=0.5:2:0.5"]`` or ``{"rr": "1.5,2"}`` → ``{path: [values]}`` (paths as
    given, not yet resolved). Raises :class:`~ita.errors.ItaError` for an item without ``=``."""
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k).strip(): parse_values(v) for k, v in items.items()}
    out: dict[str, list] = {}
    for it in items:
        if "=" not in it:
            raise ItaError(f"--grid {it!r}: expected PATH=VALUES, e.g. --grid rr=1.5,2,2.5,3 or "
                           "--grid fvg.min_gap_pips=0.5:2:0.5.")
        k, v = it.split("=", 1)
        out[k.strip()] = parse_values(v)
    return out


def value_at(raw: Any, path: str) -> Any:
    """The value at dotted ``path`` of a parsed setup YAML."""
    node = raw
    for p in path.split("."):
        node = node[int(p)] if isinstance(node, list) else node.get(p)
    return node


def resolve_path(raw: dict, key: str) -> str:
    """The full dotted path of ``key`` in the setup ``raw``: the path itself, a unique tail of one
    (``fvg.min_gap_pips`` → ``detectors.fvg.min_gap_pips``) or a unique leaf name (``rr`` → ``target.rr``).

    Raises :class:`~ita.errors.SetupError` naming the valid paths for an unknown or ambiguous key."""
    full = leaf_paths(raw)
    if key in full:
        return key
    hits = [p for p in full if p.endswith("." + key)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise SetupError(f"--grid {key}: ambiguous; use one of {', '.join(hits)}.")
    raise SetupError(f"--grid {key}: no such parameter in this setup.{closest(key, full)} "
                     f"Parameters: {', '.join(tunable_paths(raw))}.")


def tunable_paths(raw: dict) -> list[str]:
    """The paths worth sweeping: every leaf but identity, text, time zones, weekdays, detector kinds and currency."""
    skip = ("id", "version", "name", "description", "symbols", "timezone", "timeframe", "days.", "risk.currency")
    return [p for p in leaf_paths(raw) if not p.startswith(skip) and not p.endswith((".kind", ".timezone"))]


def describe(value: Any) -> str:
    """The kind of a setup value as a trader reads it: ``a number``, ``true/false``, ``a time HH:MM``, ``text``."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value):
        return "a time HH:MM"
    return "text" if isinstance(value, str) else type(value).__name__


@dataclass
class Grid:
    """Resolved parameter grid: ``axes`` ``{full dotted path: [values]}`` in the order given; ``current``
    ``{path: the setup's own value}``. ``size`` = the number of grid points (the product of the axes)."""

    axes: dict[str, list]
    current: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return math.prod(len(v) for v in self.axes.values()) if self.axes else 1

    def points(self) -> list[dict]:
        """Every grid point as ``{path: value}``, the last axis varying fastest."""
        keys = list(self.axes)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.axes[k] for k in keys))]

    def sample(self, n: int, seed: int = 0) -> list[dict]:
        """``n`` distinct grid points drawn uniformly without replacement (all of them when ``n`` ≥ size),
        reproducible with ``seed``; returned in grid order."""
        if n >= self.size:
            return self.points()
        rng = random.Random(seed)
        idx = sorted(rng.sample(range(self.size), n))
        keys = list(self.axes)
        sizes = [len(self.axes[k]) for k in keys]
        out = []
        for i in idx:
            combo, rest = [], i
            for s in reversed(sizes):
                combo.append(rest % s)
                rest //= s
            combo.reverse()
            out.append({k: self.axes[k][j] for k, j in zip(keys, combo)})
        return out

    def to_json(self) -> str:
        return json.dumps(self.axes, sort_keys=False, default=str)


def resolve_grid(raw: dict, specs: dict[str, list]) -> Grid:
    """Resolve the paths of ``specs`` (:func:`parse_grid_specs`) against the parsed setup ``raw``.
    Raises :class:`~ita.errors.SetupError` for an unknown/ambiguous path or the same path twice,
    :class:`~ita.errors.ItaError` for an empty grid."""
    if not specs:
        raise ItaError("No --grid given: name at least one parameter, e.g. --grid rr=1.5,2,2.5,3.")
    axes: dict[str, list] = {}
    for key, vals in specs.items():
        path = resolve_path(raw, key)
        if path in axes:
            raise SetupError(f"--grid {key}: {path} is given twice.")
        axes[path] = vals
    return Grid(axes=axes, current={p: value_at(raw, p) for p in axes})
