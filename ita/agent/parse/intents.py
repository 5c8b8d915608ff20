"""Which intent a message has (the vocabulary's intent patterns over the text with its entities masked),
refusals (orders, destructive commands), and :func:`parse`: text → :class:`ParsedRequest`."""
from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Any

from ita.agent.parse.entities import Found, extract
from ita.agent.parse.periods import periods_to_dates
from ita.agent.parse.schema import (
    DEFAULT_YEAR,
    INTENT_TOOL,
    LIST_TOOLS,
    MAX_RUNS_LIMIT,
    MAX_TEXT,
    REQUIRED_ARGS,
    RESEARCH_ARGS,
    RESEARCH_TOOLS,
    TOOL_ARGS,
    ParsedRequest,
)
from ita.agent.parse.text import lang_of, mask, normalise
from ita.agent.parse.vocab import Vocab, vocabulary
from ita.times import today_ny

# ---- intents ----------------------------------------------------------------------------------------------------

def swapped(word: str, target: str) -> bool:
    """``word`` is ``target`` with two neighbouring letters swapped ("lsit" → "list", "mrach" → "march")."""
    if len(word) != len(target) or word == target:
        return False
    diff = [i for i, (a, b) in enumerate(zip(word, target)) if a != b]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and word[diff[0]] == target[diff[1]] \
        and word[diff[1]] == target[diff[0]]


def correct_typos(s: str, v: Vocab) -> str:
    def fix(m: re.Match) -> str:
        w = m.group()
        if len(w) < 4 or w in v.protected:
            return w
        if len(w) == 4:                       # short words: only two letters swapped ("lsit", "shwo")
            return next((t for t in v.typo_targets if swapped(w, t)), w)
        if any(w.startswith(t) for t in v.typo_targets if len(t) >= 4):  # an inflection ("сетапов"), not a typo
            return w
        if w[0] >= "а" and any(t.startswith(w) for t in v.typo_targets):  # a Russian stem ("прогон" of "прогоны")
            return w
        hit = [h for h in difflib.get_close_matches(w, v.typo_targets, n=3, cutoff=0.8) if h[0] == w[0]]
        return hit[0] if hit else w
    return re.sub(r"[a-zа-я]+", fix, s)


def _features(f: Found, v: Vocab) -> dict[str, bool]:
    start, end, day = periods_to_dates(list(f.exprs), DEFAULT_YEAR, v) if f.exprs else (None, None, None)
    return {
        "setup_id": bool(f.setup_id), "symbol": bool(f.symbol), "session": bool(f.session or f.no_session),
        "detector": bool(f.detector), "period": bool(start or end), "day": bool(day),
        "day_word": bool(v.day_words.search(f.norm)) and bool(f.setup_id or f.symbol),
        "versions": bool(f.versions), "two_versions": len(f.versions) >= 2,
        "version_word": bool(v.version_words.search(f.norm)), "trade": f.trade is not None,
        "run_ids": bool(f.run_ids), "two_run_ids": len(f.run_ids) >= 2, "run_word": bool(v.run_words.search(f.norm)),
        "params": bool(f.params), "timeframe": bool(f.timeframe),
        "grid_values": bool(f.research.get("several")), "train_window": "train" in f.research,
        "research": bool({k for k in f.research if k in RESEARCH_ARGS and k not in ("grid", "risk")}
                         or (f.research.get("percent") and not f.params)
                         or any(x is not None for x in (f.research.get("grid") or {}).values())),
    }


def _intent_text(f: Found, v: Vocab) -> str:
    s = f.norm
    for a, b in f.masks:
        seg = s[a:b]
        if re.search(r"[=]|rr|рр|gap|гэп|risk|риск|target|тейк|train|test|trial|обучени|тест|испытан", seg):
            # parameters, windows, counts: not words of an intent
            s = mask(s, a, b)
    if f.setup_span:
        s = mask(s, *f.setup_span)
    return correct_typos(s, v)


def _match_intent(f: Found, feats: dict[str, bool], v: Vocab) -> str | None:
    text = _intent_text(f, v)
    for entry in v.intents:
        if entry["requires"] and not all(feats.get(r) for r in entry["requires"]):
            continue
        if entry["requires_any"] and not any(feats.get(r) for r in entry["requires_any"]):
            continue
        if any(p.search(text) for p in entry["patterns"]):
            return entry["intent"]
    return None


def is_refusal(text: str) -> bool:
    """An order or a destructive command anywhere in the text (checked on the whole text, nothing masked)."""
    norm = normalise(text)
    v = vocabulary()
    fixed = correct_typos(norm, v)
    return any(p.search(norm) or p.search(fixed) for e in v.intents if e["intent"] == "refuse" for p in e["patterns"])


# ---- parse ------------------------------------------------------------------------------------------------------

def parse(text: str, known_setups: list[str] | None = None, known_symbols: list[str] | None = None,
          today: dt.date | None = None) -> ParsedRequest:
    """Read one chat message. Never raises: anything not understood is intent ``"unknown"`` (confidence 0).

    ``today`` (default :func:`ita.times.today_ny`) is what "last quarter", "this week", "за прошлый месяц" are
    relative to. A message of several parts ("backtest …; rm -rf ~/.ita") keeps the parts that are safe and lists
    the refused ones in ``refused``."""
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    lang = lang_of(raw[:MAX_TEXT])
    try:
        return _parse(raw, lang, list(known_setups or []), list(known_symbols or []), today or today_ny())
    except Exception:  # the parser must never take the conversation down
        return ParsedRequest(text=raw, lang=lang, intent="unknown", args={}, follow_up=False, confidence=0.0)


_CLAUSE = re.compile(r"\s*(?:;|&&|\|\||\n|\s\|\s|(?<=[.!?])\s+(?=\D))\s*")


_JOINER = re.compile(r"\s*,?\s+(?:and then|and|then|а потом|и потом|потом|затем|и)\s+", re.IGNORECASE)


def split_clauses(text: str) -> list[str]:
    """The parts of a message separated by ``;``, ``&&``, ``||``, ``|``, new lines or sentence ends."""
    return [c for c in _CLAUSE.split(str(text or "")[:MAX_TEXT]) if c and c.strip(" .;")]


def _parse(raw: str, lang: str, known_setups: list[str], known_symbols: list[str], today: dt.date) -> ParsedRequest:
    clauses = split_clauses(raw)
    if len(clauses) == 1 and is_refusal(raw):       # "show trade 12 and delete all runs": a finer split
        clauses = [c for c in _JOINER.split(raw[:MAX_TEXT]) if c and c.strip()]
    if len(clauses) > 1:
        flags = [is_refusal(c) for c in clauses]
        refused = [c.strip() for c, bad in zip(clauses, flags) if bad]
        safe = [c.strip() for c, bad in zip(clauses, flags) if not bad]
        if refused and safe:      # a refusal covers only the unsafe part
            parsed = _parse_one(raw, "; ".join(safe), lang, known_setups, known_symbols, today)
            return parsed.model_copy(update={"refused": refused})
    return _parse_one(raw, raw, lang, known_setups, known_symbols, today)


def _unsupported(f: Found, v: Vocab) -> str | None:
    """The key of the first ``unsupported`` entry of the vocabulary the text matches (optimise, walk-forward …)."""
    text = correct_typos(f.norm, v)
    for entry in v.raw.get("unsupported") or []:
        if any(re.search(p, text) for p in entry["patterns"]):
            return str(entry["what"])
    return None


def _parse_one(raw: str, text: str, lang: str, known_setups: list[str], known_symbols: list[str],
               today: dt.date) -> ParsedRequest:
    v = vocabulary()
    if is_refusal(text):          # orders / destructive words anywhere: never a tool call
        return ParsedRequest(text=raw, lang=lang, intent="unknown", args={}, follow_up=False, confidence=0.0,
                             refused=[raw.strip()])
    f = extract(text, lang, known_setups, known_symbols, today)
    feats = _features(f, v)
    what = _unsupported(f, v)
    if what:
        args = args_for("backtest", f, v)
        return ParsedRequest(text=raw, lang=lang, intent="unsupported", args=args, unsupported=what,
                             confidence=0.8, period=_period(f, args, today), explicit=True)
    intent = _match_intent(f, feats, v)
    explicit = intent is not None
    if intent == "refuse":
        return ParsedRequest(text=raw, lang=lang, intent="unknown", args={}, follow_up=False, confidence=0.0,
                             refused=[raw.strip()])
    modifiers = any(feats[k] for k in ("symbol", "session", "params", "period", "versions", "timeframe"))
    follow_up, confidence = False, 0.0
    if intent is None:
        repeat = bool(v.repeat.search(f.norm))
        marker = bool(v.start_markers.search(f.norm) or v.anywhere_markers.search(f.norm))
        if repeat or (marker and (modifiers or feats["setup_id"] or feats["detector"] or feats["research"])):
            intent, follow_up, confidence = "backtest", True, 0.7
        elif feats["setup_id"]:
            intent, confidence = ("backtest", 0.6) if modifiers else ("show_setup", 0.5)
        elif feats["detector"]:
            question = f.norm.rstrip().endswith("?") and not feats["symbol"]
            intent, confidence = ("theory_question", 0.5) if question else ("run_detector", 0.55)
        elif _looks_like_question(f.norm) and not any(feats[k] for k in ("symbol", "params", "period", "versions")):
            intent, confidence = "theory_question", 0.5         # "когда лондонская killzone?"
        elif modifiers or (feats["research"] and len(re.findall(r"\w+", f.norm)) <= 4):   # "anchored", "optuna"
            intent, follow_up, confidence = "backtest", True, 0.6
        elif _looks_like_question(f.norm):
            intent, confidence = "theory_question", 0.5
        else:
            intent = "unknown"
    else:
        confidence = {"help": 0.95, "greeting": 0.9, "theory_question": 0.8}.get(intent, 0.0)
        if intent in INTENT_TOOL:
            args = args_for(intent, f, v)
            missing = [a for a in REQUIRED_ARGS.get(INTENT_TOOL[intent], ()) if a not in args]
            confidence = 0.9 if not missing else 0.75
    args = {} if intent == "unknown" else args_for(intent, f, v, follow_up=follow_up)
    also = [{"setup_id": x} for x in f.setup_ids[1:]] + [{"symbol": x} for x in f.symbols[1:]]
    return ParsedRequest(text=raw, lang=lang, intent=intent, args=args, follow_up=follow_up,
                         confidence=round(confidence, 2), explicit=explicit,
                         also=also if intent in INTENT_TOOL and INTENT_TOOL[intent] not in LIST_TOOLS else [],
                         period=_period(f, args, today))


def _period(f: Found, args: dict, today: dt.date) -> dict | None:
    """The words and exact dates of a period relative to today (None when the text gave none)."""
    span = next((e for e in f.exprs if e.kind == "span"), None)
    if span is None:
        return None
    start, end = args.get("start", span.a.isoformat()), args.get("end", span.b.isoformat())
    if "day" in args or "time" in args:
        start = end = str(args.get("day") or args.get("time"))[:10]
    return {"said": span.said, "start": start, "end": end, "today": today.isoformat()}


_QUESTION_WORDS = re.compile(r"(?<![\w])(?:what|how|why|when|which|who|is|are|does|do|can|should|"
                             r"что|как|почему|зачем|когда|какой|какая|какие|ли|чем)(?![\w])")


def _looks_like_question(s: str) -> bool:
    return s.rstrip().endswith("?") and bool(_QUESTION_WORDS.search(s)) and len(re.findall(r"\w+", s)) >= 2


def args_for(intent: str, f: Found, v: Vocab, follow_up: bool = False, default_year: int = DEFAULT_YEAR) -> dict:
    """The arguments the text gave, under the argument names of the intent's tool."""
    if intent in ("help", "greeting", "theory_question", "unknown", "list_setups"):
        return {}
    start, end, day = periods_to_dates(list(f.exprs), default_year, v)
    found: dict[str, Any] = {}
    if f.setup_id:
        found["setup_id"] = f.setup_id
    if f.symbol:
        found["symbol"] = f.symbol
    if start or end:
        found["start"], found["end"] = start, end
    if f.versions:
        found["version"] = f.versions[0]
    if f.params:
        found["params"] = dict(f.params)
    if f.session:
        found["session"] = f.session
    elif f.no_session:
        found["session"] = None
    if f.detector:
        found["detector"] = f.detector
    if f.timeframe:
        found["timeframe"] = f.timeframe
    if f.signal_id:
        found["signal_id"] = f.signal_id
    if f.k:
        found["k"] = f.k
    if f.learn_target:
        found["target"] = f.learn_target
    if f.detector in ("fvg", "sweeps"):                  # a learning dataset of every FVG / sweep
        found["kind"] = "fvg" if f.detector == "fvg" else "sweep"
    for k in ("start", "end", "day", "version", "trade", "limit", "run_id"):
        if k in f.kv_args:
            found[k] = f.kv_args[k]
    if f.time_of_day and (found.get("day") or day):     # "2025-05-07 09:30": a chart's time (a reply to "when?")
        found["time"] = f"{found.get('day') or day} {f.time_of_day}"
    if follow_up:
        keep = ("setup_id", "symbol", "start", "end", "version", "params", "session", "detector", "timeframe",
                "time")
        said = {k: found[k] for k in keep if k in found}
        r = f.research or {}
        said.update({k: r[k] for k in RESEARCH_ARGS if k in r and k != "grid"})
        if "risk" not in said and r.get("percent") and not found.get("params"):
            said["risk"] = list(r["percent"])            # "and at 0.5%?" (kept only after a challenge)
        if any(x is not None for x in (r.get("grid") or {}).values()):
            said["grid"] = dict(r["grid"])
        return said
    tool = INTENT_TOOL.get(intent)
    out: dict[str, Any] = {}
    if tool == "compare_versions":
        versions = list(dict.fromkeys(f.versions))
        if "version" in f.kv_args:
            versions = [f.kv_args["version"], *versions]
        if versions:
            out["version_a"] = versions[0]
        if len(versions) > 1:
            out["version_b"] = versions[1]
    if tool == "compare_runs":
        runs = list(dict.fromkeys(f.run_ids + ([f.kv_args["run_id"]] if "run_id" in f.kv_args else [])))
        if runs:
            out["run_a"] = runs[0]
        if len(runs) > 1:
            out["run_b"] = runs[1]
    if tool == "show_trade":
        if f.trade is not None or "trade" in found:
            out["trade"] = found.get("trade", f.trade)
        runs = f.run_ids or ([f.kv_args["run_id"]] if "run_id" in f.kv_args else [])
        if runs:
            out["run_id"] = runs[0]
    if tool == "list_runs" and (f.limit or "limit" in found):
        out["limit"] = max(1, min(MAX_RUNS_LIMIT, int(found.get("limit", f.limit))))
    if tool == "explain_day":
        d = found.get("day") or day
        if d:
            out["day"] = d
    if tool == "render_chart":
        d = found.get("day") or day
        if d:
            out["time"] = f"{d} {f.time_of_day}" if f.time_of_day else d
    if tool in ("portfolio_backtest", "promote_setup"):
        out.update(_portfolio_promote_args(tool, f, v))
    if tool == "show_run":
        runs = f.run_ids or ([f.kv_args["run_id"]] if "run_id" in f.kv_args else [])
        if runs:
            out["run_id"] = runs[0]
    if tool == "live_signals" and (f.limit or "limit" in found):
        out["limit"] = max(1, min(100, int(found.get("limit", f.limit))))
    if tool == "live_performance":
        for arg, key in (("period", "live_period"), ("by", "live_by")):
            hit = next((k for k, pats in (v.raw.get(key) or {}).items() if any(re.search(p, f.norm) for p in pats)),
                       None)
            if hit:
                out[arg] = hit
    if tool in RESEARCH_TOOLS:
        out.update(research_args(tool, f))
    for k in TOOL_ARGS.get(tool, ()):
        if k in found and k not in out:
            out[k] = found[k]
    return out


def research_args(tool: str, f: Found) -> dict[str, Any]:
    """The research arguments the text gave (:func:`ita.agent.parse.research.find_research`) that ``tool`` takes:
    the grid (``{}`` = none named: the tool varies the setup's R:R) of a sweep or walk-forward, the objective,
    search, trials, windows, anchoring, Monte Carlo method and paths, challenge rules and risks; the run named."""
    r = f.research or {"grid": {}}
    out: dict[str, Any] = {}
    if tool in ("run_sweep", "run_walk_forward"):
        out["grid"] = dict(r.get("grid") or {})
    if tool == "challenge_odds" and "risk" not in r:
        risk = (f.params or {}).get("risk_pct", (f.params or {}).get("risk"))
        if isinstance(risk, (int, float)) and not isinstance(risk, bool):
            out["risk"] = [float(risk)]
    for k in TOOL_ARGS[tool]:
        if k in r and k not in ("grid",):
            out[k] = list(r[k]) if isinstance(r[k], list) else r[k]
    if tool in ("run_montecarlo", "challenge_odds") and f.run_ids:
        out["run_id"] = f.run_ids[0]
    return out


def _portfolio_promote_args(tool: str, f: Found, v: Vocab) -> dict[str, Any]:
    """Every setup and symbol named and the governor limits (``vocabulary.yaml`` ``governor``) of a portfolio;
    the status a promotion names (``promotion_status``)."""
    out: dict[str, Any] = {}
    if tool == "promote_setup":
        for status, words in (v.raw.get("promotion_status") or {}).items():
            if any(re.search(p, f.norm) for p in words):
                out["to"] = status
                break
        return out
    if f.setup_ids:
        out["setup_ids"] = list(f.setup_ids)
    if f.symbols:
        out["symbols"] = list(f.symbols)
    gov = {}
    for rule, patterns in (v.raw.get("governor") or {}).items():
        for p in patterns:
            m = re.search(p, f.norm)
            if m:
                gov[rule] = m.group(1).replace(",", ".") + ((m.group(2) or "R").upper().replace("Р", "R")
                                                            if rule != "max_trades_per_day" else "")
                break
    if gov:
        out["governor"] = gov
    return out
