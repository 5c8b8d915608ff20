"""Dates in a chat message: days, ranges, months, quarters, halves and years in English and Russian
("14 march 2025", "1-15 марта", "Q2 2025", "второе полугодие", "since March") → ISO dates."""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any

from ita.agent.parse.schema import DEFAULT_YEAR
from ita.agent.parse.text import mask
from ita.agent.parse.vocab import Vocab

# ---- periods ----------------------------------------------------------------------------------------------------

@dataclass
class DateExpr:
    """One date expression: kind day/month/quarter/half/year/range with what the text gave (year may be None)."""

    pos: int
    kind: str
    y: int | None = None
    m: int | None = None
    d: int | None = None
    d2: int | None = None
    q: int | None = None
    prev: str = ""
    a: dt.date | None = None      # kind "span": a period relative to today, its exact first and last day
    b: dt.date | None = None
    said: str = ""                # kind "span": the words that said it ("last quarter")

    def dates(self, year: int) -> tuple[dt.date, dt.date]:
        if self.kind == "span":
            return self.a, self.b
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


def _month_of(word: str, v: Vocab) -> int | None:
    for m, rx in v.months:
        if rx.fullmatch(word):
            return m
    return None


def _year_ok(y: int | None) -> bool:
    return y is None or 1970 <= y <= 2100


def find_periods(s: str, lang: str, v: Vocab) -> tuple[str, list[DateExpr], str | None]:
    """Date expressions in ``s`` (masked out of the returned text) and a time of day ("HH:MM") if any."""
    M = v.month_alt
    D = r"(\d{1,2})(?:st|nd|rd|th|-?го|-?е)?"
    Y = r"(?:\s*,?\s*(?:of\s+)?((?:19|20)\d{2})(?:\s*(?:г\.?|года?|году|year))?)?"
    W0, W1 = r"(?<![\w.:/-])", r"(?![\w:/])"
    out: list[DateExpr] = []
    tod = None

    m = re.search(r"(?<![\d:.])([01]?\d|2[0-3])[:h]([0-5]\d)(?![\d:])(?:\s*(?:utc|gmt))?", s)
    if m:
        tod = f"{int(m.group(1)):02d}:{m.group(2)}"
        s = mask(s, m.start(), m.end())

    def add(match, expr: DateExpr):
        nonlocal s
        expr.pos = match.start()
        expr.prev = s[max(0, match.start() - 30):match.start()]
        s = mask(s, match.start(), match.end())
        out.append(expr)

    rules: list[tuple[str, Any]] = [
        # 1-15 марта / с 1 по 15 марта / march 1-15
        (rf"{W0}(?:(?:с|со|from)\s+)?(\d{{1,2}})\s*(?:-|по|до|to|till|until)\s*(\d{{1,2}})\s+({M}){Y}{W1}",
         lambda g: DateExpr(0, "range", _int(g[3]), _month_of(g[2], v), int(g[0]), int(g[1]))),
        (rf"{W0}({M})\s+(\d{{1,2}})\s*(?:-|to|till|until)\s*(\d{{1,2}}){Y}{W1}",
         lambda g: DateExpr(0, "range", _int(g[3]), _month_of(g[0], v), int(g[1]), int(g[2]))),
        # 2025-03-14, 2025/03/14
        (rf"{W0}(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}}){W1}",
         lambda g: DateExpr(0, "day", int(g[0]), int(g[1]), int(g[2]))),
        # 14.03.2025 (d.m.y); 03/14/2025 in English is m/d/y when the day would be impossible otherwise
        (rf"{W0}(\d{{1,2}})([./])(\d{{1,2}})\2(\d{{4}}){W1}", lambda g: _dmy(g, lang)),
        # the first week of march 2025, последняя неделя марта: days 1-7, 8-14, 15-21, 22-28 or the last 7
        (rf"{W0}(?:the\s+)?(first|second|third|fourth|last|1st|2nd|3rd|4th|перв\w*|втор\w*|трет\w*|четв[её]рт\w*|"
         rf"последн\w*)\s+(?:week|недел\w*)\s+(?:of\s+|in\s+)?({M}){Y}{W1}",
         lambda g: _week_of_month(g[0], _month_of(g[1], v), _int(g[2]))),
        # 14 march 2025, 14th of march, 1 марта
        (rf"{W0}{D}\s*(?:of\s+)?({M}){Y}{W1}", lambda g: DateExpr(0, "day", _int(g[2]), _month_of(g[1], v), int(g[0]))),
        # march 14, 2025
        (rf"{W0}({M})\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d){Y}{W1}",
         lambda g: DateExpr(0, "day", _int(g[2]), _month_of(g[0], v), int(g[1]))),
        # quarters: Q1, Q1 2025, 2025 Q1, 1 квартал, первый квартал, first quarter
        (rf"{W0}q([1-4]){Y}{W1}", lambda g: DateExpr(0, "quarter", _int(g[1]), q=int(g[0]))),
        (rf"{W0}((?:19|20)\d{{2}})\s*[-/]?\s*q([1-4]){W1}", lambda g: DateExpr(0, "quarter", int(g[0]), q=int(g[1]))),
        (rf"{W0}(?:([1-4])(?:-?(?:й|ый|ий|st|nd|rd|th))?"
         rf"|(перв\w*|втор\w*|трет\w*|четв[её]рт\w*|first|second|third|fourth))"
         rf"\s+(?:quarter|квартал\w*|кв\.?){Y}(?![\w])",
         lambda g: DateExpr(0, "quarter", _int(g[2]), q=int(g[0]) if g[0] else _ordinal(g[1]))),
        # halves: first half of 2025, второе полугодие, H2 2025 (H1/H2 only with a year: else a timeframe)
        (rf"{W0}(first|second|1st|2nd|перв\w*|втор\w*)\s+(?:half|полугоди\w*){Y}(?![\w])",
         lambda g: DateExpr(0, "half", _int(g[1]), q=_ordinal(g[0]))),
        (rf"{W0}([12])(?:-?(?:е|ое|й|ый|st|nd))?\s+(?:half|полугоди\w*){Y}(?![\w])",
         lambda g: DateExpr(0, "half", _int(g[1]), q=int(g[0]))),
        (rf"{W0}h([12])\s+((?:19|20)\d{{2}}){W1}", lambda g: DateExpr(0, "half", int(g[1]), q=int(g[0]))),
        # march 2025, 2025-03, 03/2025
        (rf"{W0}({M})\s*,?\s*(?:of\s+)?((?:19|20)\d{{2}})(?:\s*(?:г\.?|года?|году))?{W1}",
         lambda g: DateExpr(0, "month", int(g[1]), _month_of(g[0], v))),
        (rf"{W0}((?:19|20)\d{{2}})[-/.](\d{{1,2}}){W1}", lambda g: DateExpr(0, "month", int(g[0]), int(g[1]))),
        (rf"{W0}(\d{{1,2}})[./]((?:19|20)\d{{2}}){W1}", lambda g: DateExpr(0, "month", int(g[1]), int(g[0]))),
        # a month alone ("for march", "за март")
        (rf"{W0}({M}){W1}", lambda g: DateExpr(0, "month", None, _month_of(g[0], v))),
        # a year ("for 2025", "за 2025 год")
        (rf"{W0}((?:19|20)\d{{2}})(?:\s*(?:г\.?|года?|году|year))?{W1}", lambda g: DateExpr(0, "year", int(g[0]))),
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


def _week_of_month(word: str, month: int | None, year: int | None) -> DateExpr | None:
    """The n-th (or last) seven days of a month as a range."""
    if month is None:
        return None
    n = _ordinal(word)
    if n is None:        # last / последняя
        last = calendar.monthrange(year or DEFAULT_YEAR, month)[1]
        return DateExpr(0, "range", year, month, last - 6, last)
    return DateExpr(0, "range", year, month, 7 * n - 6, 7 * n)


def _int(x: str | None) -> int | None:
    return int(x) if x else None


def _dmy(g, lang: str) -> DateExpr:
    a, sep, b, y = int(g[0]), g[1], int(g[2]), int(g[3])
    d, m = a, b
    if sep == "/" and lang == "en" and a <= 12 and not b > 12:
        d, m = b, a                       # US style month/day/year
    elif b > 12 and a <= 12:
        d, m = b, a
    return DateExpr(0, "day", y, m, d)


def _month_alone_ok(s: str, m: re.Match, word: str) -> bool:
    """Short English month words are words too ("may", "mar", "dec"): alone they need a preposition."""
    if word not in ("may", "mar", "jun", "jul", "sep", "oct", "nov", "dec", "jan", "feb", "apr", "aug", "sept"):
        return True
    before = s[max(0, m.start() - 12):m.start()]
    return bool(re.search(r"(?:in|for|of|during|since|from|to|until|till|through|and|-)\s*$", before))


def periods_to_dates(exprs: list[DateExpr], default_year: int, v: Vocab) -> tuple[str | None, str | None, str | None]:
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


# ---- periods relative to today ------------------------------------------------------------------------------

_UNIT = {"day": "day", "week": "week", "month": "month", "quarter": "quarter", "year": "year",
         "дн": "day", "ден": "day", "сутк": "day", "недел": "week", "месяц": "month", "квартал": "quarter",
         "год": "year", "лет": "year"}
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "twelve": 12, "один": 1, "одну": 1, "одна": 1, "два": 2, "две": 2, "три": 3, "четыре": 4,
                 "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "двенадцать": 12}
_U_EN = r"(days?|weeks?|months?|quarters?|years?)"
_U_RU = r"(дн\w*|день|сутк\w*|недел\w*|месяц\w*|квартал\w*|год\w*|лет)"
_N = r"(\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
# "последняя неделя марта" is a week of March, not the last week
_NO_MONTH = r"(?!\s+(?:январ|феврал|март|апрел|ма[йяе]|июн|июл|август|сентябр|октябр|ноябр|декабр))"
# (pattern, which): which = this | last | rolling | today | yesterday | ytd | mtd | wtd
_RELATIVE: list[tuple[re.Pattern, str]] = [
    (re.compile(r"(?<![\w])(?:the\s+)?(?:last|past|previous|prior)\s+" + _N + r"\s+" + _U_EN + r"(?![\w])"), "rolling"),
    (re.compile(r"(?<![\w])(?:за\s+)?(?:последн\w*|прошедш\w*)\s+" + _N + r"\s+" + _U_RU + r"(?![\w])"), "rolling"),
    (re.compile(r"(?<![\w])(?:за\s+)?(?:последн\w*)\s+" + _U_RU + r"(?![\w])" + _NO_MONTH), "rolling1"),
    (re.compile(r"(?<![\w])(?:this|current)\s+(week|month|quarter|year)(?![\w])"), "this"),
    (re.compile(r"(?<![\w])(?:last|previous|prior)\s+(week|month|quarter|year)(?![\w])(?!\s+(?:of|in)\s)"), "last"),
    (re.compile(r"(?<![\w])(?:(?:на|в|за)\s+)?(?:эт(?:а|у|ой|от|ом|им|ого)|текущ\w*|нынешн\w*)\s+"
                r"(недел\w*|месяц\w*|квартал\w*|год\w*)(?![\w])"), "this"),
    (re.compile(r"(?<![\w])(?:(?:на|в|за)\s+)?(?:прошл\w*|предыдущ\w*)\s+(недел\w*|месяц\w*|квартал\w*|год\w*)(?![\w])"),
     "last"),
    (re.compile(r"(?<![\w])(?:year[\s-]+to[\s-]+date|ytd|с\s+начала\s+года)(?![\w])"), "ytd"),
    (re.compile(r"(?<![\w])(?:month[\s-]+to[\s-]+date|mtd|с\s+начала\s+месяца)(?![\w])"), "mtd"),
    (re.compile(r"(?<![\w])(?:week[\s-]+to[\s-]+date|wtd|с\s+начала\s+недели)(?![\w])"), "wtd"),
    (re.compile(r"(?<![\w])(?:today|сегодня)(?![\w'’])"), "today"),
    (re.compile(r"(?<![\w])(?:yesterday|вчера)(?![\w])"), "yesterday"),
]
# "previous week high", "уровни прошлой недели": a detector's words, not a period
_LEVEL_AFTER = re.compile(r"\s*(?:'s\s+)?(?:highs?|lows?|levels?|open|close|хай\w*|лой\w*|лоу\w*|максимум\w*|"
                          r"минимум\w*|уров\w*)(?![\w])")
_LEVEL_BEFORE = re.compile(r"(?:highs?|lows?|levels?|open|хай\w*|лой\w*|лоу\w*|максимум\w*|минимум\w*|уров\w*|"
                           r"открыти\w*)\s+$")


def _unit(word: str) -> str:
    """day | week | month | quarter | year of a unit word, by its stem ("weeks", "недели", "месяца")."""
    return next(u for k, u in _UNIT.items() if word.startswith(k))


def _shift_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(y, m + 1, min(day.day, calendar.monthrange(y, m + 1)[1]))


def _quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def relative_span(which: str, unit: str, n: int, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last calendar day (New York dates) of a period relative to ``today``.

    ``which``: ``this`` (the unit so far: Monday/1st/quarter start/1 January → today), ``last`` (the whole
    previous unit: Monday–Sunday weeks), ``rolling`` (the ``n`` units ending today: "last 3 months" =
    same day three months ago + 1 → today). ``unit``: day | week | month | quarter | year.

    >>> relative_span("last", "quarter", 1, dt.date(2026, 12, 4))
    (datetime.date(2026, 7, 1), datetime.date(2026, 9, 30))
    """
    if which == "this":
        start = {"day": today, "week": today - dt.timedelta(days=today.weekday()), "month": today.replace(day=1),
                 "quarter": _quarter_start(today), "year": today.replace(month=1, day=1)}[unit]
        return start, today
    if which == "last":
        if unit == "day":
            return today - dt.timedelta(days=1), today - dt.timedelta(days=1)
        if unit == "week":
            monday = today - dt.timedelta(days=today.weekday() + 7)
            return monday, monday + dt.timedelta(days=6)
        if unit == "month":
            first = _shift_months(today.replace(day=1), -1)
            return first, today.replace(day=1) - dt.timedelta(days=1)
        if unit == "quarter":
            first = _shift_months(_quarter_start(today), -3)
            return first, _quarter_start(today) - dt.timedelta(days=1)
        return dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31)
    n = max(1, n)
    if unit == "day":
        return today - dt.timedelta(days=n - 1), today
    if unit == "week":
        return today - dt.timedelta(days=7 * n - 1), today
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * n
    return _shift_months(today, -months) + dt.timedelta(days=1), today


def find_relative(s: str, today: dt.date) -> tuple[str, list[DateExpr]]:
    """Periods relative to ``today`` in ``s`` ("last quarter", "this week", "past 30 days", "за прошлый месяц",
    "на этой неделе", "последние 3 месяца", "year to date", "today"), masked out of the returned text; each a
    ``DateExpr`` of kind ``"span"`` with its exact dates and the words that said it."""
    out: list[DateExpr] = []
    for rx, which in _RELATIVE:
        for m in list(rx.finditer(s)):
            if _LEVEL_AFTER.match(s, m.end()) or _LEVEL_BEFORE.search(s[max(0, m.start() - 16):m.start()]):
                continue
            g = m.groups()
            if which in ("today", "yesterday"):
                day = today - dt.timedelta(days=1 if which == "yesterday" else 0)
                a, b = day, day
            elif which in ("ytd", "mtd", "wtd"):
                a, b = relative_span("this", {"ytd": "year", "mtd": "month", "wtd": "week"}[which], 1, today)
            elif which == "rolling":
                n = int(g[0]) if g[0].isdigit() else _NUMBER_WORDS[g[0]]
                a, b = relative_span("rolling", _unit(g[1]), n, today)
            elif which == "rolling1":
                a, b = relative_span("rolling", _unit(g[0]), 1, today)
            else:
                a, b = relative_span(which, _unit(g[0]), 1, today)
            said = re.sub(r"^(?:за|на|в)\s+", "", m.group(0).strip())
            out.append(DateExpr(m.start(), "span", y=a.year, a=a, b=b, said=said,
                                prev=s[max(0, m.start() - 30):m.start()]))
            s = mask(s, m.start(), m.end())
    out.sort(key=lambda e: e.pos)
    return s, out
