"""Everything a message names besides its intent: run ids, ``key=value`` arguments, setup parameters, trade
numbers, versions, limits, periods, timeframes, setups, symbols, sessions and detectors (:func:`extract`)."""
from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field

from ita.agent.parse.periods import find_periods, find_relative, periods_to_dates
from ita.agent.parse.research import RESEARCH_KEYS, find_research
from ita.agent.parse.schema import DEFAULT_YEAR, DETECTORS, MAX_RUNS_LIMIT, SESSIONS, TOOL_ARGS
from ita.agent.parse.text import coerce, mask, normalise
from ita.agent.parse.vocab import Vocab, alias_body, vocabulary
from ita.times import today_ny

# ---- extraction -------------------------------------------------------------------------------------------------

@dataclass
class Found:
    norm: str = ""
    setup_id: str | None = None
    setup_span: tuple[int, int] | None = None
    setup_ids: list[str] = field(default_factory=list)      # every setup named, in text order (setup_id first)
    symbol: str | None = None
    symbols: list[str] = field(default_factory=list)        # every symbol named, in text order
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
    signal_id: str | None = None                            # a signal id (setup-vN-SYMBOL-TF-yyyymmddTHHMM)
    learn_target: str | None = None                         # a learning target (setup_win, fvg_respected, …)
    k: int | None = None                                    # "5 similar signals"
    research: dict = field(default_factory=lambda: {"grid": {}})   # grid, objective, search, trials, train, …
    masks: list[tuple[int, int]] = field(default_factory=list)   # spans taken out before intent matching

    @property
    def explicit_year(self) -> bool:
        return any(e.y is not None for e in self.exprs)


_SIGNAL_ID = re.compile(r"(?<![\w-])([a-z][a-z0-9_]*)-v(\d{1,3})-([a-z0-9.]{2,12})-([mhdw]\d{1,2})-(\d{8})t(\d{4})(?![\w-])")
_SIGNAL_REF = re.compile(r"(?<![\w-])(sig_[0-9a-z_]+)(?![\w-])")
_LEARN_TARGET = re.compile(r"(?<![\w-])(setup_win|fvg_respected|fvg_mitigated|sweep_reversal)(?![\w-])")
_K = re.compile(r"(?<![\w.])(\d{1,2})\s+(?:most\s+)?(?:similar|nearest|closest|похож\w*|ближайш\w*)")
_RUN_ID = re.compile(r"(?<![\w])((?:bt|pf|verify|run)_\d{8}_\d{6}_[0-9a-f]{3,16})(?![\w])")
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


def extract(text: str, lang: str, known_setups: list[str], known_symbols: list[str],
            today: dt.date | None = None) -> Found:
    """Everything ``text`` names (see :class:`Found`); periods relative to ``today`` (default: today in New York)
    become exact dates."""
    v = vocabulary()
    f = Found(norm=normalise(text))
    s = f.norm

    def take(m: re.Match, group: int = 0):
        nonlocal s
        f.masks.append((m.start(group), m.end(group)))
        s = mask(s, m.start(group), m.end(group))

    for m in list(_SIGNAL_ID.finditer(s)):          # the journal's spelling: setup lower, symbol/timeframe upper
        g = m.groups()
        f.signal_id = f.signal_id or f"{g[0]}-v{g[1]}-{g[2].upper()}-{g[3].upper()}-{g[4]}T{g[5]}"
        take(m)
    for m in list(_SIGNAL_REF.finditer(s)):
        f.signal_id = f.signal_id or m.group(1)
        take(m)
    m = _LEARN_TARGET.search(s)
    if m:
        f.learn_target = m.group(1)
        take(m)
    m = _K.search(s)
    if m:
        f.k = int(m.group(1))
        take(m, 1)
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
            f.params[key] = coerce(raw, ptype)
        else:
            val = _kv_arg(arg, raw, lang, known_setups, known_symbols, v)
            if val is _SKIP:
                continue
            f.kv_args[arg] = val
        take(m)
    before = s
    s, f.research, _ = find_research(s, lang, v)
    f.masks.extend(_diff_spans(before, s))
    for k in RESEARCH_KEYS:                  # "objective=sharpe", "trials=50": the words beat the guesses
        if k in f.kv_args:
            f.research[k] = f.kv_args.pop(k)
    for name, typ, rx in v.params:
        for m in list(rx.finditer(s)):
            if name in f.params:
                break
            try:
                f.params[name] = coerce(m.group(1), typ)
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
    before = s
    s, relative = find_relative(s, today or today_ny())
    f.masks.extend(_diff_spans(before, s))
    m = _LIMIT.search(s)
    if m:
        f.limit = max(1, min(MAX_RUNS_LIMIT, int(m.group(1))))
        take(m)
    before = s
    s, f.exprs, f.time_of_day = find_periods(s, lang, v)
    f.exprs = sorted(relative + f.exprs, key=lambda e: e.pos)
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


def _kv_arg(arg: str, raw: str, lang: str, known_setups, known_symbols, v: Vocab):
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
        _, exprs, _ = find_periods(low, lang, v)
        if len(exprs) == 1:
            a, b, _ = periods_to_dates(exprs, DEFAULT_YEAR, v)
            return (b if arg == "end" else a) or _SKIP
        return _SKIP
    if arg == "run_id":
        return raw if re.fullmatch(r"[A-Za-z0-9_\-]{1,80}", raw) else _SKIP
    if arg in RESEARCH_KEYS:
        return research_kv(arg, raw, v)
    return _SKIP


def research_kv(arg: str, raw: str, v: Vocab):
    """A research argument written as ``key=value`` ("objective=sharpe", "trials=50", "train=3M", "risk=0.5,1")."""
    low = raw.lower().strip()
    if arg in ("objective", "search", "method", "rules"):
        section = {"objective": "objectives", "search": "search_methods", "method": "montecarlo_methods",
                   "rules": "challenge_rules"}[arg]
        names = list(v.raw.get(section) or {})
        if low in names:
            return low
        return next((n for n, pats in (v.raw.get(section) or {}).items() if any(re.search(p, low) for p in pats)),
                    low if arg == "rules" and re.fullmatch(r"[a-z0-9_]{1,60}", low) else _SKIP)
    if arg in ("trials", "n"):
        return int(low) if low.isdigit() and int(low) > 0 else _SKIP
    if arg in ("train", "test"):
        m = re.fullmatch(r"(\d{1,3})\s*([mwdy])", low)
        return f"{m.group(1)}{m.group(2).upper()}" if m else _SKIP
    if arg == "anchored":
        return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(low, _SKIP)
    if arg == "risk":
        vals = [float(x) for x in re.split(r"[,;/]", low.replace("%", "")) if re.fullmatch(r"\d+(?:\.\d+)?", x.strip())]
        return vals or _SKIP
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


def _symbol_of(low: str, known_symbols: list[str], v: Vocab) -> str | None:
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


def _entities(f: Found, s: str, known_setups: list[str], known_symbols: list[str], v: Vocab) -> None:
    """Setups, symbols, sessions and detectors: all candidate spans, the longer span wins an overlap."""
    cands: list[tuple[int, int, int, str, str]] = []     # (start, end, priority, kind, value)
    setups = sorted({str(x) for x in (known_setups or []) if str(x).strip()}, key=len, reverse=True)
    exact_found = set()
    words = v.raw.get("setup_words") or {}
    for sid in setups:          # the name, its parts apart ("asia sweep") or in Russian words ("азия свип")
        parts = [p for p in re.split(r"[\s_\-]+", sid.lower()) if p]
        if not parts:
            continue
        bodies = ["(?:" + "|".join([re.escape(p), *(alias_body(a) for a in words.get(p, []))]) + ")" for p in parts]
        orders = [bodies] + ([bodies[::-1]] if len(bodies) == 2 else [])   # "свип азии" = asia_sweep
        for k, body in enumerate(orders):
            for m in re.finditer(r"(?<![\w])" + r"[\s\-_]*".join(body) + r"(?![\w])", s):
                if k and not re.search(r"[а-я]", m.group()):     # reversed only in Russian words
                    continue
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
        if kind == "setup_id" and value not in f.setup_ids:
            f.setup_ids.append(value)
        if kind == "symbol" and value not in f.symbols:
            f.symbols.append(value)
        if getattr(f, kind) is None:
            setattr(f, kind, value)
            if kind == "setup_id":
                f.setup_span = (a, b)
