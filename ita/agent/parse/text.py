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
    return re.sub(r"\s+", " ", s).strip()


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
