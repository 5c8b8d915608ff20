"""The floors (and ceilings) a metric must keep: ``evals/thresholds.yaml``.

Format — suite → mode → metric → ``">= 0.95"`` or ``"<= 0.02"`` (a mode may be ``"*"``: every mode of the
suite)::

    agent:
      "parser:heldout": {tool_accuracy: ">= 0.95", exact_args_accuracy: ">= 0.90"}

:func:`check` lists the violations of a run (a metric missing from a run that has the mode is a violation
too: a threshold that silently stops being checked is worthless). Raises :class:`~ita.errors.ItaError` for a
malformed file, naming the entry.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ita.errors import ItaError
from ita.evals.store import SuiteRun

_RULE = re.compile(r"^\s*(>=|<=|>|<|==)\s*(-?\d+(?:\.\d+)?)\s*$")


def default_path() -> Path:
    return Path(__file__).resolve().parents[2] / "evals" / "thresholds.yaml"


@dataclass
class Violation:
    suite: str
    mode: str
    metric: str
    value: float | None
    rule: str

    def __str__(self) -> str:
        v = "missing" if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)) \
            else f"{self.value:.4g}"
        return f"{self.suite} {self.mode} {self.metric} = {v}, must be {self.rule}"


def load_thresholds(path: str | Path | None = None) -> dict[str, dict[str, dict[str, str]]]:
    path = Path(path) if path else default_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ItaError(f"{path}: thresholds file not found") from None
    except yaml.YAMLError as exc:
        raise ItaError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ItaError(f"{path}: expected suite → mode → metric → rule")
    for suite, modes in raw.items():
        for mode, metrics in (modes or {}).items():
            if not isinstance(metrics, dict):
                raise ItaError(f"{path}: {suite}.{mode}: expected metric: \">= value\" entries")
            for metric, rule in metrics.items():
                if not _RULE.match(str(rule)):
                    raise ItaError(f"{path}: {suite}.{mode}.{metric}: {rule!r} is not like \">= 0.9\" or \"<= 0.02\"")
    return raw


def _ok(value: float, rule: str) -> bool:
    op, lim = _RULE.match(rule).groups()
    lim = float(lim)
    return {">=": value >= lim - 1e-12, "<=": value <= lim + 1e-12, ">": value > lim, "<": value < lim,
            "==": abs(value - lim) <= 1e-12}[op]


def check(run: SuiteRun, thresholds: dict | None = None) -> list[Violation]:
    """The run's metrics that cross their threshold (modes the run does not have are not checked)."""
    rules = (thresholds if thresholds is not None else load_thresholds()).get(run.suite) or {}
    out = []
    for mode_rule, metrics in rules.items():
        modes = list(run.metrics) if mode_rule == "*" else [mode_rule] if mode_rule in run.metrics else []
        for mode in modes:
            for metric, rule in metrics.items():
                v = run.metrics[mode].get(metric)
                bad = v is None or (isinstance(v, float) and math.isnan(v)) or not _ok(float(v), str(rule))
                if bad:
                    out.append(Violation(run.suite, mode, metric, v, str(rule)))
    return out
