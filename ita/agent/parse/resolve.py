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
    TOOL_ARGS,
    ParsedRequest,
    Resolution,
)
from ita.agent.parse.text import normalise
from ita.agent.parse.vocab import vocabulary

# ---- resolve ----------------------------------------------------------------------------------------------------

class _SafeDict(dict):
    def __missing__(self, key):
        return ""


def _msg(key: str, lang: str) -> str:
    m = vocabulary().messages[key]
    return str(m.get(lang) or m["en"]).strip()


def resolve(parsed: ParsedRequest, context: dict | None = None) -> Resolution:
    """Complete ``parsed`` with the conversation ``context`` and the defaults. Never raises."""
    lang = getattr(parsed, "lang", "en") if getattr(parsed, "lang", "en") in ("en", "ru") else "en"
    try:
        return _resolve(parsed, dict(context or {}), lang)
    except Exception:
        return Resolution(action="unknown", message=_msg("unknown", lang), lang=lang)


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
        if last_tool in FOLLOWABLE and _accepts(last_tool, new):
            tool = last_tool
            args = {k: val for k, val in last_args.items() if k in TOOL_ARGS[tool]}
            if not args.get("setup_id") and "setup_id" in TOOL_ARGS[tool]:
                from_context_setup = True
        else:
            tool = "run_detector" if "detector" in new else "run_backtest"
            args = {}
            from_context_setup = "setup_id" not in new
            if last_tool == tool:
                args = {k: val for k, val in last_args.items() if k in TOOL_ARGS[tool]}
        args = _merge(args, _adapt(tool, new))
    else:
        args = _adapt(tool, new)
        from_context_setup = "setup_id" in TOOL_ARGS[tool] and not args.get("setup_id")
    args = _fill(tool, args, ctx, from_context_setup, parsed.follow_up)
    full = {k: args.get(k, _default(k)) for k in TOOL_ARGS[tool]}
    if "params" in full and not isinstance(full["params"], dict):
        full["params"] = {}
    for k in REQUIRED_ARGS.get(tool, ()):
        if full.get(k) in (None, "", {}):
            return Resolution(action="ask", tool=tool, args=full, question=_question(tool, k, full, lang, parsed),
                              lang=lang)
    return Resolution(action="tool", tool=tool, args=full, lang=lang)


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
        if k == "params" and isinstance(out.get("params"), dict):
            out["params"] = {**out["params"], **val}
        else:
            out[k] = val
    return out


def _fill(tool: str, args: dict, ctx: dict, from_context_setup: bool, follow_up: bool) -> dict:
    """Gaps from the context: setup, symbol, period, run; version/session/params only when continuing its setup."""
    names = TOOL_ARGS[tool]
    out = dict(args)
    if "setup_id" in names and not out.get("setup_id") and ctx.get("setup_id"):
        out["setup_id"] = ctx["setup_id"]
    if "symbol" in names and not out.get("symbol") and ctx.get("symbol") and tool != "data_coverage":
        out["symbol"] = ctx["symbol"]
    if "start" in names and "start" not in out and "end" not in out:
        out["start"], out["end"] = ctx.get("start"), ctx.get("end")
    if from_context_setup and out.get("setup_id") and out.get("setup_id") == ctx.get("setup_id"):
        last_args = ctx["last_args"] if isinstance(ctx.get("last_args"), dict) else {}
        same = ctx.get("last_tool") in BACKTEST_LIKE and last_args.get("setup_id") == out["setup_id"]
        source = last_args if same else ctx
        for k in ("version", "session", "params"):
            if k in names and k not in out and source.get(k) not in (None, {}):
                out[k] = dict(source[k]) if isinstance(source[k], dict) else source[k]
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
        detector=vocabulary().detector_labels.get(args.get("detector") or "", args.get("detector") or "FVG"),
        trade=args.get("trade") if args.get("trade") is not None else "", version_a=args.get("version_a") or "",
        version_b=args.get("version_b") or "",
        run_a=args.get("run_a") or "")
    text = str(template.get(lang) or template["en"])
    try:
        return text.format_map(values).replace("  ", " ")
    except (KeyError, ValueError, IndexError):
        return text
