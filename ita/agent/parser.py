"""The deterministic request parser of the chat agent: what the trader typed → which tool, with which arguments.

Works without any language model (the default). English and Russian, lower case, typos, missing parts and
follow-ups ("same on XAUUSD", "а на золоте?", "теперь с rr 3"). Regular expressions + the vocabulary in
:file:`vocabulary.yaml` (words, synonyms, patterns, help texts — data, not code) + :mod:`difflib`. No ML.

Two steps::

    >>> p = parse("backtest asia_fvg_brake on eurusd for 2025", known_setups=["asia_fvg_break"],
    ...           known_symbols=["EURUSD", "XAUUSD"])
    >>> p.intent, p.args
    ('backtest', {'setup_id': 'asia_fvg_break', 'symbol': 'EURUSD', 'start': '2025-01-01', 'end': '2025-12-31'})
    >>> r = resolve(p, context={})
    >>> r.action, r.tool, r.args["params"], r.args["session"]
    ('tool', 'run_backtest', {}, None)
    >>> resolve(parse("same on gold", ["asia_fvg_break"], ["EURUSD", "XAUUSD"]),
    ...         {"last_tool": "run_backtest", "last_args": r.args}).args["symbol"]
    'XAUUSD'

* :func:`parse` reads only the text: ``ParsedRequest.args`` holds only what the text said, under the tools'
  argument names; ``follow_up`` is true when the text only modifies the previous request.
* :func:`resolve` completes the arguments from the conversation context (``setup_id``, ``symbol``,
  ``version``, ``start``, ``end``, ``params``, ``session``, ``run_id``, ``last_tool``, ``last_args``) and
  the defaults, or asks ONE question naming what is missing, in the trader's language.

Neither raises: anything not understood is ``action="unknown"`` with examples. Text that looks like a
prompt injection is just text — orders ("buy", "close the position") and destructive words ("delete",
"drop") never become a tool call.

Rules worth knowing
-------------------
* A month (or day, quarter) without a year takes the context's year (the year of ``context["start"]``),
  else :data:`DEFAULT_YEAR` (the sample data's year). Relative periods ("last month", "this year") depend
  on the data and are left out.
* A fresh request that names its setup starts clean (latest version, no session filter, no parameter
  overrides); one that does not name it continues the context's setup with its version, session and
  parameters. ``start``/``end`` carry over from the context unless the text gives a period.
* A follow-up repeats ``context["last_tool"]`` with ``last_args`` updated (``params`` merged); when the last
  tool does not take what the follow-up changes (e.g. "only London killzone" after "show trade 12") it
  becomes a backtest of the context's setup (or a detector run when it names a detector).
* "NY AM" is read as the New York killzone (07:00–10:00 New York); "silver bullet AM" as ``silver_bullet_am``.
"""
from __future__ import annotations

import calendar
import datetime as dt
import difflib
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

__all__ = ["DEFAULT_YEAR", "DEFAULT_TIMEFRAME", "DEFAULT_RUNS_LIMIT", "INTENT_TOOL", "TOOL_ARGS", "REQUIRED_ARGS",
           "DETECTORS", "SESSIONS", "ParsedRequest", "Resolution", "parse", "resolve", "vocabulary"]

DEFAULT_YEAR = 2025            # a month without a year (and no year in the context) means this year: the sample's
DEFAULT_TIMEFRAME = "M5"
DEFAULT_RUNS_LIMIT = 10
MAX_RUNS_LIMIT = 200           # list_runs takes at most this many
MAX_TEXT = 2000                # only the first characters of a very long message are read
VOCABULARY_FILE = Path(__file__).with_name("vocabulary.yaml")

Intent = Literal["backtest", "evaluate_setup", "run_detector", "render_chart", "show_trade", "compare_versions",
                 "compare_runs", "list_setups", "show_setup", "validate_setup", "explain_day", "data_coverage",
                 "list_runs", "help", "greeting", "theory_question", "unknown"]

# the tools layer implements exactly these names and arguments (in this order)
TOOL_ARGS: dict[str, tuple[str, ...]] = {
    "run_backtest": ("setup_id", "symbol", "start", "end", "version", "params", "session"),
    "evaluate_setup": ("setup_id", "symbol", "start", "end", "version", "params", "session"),
    "run_detector": ("detector", "symbol", "start", "end", "timeframe", "params"),
    "render_chart": ("symbol", "time", "timeframe", "setup_id"),
    "show_trade": ("trade", "run_id"),
    "compare_versions": ("setup_id", "version_a", "version_b", "symbol", "start", "end"),
    "compare_runs": ("run_a", "run_b"),
    "list_setups": (),
    "show_setup": ("setup_id", "version"),
    "validate_setup": ("setup_id",),
    "explain_day": ("setup_id", "symbol", "day"),
    "data_coverage": ("symbol",),
    "list_runs": ("limit",),
}
# without these a tool call is not made: the trader is asked (in this order, one question)
# (show_trade without a run id means the latest run; data_coverage without a symbol means all of them)
REQUIRED_ARGS: dict[str, tuple[str, ...]] = {
    "run_backtest": ("setup_id", "symbol"),
    "evaluate_setup": ("setup_id", "symbol"),
    "run_detector": ("detector", "symbol"),
    "render_chart": ("symbol", "time"),
    "show_trade": ("trade",),
    "compare_versions": ("setup_id", "version_a", "version_b", "symbol"),
    "compare_runs": ("run_a", "run_b"),
    "show_setup": ("setup_id",),
    "validate_setup": ("setup_id",),
    "explain_day": ("setup_id", "symbol", "day"),
}
INTENT_TOOL: dict[str, str] = {
    "backtest": "run_backtest", "evaluate_setup": "evaluate_setup", "run_detector": "run_detector",
    "render_chart": "render_chart", "show_trade": "show_trade", "compare_versions": "compare_versions",
    "compare_runs": "compare_runs", "list_setups": "list_setups", "show_setup": "show_setup",
    "validate_setup": "validate_setup", "explain_day": "explain_day", "data_coverage": "data_coverage",
    "list_runs": "list_runs",
}
_DEFAULTS: dict[str, Any] = {"timeframe": DEFAULT_TIMEFRAME, "limit": DEFAULT_RUNS_LIMIT}
# tools a follow-up ("same on XAUUSD") can repeat
_FOLLOWABLE = ("run_backtest", "evaluate_setup", "run_detector", "render_chart", "compare_versions", "explain_day",
               "show_setup", "data_coverage")
_BACKTEST_LIKE = ("run_backtest", "evaluate_setup")


class ParsedRequest(BaseModel):
    """What the text alone says."""

    text: str
    lang: Literal["en", "ru"]
    intent: Intent
    args: dict = Field(default_factory=dict)   # only what the text said, under the tools' argument names
    follow_up: bool = False                   # the text only modifies the previous request
    confidence: float = 0.0                   # 0..1 (unknown → 0)


class Resolution(BaseModel):
    """What to do: call a tool with complete arguments, ask one question, or answer with a message."""

    action: Literal["tool", "ask", "help", "unknown", "greeting", "theory_question"]
    tool: str | None = None
    args: dict = Field(default_factory=dict)
    question: str | None = None
    message: str | None = None
    lang: str = "en"


# ---- vocabulary ---------------------------------------------------------------------------------------------

def _alias_body(alias: str) -> str:
    alias = str(alias).strip().lower()
    if alias.startswith("re:"):
        return alias[3:]
    parts = [p for p in re.split(r"[\s_\-/]+", alias) if p]
    return r"[\s\-_/]*".join(re.escape(p) for p in parts)


def _word_re(aliases) -> re.Pattern:
    """One whole-word pattern for a list of aliases, longest first."""
    bodies = sorted({_alias_body(a) for a in aliases if str(a).strip()}, key=len, reverse=True)
    return re.compile(r"(?<![\w])(?:" + "|".join(bodies) + r")(?![\w])")


@dataclass
class _Vocab:
    raw: dict
    symbols: list[tuple[str, re.Pattern]]
    currencies: set[str]
    sessions: list[tuple[str, re.Pattern]]
    no_session: re.Pattern
    detectors: list[tuple[str, re.Pattern]]
    params: list[tuple[str, str, re.Pattern]]
    arg_keys: dict[str, str]
    timeframes: set[str]
    months: list[tuple[int, re.Pattern]]
    month_alt: str
    period_from: re.Pattern
    period_to: re.Pattern
    repeat: re.Pattern
    start_markers: re.Pattern
    anywhere_markers: re.Pattern
    intents: list[dict]
    day_words: re.Pattern
    version_words: re.Pattern
    run_words: re.Pattern
    typo_targets: list[str]
    protected: set[str]
    messages: dict


@lru_cache(maxsize=1)
def vocabulary() -> _Vocab:
    """The compiled vocabulary (read once from :data:`VOCABULARY_FILE`)."""
    raw = yaml.safe_load(VOCABULARY_FILE.read_text(encoding="utf-8"))
    months = [(int(m), re.compile(r"(?:" + "|".join(_alias_body(a) for a in al) + r")"))
              for m, al in raw["months"].items()]
    month_bodies = sorted({_alias_body(a) for al in raw["months"].values() for a in al}, key=len, reverse=True)
    intents = []
    for entry in raw["intents"]:
        intents.append({"intent": entry["intent"], "requires": entry.get("requires") or [],
                        "requires_any": entry.get("requires_any") or [],
                        "patterns": [re.compile(p) for p in entry.get("patterns") or ["."]]})
    words: set[str] = set()
    for section in ("symbols", "sessions", "detectors"):
        for al in raw[section].values():
            for a in al:
                if not str(a).startswith("re:"):
                    words.update(re.findall(r"[a-zа-я]+", str(a).lower()))
    for al in raw["months"].values():
        words.update(str(a) for a in al if not str(a).startswith("re:"))
    words.update(str(a) for a in raw["no_session"] if not str(a).startswith("re:"))
    words.update(str(w) for w in raw["typo_targets"])
    fu = raw["follow_up"]
    return _Vocab(
        raw=raw,
        symbols=[(s, _word_re(al)) for s, al in raw["symbols"].items()],
        currencies={c.upper() for c in raw["currencies"]},
        sessions=[(s, _word_re(al)) for s, al in raw["sessions"].items()],
        no_session=_word_re(raw["no_session"]),
        detectors=[(d, _word_re(al)) for d, al in raw["detectors"].items()],
        params=[(name, spec.get("type", "float"), re.compile(p)) for name, spec in raw["params"].items()
                for p in spec["patterns"]],
        arg_keys={k.lower(): arg for arg, keys in raw["arg_keys"].items() for k in keys},
        timeframes={t.upper() for t in raw["timeframes"]},
        months=months,
        month_alt="(?:" + "|".join(month_bodies) + ")",
        period_from=re.compile(r"(?<![\w])(?:" + "|".join(_alias_body(a) for a in raw["period_from"]) + r")\s*$"),
        period_to=re.compile(r"(?<![\w])(?:" + "|".join(_alias_body(a) for a in raw["period_to"]) + r")\s*$"),
        repeat=_word_re(fu["repeat"]),
        start_markers=re.compile(r"^\s*(?:" + "|".join(sorted((_alias_body(a) for a in fu["start_markers"]),
                                                               key=len, reverse=True)) + r")(?![\w])"),
        anywhere_markers=_word_re(fu["anywhere_markers"]),
        intents=intents,
        day_words=_word_re(raw["day_words"]),
        version_words=_word_re(raw["version_words"]),
        run_words=_word_re(raw["run_words"]),
        typo_targets=[str(w) for w in raw["typo_targets"]],
        protected=words,
        messages=raw["messages"],
    )


DETECTORS: tuple[str, ...] = ("fvg", "inverse_fvg", "swings", "structure", "order_blocks", "previous_levels",
                              "session_range", "initial_balance", "opening_levels", "equal_levels", "sweeps", "atr")
SESSIONS: tuple[str, ...] = ("asia", "london_killzone", "new_york_killzone", "london_close", "silver_bullet_am",
                             "silver_bullet_london", "silver_bullet_pm", "london", "new_york", "tokyo")


# ---- text helpers -----------------------------------------------------------------------------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028\u2029\u2060\ufeff]")


def _lang(text: str) -> Literal["en", "ru"]:
    return "ru" if _CYRILLIC.search(text or "") else "en"


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", str(text or ""))[:MAX_TEXT]
    s = _CONTROL.sub(" ", s).lower().replace("ё", "е")
    s = re.sub(r"[\u2010-\u2015\u2212]", "-", s)
    s = s.replace("\u00ab", '"').replace("\u00bb", '"').replace("\u201c", '"').replace("\u201d", '"')
    s = re.sub(r"(\d{4}-\d{1,2}-\d{1,2})t(\d)", r"\1 \2", s)   # ISO date-times
    return re.sub(r"\s+", " ", s).strip()


def _mask(s: str, a: int, b: int) -> str:
    return s[:a] + " " * (b - a) + s[b:]


def _num(s: str) -> float:
    return float(s.replace(",", "."))


def _coerce(value: str, typ: str | None = None) -> Any:
    v = value.strip().strip("\"'")
    if typ == "float":
        try:
            return _num(v)
        except ValueError:
            return v
    if v.lower() in ("true", "yes", "on", "да"):
        return True
    if v.lower() in ("false", "no", "off", "нет"):
        return False
    if re.fullmatch(r"[+-]?\d+", v):
        return int(v)
    if re.fullmatch(r"[+-]?\d*[.,]\d+", v):
        return _num(v)
    return v


# ---- periods ----------------------------------------------------------------------------------------------------

@dataclass
class _Expr:
    """One date expression: kind day/month/quarter/half/year/range with what the text gave (year may be None)."""

    pos: int
    kind: str
    y: int | None = None
    m: int | None = None
    d: int | None = None
    d2: int | None = None
    q: int | None = None
    prev: str = ""

    def dates(self, year: int) -> tuple[dt.date, dt.date]:
        y = self.y if self.y is not None else year
        if self.kind == "day":
            day = dt.date(y, self.m, self.d)
            return day, day
        if self.kind == "range":
            return dt.date(y, self.m, self.d), dt.date(y, self.m, self.d2)
        if self.kind == "month":
            return dt.date(y, self.m, 1), dt.date(y, self.m, calendar.monthrange(y, self.m)[1])
        if self.kind == "quarter":
            m0 = 3 * self.q - 2
            return dt.date(y, m0, 1), dt.date(y, m0 + 2, calendar.monthrange(y, m0 + 2)[1])
        if self.kind == "half":
            return (dt.date(y, 1, 1), dt.date(y, 6, 30)) if self.q == 1 else (dt.date(y, 7, 1), dt.date(y, 12, 31))
        return dt.date(y, 1, 1), dt.date(y, 12, 31)


_ORD = {"перв": 1, "first": 1, "1st": 1, "втор": 2, "second": 2, "2nd": 2, "трет": 3, "third": 3, "3rd": 3,
        "четв": 4, "fourth": 4, "4th": 4}


def _ordinal(word: str | None) -> int | None:
    if not word:
        return None
    for k, v in _ORD.items():
        if word.startswith(k):
            return v
    return None


def _month_of(word: str, v: _Vocab) -> int | None:
    for m, rx in v.months:
        if rx.fullmatch(word):
            return m
    return None


def _year_ok(y: int | None) -> bool:
    return y is None or 1970 <= y <= 2100


def _find_periods(s: str, lang: str, v: _Vocab) -> tuple[str, list[_Expr], str | None]:
    """Date expressions in ``s`` (masked out of the returned text) and a time of day ("HH:MM") if any."""
    M = v.month_alt
    D = r"(\d{1,2})(?:st|nd|rd|th|-?го|-?е)?"
    Y = r"(?:\s*,?\s*(?:of\s+)?((?:19|20)\d{2})(?:\s*(?:г\.?|года?|году|year))?)?"
    W0, W1 = r"(?<![\w.:/-])", r"(?![\w:/])"
    out: list[_Expr] = []
    tod = None

    m = re.search(r"(?<![\d:.])([01]?\d|2[0-3])[:h]([0-5]\d)(?![\d:])(?:\s*(?:utc|gmt))?", s)
    if m:
        tod = f"{int(m.group(1)):02d}:{m.group(2)}"
        s = _mask(s, m.start(), m.end())

    def add(match, expr: _Expr):
        nonlocal s
        expr.pos = match.start()
        expr.prev = s[max(0, match.start() - 30):match.start()]
        s = _mask(s, match.start(), match.end())
        out.append(expr)

    rules: list[tuple[str, Any]] = [
        # 1-15 марта / с 1 по 15 марта / march 1-15
        (rf"{W0}(?:(?:с|со|from)\s+)?(\d{{1,2}})\s*(?:-|по|до|to|till|until)\s*(\d{{1,2}})\s+({M}){Y}{W1}",
         lambda g: _Expr(0, "range", _int(g[3]), _month_of(g[2], v), int(g[0]), int(g[1]))),
        (rf"{W0}({M})\s+(\d{{1,2}})\s*(?:-|to|till|until)\s*(\d{{1,2}}){Y}{W1}",
         lambda g: _Expr(0, "range", _int(g[3]), _month_of(g[0], v), int(g[1]), int(g[2]))),
        # 2025-03-14, 2025/03/14
        (rf"{W0}(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){W1}",
         lambda g: _Expr(0, "day", int(g[0]), int(g[1]), int(g[2]))),
        # 14.03.2025 (d.m.y); 03/14/2025 in English is m/d/y when the day would be impossible otherwise
        (rf"{W0}(\d{{1,2}})([./])(\d{{1,2}})\2(\d{{4}}){W1}", lambda g: _dmy(g, lang)),
        # 14 march 2025, 14th of march, 1 марта
        (rf"{W0}{D}\s*(?:of\s+)?({M}){Y}{W1}", lambda g: _Expr(0, "day", _int(g[2]), _month_of(g[1], v), int(g[0]))),
        # march 14, 2025
        (rf"{W0}({M})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d){Y}{W1}",
         lambda g: _Expr(0, "day", _int(g[2]), _month_of(g[0], v), int(g[1]))),
        # quarters: Q1, Q1 2025, 2025 Q1, 1 квартал, первый квартал, first quarter
        (rf"{W0}q([1-4]){Y}{W1}", lambda g: _Expr(0, "quarter", _int(g[1]), q=int(g[0]))),
        (rf"{W0}((?:19|20)\d{{2}})\s*[-/]?\s*q([1-4]){W1}", lambda g: _Expr(0, "quarter", int(g[0]), q=int(g[1]))),
        (rf"{W0}(?:([1-4])(?:-?(?:й|ый|ий|st|nd|rd|th))?"
         rf"|(перв\w*|втор\w*|трет\w*|четв[её]рт\w*|first|second|third|fourth))"
         rf"\s+(?:quarter|квартал\w*|кв\.?){Y}(?![\w])",
         lambda g: _Expr(0, "quarter", _int(g[2]), q=int(g[0]) if g[0] else _ordinal(g[1]))),
        # halves: first half of 2025, второе полугодие, H2 2025 (H1/H2 only with a year: else a timeframe)
        (rf"{W0}(first|second|1st|2nd|перв\w*|втор\w*)\s+(?:half|полугоди\w*){Y}(?![\w])",
         lambda g: _Expr(0, "half", _int(g[1]), q=_ordinal(g[0]))),
        (rf"{W0}([12])(?:-?(?:е|ое|й|ый|st|nd))?\s+(?:half|полугоди\w*){Y}(?![\w])",
         lambda g: _Expr(0, "half", _int(g[1]), q=int(g[0]))),
        (rf"{W0}h([12])\s+((?:19|20)\d{{2}}){W1}", lambda g: _Expr(0, "half", int(g[1]), q=int(g[0]))),
        # march 2025, 2025-03, 03/2025
        (rf"{W0}({M})\s*,?\s*(?:of\s+)?((?:19|20)\d{{2}})(?:\s*(?:г\.?|года?|году))?{W1}",
         lambda g: _Expr(0, "month", int(g[1]), _month_of(g[0], v))),
        (rf"{W0}((?:19|20)\d{{2}})[-/.](\d{{1,2}}){W1}", lambda g: _Expr(0, "month", int(g[0]), int(g[1]))),
        (rf"{W0}(\d{{1,2}})[./]((?:19|20)\d{{2}}){W1}", lambda g: _Expr(0, "month", int(g[1]), int(g[0]))),
        # a month alone ("for march", "за март")
        (rf"{W0}({M}){W1}", lambda g: _Expr(0, "month", None, _month_of(g[0], v))),
        # a year ("for 2025", "за 2025 год")
        (rf"{W0}((?:19|20)\d{{2}})(?:\s*(?:г\.?|года?|году|year))?{W1}", lambda g: _Expr(0, "year", int(g[0]))),
    ]
    for pattern, build in rules:
        rx = re.compile(pattern)
        pos = 0
        while True:
            m = rx.search(s, pos)
            if not m:
                break
            pos = m.end()
            groups = m.groups()
            try:
                expr = build(groups)
            except (TypeError, ValueError):
                expr = None
            if expr is None or expr.m is None and expr.kind in ("day", "month", "range"):
                continue
            if expr.kind == "month" and expr.y is None and not _month_alone_ok(s, m, groups[0]):
                continue
            if not _year_ok(expr.y):
                continue
            try:
                expr.dates(expr.y or DEFAULT_YEAR)
            except (ValueError, TypeError):
                continue
            add(m, expr)
    out.sort(key=lambda e: e.pos)
    return s, out, tod


def _int(x: str | None) -> int | None:
    return int(x) if x else None


def _dmy(g, lang: str) -> _Expr:
    a, sep, b, y = int(g[0]), g[1], int(g[2]), int(g[3])
    d, m = a, b
    if sep == "/" and lang == "en" and a <= 12 and not b > 12:
        d, m = b, a                       # US style month/day/year
    elif b > 12 and a <= 12:
        d, m = b, a
    return _Expr(0, "day", y, m, d)


def _month_alone_ok(s: str, m: re.Match, word: str) -> bool:
    """Short English month words are words too ("may", "mar", "dec"): alone they need a preposition."""
    if word not in ("may", "mar", "jun", "jul", "sep", "oct", "nov", "dec", "jan", "feb", "apr", "aug", "sept"):
        return True
    before = s[max(0, m.start() - 12):m.start()]
    return bool(re.search(r"(?:in|for|of|during|since|from|to|until|till|through|and|-)\s*$", before))


def _periods_to_dates(exprs: list[_Expr], default_year: int, v: _Vocab) -> tuple[str | None, str | None, str | None]:
    """(start, end, day) from the date expressions; ``day`` when the text names exactly one day."""
    if not exprs:
        return None, None, None
    exprs = [replace(e) for e in exprs]          # years are filled in on copies
    years = [e for e in exprs if e.kind == "year"]
    others = [e for e in exprs if e.kind != "year"]
    if others and any(e.y is None for e in others):
        given = [e.y for e in others if e.y is not None]
        base = years[0].y if years else (given[0] if given else default_year)
        prev_start = None
        for e in others:
            if e.y is None:
                e.y = base
                try:
                    if prev_start is not None and e.dates(e.y)[0] < prev_start:
                        e.y = base + 1           # "from december 2024 to february" → February 2025
                except ValueError:
                    pass
            try:
                prev_start = e.dates(e.y)[0]
            except ValueError:
                pass
        exprs = others
    elif others:
        exprs = others
    spans = []
    for e in exprs:
        try:
            spans.append((e, *e.dates(e.y if e.y is not None else default_year)))
        except ValueError:
            continue
    if not spans:
        return None, None, None
    day = next((a.isoformat() for e, a, b in spans if e.kind == "day"), None)
    if len(spans) == 1:
        e, a, b = spans[0]
        if v.period_from.search(e.prev):
            return a.isoformat(), None, day           # "since March", "с 1 марта"
        if v.period_to.search(e.prev):
            return None, b.isoformat(), day           # "until April", "до апреля"
        return a.isoformat(), b.isoformat(), day
    start = min(a for _, a, _ in spans)
    end = max(b for _, _, b in spans)
    return start.isoformat(), end.isoformat(), day


# ---- extraction -------------------------------------------------------------------------------------------------

@dataclass
class _Found:
    norm: str = ""
    setup_id: str | None = None
    setup_span: tuple[int, int] | None = None
    symbol: str | None = None
    session: str | None = None
    no_session: bool = False
    detector: str | None = None
    exprs: list = field(default_factory=list)
    time_of_day: str | None = None
    versions: list[int] = field(default_factory=list)
    trade: int | None = None
    run_ids: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    timeframe: str | None = None
    limit: int | None = None
    kv_args: dict = field(default_factory=dict)
    masks: list[tuple[int, int]] = field(default_factory=list)   # spans taken out before intent matching

    @property
    def explicit_year(self) -> bool:
        return any(e.y is not None for e in self.exprs)


_RUN_ID = re.compile(r"(?<![\w])((?:bt|verify|run)_\d{8}_\d{6}_[0-9a-f]{3,16})(?![\w])")
_KV = re.compile(r"(?<![\w])([a-z_][a-z0-9_]{0,40})\s*=\s*(\"[^\"]{0,80}\"|'[^']{0,80}'|[^\s,;]{1,80})")
_TRADE = [
    re.compile(r"(?<![\w])(?:trade|trades|сделк\w*|сделок|позици\w*)\s*"
               r"(?:#|№|no\.?|nr\.?|number|num|номер|n)?\s*(\d{1,6})(?![\w.])"),
    re.compile(r"(?<![\w])(\d{1,6})(?:st|nd|rd|th|-?я|-?ю|-?ую|-?ой)\s+(?:trade|сделк\w*)"),
]
_VERSION = [
    re.compile(r"(?<![\w])v\.?\s?(\d{1,3})(?![\w])"),
    re.compile(r"(?<![\w])(?:version|ver|верси[яюиейм]\w*|вер\.?)\s*(?:#|№)?\s*(\d{1,3})(?![\w])"),
    re.compile(r"(?<![\w])в(\d{1,2})(?![\w])"),
]
_VERSION_PAIR = re.compile(r"(?<![\w])(?:v|в)\.?\s?(\d{1,3})\s*(?:-|/|vs\.?|versus|and|и|или|or|против|with|с)\s*"
                           r"(?:v|в)?\.?\s?(\d{1,3})(?![\w])")
_LIMIT = re.compile(r"(?<![\w])(?:last|latest|recent|top|first|последн\w*|первы\w*)\s+(\d{1,4})(?![\w])")
_TF = [
    (re.compile(r"(?<![\w])([mhdw])(1|2|3|4|5|6|10|12|15|20|30)(?![\w])"), lambda g: f"{g[0].upper()}{int(g[1])}"),
    (re.compile(r"(?<![\w.])(\d{1,2})\s*(?:m|min|mins|minutes?|мин|минут\w*)(?![\w])"), lambda g: f"M{int(g[0])}"),
    (re.compile(r"(?<![\w.])(\d{1,2})\s*(?:h|hr|hrs|hours?|ч|час\w*)(?![\w])"), lambda g: f"H{int(g[0])}"),
    (re.compile(r"(?<![\w])(?:hourly|hourly chart|часовик\w*|часов\w+\s+график\w*)(?![\w])"),
     lambda g: "H1"),
    (re.compile(r"(?<![\w])(?:daily chart|дневк\w*|дневн\w+\s+(?:график|тф|таймфрейм)\w*)(?![\w])"),
     lambda g: "D1"),
]
_SNAKE = re.compile(r"(?<![\w])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w])")
_RESERVED = set(TOOL_ARGS) | {a for args in TOOL_ARGS.values() for a in args} | set(DETECTORS) | set(SESSIONS) | {
    "previous_period_levels", "structure_breaks", "min_gap_pips", "buffer_pips", "risk_pct", "max_trades_per_day",
    "run_id", "last_tool", "last_args"}


def _extract(text: str, lang: str, known_setups: list[str], known_symbols: list[str]) -> _Found:
    v = vocabulary()
    f = _Found(norm=_normalise(text))
    s = f.norm

    def take(m: re.Match, group: int = 0):
        nonlocal s
        f.masks.append((m.start(group), m.end(group)))
        s = _mask(s, m.start(group), m.end(group))

    for m in list(_RUN_ID.finditer(s)):
        f.run_ids.append(m.group(1))
        take(m)
    # key=value pairs: tool arguments by name, anything else a setup parameter
    for m in list(_KV.finditer(s)):
        key, raw = m.group(1), m.group(2).strip("\"'")
        arg = v.arg_keys.get(key)
        ptype = next((t for n, t, _ in v.params if n == key), None)
        if arg is None:
            if key in _RESERVED:
                continue
            f.params[key] = _coerce(raw, ptype)
        else:
            val = _kv_arg(arg, raw, lang, known_setups, known_symbols, v)
            if val is _SKIP:
                continue
            f.kv_args[arg] = val
        take(m)
    for name, typ, rx in v.params:
        for m in list(rx.finditer(s)):
            if name in f.params:
                break
            try:
                f.params[name] = _coerce(m.group(1), typ)
            except (IndexError, ValueError):
                continue
            take(m)
    not_a_day = re.compile(r"\s*(?:[./-]\d|" + v.month_alt + r"(?![\w]))")
    for rx in _TRADE:
        m = next((m for m in rx.finditer(s) if not not_a_day.match(s, m.end())), None)
        if m and f.trade is None:
            f.trade = int(m.group(1))
            take(m)
    m = _VERSION_PAIR.search(s)
    if m:
        f.versions = [int(m.group(1)), int(m.group(2))]
        take(m)
    for rx in _VERSION:
        for m in list(rx.finditer(s)):
            f.versions.append(int(m.group(1)))
            take(m)
    f.versions = [x for x in f.versions if x >= 1]
    m = _LIMIT.search(s)
    if m:
        f.limit = max(1, min(MAX_RUNS_LIMIT, int(m.group(1))))
        take(m)
    before = s
    s, f.exprs, f.time_of_day = _find_periods(s, lang, v)
    f.masks.extend(_diff_spans(before, s))
    for rx, build in _TF:
        m = rx.search(s)
        if m and f.timeframe is None:
            tf = build(m.groups())
            if tf in v.timeframes:
                f.timeframe = tf
                take(m)
    m = v.no_session.search(s)
    if m:
        f.no_session = True
        take(m)
    _entities(f, s, known_setups, known_symbols, v)
    for k, val in f.kv_args.items():          # "symbol=XAUUSD" beats whatever else was found
        if k in ("setup_id", "symbol", "session", "detector", "timeframe"):
            setattr(f, k, val)
    return f


class _Skip:
    pass


_SKIP = _Skip()


def _kv_arg(arg: str, raw: str, lang: str, known_setups, known_symbols, v: _Vocab):
    low = raw.lower()
    if arg == "setup_id":
        hit = _match_setup_name(low, known_setups)
        return hit or (low if re.fullmatch(r"[a-z][a-z0-9_]{0,60}", low) else _SKIP)
    if arg == "symbol":
        return _symbol_of(low, known_symbols, v) or (raw.upper() if re.fullmatch(r"[a-z0-9.]{2,12}", low) else _SKIP)
    if arg == "session":
        return next((n for n, rx in v.sessions if rx.fullmatch(low)), _SKIP)
    if arg == "detector":
        return next((n for n, rx in v.detectors if rx.fullmatch(low)), _SKIP)
    if arg == "timeframe":
        return raw.upper() if raw.upper() in v.timeframes else _SKIP
    if arg in ("version", "trade", "limit"):
        m = re.fullmatch(r"[v#№]?(\d{1,6})", low)
        return int(m.group(1)) if m else _SKIP
    if arg in ("start", "end", "day"):
        _, exprs, _ = _find_periods(low, lang, v)
        if len(exprs) == 1:
            a, b, _ = _periods_to_dates(exprs, DEFAULT_YEAR, v)
            return (b if arg == "end" else a) or _SKIP
        return _SKIP
    if arg == "run_id":
        return raw if re.fullmatch(r"[A-Za-z0-9_\-]{1,80}", raw) else _SKIP
    return _SKIP


def _diff_spans(a: str, b: str) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and start is None:
            start = i
        elif x == y and start is not None:
            spans.append((start, i))
            start = None
    if start is not None:
        spans.append((start, len(a)))
    return spans


def _match_setup_name(low: str, known_setups: list[str]) -> str | None:
    key = re.sub(r"[\s\-]+", "_", low.strip())
    by_key = {k.lower(): k for k in known_setups}
    if key in by_key:
        return by_key[key]
    hit = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.8)
    return by_key[hit[0]] if hit else None


def _symbol_of(low: str, known_symbols: list[str], v: _Vocab) -> str | None:
    compact = re.sub(r"[\s/\-_.]+", "", low)
    for sym in known_symbols:
        if compact == sym.lower():
            return sym
    for name, rx in v.symbols:
        if rx.fullmatch(low) or compact == name.lower():
            return name
    if len(compact) == 6 and compact[:3].upper() in v.currencies and compact[3:].upper() in v.currencies:
        return compact.upper()
    return None


def _entities(f: _Found, s: str, known_setups: list[str], known_symbols: list[str], v: _Vocab) -> None:
    """Setups, symbols, sessions and detectors: all candidate spans, the longer span wins an overlap."""
    cands: list[tuple[int, int, int, str, str]] = []     # (start, end, priority, kind, value)
    setups = sorted({str(x) for x in (known_setups or []) if str(x).strip()}, key=len, reverse=True)
    exact_found = set()
    for sid in setups:
        parts = [p for p in re.split(r"[\s_\-]+", sid.lower()) if p]
        if not parts:
            continue
        rx = re.compile(r"(?<![\w])" + r"[\s\-_]*".join(re.escape(p) for p in parts) + r"(?![\w])")
        for m in rx.finditer(s):
            cands.append((m.start(), m.end(), 0, "setup_id", sid))
            exact_found.add(sid)
    toks = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[a-z0-9]+", s)][:400]
    for sid in setups:
        if sid in exact_found:
            continue
        target = sid.lower()
        n = max(1, len([p for p in re.split(r"[\s_\-]+", target) if p]))
        best = None
        for size in (n, n - 1, n + 1):
            if size < 1:
                continue
            for i in range(0, len(toks) - size + 1):
                window = toks[i:i + size]
                key = "_".join(t[2] for t in window)
                if abs(len(key) - len(target)) > max(4, len(target) // 2) or key[0] != target[0]:
                    continue
                sm = difflib.SequenceMatcher(None, key, target)
                if sm.quick_ratio() < 0.82:
                    continue
                r = sm.ratio()
                if r >= 0.82 and (best is None or r > best[0] + 1e-9):
                    best = (r, window[0][0], window[-1][1])
        if best:
            cands.append((best[1], best[2], 4, "setup_id", sid))
    for m in _SNAKE.finditer(s):
        tok = m.group(1)
        if tok not in _RESERVED and not any(tok == x.lower() for x in setups):
            cands.append((m.start(), m.end(), 9, "setup_id", tok))
    # symbols: known names (with separators), aliases, currency pairs, typos
    for sym in sorted({str(x) for x in (known_symbols or []) if str(x).strip()}, key=len, reverse=True):
        low = sym.lower()
        body = re.escape(low)
        if len(low) == 6 and low.isalpha():                     # "eur usd", "eur/usd", "eur-usd"
            body = re.escape(low[:3]) + r"[\s/\-_]?" + re.escape(low[3:])
        for m in re.finditer(r"(?<![\w])" + body + r"(?![\w])", s):
            cands.append((m.start(), m.end(), 1, "symbol", sym))
    for name, rx in v.symbols:
        for m in rx.finditer(s):
            cands.append((m.start(), m.end(), 1, "symbol", name))
    for m in re.finditer(r"(?<![\w])([a-z]{3})[\s/\-_]?([a-z]{3})(?![\w])", s):
        a, b = m.group(1).upper(), m.group(2).upper()
        if a in v.currencies and b in v.currencies and a != b:
            cands.append((m.start(), m.end(), 2, "symbol", a + b))
    pool = {x.lower(): x for x in list(known_symbols or []) + [n for n, _ in v.symbols] if len(str(x)) >= 5}
    for start, end, tok in toks:
        if 5 <= len(tok) <= 7 and tok.isalpha() and tok not in v.protected and tok not in pool:
            hit = difflib.get_close_matches(tok, list(pool), n=1, cutoff=0.8)
            if hit and hit[0][0] == tok[0]:
                cands.append((start, end, 5, "symbol", pool[hit[0]]))
    for name, rx in v.sessions:
        for m in rx.finditer(s):
            cands.append((m.start(), m.end(), 2, "session", name))
    for name, rx in v.detectors:
        for m in rx.finditer(s):
            cands.append((m.start(), m.end(), 3, "detector", name))
    cands.sort(key=lambda c: (-(c[1] - c[0]), c[2], c[0]))
    taken: list[tuple[int, int, str, str]] = []
    for a, b, _, kind, value in cands:
        if all(b <= x or a >= y for x, y, _, _ in taken):
            taken.append((a, b, kind, value))
    taken.sort()
    for a, b, kind, value in taken:
        if getattr(f, kind) is None:
            setattr(f, kind, value)
            if kind == "setup_id":
                f.setup_span = (a, b)


# ---- intents ----------------------------------------------------------------------------------------------------

def _correct_typos(s: str, v: _Vocab) -> str:
    def fix(m: re.Match) -> str:
        w = m.group()
        if len(w) < 5 or w in v.protected:
            return w
        if any(w.startswith(t) for t in v.typo_targets if len(t) >= 4):  # an inflection ("сетапов"), not a typo
            return w
        hit = [h for h in difflib.get_close_matches(w, v.typo_targets, n=3, cutoff=0.8) if h[0] == w[0]]
        return hit[0] if hit else w
    return re.sub(r"[a-zа-я]+", fix, s)


def _features(f: _Found, v: _Vocab) -> dict[str, bool]:
    start, end, day = _periods_to_dates(list(f.exprs), DEFAULT_YEAR, v) if f.exprs else (None, None, None)
    return {
        "setup_id": bool(f.setup_id), "symbol": bool(f.symbol), "session": bool(f.session or f.no_session),
        "detector": bool(f.detector), "period": bool(start or end), "day": bool(day),
        "day_word": bool(v.day_words.search(f.norm)) and bool(f.setup_id or f.symbol),
        "versions": bool(f.versions), "two_versions": len(f.versions) >= 2,
        "version_word": bool(v.version_words.search(f.norm)), "trade": f.trade is not None,
        "run_ids": bool(f.run_ids), "two_run_ids": len(f.run_ids) >= 2, "run_word": bool(v.run_words.search(f.norm)),
        "params": bool(f.params), "timeframe": bool(f.timeframe),
    }


def _intent_text(f: _Found, v: _Vocab) -> str:
    s = f.norm
    for a, b in f.masks:
        seg = s[a:b]
        if re.search(r"[=]|rr|рр|gap|гэп|risk|риск|target|тейк", seg):   # parameters: not words of an intent
            s = _mask(s, a, b)
    if f.setup_span:
        s = _mask(s, *f.setup_span)
    return _correct_typos(s, v)


def _match_intent(f: _Found, feats: dict[str, bool], v: _Vocab) -> str | None:
    text = _intent_text(f, v)
    for entry in v.intents:
        if entry["requires"] and not all(feats.get(r) for r in entry["requires"]):
            continue
        if entry["requires_any"] and not any(feats.get(r) for r in entry["requires_any"]):
            continue
        if any(p.search(text) for p in entry["patterns"]):
            return entry["intent"]
    return None


def _is_refusal(text: str) -> bool:
    """An order or a destructive command anywhere in the text (checked on the whole text, nothing masked)."""
    norm = _normalise(text)
    v = vocabulary()
    fixed = _correct_typos(norm, v)
    return any(p.search(norm) or p.search(fixed) for e in v.intents if e["intent"] == "refuse" for p in e["patterns"])


# ---- parse ------------------------------------------------------------------------------------------------------

def parse(text: str, known_setups: list[str] | None = None, known_symbols: list[str] | None = None) -> ParsedRequest:
    """Read one chat message. Never raises: anything not understood is intent ``"unknown"`` (confidence 0)."""
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    lang = _lang(raw[:MAX_TEXT])
    try:
        return _parse(raw, lang, list(known_setups or []), list(known_symbols or []))
    except Exception:  # the parser must never take the conversation down
        return ParsedRequest(text=raw, lang=lang, intent="unknown", args={}, follow_up=False, confidence=0.0)


def _parse(raw: str, lang: str, known_setups: list[str], known_symbols: list[str]) -> ParsedRequest:
    v = vocabulary()
    if _is_refusal(raw):          # orders / destructive words anywhere: never a tool call
        return ParsedRequest(text=raw, lang=lang, intent="unknown", args={}, follow_up=False, confidence=0.0)
    f = _extract(raw, lang, known_setups, known_symbols)
    feats = _features(f, v)
    intent = _match_intent(f, feats, v)
    if intent == "refuse":
        return ParsedRequest(text=raw, lang=lang, intent="unknown", args={}, follow_up=False, confidence=0.0)
    modifiers = any(feats[k] for k in ("symbol", "session", "params", "period", "versions", "timeframe"))
    follow_up, confidence = False, 0.0
    if intent is None:
        repeat = bool(v.repeat.search(f.norm))
        marker = bool(v.start_markers.search(f.norm) or v.anywhere_markers.search(f.norm))
        if repeat or (marker and (modifiers or feats["setup_id"] or feats["detector"])):
            intent, follow_up, confidence = "backtest", True, 0.7
        elif feats["setup_id"]:
            intent, confidence = ("backtest", 0.6) if modifiers else ("show_setup", 0.5)
        elif feats["detector"]:
            question = f.norm.rstrip().endswith("?") and not feats["symbol"]
            intent, confidence = ("theory_question", 0.5) if question else ("run_detector", 0.55)
        elif _looks_like_question(f.norm) and not any(feats[k] for k in ("symbol", "params", "period", "versions")):
            intent, confidence = "theory_question", 0.5         # "когда лондонская killzone?"
        elif modifiers:
            intent, follow_up, confidence = "backtest", True, 0.6
        elif _looks_like_question(f.norm):
            intent, confidence = "theory_question", 0.5
        else:
            intent = "unknown"
    else:
        confidence = {"help": 0.95, "greeting": 0.9, "theory_question": 0.8}.get(intent, 0.0)
        if intent in INTENT_TOOL:
            args = _args_for(intent, f, v)
            missing = [a for a in REQUIRED_ARGS.get(INTENT_TOOL[intent], ()) if a not in args]
            confidence = 0.9 if not missing else 0.75
    args = {} if intent == "unknown" else _args_for(intent, f, v, follow_up=follow_up)
    return ParsedRequest(text=raw, lang=lang, intent=intent, args=args, follow_up=follow_up,
                         confidence=round(confidence, 2))


_QUESTION_WORDS = re.compile(r"(?<![\w])(?:what|how|why|when|which|who|is|are|does|do|can|should|"
                             r"что|как|почему|зачем|когда|какой|какая|какие|ли|чем)(?![\w])")


def _looks_like_question(s: str) -> bool:
    return s.rstrip().endswith("?") and bool(_QUESTION_WORDS.search(s)) and len(re.findall(r"\w+", s)) >= 2


def _args_for(intent: str, f: _Found, v: _Vocab, follow_up: bool = False, default_year: int = DEFAULT_YEAR) -> dict:
    """The arguments the text gave, under the argument names of the intent's tool."""
    if intent in ("help", "greeting", "theory_question", "unknown", "list_setups"):
        return {}
    start, end, day = _periods_to_dates(list(f.exprs), default_year, v)
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
    for k in ("start", "end", "day", "version", "trade", "limit", "run_id"):
        if k in f.kv_args:
            found[k] = f.kv_args[k]
    if follow_up:
        keep = ("setup_id", "symbol", "start", "end", "version", "params", "session", "detector", "timeframe")
        return {k: found[k] for k in keep if k in found}
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
    for k in TOOL_ARGS.get(tool, ()):
        if k in found and k not in out:
            out[k] = found[k]
    return out


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
        thanks = re.match(r"\s*(?:thanks|thank you|thx|ty|спасибо|благодарю)", _normalise(parsed.text))
        return Resolution(action="greeting", message=_msg("thanks" if thanks else "greeting", lang), lang=lang)
    if intent == "theory_question":
        return Resolution(action="theory_question", args={"question": parsed.text[:MAX_TEXT]},
                          message=_msg("theory", lang), lang=lang)
    if intent not in INTENT_TOOL:
        key = "refuse" if _is_refusal(parsed.text) else "unknown"
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
        if last_tool in _FOLLOWABLE and _accepts(last_tool, new):
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
    return _DEFAULTS.get(key)


def _re_year(parsed: ParsedRequest, args: dict, year: int) -> dict:
    """A month or day without a year takes the context's year."""
    v = vocabulary()
    f = _extract(parsed.text, parsed.lang, [], [])
    if not f.exprs or f.explicit_year:
        return args
    start, end, day = _periods_to_dates(list(f.exprs), year, v)
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
        same = ctx.get("last_tool") in _BACKTEST_LIKE and last_args.get("setup_id") == out["setup_id"]
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


_DETECTOR_LABEL = {"fvg": "FVG", "inverse_fvg": "inverse FVG", "order_blocks": "order blocks", "structure": "BOS/CHoCH",
                   "previous_levels": "previous day/week levels", "session_range": "session ranges",
                   "initial_balance": "initial balance", "opening_levels": "opening levels",
                   "equal_levels": "equal highs/lows", "sweeps": "sweeps", "swings": "swings", "atr": "ATR"}


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
        detector=_DETECTOR_LABEL.get(args.get("detector") or "", args.get("detector") or "FVG"),
        trade=args.get("trade") if args.get("trade") is not None else "", version_a=args.get("version_a") or "",
        version_b=args.get("version_b") or "",
        run_a=args.get("run_a") or "")
    text = str(template.get(lang) or template["en"])
    try:
        return text.format_map(values).replace("  ", " ")
    except (KeyError, ValueError, IndexError):
        return text
