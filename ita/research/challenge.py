"""Prop-firm challenge odds: Monte Carlo of a run's trading days through a challenge's rules
(``ita/data/prop_firms.yaml``), per risk per trade.

A path draws trading days with replacement from the run's period — each historic day with all of its trades
(R and MAE) or none — so the trade frequency, the days without trades and the clustering within a day are the
run's own. Per phase, day by day, trade by trade (fixed risk % of the initial balance per trade):

* **fail_daily** — the day's loss from the start-of-day balance reaches ``max_daily_loss_pct`` (a trade's worst
  floating point, ``balance_before + MAE``, counts);
* **fail_total** — the balance reaches ``initial × (1 − max_total_loss_pct)`` (floating too);
* **pass** — at a day's close the phase's profit target is reached with at least ``min_trading_days`` days
  traded; the next phase starts the next day with a fresh balance; passing the last phase passes;
* **timeout** — the phase's time limit (calendar days → trading days × 5/7) runs out, or, without a limit,
  the simulation horizon ``horizon_days`` trading days per phase.

Example::

    >>> odds = challenge_odds(day_r, day_mae, rules="ftmo_2step", risks=[0.5, 1, 2])     # doctest: +SKIP
    >>> odds.table.loc[1.0, "pass"], odds.best_risk                                       # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ita.errors import ItaError, closest

RULES_FILE = Path(__file__).resolve().parents[1] / "data" / "prop_firms.yaml"
OUTCOMES = ("pass", "fail_daily", "fail_total", "timeout")
DEFAULT_RISKS = (0.5, 1.0, 1.5, 2.0)


class Phase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    profit_target_pct: float = Field(gt=0)
    max_daily_loss_pct: float | None = Field(None, gt=0)
    max_total_loss_pct: float = Field(gt=0)
    min_trading_days: int = Field(0, ge=0)
    time_limit_days: int | None = Field(None, gt=0, description="calendar days; null = none")


class ChallengeRules(BaseModel):
    model_config = ConfigDict(extra="forbid")
    firm: str
    name: str
    checked: str
    note: str
    phases: list[Phase] = Field(min_length=1)


def load_rules(rule_id: str, path: str | Path | None = None) -> ChallengeRules:
    """The rules ``rule_id`` of ``prop_firms.yaml``. Raises :class:`ItaError` for an unknown id or a bad entry."""
    p = Path(path) if path else RULES_FILE
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    firms = data.get("firms") or {}
    if rule_id not in firms:
        raise ItaError(f"Unknown challenge rules {rule_id!r}.{closest(rule_id, firms)} Known: {', '.join(firms)} "
                       f"(in {p}).")
    try:
        return ChallengeRules.model_validate(firms[rule_id])
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ItaError(f"{p}: firms.{rule_id}.{'.'.join(str(x) for x in e['loc'])}: {e['msg']}.") from None


def rule_ids(path: str | Path | None = None) -> list[str]:
    p = Path(path) if path else RULES_FILE
    return list((yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("firms") or {})


def day_matrix(days: list, trades: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per trading day (``days``, dates) × trade slot: R and MAE (R, ≤ 0) of that day's trades in order, NaN
    padded. ``trades`` needs ``day``, ``r`` and optionally ``mae_r``."""
    pos = {pd.Timestamp(d).normalize(): i for i, d in enumerate(days)}
    per: list[list[tuple[float, float]]] = [[] for _ in days]
    if len(trades):
        mae = trades["mae_r"] if "mae_r" in trades else pd.Series(0.0, index=trades.index)
        for d, r, m in zip(pd.to_datetime(trades["day"]).dt.normalize(), trades["r"].astype(float), mae.astype(float)):
            i = pos.get(pd.Timestamp(d).tz_localize(None) if pd.Timestamp(d).tz else pd.Timestamp(d))
            if i is not None:
                per[i].append((r, min(0.0, m if np.isfinite(m) else 0.0, r)))
    k = max([len(x) for x in per] + [1])
    R = np.full((len(days), k), np.nan)
    M = np.full((len(days), k), np.nan)
    for i, x in enumerate(per):
        for j, (r, m) in enumerate(x):
            R[i, j], M[i, j] = r, m
    return R, M


@dataclass
class ChallengeOdds:
    """``table`` indexed by risk % per trade: ``pass``, ``fail_daily``, ``fail_total``, ``timeout`` (0–1) and
    ``median_days_to_pass`` (trading days); ``best_risk`` the risk with the highest pass probability (ties → the
    lowest risk); ``rules``; ``n`` paths; ``horizon_days``."""

    rules: ChallengeRules
    rule_id: str
    table: pd.DataFrame
    n: int
    seed: int
    horizon_days: int
    days: int
    trades: int
    notes: list[str] = field(default_factory=list)

    @property
    def best_risk(self) -> float:
        t = self.table
        return float(t.index[int(np.argmax(t["pass"].to_numpy()))])


def _simulate(R: np.ndarray, M: np.ndarray, rules: ChallengeRules, risk: float, n: int, rng, horizon: int):
    """Outcome code per path (0 pass, 1 fail_daily, 2 fail_total, 3 timeout) and trading days used."""
    outcome = np.full(n, -1, dtype=np.int8)
    used = np.zeros(n, dtype=np.int32)
    alive = np.ones(n, dtype=bool)
    for ph_i, ph in enumerate(rules.phases):
        limit = horizon if ph.time_limit_days is None else max(1, int(math.floor(ph.time_limit_days * 5 / 7)))
        bal = np.zeros(n)            # % of initial, relative to the phase start
        traded = np.zeros(n, dtype=np.int32)
        done = ~alive.copy()
        floor = -ph.max_total_loss_pct
        for day in range(limit):
            active = ~done
            if not active.any():
                break
            pick = rng.integers(0, len(R), size=n)
            start = bal.copy()
            day_loss_limit = -ph.max_daily_loss_pct if ph.max_daily_loss_pct else -np.inf
            any_trade = np.zeros(n, dtype=bool)
            for k in range(R.shape[1]):
                r, m = R[pick, k], M[pick, k]
                has = active & np.isfinite(r)
                if not has.any():
                    continue
                any_trade |= has
                worst = bal + m * risk
                fd = has & (worst - start <= day_loss_limit + 1e-9)
                ft = has & ~fd & (worst <= floor + 1e-9)
                bal = np.where(has, bal + r * risk, bal)
                fd |= has & ~ft & ~fd & (bal - start <= day_loss_limit + 1e-9)
                ft |= has & ~fd & (bal <= floor + 1e-9)
                outcome[fd & (outcome < 0)] = 1
                outcome[ft & (outcome < 0)] = 2
                newly = fd | ft
                used[newly] += day + 1
                active &= ~newly
                done |= newly
            traded += any_trade & active
            passed = active & (bal >= ph.profit_target_pct - 1e-9) & (traded >= ph.min_trading_days)
            used[passed] += day + 1
            done |= passed
            if ph_i == len(rules.phases) - 1:
                outcome[passed & (outcome < 0)] = 0
        timeout = ~done
        outcome[timeout & (outcome < 0)] = 3
        used[timeout] += limit
        alive &= ~(done & (outcome > 0)) & ~timeout
    return outcome, used


def challenge_odds(R: np.ndarray, M: np.ndarray, rules: str | ChallengeRules = "ftmo_2step", risks=None,
                   n: int = 10_000, seed: int = 0, horizon_days: int = 120) -> ChallengeOdds:
    """Pass / fail odds of the day matrix ``R``/``M`` (:func:`day_matrix`) under ``rules`` at each risk % per
    trade in ``risks`` (default 0.5, 1, 1.5, 2). Raises :class:`ItaError` for no days, no trades, a risk ≤ 0."""
    rid = rules if isinstance(rules, str) else "custom"
    rl = load_rules(rules) if isinstance(rules, str) else rules
    risks = [float(x) for x in (risks or DEFAULT_RISKS)]
    if any(not x > 0 for x in risks):
        raise ItaError("--risk values must be > 0 (% of the account per trade), e.g. 0.5,1,1.5,2.")
    if len(R) == 0 or not np.isfinite(R).any():
        raise ItaError("The run has no trades in its period: no challenge to simulate.")
    rows = []
    for risk in risks:
        rng = np.random.default_rng(seed)
        out, used = _simulate(R, M, rl, risk, int(n), rng, int(horizon_days))
        row = {o: float((out == i).mean()) for i, o in enumerate(OUTCOMES)}
        row["median_days_to_pass"] = float(np.median(used[out == 0])) if (out == 0).any() else math.nan
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(risks, name="risk_pct"))
    notes = [f"Rules {rid}: {rl.name} — checked {rl.checked}. {rl.note}"]
    if any(ph.time_limit_days is None for ph in rl.phases):
        notes.append(f"No time limit: 'timeout' = not finished within {horizon_days} simulated trading days per phase.")
    return ChallengeOdds(rules=rl, rule_id=rid, table=table, n=int(n), seed=seed, horizon_days=int(horizon_days),
                         days=len(R), trades=int(np.isfinite(R).sum()), notes=notes)
