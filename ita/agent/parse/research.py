"""What a research request says besides its setup, symbol and period (:func:`find_research`): the parameter grid
("rr 1.5,2,3", "rr from 1 to 4 step 0.5" → ``"1:4:0.5"``, "min gap 1,2,3 pips"), the objective ("by profit
factor", "maximising expectancy"), the search and its trials ("with optuna, 50 trials"), the walk-forward windows
("train 3M test 1M", "обучение 3 месяца, тест 1 месяц") and anchoring, the Monte Carlo method and path count
("shuffle the trades 10000 times"), the challenge rules and the risks per trade ("at 0.5% and 1% risk").

The words are data (``vocabulary.yaml``: ``grid_params``, ``objectives``, ``search_methods``, ``anchoring``,
``montecarlo_methods``, ``challenge_rules``); the value syntax is here. Values are kept as the tool reads them:
a grid as ``{name: "1.5,2,3" | "1:4:0.5" | None}`` (``None`` = named without values: the tool spreads values
around the setup's own), windows as ``"3M"``/``"2W"``/``"30D"``/``"1Y"``, risks as a list of floats (percent).

Example::

    >>> from ita.agent.parse.vocab import vocabulary
    >>> _, r, _ = find_research("optimise rr from 1 to 4 step 0.5 by profit factor", "en", vocabulary())
    >>> r["grid"], r["objective"]
    ({'rr': '1:4:0.5'}, 'profit_factor')
"""
from __future__ import annotations

import re
from typing import Any

from ita.agent.parse.text import CARDINALS, mask
from ita.agent.parse.vocab import Vocab

#: the research arguments :func:`find_research` can return besides ``grid``
RESEARCH_KEYS = ("objective", "search", "trials", "train", "test", "anchored", "method", "n", "rules", "risk")
_NUM = r"\d+(?:\.\d+)?"
_NUM_DEC = r"\d+(?:[.,]\d+)?"          # inside a range a comma can only be a decimal comma ("от 1,5 до 3")
_WORDS = "|".join(sorted(CARDINALS, key=len, reverse=True))
_COUNT = rf"(\d{{1,3}}(?:[ ,_]\d{{3}})+|\d+(?:\.\d+)?\s*k|\d+|{_WORDS})"
# one value of a list may not be the count of something else ("rr 1.5,2,3, 50 trials", "1, 2 %")
_NOT_A_COUNT = r"(?!\s*(?:trials?|iterations?|times|paths|sims?|simulations?|%|раз\b|испытан|итерац|попыт|путей|симуляц))"
_SEP = r"\s*(?:,|;|/|\bor\b|\band\b|(?<![\w])и(?![\w])|(?<![\w])или(?![\w]))\s*"
_RATIO = r"(?:1\s*:\s*)?"            # "rr 1:2, 1:3 and 1:4" = 2, 3, 4
_LIST = rf"({_RATIO}{_NUM}{_NOT_A_COUNT}(?:{_SEP}{_RATIO}{_NUM}{_NOT_A_COUNT})+)"
_STEP = (r"(?:,\s*)?(?:step(?:\s+of)?|by|with\s+(?:a\s+)?step(?:\s+of)?|in\s+steps\s+of|every|increments?\s+of|"
         r"(?:с\s+)?шаг(?:ом)?|через)")
_RANGE_STEP = rf"(?:from\s+|between\s+|от\s+|с\s+)?({_NUM_DEC})\s*(?:to|and|-|\.\.|до|по)\s*({_NUM_DEC})\s*{_STEP}\s*({_NUM_DEC})"
_RANGE_COLON = rf"({_NUM}):({_NUM}):({_NUM})"
# without a step only with its first word: "rr 1 to 3" / "риск-прибыль 1 к 3" is one R:R
_RANGE = rf"(?:from\s+|between\s+|от\s+)({_NUM_DEC})\s*(?:to|and|-|до)\s*({_NUM_DEC})(?!\s*(?:%|trials?|times))"
_UNIT_TAIL = r"(?:\s*(?:pips?|пипс\w*|пп|пунк\w*|r|р)(?![\w]))?"
_LEAD = r"\s*(?:=|:|-|of|in|at|values?|значени\w*|в\s+диапазоне|из|на)?\s*"

# walk-forward windows
_UNITS = [(r"(?:months?|mos?|mon|m|мес\w*)", "M"), (r"(?:weeks?|wks?|w|нед\w*)", "W"),
          (r"(?:days?|d|дн\w*|дней|день)", "D"), (r"(?:years?|yrs?|y|год\w*|лет)", "Y")]
_UNIT = "(" + "|".join(u for u, _ in _UNITS) + ")"
_N_WIN = rf"(\d{{1,3}}|{_WORDS})"
_TRAIN = (r"(?:train(?:ing)?|in[\s-]*sample|is|optimi[sz]ation|обучени\w*|обучающ\w*|трен\w*|оптимизаци\w*|"
          r"в\s+выборке)")
_TEST = r"(?:test(?:ing)?|out[\s-]*of[\s-]*sample|oos|validation|forward|тест\w*|проверк\w*|вне\s+выборки|форвард\w*)"
_WIN_WORD = r"(?:\s+(?:window|period|span|окн\w*|период\w*))?"
_WIN_LEAD = r"\s*(?:=|:|-|of|on|over|на|в|по)?\s*"


def _window_patterns() -> list[tuple[str, bool, re.Pattern]]:
    """(key, the word comes first, pattern): "train 3M" / "3 months train"."""
    out = []
    for key, word in (("train", _TRAIN), ("test", _TEST)):
        out.append((key, True, re.compile(rf"(?<![\w])(?:(?:window|окн\w*)\s+(?:of\s+)?)?{word}{_WIN_WORD}"
                                          rf"{_WIN_LEAD}{_N_WIN}\s*{_UNIT}(?![\w])")))
        out.append((key, False, re.compile(rf"(?<![\w]){_N_WIN}[\s-]*{_UNIT}(?:\s+(?:of\s+)?|[\s-]+){word}(?![\w])")))
    return out


def _windows(s: str) -> list[tuple[str, re.Match]]:
    """The train and test windows: of every way to read them, the one that finds the most windows without
    two of them sharing words, the word-first style on a tie ("train 3M test 1M" vs "3M train 1M test")."""
    found: dict[str, list[tuple[bool, re.Match]]] = {"train": [], "test": []}
    for key, first, rx in _WINDOWS:
        found[key].extend((first, m) for m in rx.finditer(s))
    best: tuple[tuple[int, int], list[tuple[str, re.Match]]] = ((0, 0), [])
    for a in [None, *found["train"]]:
        for b in [None, *found["test"]]:
            if a and b and not (a[1].end() <= b[1].start() or b[1].end() <= a[1].start()):
                continue
            pick = [(k, x) for k, x in (("train", a), ("test", b)) if x]
            score = (len(pick), sum(x[0] for _, x in pick))
            if score > best[0]:
                best = (score, [(k, x[1]) for k, x in pick])
    return best[1]


_WINDOWS = _window_patterns()
_WIN_PAIR = re.compile(rf"(?<![\w])(\d{{1,3}})\s*{_UNIT}\s*(?:/|\+|x|×|на)\s*(\d{{1,3}})\s*{_UNIT}(?![\w])")
# Monte Carlo paths, sweep trials
_PATHS = re.compile(rf"(?<![\w.,]){_COUNT}\s*(?:times|paths|sims?|simulations?|runs? of monte|раз(?:а)?|пут(?:и|ей)|"
                    r"симуляци\w*|сценари\w*|итераци\w*)(?![\w])")
_PATHS_KV = re.compile(rf"(?<![\w])(?:n|paths|simulations|симуляци\w*)\s*(?:=|:)\s*{_COUNT}(?![\w])")
_TRIALS = re.compile(rf"(?<![\w.,]){_COUNT}\s*(?:trials?|iterations?|evaluations?|variants?|combinations?|"
                     r"испытани\w*|итераци\w*|попыт\w*|вариант\w*|проб\b)(?![\w])")
_TRIALS_KV = re.compile(rf"(?<![\w])(?:n[_\s]?trials|trials|испытани\w*)\s*(?:=|:)?\s*{_COUNT}(?![\w])")
# risks per trade in percent (a challenge)
_PCT = r"\d+(?:[.,]\d+)?\s*%?"
_RISK_LIST = (rf"(\d+(?:[.,]\d+)?\s*%?(?:\s*(?:,|;|/|\bor\b|\band\b|(?<![\w])и(?![\w])|(?<![\w])или(?![\w]))\s*"
              rf"\d+(?:[.,]\d+)?\s*%?)*)")
_RISK_WORD = r"(?:risk(?:ing)?|риск\w*)"
_PER_TRADE = r"(?:(?:per|a|each)\s+trade|на\s+сделку|в\s+сделке)"
_RISKS = [
    re.compile(rf"(?<![\w]){_RISK_WORD}(?:\s+{_PER_TRADE})?\s*(?:=|:|of|at|на|в|-)?\s*(?:of\s+)?{_RISK_LIST}\s*%"),
    re.compile(rf"(?<![\w.,]){_RISK_LIST}\s*%\s*(?:of\s+)?(?:{_RISK_WORD}|{_PER_TRADE})"),
    re.compile(rf"(?<![\w]){_RISK_WORD}\s*(?:=|:)\s*{_RISK_LIST}(?![\w%])"),
]


def count(text: str) -> int | None:
    """``"10000"``, ``"10,000"``, ``"10 000"``, ``"10k"``, ``"fifty"`` → an int (None when it is not a count)."""
    t = text.strip().lower()
    if t in CARDINALS:
        return CARDINALS[t]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*k", t)
    if m:
        return int(float(m.group(1)) * 1000)
    t = re.sub(r"[ ,_]", "", t)
    return int(t) if t.isdigit() else None


def _num(text: str) -> str:
    """A number as the tool reads it: decimal comma → point, no trailing zeros ("2,50" → "2.5", "3.0" → "3")."""
    x = float(text.replace(",", "."))
    return f"{x:g}"


def number_list(text: str, lang: str = "en", percent: bool = False) -> list[str]:
    """The numbers of a list as text: separators ``,`` ``;`` ``/`` and/or/и/или. A comma inside a number is a
    decimal comma when ``;`` separates the list, when it follows a lone ``0`` ("0,5"), and in Russian when other
    separators split the list ("1,5 и 2") or it is a percentage ("1,5%")."""
    t = re.sub(r"(?<![\d.,])1\s*:\s*(?=\d)", "", text.replace("%", " "))      # "1:3" (an R:R) = 3
    if ";" in t:
        parts = re.split(r"\s*;\s*", t)
    else:
        parts = re.split(r"\s*(?:,\s+|/|\bor\b|\band\b|(?<![\w])и(?![\w])|(?<![\w])или(?![\w]))\s*", t)
        if lang == "ru" and (len(parts) > 1 or percent) and all(re.fullmatch(r"\s*\d+(?:,\d+)?\s*", p) for p in parts):
            pass                               # "0,5 и 1,5 %", "1,5 %": decimal commas in Russian
        else:
            parts = [q for p in parts for q in (_split_commas(p))]
    return [_num(p) for p in (p.strip() for p in parts) if re.fullmatch(r"\d+(?:[.,]\d+)?", p)]


def _split_commas(p: str) -> list[str]:
    bits = p.split(",")
    out: list[str] = []
    i = 0
    while i < len(bits):
        if bits[i].strip() == "0" and i + 1 < len(bits) and bits[i + 1].strip().isdigit():   # "0,5" = 0.5
            out.append(f"0.{bits[i + 1].strip()}")
            i += 2
            continue
        out.append(bits[i])
        i += 1
    return out


def _range_spec(a: str, b: str, step: str | None) -> str | None:
    lo, hi = float(a.replace(",", ".")), float(b.replace(",", "."))
    if hi <= lo:
        return None
    if step is None:
        st = 1.0 if lo.is_integer() and hi.is_integer() and hi - lo >= 2 else (hi - lo) / 4
    else:
        st = float(step.replace(",", "."))
    if st <= 0:
        return None
    return f"{lo:g}:{hi:g}:{round(st, 6):g}"


def grid_values(s: str, name_pattern: str, lang: str) -> tuple[str | None, tuple[int, int] | None, bool] | None:
    """The values written after one of a parameter's words (``name_pattern``): ``(spec, span of the values,
    several)`` — ``several`` when they are certainly several values (not "2,5", which may be a decimal comma) —
    ``(None, None, False)`` when the parameter is named without values, ``None`` when it is not named."""
    named = None
    singles: list[str] = []
    for m in re.finditer(name_pattern, s):
        named = named or m
        rest = s[m.end():]
        lead = re.match(_LEAD, rest)
        pos = m.end() + (lead.end() if lead else 0)
        one = re.compile(rf"{_RATIO}({_NUM_DEC})(?![\d:]){_NOT_A_COUNT}").match(s, pos)
        if one and _num(one.group(1)) not in singles:
            singles.append(_num(one.group(1)))
        for rx, kind in ((_RANGE_STEP, "step"), (_RANGE_COLON, "colon"), (_RANGE, "range"), (_LIST, "list")):
            v = re.compile(rx + _UNIT_TAIL).match(s, pos)
            if not v:
                continue
            if kind == "list":
                vals = number_list(v.group(1), lang)
                spec = ",".join(vals) if len(vals) >= 2 else None
                # "rr 2,5" alone may be a decimal comma: several values only with 3+, spaces or and/or
                several = len(vals) >= 3 or not re.fullmatch(r"[\d.]+,[\d.]+", v.group(1).strip())
            else:
                g = v.groups()
                spec = _range_spec(g[0], g[1], g[2] if kind in ("step", "colon") else None)
                several = True
            if spec:
                return spec, (v.start(), v.end()), several
    if len(singles) >= 2 and not re.search(r"\b(?:instead|rather)\b|вместо", s):   # "rr 2 or rr 3"
        return ",".join(singles), None, True
    return (None, None, False) if named else None


def find_research(s: str, lang: str, v: Vocab) -> tuple[str, dict[str, Any], list[tuple[int, int]]]:
    """The research arguments ``s`` (normalised text) states (see the module doc), and ``s`` with the windows,
    path and trial counts masked (so "test 1m" is no M1 timeframe and "2000 paths" no year), with those spans.

    Keys of the result: ``grid`` (always), ``several`` (a parameter was given several values for certain),
    ``percent`` (percentages without a word: a challenge's risks in a follow-up),
    ``objective``, ``search``, ``trials``, ``train``, ``test``,
    ``anchored``, ``method``, ``n``, ``rules``, ``risk`` — each only when the text said it."""
    raw = v.raw
    out: dict[str, Any] = {"grid": {}}
    spans: list[tuple[int, int]] = []

    def take(m: re.Match) -> None:
        nonlocal s
        spans.append((m.start(), m.end()))
        s = mask(s, m.start(), m.end())

    text = s
    for name, patterns in (raw.get("grid_params") or {}).items():
        for p in patterns:
            hit = grid_values(text, p, lang)
            if hit is not None:
                if name not in out["grid"] or (out["grid"][name] is None and hit[0]):
                    out["grid"][name] = hit[0]
                if hit[0]:
                    if hit[2]:
                        out["several"] = True
                    break
    for key, section in (("objective", "objectives"), ("search", "search_methods"), ("method", "montecarlo_methods"),
                         ("anchored", "anchoring"), ("rules", "challenge_rules")):
        for value, patterns in (raw.get(section) or {}).items():
            if any(re.search(p, text) for p in patterns):
                out[key] = {"anchored": True, "rolling": False}.get(value, value) if key == "anchored" else value
                break
    m = _WIN_PAIR.search(s)
    if m:
        out["train"], out["test"] = _window(m.group(1), m.group(2)), _window(m.group(3), m.group(4))
        take(m)
    for key, m in _windows(s):
        if key not in out:
            out[key] = _window(m.group(1), m.group(2))
            take(m)
    for key, rxs in (("trials", (_TRIALS_KV, _TRIALS)), ("n", (_PATHS_KV, _PATHS))):
        for rx in rxs:
            m = rx.search(s)
            n = count(m.group(1)) if m else None
            if n and key not in out:
                out[key] = n
                take(m)
    bare = re.search(rf"(?<![\w.,]){_RISK_LIST}\s*%", re.sub(r"\s*(?:percent|per\s+cent|процент\w*)(?![\w])", "%", text))
    if bare:                            # "and at 0.5%?": a challenge's risk when it follows one
        vals = [float(x) for x in number_list(bare.group(1), lang, percent=True)]
        if vals and all(0 < r <= 100 for r in vals):
            out["percent"] = vals
    pct_text = re.sub(r"\s*(?:percent|per\s+cent|pct|процент\w*)(?![\w])", "%", text)   # "1 percent" = "1%"
    for rx in _RISKS:
        m = rx.search(pct_text)
        if m:
            risks = [float(x) for x in number_list(m.group(1), lang, percent=True)]
            if risks and all(0 < r <= 100 for r in risks):
                out["risk"] = risks
                break
    return s, out, spans


def _window(n: str, unit: str) -> str:
    k = CARDINALS.get(n, None) if not n.isdigit() else int(n)
    letter = next(code for pat, code in _UNITS if re.fullmatch(pat, unit))
    return f"{k}{letter}"
