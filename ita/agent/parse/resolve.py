"""From what the text said to what to do: :func:`resolve` completes a :class:`ParsedRequest` from the
conversation context and the defaults, or asks one question naming what is missing, in the trader's language."""
from __future__ import annotations

import re
from typing import Any

from ita.agent.parse.entities import extract
from ita.agent.parse.intents import is_refusal
from ita.agent.parse.periods import periods_to_dates
from ita.agent.parse.schema import (
    ARG_DEFAULTS,
    BACKTEST_LIKE,
    DEFAULT_YEAR,
    FOLLOWABLE,
    INTENT_TOOL,
    MAX_TEXT,
    REQUIRED_ARGS,
    RESEARCH_ARGS,
    RUN_TOOLS,
    TOOL_ARGS,
    ParsedRequest,
    Resolution,
)
from ita.agent.parse.text import normalise
from ita.agent.parse.vocab import vocabulary


class _SafeDict(dict):
    def __missing__(self, key):
        return ""


def _msg(key: str, lang: str) -> str:
    m = vocabulary().messages[key]
    return str(m.get(lang) or m["en"]).strip()


MAX_CALLS = 6          # a request naming several setups × symbols runs at most this many tool calls


def resolve(parsed: ParsedRequest, context: dict | None = None, pending: dict | None = None) -> Resolution:
    """Complete ``parsed`` with the conversation ``context`` and the defaults. Never raises.

    ``pending`` is the agent's own open question (the previous turn's ``ask`` resolution as a dict: ``tool``,
    ``args``, ``missing``, ``lang``): a reply that answers it ("EURUSD", "asia_fvg_break on EURUSD")
    completes that request, in the conversation's language; a reply that is a new request is resolved as one.
    The resolution's ``note`` gives the exact dates of a relative period and the parts refused; ``calls`` the
    further calls of a request naming several setups or symbols."""
    lang = getattr(parsed, "lang", "en") if getattr(parsed, "lang", "en") in ("en", "ru") else "en"
    try:
        ctx = dict(context or {})
        plan = _answer_pending(parsed, ctx, pending) if isinstance(pending, dict) else None
        return _annotate(plan or _resolve(parsed, ctx, lang), parsed)
    except Exception:
        return Resolution(action="unknown", message=_msg("unknown", lang), lang=lang)


def _answer_pending(parsed: ParsedRequest, ctx: dict, pending: dict) -> Resolution | None:
    """The pending question's request completed by this reply, or None when the reply is a request of its own."""
    tool = pending.get("tool")
    if tool not in TOOL_ARGS or parsed.refused or parsed.intent in ("help", "greeting", "theory_question",
                                                                    "unsupported", "unknown"):
        return None
    said_tool = INTENT_TOOL.get(parsed.intent)
    if parsed.explicit and said_tool != tool and not (tool in BACKTEST_LIKE and said_tool in BACKTEST_LIKE):
        return None                                   # a new request in words ("list setups", "show trade 3")
    new = {k: v for k, v in _adapt(tool, dict(parsed.args or {})).items()
           if k in TOOL_ARGS[tool] and v not in (None, "", {})}
    if not new:
        return None
    lang = "ru" if parsed.lang == "ru" else (pending.get("lang") if pending.get("lang") in ("en", "ru") else "en")
    base = {k: v for k, v in (pending.get("args") or {}).items() if k in TOOL_ARGS[tool]}
    return _ask_or_call(tool, _merge(base, new), lang, parsed)


def _ask_or_call(tool: str, args: dict, lang: str, parsed: ParsedRequest) -> Resolution:
    """``args`` completed with the defaults: a call, or one question for the first required argument missing."""
    full = {k: args.get(k, _default(k)) for k in TOOL_ARGS[tool]}
    if "params" in full and not isinstance(full["params"], dict):
        full["params"] = {}
    for k in REQUIRED_ARGS.get(tool, ()):
        if full.get(k) in (None, "", {}):
            return Resolution(action="ask", tool=tool, args=full, question=_question(tool, k, full, lang, parsed),
                              lang=lang, missing=k)
    return Resolution(action="tool", tool=tool, args=full, lang=lang)


def _annotate(plan: Resolution, parsed: ParsedRequest) -> Resolution:
    """Notes (relative period, refused parts) and the further calls of several setups/symbols."""
    lang = plan.lang
    notes = [plan.note] if plan.note else []
    calls: list[dict] = []
    if plan.action == "tool" and parsed.also:
        more, note = _more_calls(plan, parsed, lang)
        calls.extend(more)
        notes.extend([note] if note else [])
    if parsed.period and plan.action in ("tool", "ask"):
        p = parsed.period
        start, end = plan.args.get("start") or p.get("start"), plan.args.get("end") or p.get("end")
        notes.append(_msg("period_note", lang).format(said=p["said"], start=start, end=end, today=p["today"]))
    if parsed.refused and plan.action != "unknown":
        notes.extend(_msg("refused_part", lang).format(part=_short_refused(part)) for part in parsed.refused)
    if not notes and not calls:
        return plan
    return plan.model_copy(update={"note": " ".join(notes) or None, "calls": calls})


def _more_calls(plan: Resolution, parsed: ParsedRequest, lang: str) -> tuple[list[dict], str | None]:
    names = TOOL_ARGS[plan.tool]
    setups = [plan.args.get("setup_id")] + [a["setup_id"] for a in parsed.also if "setup_id" in a]
    symbols = [plan.args.get("symbol")] + [a["symbol"] for a in parsed.also if "symbol" in a]
    for key, what, values in (("setup_id", "setup", setups), ("symbol", "symbol", symbols)):
        if key not in names and len(values) > 1:
            return [], _msg("only_first", lang).format(tool=plan.tool, what=what, used=values[0],
                                                       rest=", ".join(str(x) for x in values[1:]))
    combos = [(a, b) for a in dict.fromkeys(setups) for b in dict.fromkeys(symbols)]
    if len(combos) < 2:
        return [], None
    calls = []
    for setup, symbol in combos[1:MAX_CALLS]:
        args = dict(plan.args)
        if "setup_id" in names and setup != plan.args.get("setup_id"):
            args["setup_id"] = setup
            if "version" in names:
                args["version"] = None            # a version belongs to its setup
        if "symbol" in names:
            args["symbol"] = symbol
        calls.append({"tool": plan.tool, "args": args})
    shown = ", ".join(" ".join(str(x) for x in c if x) for c in combos[:MAX_CALLS])
    if len(combos) > MAX_CALLS:
        return calls, _msg("too_many", lang).format(n=len(combos), max=MAX_CALLS, list=shown)
    return calls, _msg("several", lang).format(n=len(combos), list=shown)


def _short_refused(part: str, n: int = 80) -> str:
    """A refused part as the note quotes it: whole when short, else the words around what was refused."""
    text = re.sub(r"\s+", " ", str(part)).strip()
    if len(text) <= n:
        return text
    low = text.lower()
    hits = [m.start() for e in vocabulary().intents if e["intent"] == "refuse" for p in e["patterns"]
            for m in [p.search(low)] if m]
    at = min(hits) if hits else 0
    if at < n - 20:
        return _short(text, n)
    return "…" + text[max(0, at - 20):at + n - 21].rstrip() + ("…" if at + n - 21 < len(text) else "")


def _short(text: str, n: int = 80) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= n else text[:n - 1] + "…"


def _understood(parsed: ParsedRequest, lang: str) -> str:
    a = parsed.args or {}
    parts = []
    if a.get("setup_id"):
        parts.append(("setup " if lang == "en" else "сетап ") + str(a["setup_id"]))
    if a.get("symbol"):
        parts.append(str(a["symbol"]))
    if a.get("start") or a.get("end"):
        parts.append(f"{a.get('start') or '…'} → {a.get('end') or '…'}")
    for k, val in (a.get("params") or {}).items():
        parts.append(f"{k} {val}")
    if a.get("session"):
        parts.append(str(a["session"]))
    return ", ".join(parts) or _msg("understood_nothing", lang)


def _context_year(ctx: dict) -> int | None:
    for k in ("year", "start", "end"):
        val = ctx.get(k)
        m = re.match(r"\s*((?:19|20)\d{2})", str(val)) if val is not None else None
        if m:
            return int(m.group(1))
    return None


def _resolve(parsed: ParsedRequest, ctx: dict, lang: str) -> Resolution:
    intent = parsed.intent
    if intent == "help":
        return Resolution(action="help", message=_msg("help", lang), lang=lang)
    if intent == "greeting":
        thanks = re.match(r"\s*(?:thanks|thank you|thx|ty|спасибо|благодарю)", normalise(parsed.text))
        return Resolution(action="greeting", message=_msg("thanks" if thanks else "greeting", lang), lang=lang)
    if intent == "theory_question":
        return Resolution(action="theory_question", args={"question": parsed.text[:MAX_TEXT]},
                          message=_msg("theory", lang), lang=lang)
    if intent == "unsupported":
        texts = vocabulary().messages["unsupported"].get(parsed.unsupported or "") or {}
        a = parsed.args or {}
        values = _SafeDict(understood=_understood(parsed, lang), setup=a.get("setup_id") or ctx.get("setup_id")
                           or "asia_fvg_break", symbol=a.get("symbol") or ctx.get("symbol") or "EURUSD")
        text = str(texts.get(lang) or texts.get("en") or _msg("unknown", lang)).strip()
        return Resolution(action="unknown", message=text.format_map(values), lang=lang)
    if intent not in INTENT_TOOL:
        key = "refuse" if is_refusal(parsed.text) else "unknown"
        return Resolution(action="unknown", message=_msg(key, lang), lang=lang)

    new = dict(parsed.args or {})
    year = _context_year(ctx)
    if year and year != DEFAULT_YEAR and any(k in new for k in ("start", "end", "day", "time")):
        new = _re_year(parsed, new, year)

    tool = INTENT_TOOL[intent]
    last_tool = ctx.get("last_tool") if isinstance(ctx.get("last_tool"), str) else None
    last_args = dict(ctx["last_args"]) if isinstance(ctx.get("last_args"), dict) else {}
    from_context_setup = False
    if parsed.follow_up:
        new = _research_follow_up(new, last_tool)
        research = research_tool(new)
        if last_tool in FOLLOWABLE and _accepts(last_tool, new):
            tool = last_tool
            args = {k: val for k, val in last_args.items() if k in TOOL_ARGS[tool]}
            if not args.get("setup_id") and "setup_id" in TOOL_ARGS[tool]:
                from_context_setup = True
            if tool in RUN_TOOLS and ("setup_id" in new or "symbol" in new) and "run_id" not in new:
                args.pop("run_id", None)          # "same on gold": the run of that setup/symbol, not the last one
        elif research:                             # "now by profit factor" after a backtest: a sweep of it
            tool = research
            new.pop("detector", None)              # "same sweep with optuna": the word, not the detector
            args = {k: val for k, val in last_args.items() if k in TOOL_ARGS[tool]} if last_tool == tool else {}
            from_context_setup = "setup_id" not in new
        else:
            new = {k: val for k, val in new.items() if k not in RESEARCH_ARGS}
            tool = "run_detector" if "detector" in new else "run_backtest"
            args = {}
            from_context_setup = "setup_id" not in new
            if last_tool == tool:
                args = {k: val for k, val in last_args.items() if k in TOOL_ARGS[tool]}
        args = _merge(args, _adapt(tool, new))
    else:
        args = _adapt(tool, new)
        from_context_setup = "setup_id" in TOOL_ARGS[tool] and not args.get("setup_id")
    return _ask_or_call(tool, _fill(tool, args, ctx, from_context_setup, parsed.follow_up), lang, parsed)


def research_tool(new: dict) -> str | None:
    """The research tool a follow-up's research arguments belong to (None: none of them): paths or a method →
    Monte Carlo; windows or anchoring → walk-forward; search, trials, objective or grid values → sweep; rules →
    challenge odds (a risk alone stays a backtest's ``risk_pct``)."""
    keys = set(new)
    if keys & {"method", "n"}:
        return "run_montecarlo"
    if keys & {"train", "test", "anchored"}:
        return "run_walk_forward"
    if keys & {"search", "trials", "objective"} or new.get("grid"):
        return "run_sweep"
    if "rules" in keys:
        return "challenge_odds"
    return None


def _research_follow_up(new: dict, last_tool: str | None) -> dict:
    """A challenge's risk replaces the backtest parameter it was also read as ("and at 2 % risk?"); elsewhere a
    risk is that parameter only."""
    out = dict(new)
    if last_tool == "challenge_odds" or "rules" in out:
        params = out.get("params") or {}
        if "risk" in out and set(params) <= {"risk_pct", "risk"}:
            out.pop("params", None)
    else:
        out.pop("risk", None)
    return out


def _default(key: str) -> Any:
    if key == "params":
        return {}
    return ARG_DEFAULTS.get(key)


def _re_year(parsed: ParsedRequest, args: dict, year: int) -> dict:
    """A month or day without a year takes the context's year."""
    v = vocabulary()
    f = extract(parsed.text, parsed.lang, [], [])
    if not f.exprs or f.explicit_year:
        return args
    start, end, day = periods_to_dates(list(f.exprs), year, v)
    out = dict(args)
    if "start" in out or "end" in out:
        out["start"], out["end"] = start, end
    if "day" in out and day:
        out["day"] = day
    if "time" in out and day:
        out["time"] = f"{day} {f.time_of_day}" if f.time_of_day else day
    return out


def _adapt(tool: str, args: dict) -> dict:
    """Arguments renamed for ``tool``: a single-day period is the ``day`` of explain_day / ``time`` of a chart."""
    out = dict(args)
    if tool in ("explain_day", "render_chart") and ("start" in out or "end" in out):
        a, b = out.pop("start", None), out.pop("end", None)
        key = "day" if tool == "explain_day" else "time"
        if a and a == b and key not in out:
            out[key] = a
    if tool == "run_detector" and "version" in out:
        out.pop("version")
    if tool != "render_chart":
        out.pop("time", None)                   # a time of day belongs to a chart only
    return out


def _accepts(tool: str, new: dict) -> bool:
    keys = set(_adapt(tool, new)) - {"timeframe"}
    one_day = bool(new.get("start")) and new.get("start") == new.get("end")
    if tool in ("explain_day", "render_chart") and "start" in new and not one_day:
        return False
    return keys <= set(TOOL_ARGS[tool])


def _merge(base: dict, new: dict) -> dict:
    out = dict(base)
    if "setup_id" in new and new["setup_id"] != base.get("setup_id") and "version" not in new:
        out.pop("version", None)                # a version belongs to its setup
    if "start" in new or "end" in new:
        out["start"], out["end"] = new.get("start"), new.get("end")
    for k, val in new.items():
        if k in ("start", "end"):
            continue
        if k in ("params", "grid") and isinstance(out.get(k), dict) and isinstance(val, dict):
            out[k] = {**out[k], **val}
        else:
            out[k] = val
    return out


def _fill(tool: str, args: dict, ctx: dict, from_context_setup: bool, follow_up: bool) -> dict:
    """Gaps from the context: setup, symbol, period, run; version/session/params only when continuing its setup."""
    names = TOOL_ARGS[tool]
    out = dict(args)
    if tool in RUN_TOOLS:  # a stored run: the one named, the latest of a named setup, or the conversation's last
        if not out.get("run_id") and not out.get("setup_id") and out.get("symbol") and ctx.get("setup_id"):
            out["setup_id"] = ctx["setup_id"]      # "same on gold": the conversation's setup on that symbol
        if not out.get("run_id") and not out.get("setup_id"):
            out["run_id"] = ctx.get("run_id")
        elif out.get("setup_id") and not out.get("symbol") and ctx.get("symbol"):
            out["symbol"] = ctx["symbol"]
        return out
    if "setup_id" in names and not out.get("setup_id") and ctx.get("setup_id"):
        out["setup_id"] = ctx["setup_id"]
    if "symbol" in names and not out.get("symbol") and ctx.get("symbol") and tool != "data_coverage":
        out["symbol"] = ctx["symbol"]
    if "symbols" in names and not out.get("symbols") and (ctx.get("symbols") or ctx.get("symbol")):
        out["symbols"] = list(ctx.get("symbols") or [ctx["symbol"]])
    if "start" in names and "start" not in out and "end" not in out:
        out["start"], out["end"] = ctx.get("start"), ctx.get("end")
    if from_context_setup and out.get("setup_id") and out.get("setup_id") == ctx.get("setup_id"):
        last_args = ctx["last_args"] if isinstance(ctx.get("last_args"), dict) else {}
        same = ctx.get("last_tool") in BACKTEST_LIKE and last_args.get("setup_id") == out["setup_id"]
        source = last_args if same else ctx
        for k in ("version", "session", "params"):
            if k in names and k not in out and source.get(k) not in (None, {}):
                out[k] = dict(source[k]) if isinstance(source[k], dict) else source[k]
    if tool in ("explain_signal", "similar_signals") and not out.get("signal_id") and ctx.get("signal_id"):
        out["signal_id"] = ctx["signal_id"]             # "why was it scored so?" after a signal's score
    if tool == "show_trade" and not out.get("run_id") and ctx.get("run_id"):
        out["run_id"] = ctx["run_id"]
    if tool == "compare_runs" and out.get("run_a") and not out.get("run_b") and ctx.get("run_id") \
            and ctx["run_id"] != out["run_a"]:
        out["run_a"], out["run_b"] = ctx["run_id"], out["run_a"]
    if tool == "compare_versions" and out.get("version_a") and not out.get("version_b") and ctx.get("version") \
            and ctx.get("setup_id") == out.get("setup_id") and ctx["version"] != out["version_a"]:
        out["version_a"], out["version_b"] = ctx["version"], out["version_a"]
    return out


def _question(tool: str, missing: str, args: dict, lang: str, parsed: ParsedRequest) -> str:
    asks = vocabulary().messages["ask"]
    by_tool = asks.get(missing) or {}
    template = by_tool.get(tool) or next(iter(by_tool.values()), None)
    if parsed.follow_up and missing == "setup_id" and tool == "run_backtest" and not args.get("symbol"):
        template = {"en": vocabulary().messages["follow_up_without_context"]["en"],
                    "ru": vocabulary().messages["follow_up_without_context"]["ru"]}
    if not template:
        return _msg("unknown", lang)
    sym = args.get("symbol")
    values = _SafeDict(
        on=f" on {sym}" if sym else "", on_ru=f" по {sym}" if sym else "",
        symbol_or_eurusd=sym or "EURUSD", symbol=sym or "", setup=args.get("setup_id") or "",
        setups=" + ".join(args.get("setup_ids") or []),
        detector=vocabulary().detector_labels.get(args.get("detector") or "", args.get("detector") or "FVG"),
        trade=args.get("trade") if args.get("trade") is not None else "", version_a=args.get("version_a") or "",
        version_b=args.get("version_b") or "",
        run_a=args.get("run_a") or "")
    text = str(template.get(lang) or template["en"])
    try:
        return text.format_map(values).replace("  ", " ")
    except (KeyError, ValueError, IndexError):
        return text
