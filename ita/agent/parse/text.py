"""Text helpers of the parser: language, normalisation (NFKC, lower case, control characters out), masking of
spans already understood, and value coercion ("2,5" → 2.5, "yes" → True)."""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from ita.agent.parse.schema import MAX_TEXT

# ---- text helpers -----------------------------------------------------------------------------------------------

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u200b-\u200f\u2028\u2029\u2060\ufeff]")


def lang_of(text: str) -> Literal["en", "ru"]:
    return "ru" if _CYRILLIC.search(text or "") else "en"


def normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", str(text or ""))[:MAX_TEXT]
    s = _CONTROL.sub(" ", s).lower().replace("ё", "е")
    s = re.sub(r"[\u2010-\u2015\u2212]", "-", s)
    s = s.replace("\u00ab", '"').replace("\u00bb", '"').replace("\u201c", '"').replace("\u201d", '"')
    s = re.sub(r"(\d{4}-\d{1,2}-\d{1,2})t(\d)", r"\1 \2", s)   # ISO date-times
    return month_typos(number_words(re.sub(r"\s+", " ", s).strip()))


MONTHS = ("january", "february", "march", "april", "june", "july", "august", "september", "october", "november",
          "december")
_WORD = re.compile(r"(?<![\w])[a-z]{4,9}(?![\w])")


def _one_letter_off(word: str, name: str) -> bool:
    """``word`` is ``name`` with one letter left out or one letter too many (long names only: "novmber")."""
    if len(name) < 6 or abs(len(word) - len(name)) != 1 or word[0] != name[0]:
        return False
    short, long_ = (word, name) if len(word) < len(name) else (name, word)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def month_typos(s: str) -> str:
    """English month names typed with two letters swapped ("mrach", "ocotber") or one letter missing or extra
    ("novmber", "decemeber") → the month."""
    def fix(m: re.Match) -> str:
        w = m.group()
        if w in MONTHS:
            return w
        for name in MONTHS:
            if len(w) == len(name) and w[0] == name[0] and sorted(w) == sorted(name):
                diff = [i for i, (a, b) in enumerate(zip(w, name)) if a != b]
                if len(diff) == 2 and diff[1] == diff[0] + 1:
                    return name
            if _one_letter_off(w, name):
                return name
        return w
    return _WORD.sub(fix, s)


_CARD = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
         "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
         "один": 1, "одну": 1, "одна": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5, "шесть": 6,
         "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "двенадцать": 12, "пятнадцать": 15, "двадцать": 20,
         "тридцать": 30, "пятьдесят": 50}
CARDINALS: dict[str, int] = _CARD       # number words → numbers (public: the research values read them too)
_ORD = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
        "ninth": 9, "tenth": 10, "перв": 1, "втор": 2, "трет": 3, "четверт": 4, "пят": 5, "шест": 6, "седьм": 7,
        "восьм": 8, "девят": 9, "десят": 10}
_C = "(" + "|".join(sorted(_CARD, key=len, reverse=True)) + ")"
_O = "(" + "|".join(sorted(_ORD, key=len, reverse=True)) + r")\w*"
_HALF = re.compile(_C + r"\s+(?:and\s+a\s+half|с\s+половиной)(?![\w])")
_BEFORE = re.compile(r"(?<![\w])((?:trade|сделк\w*|номер|number|no\.?|#|№|rr|рр|version|верси\w*|last|latest|recent|top|"
                     r"последни\w*|последн\w*)\s+(?:number\s+|номер\s+)?)" + _C + r"(?![\w])")
_AFTER = re.compile(r"(?<![\w])" + _C + r"(\s+(?:runs|backtests|прогон\w*|запуск\w*|бэктест\w*))(?![\w])")
_ORD_PAIR = re.compile(r"(?<![\w])" + _O + r"\s+(and|и)\s+" + _O + r"\s+(?:versions?|верси\w*)(?![\w])")
_ORD_ONE = re.compile(r"(?<![\w])" + _O + r"\s+(trades?|versions?|сделк\w*|верси\w*)(?![\w])")


def number_words(s: str) -> str:
    """Number words where a number is expected, as digits: "trade seven" → "trade 7", "последние три прогона" →
    "последние 3 прогона", "rr two and a half" → "rr 2.5", "седьмую сделку" → "сделку 7", "первую и вторую
    версию" → "v1 и v2". Ordinals elsewhere ("first half", "третий квартал") are periods and stay words."""
    s = _HALF.sub(lambda m: f"{_CARD[m.group(1)]}.5", s)
    s = _BEFORE.sub(lambda m: f"{m.group(1)}{_CARD[m.group(2)]}", s)
    s = _AFTER.sub(lambda m: f"{_CARD[m.group(1)]}{m.group(2)}", s)
    s = _ORD_PAIR.sub(lambda m: f"v{_ORD[m.group(1)]} {m.group(2)} v{_ORD[m.group(3)]}", s)
    return _ORD_ONE.sub(lambda m: f"{m.group(2)} {_ORD[m.group(1)]}", s)


def mask(s: str, a: int, b: int) -> str:
    return s[:a] + " " * (b - a) + s[b:]


def number(s: str) -> float:
    return float(s.replace(",", "."))


def coerce(value: str, typ: str | None = None) -> Any:
    v = value.strip().strip("\"'")
    if typ == "float":
        try:
            return number(v)
        except ValueError:
            return v
    if v.lower() in ("true", "yes", "on", "да"):
        return True
    if v.lower() in ("false", "no", "off", "нет"):
        return False
    if re.fullmatch(r"[+-]?\d+", v):
        return int(v)
    if re.fullmatch(r"[+-]?\d*[.,]\d+", v):
        return number(v)
    return v
