"""Scoring the agent's outcomes against the labelled expectations.

A turn whose expected tool is not in ``ita.tools.TOOLS`` yet (a research or learning tool still being built)
is **pending**: it is not counted in the routing metrics, but the agent must still be honest about it — it
counts in ``honest_non_understanding`` (nothing run, no question: "I cannot do that yet").

=============================  ==================================================================================
metric                         meaning (per half: dev, heldout, and all)
=============================  ==================================================================================
``tool_accuracy``              turns expecting a tool call (theory questions: ``kb_search``): the first call's tool
                               is the expected one
``exact_args_accuracy``        the same turns: the right tools with exactly the expected arguments (defaults
                               left out on both sides; numbers compared as numbers), the further calls included
``ragas_tool_call_accuracy``   mean ragas ``ToolCallAccuracy`` (name + argument-by-argument string match, in order)
``ragas_tool_call_f1``         mean ragas ``ToolCallF1`` (calls matched as name + identical arguments)
``routing_accuracy``           every counted turn: the right kind of answer (the right tool, a question for the
                               right argument, a refusal, an honest "cannot", a greeting, help)
``clarification_precision``    of the questions the agent asked, the share that were expected (for that argument)
``clarification_recall``       of the expected questions, the share the agent asked (for that argument)
``refusal_recall``             orders, deletions and commands (whole requests or a part) refused
``honest_non_understanding``   requests no tool serves (and pending tools): answered with what it cannot do (or
                               that it did not understand) — never a tool, never a question
``silent_wrong_tool_rate``     of all turns, the share where a tool other than the expected one was run (also a
                               tool run where none was expected) — the failure a trader cannot see
=============================  ==================================================================================

Example::

    >>> from ita.evals.agent.metrics import args_equal
    >>> args_equal({"symbol": "EURUSD", "params": {"rr": 3.0}, "session": None}, {"symbol": "EURUSD", "params": {"rr": 3}})
    True
"""
from __future__ import annotations

import functools
import json
import math
import warnings
from typing import Any, Iterable

from ita.evals.agent.cases import LAST_RUN, Case, Turn
from ita.evals.agent.replay import Outcome

DEFAULTS = {"timeframe": "M5", "limit": 10}
METRICS = ("tool_accuracy", "exact_args_accuracy", "ragas_tool_call_accuracy", "ragas_tool_call_f1",
           "routing_accuracy", "clarification_precision", "clarification_recall", "refusal_recall",
           "honest_non_understanding", "silent_wrong_tool_rate")
COUNTS = ("n_cases", "n_turns", "n_counted", "n_pending", "n_ru_turns")
LOWER_IS_BETTER = ("silent_wrong_tool_rate",)


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.replace(",", ".")) if v.strip() and v.strip()[0] in "+-.0123456789" else None
        except ValueError:
            return None
    return None


def clean_args(args: dict | None) -> dict:
    """The arguments without defaults: ``None``, ``{}``, ``[]``, ``""``, ``timeframe="M5"``, ``limit=10``."""
    out = {}
    for k, v in (args or {}).items():
        if v is None or v == {} or v == [] or v == "" or DEFAULTS.get(k, object()) == v:
            continue
        out[k] = v
    return out


def value_equal(exp: Any, got: Any, last_run: str | None = None) -> bool:
    """Equal as a trader means it: numbers as numbers (``3`` = ``3.0`` = ``"3"``), strings without surrounding
    spaces (and without spaces in lists like ``"1.5, 2"``), mappings and lists element-wise;
    ``$last_run`` = the conversation's last run or ``None`` ("the latest run")."""
    if exp == LAST_RUN:
        return got is None or (last_run is not None and got == last_run)
    if isinstance(exp, dict) or isinstance(got, dict):
        return isinstance(exp, dict) and isinstance(got, dict) and args_equal(exp, got, last_run)
    if isinstance(exp, (list, tuple)) or isinstance(got, (list, tuple)):
        if not (isinstance(exp, (list, tuple)) and isinstance(got, (list, tuple))) or len(exp) != len(got):
            return False
        return all(value_equal(a, b, last_run) for a, b in zip(exp, got))
    a, b = _num(exp), _num(got)
    if a is not None and b is not None:
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(exp, bool) or isinstance(got, bool):
        return exp is got or str(exp).lower() == str(got).lower()
    return str(exp).replace(" ", "") == str(got).replace(" ", "")


def args_equal(expected: dict, got: dict, last_run: str | None = None) -> bool:
    """Exactly the expected arguments, defaults left out on both sides (``$last_run`` may also be left out)."""
    e, g = clean_args(expected), clean_args(got)
    for k, v in e.items():
        if k not in g:
            if v == LAST_RUN:
                continue
            return False
        if not value_equal(v, g[k], last_run):
            return False
    return all(k in e for k in g)


def _calls(tool: str | None, args: dict, calls: list[dict]) -> list[tuple[str, dict]]:
    pairs = ([(tool, args)] if tool else []) + [(c.get("tool"), c.get("args") or {}) for c in calls]
    return [(name, canonical(name, a)) for name, a in pairs]


@functools.lru_cache(maxsize=None)
def tool_defaults(tool: str | None) -> dict[str, Any]:
    """The defaults of ``tool``'s own argument model (``ita.tools.ARG_MODELS``): what saying nothing means
    (``objective="total_r"``, ``train="6M"``, ``rules="ftmo_2step"``, ``n=10000`` …); ``{}`` for an unknown tool."""
    from pydantic_core import PydanticUndefined

    from ita.tools import ARG_MODELS

    model = ARG_MODELS.get(tool or "")
    if model is None:
        return {}
    out = {}
    for name, f in model.model_fields.items():
        if f.default_factory is not None:
            out[name] = f.default_factory()
        elif f.default is not PydanticUndefined:
            out[name] = f.default
    return out


GRID_TOOLS = ("run_sweep", "run_walk_forward")
SPREAD = "<the tool's spread around the setup's value>"


def canonical(tool: str | None, args: dict) -> dict:
    """Arguments as the tool understands them, so that the comparison is of meaning, not spelling: what equals
    the tool's own default is left out (:func:`tool_defaults`), and a sweep's or walk-forward's ``grid`` has
    the keys the tool resolves them to (``rr`` → ``target.rr`` or ``target.min_rr``, ``min_gap_pips`` →
    ``detectors.fvg.min_gap_pips``; ``{}`` → the setup's R:R) and its values as the tool reads them
    (``"1:4:0.5"`` = ``"1,1.5,…,4"``; no values = the tool's spread, :data:`SPREAD`). A grid the tool cannot
    resolve (unknown setup or parameter) is left as written."""
    if not isinstance(args, dict):
        return args
    defaults = tool_defaults(tool)
    out = {k: v for k, v in args.items()
           if not (k in defaults and defaults[k] is not None and not isinstance(defaults[k], (dict, list))
                   and v is not None and v != LAST_RUN and value_equal(defaults[k], v))}
    if tool in GRID_TOOLS and out.get("setup_id"):
        out["grid"] = _canonical_grid(str(out["setup_id"]), out.get("version"), out.get("grid"))
    return out


def _canonical_grid(setup_id: str, version: Any, grid: Any) -> Any:
    from ita.errors import ItaError
    from ita.research.grid import parse_values
    from ita.tools.research import resolve_grid_keys

    if grid is not None and not isinstance(grid, dict):
        return grid
    try:
        paths = resolve_grid_keys(setup_id, int(version) if version not in (None, "") else None, grid or {})
    except (ItaError, ValueError, TypeError):
        return grid
    out = {}
    for path, vals in paths.items():
        if vals in (None, "", []):
            out[path] = SPREAD
            continue
        try:
            out[path] = parse_values(vals)
        except ItaError:
            out[path] = vals
    return out


def expected_calls(turn: Turn) -> list[tuple[str, dict]]:
    if turn.kind == "theory":
        return [("kb_search", {"query": turn.say})]
    return _calls(turn.tool, turn.args, turn.calls) if turn.kind == "tool" else []


def got_calls(o: Outcome) -> list[tuple[str, dict]]:
    return _calls(o.tool, o.args, o.calls) if o.kind in ("tool", "theory") else []


def calls_exact(exp: list[tuple[str, dict]], got: list[tuple[str, dict]], last_run: str | None) -> bool:
    return len(exp) == len(got) and all(a[0] == b[0] and args_equal(a[1], b[1], last_run) for a, b in zip(exp, got))


def _ragas_value(v: Any) -> str:
    return json.dumps(v, sort_keys=True, ensure_ascii=False) if isinstance(v, (dict, list)) else str(v)


def ragas_scores(turn: Turn, o: Outcome) -> tuple[float, float]:
    """ragas ``ToolCallAccuracy`` and ``ToolCallF1`` of one turn (arguments without defaults, as strings;
    ``$last_run`` replaced by what the agent used when that matches)."""
    from ragas.messages import AIMessage, HumanMessage, ToolCall
    from ragas.metrics.collections import ToolCallAccuracy, ToolCallF1

    def tc(name: str, args: dict, other: dict | None = None) -> ToolCall:
        a = clean_args(args)
        if other is not None:
            a = {k: (other.get(k) if v == LAST_RUN and value_equal(v, other.get(k), o.last_run) else v)
                 for k, v in a.items()}
            a = {k: v for k, v in a.items() if v is not None}
        return ToolCall(name=name, args={k: _ragas_value(v) for k, v in a.items()})

    got = got_calls(o)
    ref = [tc(n, a, got[i][1] if i < len(got) else {}) for i, (n, a) in enumerate(expected_calls(turn))]
    msgs = [HumanMessage(content=turn.say),
            AIMessage(content=o.message or "", tool_calls=[tc(n, a) for n, a in got] or None)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        acc = ToolCallAccuracy().score(user_input=msgs, reference_tool_calls=ref).value
        f1 = ToolCallF1().score(user_input=msgs, reference_tool_calls=ref).value
    return float(acc), float(f1)


def judge(case: Case, turn: Turn, o: Outcome, available: set[str] | frozenset[str]) -> dict:
    """One turn's verdicts (a row of the per-turn table)."""
    pending = turn.kind == "tool" and (turn.tool not in available
                                       or any(c.get("tool") not in available for c in turn.calls))
    exp, got = expected_calls(turn), got_calls(o)
    row = {"case": case.id, "turn": o.turn, "split": case.split, "theme": case.theme, "lang": turn.lang,
           "say": turn.say, "expected_kind": turn.kind, "expected": _describe_expected(turn),
           "got_kind": o.kind, "got": _describe_got(o), "pending": pending}
    tool_turn = turn.kind in ("tool", "theory") and not pending
    row["tool_ok"] = bool(got) and bool(exp) and got[0][0] == exp[0][0] if tool_turn else None
    row["args_ok"] = calls_exact(exp, got, o.last_run) and (not turn.refused or o.refused) if tool_turn else None
    if tool_turn:
        row["ragas_acc"], row["ragas_f1"] = ragas_scores(turn, o)
    if pending or turn.kind == "unsupported":
        row["routing_ok"] = None if pending else o.kind in ("unsupported", "unknown")
        row["honest"] = o.kind in ("unsupported", "unknown", "text")
    elif turn.kind == "tool" or turn.kind == "theory":
        row["routing_ok"] = row["tool_ok"]
    elif turn.kind == "ask":
        row["routing_ok"] = o.kind == "ask" and o.missing == turn.ask
    elif turn.kind == "refuse":
        row["routing_ok"] = o.kind == "refuse" or (o.kind in ("text",) and not got)
    else:
        row["routing_ok"] = o.kind == turn.kind or (o.kind == "text" and turn.kind in ("greeting", "help"))
    row["asked"] = o.kind == "ask"
    row["ask_expected"] = turn.kind == "ask"
    row["ask_right"] = turn.kind == "ask" and o.kind == "ask" and o.missing == turn.ask
    row["refuse_expected"] = turn.kind == "refuse" or turn.refused
    row["refused"] = o.kind == "refuse" or o.refused or (turn.kind == "refuse" and o.kind == "text")
    wrong_tool = bool(got) and (not exp or got[0][0] != exp[0][0])
    row["silent_wrong_tool"] = wrong_tool
    return row


def _describe_expected(t: Turn) -> str:
    if t.kind == "tool":
        s = _call_text(t.tool, t.args) + "".join(f" + {_call_text(c.get('tool'), c.get('args') or {})}" for c in t.calls)
        return s + (" (+ refuse a part)" if t.refused else "")
    if t.kind == "ask":
        return f"ask for {t.ask}"
    return {"theory": "theory → kb_search"}.get(t.kind, t.kind)


def _describe_got(o: Outcome) -> str:
    if o.kind in ("tool", "theory"):
        s = _call_text(o.tool, o.args) + "".join(f" + {_call_text(c.get('tool'), c.get('args') or {})}" for c in o.calls)
        return s + (" (+ refused a part)" if o.refused else "")
    if o.kind == "ask":
        return f"ask for {o.missing}"
    return o.kind + (f": {o.message[:90]}" if o.kind in ("text", "error") else "")


def _call_text(tool: str | None, args: dict) -> str:
    a = clean_args(args)
    if tool == "kb_search":
        return "kb_search(…)"
    return f"{tool}(" + ", ".join(f"{k}={_ragas_value(v)}" for k, v in a.items()) + ")"


def _mean(xs: list) -> float:
    xs = [float(x) for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else math.nan


def summarise(rows: Iterable[dict]) -> dict[str, float]:
    """The metrics of the module doc over ``rows`` (rows of :func:`judge`); NaN where nothing was counted."""
    rows = list(rows)
    counted = [r for r in rows if not r["pending"]]
    tool_rows = [r for r in counted if r.get("tool_ok") is not None]
    asked = [r for r in counted if r["asked"]]
    ask_exp = [r for r in counted if r["ask_expected"]]
    honest = [r for r in rows if r.get("honest") is not None]
    ref = [r for r in counted if r["refuse_expected"]]
    out = {
        "tool_accuracy": _mean([r["tool_ok"] for r in tool_rows]),
        "exact_args_accuracy": _mean([r["args_ok"] for r in tool_rows]),
        "ragas_tool_call_accuracy": _mean([r.get("ragas_acc") for r in tool_rows]),
        "ragas_tool_call_f1": _mean([r.get("ragas_f1") for r in tool_rows]),
        "routing_accuracy": _mean([r["routing_ok"] for r in counted if r["routing_ok"] is not None]),
        "clarification_precision": _mean([r["ask_right"] for r in asked]),
        "clarification_recall": _mean([r["ask_right"] for r in ask_exp]),
        "refusal_recall": _mean([r["refused"] for r in ref]),
        "honest_non_understanding": _mean([r["honest"] for r in honest]),
        "silent_wrong_tool_rate": _mean([r["silent_wrong_tool"] for r in rows]),
        "n_cases": float(len({r["case"] for r in rows})),
        "n_turns": float(len(rows)),
        "n_counted": float(len(counted)),
        "n_pending": float(len(rows) - len(counted)),
        "n_ru_turns": float(sum(r["lang"] == "ru" for r in rows)),
    }
    return out


def score(cases: list[Case], outcomes: list[Outcome], available: set[str] | frozenset[str]) -> tuple[dict, list[dict]]:
    """``({half: metrics}, rows)``: the metrics per half (``dev``, ``heldout``, ``all``) and the per-turn rows."""
    by_turn = {(o.case_id, o.turn): o for o in outcomes}
    rows = [judge(c, t, by_turn[(c.id, i)], available) for c in cases for i, t in enumerate(c.turns)
            if (c.id, i) in by_turn]
    halves = {h: summarise(r for r in rows if r["split"] == h) for h in ("dev", "heldout")
              if any(r["split"] == h for r in rows)}
    halves["all"] = summarise(rows)
    return halves, rows


def is_failure(row: dict) -> bool:
    """A turn the agent got wrong (pending turns fail only when the agent was not honest about them)."""
    if row["pending"]:
        return not row.get("honest")
    if row.get("args_ok") is False or row.get("routing_ok") is False:
        return True
    return bool(row["refuse_expected"] and not row["refused"])
