"""Templated answers: a :class:`~ita.tools.results.ToolResult` → concise Markdown, in English or Russian.

The wording lives in ``prompts/answers/<lang>.yaml`` (``str.format`` templates; see the comment at the top of
``en.yaml``), never in code; Russian falls back to English key by key. Every number comes from the tool result,
already formatted for a trader by the tools (R with sign and 2 decimals, % with 1 decimal, prices with the
instrument's digits, New York times); this module only arranges it: one headline, the tool's tables as Markdown,
the run id, and one line of follow-ups to try.

Example::

    >>> from ita.agent.answers import render
    >>> from ita.tools import list_runs
    >>> print(render(list_runs(), "ru"))                            # doctest: +SKIP
    Сохранённых бэктестов пока нет.
    <BLANKLINE>
    Попробуйте: `бэктест asia_fvg_break на EURUSD`.
"""
from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable


from ita.config import PROMPTS_DIR, load_yaml
from ita.format import as_float, fmt_int, fmt_money, fmt_num, fmt_pct, fmt_price, fmt_r
from ita.times import ny_text
from ita.tools.results import Table, ToolResult

LANGS = ("en", "ru")
DASH = "—"


def templates_dir() -> Path:
    return PROMPTS_DIR / "answers"


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@lru_cache(maxsize=None)
def templates(lang: str = "en") -> dict:
    """The templates of ``lang`` (``en``/``ru``; anything else → ``en``), English filling any gap."""
    base = load_yaml((templates_dir() / "en.yaml").read_text(encoding="utf-8")) or {}
    if lang not in LANGS or lang == "en":
        return base
    own = load_yaml((templates_dir() / f"{lang}.yaml").read_text(encoding="utf-8")) or {}
    return _merge(base, own)


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return DASH


def _f(template: str, **values: Any) -> str:
    return str(template or "").format_map(_Values({k: (DASH if v is None else v) for k, v in values.items()}))


def _plural(T: dict, word: str, n: int) -> str:
    """``"98 trades"`` / ``"98 сделок"`` (Russian: one / few / many)."""
    forms = (T.get("plural") or {}).get(word) or [word, word]
    if len(forms) >= 3:  # Russian rules
        n10, n100 = abs(n) % 10, abs(n) % 100
        form = forms[0] if n10 == 1 and n100 != 11 else forms[1] if 2 <= n10 <= 4 and not 12 <= n100 <= 14 else forms[2]
    else:
        form = forms[0] if abs(n) == 1 else forms[-1]
    return f"{_num(n)} {form}"


def _num(n: Any) -> str:

    return fmt_int(n)


def _tr(T: dict, text: Any) -> Any:
    """A column name, metric label or short value in the answer's language (unchanged when unknown)."""
    if isinstance(text, str):
        labels = T.get("labels") or {}
        if text in labels:
            return labels[text]
        for suffix, local in (T.get("units") or {}).items():  # "+416.0 pips" → "+416.0 п."
            if text.endswith(suffix) and text != suffix:
                return text[: -len(suffix)] + local
    return text


# ---------------------------------------------------------------------------------------------- tables

def _cell(v: Any) -> str:
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "✓" if v else "✗"
    s = str(v).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    return s if s.strip() else DASH


def _numeric(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    s = str(v).strip()
    if not s or "→" in s or re.match(r"^\d{4}-\d{2}", s):  # dates and periods are text
        return False
    return (s[0].isdigit() or s[0] in "+−-∞") and any(ch.isdigit() for ch in s)


def render_table(table: Table, lang: str = "en", max_rows: int | None = None, title: str | None = None) -> str:
    """A :class:`Table` as a Markdown table: columns and labels in ``lang``, numbers right-aligned, ``|``
    escaped, at most ``max_rows`` rows (a note says how many were left out). ``title`` (default: the table's
    own, translated) is shown in bold above it; ``""`` shows none."""
    T = templates(lang)
    cols = [str(_tr(T, c)) for c in table.columns]
    rows = [[_tr(T, v) for v in r] for r in table.rows]
    hidden = 0
    if max_rows is not None and len(rows) > max_rows:
        hidden = len(rows) - max_rows
        rows = rows[:max_rows]
    align = []
    for j in range(len(cols)):
        vals = [r[j] for r in rows if j < len(r) and r[j] not in (None, DASH, "")]
        align.append("---:" if vals and all(_numeric(v) for v in vals) else "---")
    lines = []
    head = table.title if title is None else title
    if head:
        lines += [f"**{_tr(T, head)}**", ""]
    lines.append("| " + " | ".join(_cell(c) for c in cols) + " |")
    lines.append("|" + "|".join(align) + "|")
    for r in rows:
        r = list(r) + [None] * (len(cols) - len(r))
        lines.append("| " + " | ".join(_cell(v) for v in r[: len(cols)]) + " |")
    if hidden:
        lines += ["", _f(T["common"]["more_rows"], hidden=hidden)]
    return "\n".join(lines)


def _table(T: dict, result: ToolResult, name: str, lang: str, max_rows: int | None = None) -> str:
    tb = result.tables.get(name)
    if tb is None or not tb.rows:
        return ""
    titles = (T.get("table_titles") or {}).get(result.tool) or {}
    title = titles.get(name) if name in titles else None
    return render_table(tb, lang, max_rows=max_rows, title=title)


# ---------------------------------------------------------------------------------------------- common parts

def _hints(T: dict, tool: str, values: dict, key: str = "hints") -> str:
    items = ((T.get("tools") or {}).get(tool) or {}).get(key) or []
    shown = []
    for h in items:
        text = _f(h, **values)
        if DASH not in text and text not in shown:
            shown.append(text)
    if not shown:
        return ""
    return _f(T["common"]["try"], hints=", ".join(f"`{h}`" for h in shown))


def _files(T: dict, result: ToolResult) -> str:
    rendering = result.data.get("rendering")
    if rendering:  # an early answer: the charts are being drawn; the complete answer lists the files here
        return _f(T["common"]["rendering"], n=rendering.get("charts", ""),
                  html=T["common"]["rendering_html"] if rendering.get("html") else "")
    if not result.artifacts:
        return ""
    names = [a.name for a in result.artifacts if a.kind == "file"]
    images = [a for a in result.artifacts if a.kind == "image"]
    parts = [f"`{n}`" for n in names]
    if images:
        parts.append(_f(T["common"]["charts"], n=len(images)))
    folder = str(Path(result.artifacts[0].path).parent)
    return _f(T["common"]["files"], names=", ".join(parts), dir=folder)


def _notes(T: dict, result: ToolResult) -> list[str]:
    ws = result.data.get("warnings") or []
    return [_f(T["common"]["note"], text=w) for w in ws if w]


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _other_symbol(symbol: str | None) -> str:
    return "XAUUSD" if symbol == "EURUSD" else "EURUSD"


def _stats_values(T: dict, stats: dict) -> dict:

    n = int(as_float(stats.get("Trades")) or 0)
    return {"n_trades": _plural(T, "trade", n), "trades": n, "win_rate": fmt_pct(stats.get("Win Rate [%]")),
            "total_r": fmt_r(stats.get("Total R")), "pf": fmt_num(stats.get("Profit Factor"), 2),
            "n_signals": _plural(T, "signal", int(as_float(stats.get("Signals")) or 0))}


def _stats_line(T: dict, stats: dict) -> str:
    v = _stats_values(T, stats)
    return _f(T["stats_line"], **v) if v["trades"] else T["no_trades_line"]


def _overrides(T: dict, tool: str, result: ToolResult) -> tuple[str, str]:
    tt = T["tools"][tool]
    d = result.data
    ov = d.get("overrides") or {}
    session = _f(tt["session"], session=d["session"]) if d.get("session") else ""
    over = _f(tt["overrides"], overrides=", ".join(f"{k}={v}" for k, v in ov.items())) if ov else ""
    return session, over


# ---------------------------------------------------------------------------------------------- per tool

def _list_setups(T, r, lang):
    tt, d = T["tools"]["list_setups"], r.data
    setups = d.get("setups") or []
    if not setups:
        return _f(tt["empty"], dir=d.get("dir"))
    first = setups[0]["setup_id"]
    return _join(_f(tt["headline"], n_setups=_plural(T, "setup", len(setups)), dir=d.get("dir")),
                 _table(T, r, "setups", lang), _hints(T, "list_setups", {"first": first}))


def _show_setup(T, r, lang):
    tt, d = T["tools"]["show_setup"], r.data
    v = dict(d, hash=str(d.get("setup_hash", ""))[:8], versions=", ".join(f"v{x}" for x in d.get("versions") or []),
             days=", ".join(str(_tr(T, x)) for x in d.get("days") or []))
    desc = (d.get("description") or "").strip()
    quote = "\n".join(f"> {ln}" if ln.strip() else ">" for ln in desc.splitlines()) if desc else ""
    yaml_block = f"{_f(tt['yaml'], path=d.get('path'))}\n\n```yaml\n{(d.get('yaml') or '').rstrip()}\n```" if d.get("yaml") else ""
    return _join(_f(tt["headline"], **v), _f(tt["facts"], **v), quote, _table(T, r, "sequence", lang),
                 _f(tt["rule"], **v), yaml_block, _hints(T, "show_setup", v))


def _validate_setup(T, r, lang):
    tt, d = T["tools"]["validate_setup"], r.data
    files = d.get("files") or []
    bad = [f for f in files if not f.get("ok")]
    n_files = _plural(T, "file", len(files))
    if not bad:
        return _join(_f(tt["ok"], target=d.get("target"), n_files=n_files), _table(T, r, "validation", lang))
    lines = [_f(tt["error_line"], path=f["path"], error=e) for f in bad for e in f.get("errors") or []]
    return _join(_f(tt["bad"], target=d.get("target"), n_bad=len(bad), n_files=n_files), "\n".join(lines),
                 _hints(T, "validate_setup", {"target": d.get("target")}, "bad_hints"))


def _data_coverage(T, r, lang):
    tt, d = T["tools"]["data_coverage"], r.data
    series = d.get("series") or []
    if not series:
        return _f(tt["empty"], dir=d.get("data_dir"))
    last = series[0].get("last") or ""
    month = last[:7] if len(last) >= 7 else None
    return _join(_f(tt["headline"], n_series=_plural(T, "series", len(series))), _table(T, r, "coverage", lang),
                 tt["note"], _hints(T, "data_coverage", {"symbol": series[0]["symbol"], "month": month}))


def _load_candles(T, r, lang):

    tt, d = T["tools"]["load_candles"], r.data
    dg = d.get("digits", 5)
    v = {"symbol": d["symbol"], "timeframe": d["timeframe"], "first": ny_text(d["first"]), "last": ny_text(d["last"]),
         "n_bars": _plural(T, "bar", d["bars"]), "high": fmt_price(d["high"], dg), "high_time": ny_text(d["high_time"]),
         "low": fmt_price(d["low"], dg), "low_time": ny_text(d["low_time"]), "avg_range": fmt_num(d["avg_range_pips"], 1)}
    return _join(_f(tt["headline"], **v), _table(T, r, "candles", lang), _hints(T, "load_candles", v))


def _run_detector(T, r, lang):

    tt, d = T["tools"]["run_detector"], r.data
    parts = ", ".join(f"{n} {_tr(T, k)}" for k, n in (d.get("by") or {}).items())
    last = d.get("last_event") or {}
    last_time = ny_text(last.get("time") or last.get("confirmed_at")) if last else None
    v = {"detector": d["detector"], "symbol": d["symbol"], "timeframe": d["timeframe"], "period": d.get("period"),
         "n_events": _plural(T, "event", d["count"]), "breakdown": _f(tt["breakdown"], parts=parts) if parts else "",
         "last_time": None if last_time == DASH else last_time}
    tb = r.tables.get("events")
    table = ""
    if tb is not None and tb.rows:
        table = _join(_f(tt["table"], shown=len(tb.rows), total=_num(d["count"])),
                      render_table(tb, lang, title=""))
    return _join(_f(tt["headline"], **v), table, *_notes(T, r), _hints(T, "run_detector", v))


def _evaluate_setup(T, r, lang):
    tt, d = T["tools"]["evaluate_setup"], r.data
    session, over = _overrides(T, "evaluate_setup", r)
    status = d.get("status") or {}
    lo, hi = (d.get("period") or [None, None])[:2]
    v = {"setup_id": d["setup_id"], "version": d["version"], "hash": str(d.get("setup_hash", ""))[:8],
         "symbol": d["symbol"], "start": lo, "end": hi, "session": session, "overrides": over,
         "n_signals": _plural(T, "signal", d["signals"]), "long": d["long"], "short": d["short"],
         "filled": _f(tt["filled"], filled=status.get("filled", 0)) if status else "",
         "day": ((d.get("last_signal") or {}).get("day") or "")[:10] or None}
    tb = r.tables.get("signals")
    table = ""
    if tb is not None and tb.rows:
        table = _join(_f(tt["table"], shown=len(tb.rows), total=_num(d["signals"])),
                      render_table(tb, lang, title=""))
    return _join(_f(tt["headline"], **v), table, *_notes(T, r), _hints(T, "evaluate_setup", v))


def _run_backtest(T, r, lang):
    tt, d = T["tools"]["run_backtest"], r.data
    stats = d.get("stats") or {}
    sv = _stats_values(T, stats)
    session, over = _overrides(T, "run_backtest", r)
    lo, hi = (d.get("period") or [None, None])[:2]
    samples = d.get("sample_trades") or []
    trade = samples[len(samples) // 2] if samples else d.get("last_trade")
    v = {**sv, "setup_id": d["setup_id"], "version": d["version"], "hash": str(d.get("setup_hash", ""))[:8],
         "hash12": str(d.get("setup_hash", ""))[:12], "symbol": d["symbol"], "start": lo, "end": hi,
         "session": session, "overrides": over, "run_id": d["run_id"], "other_symbol": _other_symbol(d["symbol"]),
         "trade": trade}
    if sv["trades"]:
        return _join(_f(tt["headline"], **v), _table(T, r, "stats", lang), _table(T, r, "by_month", lang),
                     _f(tt["run"], **v), _files(T, r), *_notes(T, r), _hints(T, "run_backtest", v))
    return _join(_f(tt["no_trades"], **v), _f(tt["run"], **v), *_notes(T, r), _hints(T, "run_backtest", v, "no_trade_hints"))


def _explain_day(T, r, lang):
    import pandas as pd

    tt, d = T["tools"]["explain_day"], r.data
    sig = d.get("signal") or {}
    day = pd.Timestamp(d["day"])
    nxt = day + pd.offsets.BDay(1)
    v = {"setup_id": d["setup_id"], "version": d["version"], "symbol": d["symbol"], "day": d["day"],
         "weekday": _tr(T, d.get("weekday")), "direction": _tr(T, d.get("direction")), "time": d.get("time"),
         "passed": d.get("passed"), "steps": d.get("steps"), "failed_step": d.get("failed_step"),
         "reason": d.get("reason"), "entry": sig.get("entry"), "sl": sig.get("sl"), "tp": sig.get("tp"),
         "next_day": f"{nxt:%Y-%m-%d}"}
    if d.get("traded"):
        v["time"] = sig.get("known_at") or d.get("time")
        head = _f(tt["traded"], **v)
    else:
        head = _f(tt["not_traded"], **v)
    if v["time"] in (None, DASH):
        v["time"] = "08:00"
    return _join(head, _hints(T, "explain_day", v))


def _show_trade(T, r, lang):

    tt, d = T["tools"]["show_trade"], r.data
    row = d.get("row") or {}
    dg = d.get("digits", 5)
    v = {"trade": d["trade"], "trades": d["trades"], "setup_id": d["setup_id"], "version": d["version"],
         "symbol": d["symbol"], "run_id": d["run_id"], "direction": _tr(T, row.get("direction")),
         "entry_time": ny_text(row.get("entry_time")), "entry": fmt_price(row.get("entry_price"), dg),
         "sl": fmt_price(row.get("sl_price"), dg), "tp": fmt_price(row.get("tp_price"), dg),
         "exit_reason": _tr(T, row.get("exit_reason")), "exit_time": ny_text(row.get("exit_time"), "%H:%M"),
         "exit": fmt_price(row.get("exit_price"), dg), "r": fmt_r(row.get("r")),
         "pnl": fmt_money(row.get("pnl"), d.get("currency") or "USD"),
         "next": d["trade"] + 1 if d["trade"] < d["trades"] else 1}
    return _join(_f(tt["headline"], **v), _table(T, r, "trade", lang), _f(tt["run"], **v), *_notes(T, r),
                 _hints(T, "show_trade", v))


def _render_chart(T, r, lang):

    tt, d = T["tools"]["render_chart"], r.data
    bar = d.get("bar") or {}
    w = d.get("window") or [None, None]
    from ita.data.instruments import get_instrument

    try:
        dg = get_instrument(d["symbol"]).digits
    except Exception:  # noqa: BLE001 - display only
        dg = 5
    v = {"symbol": d["symbol"], "timeframe": d["timeframe"], "time": d.get("time_ny"),
         "window": f"{ny_text(w[0], '%H:%M')} → {ny_text(w[1], '%H:%M')}", "setup_id": d.get("setup_id"),
         "version": (r.context or {}).get("version"), "bar_time": ny_text(bar.get("time"), "%H:%M"),
         "open": fmt_price(bar.get("open"), dg), "high": fmt_price(bar.get("high"), dg),
         "low": fmt_price(bar.get("low"), dg), "close": fmt_price(bar.get("close"), dg)}
    v["setup"] = _f(tt["setup"], **v) if d.get("setup_id") else ""
    counts = d.get("events_in_window") or {}
    events = _f(tt["events"], events=", ".join(f"{k} {n}" for k, n in counts.items())) if counts else ""
    return _join(_f(tt["headline"], **v), _f(tt["bar"], **v), events, *_notes(T, r), _hints(T, "render_chart", v))


def _compare_runs(T, r, lang):
    tt, d = T["tools"]["compare_runs"], r.data
    v = {"run_a": d["run_a"], "run_b": d["run_b"], "a": d.get("a"), "b": d.get("b")}
    return _join(_f(tt["headline"], **v), _table(T, r, "compare", lang), _hints(T, "compare_runs", v))


def _compare_versions(T, r, lang):
    tt, d = T["tools"]["compare_versions"], r.data
    lo, hi = (d.get("period") or [None, None])[:2]
    v = {"setup_id": d["setup_id"], "version_a": d["version_a"], "version_b": d["version_b"], "symbol": d["symbol"],
         "start": lo, "end": hi, "line_a": _stats_line(T, d.get("stats_a") or {}),
         "line_b": _stats_line(T, d.get("stats_b") or {}), "run_a": d.get("run_a"), "run_b": d.get("run_b"),
         "hash_a": str(d.get("hash_a", ""))[:8], "hash_b": str(d.get("hash_b", ""))[:8],
         "n_changes": _plural(T, "field", len(d.get("changes") or {})), "other_symbol": _other_symbol(d["symbol"])}
    changes = _join(_f(tt["changes"], **v), _table(T, r, "changes", lang)) if d.get("changes") else tt["same_rule"]
    return _join(_f(tt["headline"], **v), _table(T, r, "compare", lang), changes, _f(tt["runs"], **v),
                 _hints(T, "compare_versions", v))


def _list_runs(T, r, lang):
    tt, d = T["tools"]["list_runs"], r.data
    runs = d.get("runs") or []
    portfolios = _table(T, r, "portfolio_runs", lang)  # `ita backtest --portfolio` runs, when there are any
    if not runs:
        return _join(tt["empty"], portfolios, _hints(T, "list_runs", {}, "empty_hints"))
    v = {"n_runs": _plural(T, "run", len(runs)), "run_a": runs[0]["run_id"],
         "run_b": runs[1]["run_id"] if len(runs) > 1 else None}
    return _join(_f(tt["headline"], **v), _table(T, r, "runs", lang), portfolios, _hints(T, "list_runs", v))


def _kb_search(T, r, lang):
    tt, d = T["tools"]["kb_search"], r.data
    n_docs = int(d.get("documents") or 0)
    if not n_docs:
        return _join(tt["empty_library"], _hints(T, "kb_search", {}, "empty_hints"))
    docs = _plural(T, "document", n_docs)
    passages = d.get("passages") or []
    if not passages:
        return _join(_f(tt["no_match"], n_docs=docs, query=d.get("query", "")),
                     _hints(T, "kb_search", {"query": d.get("query", "")}))
    quotes = [_f(tt["passage"], text=" ".join(str(p["text"]).split()), file=p["file"], page=p["page"],
                 section=f" · {p['section']}" if p.get("section") else "")
              + (f"\n\n{tt['instructions']}" if p.get("instructions") else "") for p in passages]
    return _join(_f(tt["headline"], n_docs=docs), *quotes)


def _governor_text(T, tt, gov: dict) -> str:
    words = tt.get("governor") or {}
    parts = [_f(words[k], v=f"{v:g}" if isinstance(v, float) else v) for k, v in (gov or {}).items()
             if v is not None and k in words]
    return "; ".join(parts) or words.get("none", "")


def _portfolio_backtest(T, r, lang):
    tt, d = T["tools"]["portfolio_backtest"], r.data
    st, sa = d.get("stats") or {}, d.get("stats_all") or {}
    lo, hi = (d.get("period") or [None, None])[:2]
    reasons = ", ".join(f"{_tr(T, k)} {v}" for k, v in (d.get("blocked_by") or {}).items())
    v = {"setups": " + ".join(d.get("setups") or []), "symbols": ", ".join(d.get("symbols") or []), "start": lo,
         "end": hi, "governor": _governor_text(T, tt, d.get("governor") or {}), "line": _stats_line(T, st),
         "line_all": _stats_line(T, sa), "max_dd": fmt_r(st.get("Max Drawdown [R]"), signed=False),
         "max_dd_all": fmt_r(sa.get("Max Drawdown [R]"), signed=False), "blocked": d.get("blocked"),
         "candidates": d.get("candidates"), "reasons": reasons, "days": d.get("days"), "run_id": d.get("run_id"),
         "first": (d.get("setup_ids") or [None])[0], "symbol": (d.get("symbols") or [None])[0]}
    corr = _join(_f(tt["correlation"], **v), _table(T, r, "correlation", lang)) if r.tables.get("correlation") else ""
    return _join(_f(tt["headline"], **v), _f(tt["blocked" if d.get("blocked") else "no_blocks"], **v),
                 _table(T, r, "stats", lang), _table(T, r, "components", lang), corr, _table(T, r, "blocked", lang),
                 _f(tt["run"], **v), _files(T, r), *_notes(T, r), _hints(T, "portfolio_backtest", v))


def _promote_setup(T, r, lang):
    from ita.promotion.gates import fmt_value

    tt, d = T["tools"]["promote_setup"], r.data
    gates = d.get("gates") or []
    failed = [g for g in gates if g["result"] in ("fail", "not measured")]
    v = {"setup_id": d["setup_id"], "version": d["version"], "from_status": d["from_status"], "status": d["status"],
         "requested": d["requested"], "n_gates": len(gates), "n_failed": len(failed),
         "enforce_for": ", ".join(d.get("enforce_for") or [])}
    v["gates_line"] = _f(tt["all_passed" if not failed else "some_failed"], **v)
    if not gates:
        head = _f(tt["back"], **v)
    else:
        head = _f(tt["accepted" if d["accepted"] else "refused"], **v)
    lines = []
    for g in failed:
        if g["result"] == "not measured":
            lines.append(_f(tt["not_measured"], name=g["name"], hint=g.get("hint") or g.get("detail") or ""))
        else:
            rel = {">=": "<", "<=": ">"}[g["op"]]
            lines.append(_f(tt["failing"], name=g["name"], value=fmt_value(g["value"], g["unit"]), rel=rel,
                            threshold=fmt_value(g["threshold"], g["unit"]),
                            margin=fmt_value(abs(g["margin"] or 0.0), g["unit"])))
    sup = _f(tt["superseded"], versions=", v".join(map(str, d["superseded"]))) if d.get("superseded") else ""
    return _join(head, "\n".join(lines), _table(T, r, "gates", lang), sup,
                 tt["dry_run"] if d.get("dry_run") else "", _f(T["common"]["note"], text=d["note"]) if d.get("note") else "",
                 _hints(T, "promote_setup", v))


def _instruments(T, r, lang):
    name = "instruments" if r.tool == "list_instruments" else "instrument"
    tt = T["tools"][r.tool]
    v = {"summary": r.summary, "symbol": r.data.get("symbol", "")}
    return _join(_f(tt["headline"], **v), _table(T, r, name, lang), _hints(T, r.tool, v))


def _pct(x) -> str:
    f = as_float(x)
    return DASH if f is None else f"{f * 100:.0f} %"


def _run_sweep(T, r, lang):
    tt, d = T["tools"]["run_sweep"], r.data
    best = d.get("best") or {}
    params = best.get("params") or {}
    v = {"sweep_id": d["sweep_id"], "setup_id": d["setup_id"], "version": d["version"], "symbol": d["symbol"],
         "start": (d.get("period") or [None])[0], "end": (d.get("period") or [None, None])[1],
         "n_variants": d.get("variants"), "grid": ", ".join(f"{k} {'/'.join(str(x) for x in vals)}"
                                                            for k, vals in (d.get("grid") or {}).items()),
         "best": ", ".join(f"{k.split('.')[-1]}={x}" for k, x in params.items()),
         "n_trades": _plural(T, "trade", int(best.get("trades") or 0)), "total_r": fmt_r(best.get("total_r")),
         "pf": fmt_num(best.get("profit_factor"), 2), "pbo": _pct(d.get("pbo")),
         "dsr": DASH if d.get("dsr") is None else f"{d['dsr']:.2f}", "min_trades": d.get("min_trades")}
    head = _f(tt["headline" if best else "no_best"], **v)
    if d.get("status") == "interrupted":
        head = _join(head, _f(tt["interrupted"], **v))
    words = []
    if d.get("pbo") is not None and best:
        words.append(_f(tt["pbo"], **v))
    if d.get("dsr") is not None and best:
        words.append(_f(tt["dsr_edge" if d["dsr"] >= 0.95 else "dsr_luck"], **v))
    return _join(head, " ".join(words), _table(T, r, "ranked", lang, max_rows=5), _table(T, r, "failed", lang),
                 _files(T, r), *_notes(T, r), _hints(T, "run_sweep", v, "hints" if best else "no_best_hints"))


def _run_walk_forward(T, r, lang):
    tt, d = T["tools"]["run_walk_forward"], r.data
    wfe = as_float(d.get("wfe"))
    v = {"wf_id": d["wf_id"], "setup_id": d["setup_id"], "version": d["setup_version"], "symbol": d["symbol"],
         "start": d.get("start"), "end": d.get("end"), "train": d.get("train"), "test": d.get("test"),
         "folds": d.get("folds"), "n_trades": _plural(T, "trade", int(d.get("oos_trades") or 0)),
         "total_r": fmt_r(d.get("oos_total_r")), "pf": fmt_num(d.get("oos_profit_factor"), 2),
         "wfe": DASH if wfe is None else f"{wfe:.2f}", "pbo": _pct(d.get("pbo"))}
    head = _f(tt["headline_win" if (as_float(d.get("oos_total_r")) or 0) > 0 else "headline_loss"], **v)
    return _join(head, _f(tt["wfe" if wfe is not None else "wfe_none"], **v), _table(T, r, "folds", lang),
                 _files(T, r), *_notes(T, r), _hints(T, "run_walk_forward", v))


def _run_montecarlo(T, r, lang):
    tt, d = T["tools"]["run_montecarlo"], r.data
    pct = d.get("percentiles") or {}
    dd, fin = pct.get("Max drawdown [R]") or {}, pct.get("Final R") or {}
    v = {"run_id": d["run_id"], "n": _num(d.get("n")), "method": _tr(T, d.get("method")),
         "n_trades": _plural(T, "trade", int(d.get("trades") or 0)), "dd50": fmt_num(dd.get("p50"), 1),
         "dd95": fmt_num(dd.get("p95"), 1), "f5": fmt_r(fin.get("p5")), "f95": fmt_r(fin.get("p95")),
         "p_loss": _pct(d.get("p_loss"))}
    return _join(_f(tt["headline"], **v), _table(T, r, "percentiles", lang), _table(T, r, "drawdown", lang),
                 _files(T, r), _hints(T, "run_montecarlo", v))


def _challenge_odds(T, r, lang):
    tt, d = T["tools"]["challenge_odds"], r.data
    best = d.get("best_risk")
    odds = (d.get("odds") or {}).get(str(best)) or (d.get("odds") or {}).get(best) or {}
    v = {"run_id": d["run_id"], "rules": d.get("rules"), "firm": d.get("firm"), "checked": d.get("checked"),
         "best": fmt_num(best, 2).rstrip("0").rstrip(".") if best is not None else DASH, "p": _pct(odds.get("pass"))}
    head = _f(tt["headline" if (as_float(odds.get("pass")) or 0) > 0 else "never"], **v)
    return _join(head, _table(T, r, "odds", lang), _f(tt["confirm"], **v), _files(T, r), _hints(T, "challenge_odds", v))


def _show_run(T, r, lang):
    tt, d = T["tools"]["show_run"], r.data
    sample = d.get("sample") or []
    v = {"setup_id": d["setup_id"], "version": d["version"], "hash": str(d.get("setup_hash") or "")[:8],
         "symbol": d["symbol"], "start": d["period"][0], "end": d["period"][1], "run_id": d["run_id"],
         "stats_line": _stats_line(T, d.get("stats") or {}), "n_sample": len(sample),
         "n_trades": _plural(T, "trade", int(d.get("trades") or 0)), "other_symbol": _other_symbol(d["symbol"]),
         "first_sample": sample[0]["trade"] if sample else None}
    changed = _f(tt["data_changed"], note=d["data_changed"]) if d.get("data_changed") else ""
    return _join(_f(tt["headline"], **v), changed, _table(T, r, "stats", lang), _table(T, r, "by_month", lang),
                 _f(tt["sample"], **v) if sample else "", _table(T, r, "sample", lang), _files(T, r),
                 _hints(T, "show_run", v))


def _live_signals(T, r, lang):
    tt, d = T["tools"]["live_signals"], r.data
    n = len(d.get("signals") or [])
    if not n:
        return tt["empty"].format(run=d.get("run"))
    return _join(_f(tt["headline"], n_signals=_plural(T, "signal", n), run=d.get("run")), _table(T, r, "signals", lang))


def _live_performance(T, r, lang):
    tt, d = T["tools"]["live_performance"], r.data
    start, end = (d.get("period") or [None, None])[:2]
    t = d.get("total")
    if not t:
        return _f(tt["empty"], run=d.get("run"), start=start, end=end)
    v = {"run": d.get("run"), "start": start, "end": end, "n_signals": _plural(T, "signal", t["signals"]),
         "alerts": t["alerts"], "taken": t["taken"], "skipped": t["skipped"], "n_trades": _plural(T, "trade", t["trades"]),
         "win_rate": fmt_pct(t["win_rate_pct"]), "total_r": fmt_r(t["total_r"]),
         "open": _f(tt["open"], n_open=t["open"]) if t.get("open") else ""}
    return _join(_f(tt["headline"], **v), _table(T, r, "performance", lang))


def _live_status(T, r, lang):
    tt, d = T["tools"]["live_status"], r.data
    dec = d.get("decisions") or {}
    n = sum(dec.values())
    v = {"source": d.get("source"), "run": d.get("run"), "n_signals": _plural(T, "signal", n), "outbox": d.get("outbox"),
         "decisions": (" (" + ", ".join(f"{k} {c}" for k, c in sorted(dec.items())) + ")") if dec else ""}
    return _join(_f(tt["running" if d.get("running") else "stopped"], **v), _table(T, r, "feed", lang),
                 _table(T, r, "deliveries", lang))
def _learn(T, r, lang):
    """The learning tools: a templated headline over ``data["say"]`` (values already formatted by the tool),
    the tables, files, notes and follow-ups."""
    tt, say = T["tools"].get(r.tool) or {}, r.data.get("say") or {}
    head = _f(tt.get("headline"), **say) if tt.get("headline") else r.summary
    extra = [_f(tt[k], **say) for k in tt.get("lines", []) if k in tt and say.get(k) is not None]
    tables = [_table(T, r, name, lang, max_rows=15) for name in r.tables]
    return _join(head, *extra, *tables, _files(T, r), *_notes(T, r), _hints(T, r.tool, say))


def _generic(T, r, lang):
    return _join(r.summary, *(render_table(tb, lang) for tb in r.tables.values() if tb.rows), _files(T, r))


_RENDERERS: dict[str, Callable[[dict, ToolResult, str], str]] = {
    "list_setups": _list_setups, "show_setup": _show_setup, "validate_setup": _validate_setup,
    "data_coverage": _data_coverage, "load_candles": _load_candles, "run_detector": _run_detector,
    "evaluate_setup": _evaluate_setup, "run_backtest": _run_backtest, "explain_day": _explain_day,
    "show_trade": _show_trade, "render_chart": _render_chart, "compare_runs": _compare_runs,
    "compare_versions": _compare_versions, "list_runs": _list_runs, "kb_search": _kb_search, "show_run": _show_run,
    "portfolio_backtest": _portfolio_backtest, "promote_setup": _promote_setup,
    "list_instruments": _instruments, "show_instrument": _instruments,
    "run_sweep": _run_sweep, "run_walk_forward": _run_walk_forward, "run_montecarlo": _run_montecarlo,
    "challenge_odds": _challenge_odds,
    "live_signals": _live_signals, "live_performance": _live_performance, "live_status": _live_status,
    **{name: _learn for name in ("build_dataset", "train_model", "learn_status", "list_features", "signal_probability",
                                 "explain_signal", "similar_signals", "recommend_changes", "discover_features")},
}


def render_failure(result: ToolResult, lang: str = "en") -> str:
    """The error sentence plus what to try."""
    T = templates(lang)
    hints_map = T.get("fail_hints") or {}
    hints = hints_map.get(result.tool, hints_map.get("default", []))
    text = _f(T["common"]["failure"], error=result.error or result.summary or "?")
    tries = _f(T["common"]["try"], hints=", ".join(f"`{h}`" for h in hints)) if hints else ""
    return _join(text, tries)


def render(result: ToolResult | dict, lang: str = "en") -> str:
    """Markdown answer for one tool result in ``lang`` (``"en"``/``"ru"``; anything else → English)."""
    if isinstance(result, dict):
        result = ToolResult.model_validate(result)
    lang = lang if lang in LANGS else "en"
    if not result.ok:
        return render_failure(result, lang)
    T = templates(lang)
    fn = _RENDERERS.get(result.tool, _generic)
    try:
        return fn(T, result, lang)
    except (KeyError, TypeError, ValueError, IndexError):  # an unexpected result shape: still answer with facts
        return _generic(T, result, lang)


__all__ = ["friendly_error", "render", "render_failure", "render_table", "templates"]


def friendly_error(exc: BaseException, lang: str = "en") -> str:
    """One readable sentence for the chat (web, terminal, Telegram) instead of a stack trace (the trace goes to
    the log): what happened, that nothing was changed and no order placed, what to do."""
    kind = type(exc).__name__
    if lang == "ru":
        return (f"⚠️ Не получилось ответить: внутренняя ошибка ({kind}). Ничего не изменено и никаких ордеров "
                "не выставлено. Попробуйте ещё раз или переформулируйте запрос; подробности — в журнале сервера.")
    return (f"⚠️ Sorry — something went wrong on my side while answering ({kind}). Nothing was changed and no "
            "order was placed. Please try again or rephrase; the details are in the server log.")
