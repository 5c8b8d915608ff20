"""The compiled vocabulary: words, synonyms, patterns and message texts of :file:`ita/agent/vocabulary.yaml`
(data, not code) and the detector words and labels of the detector catalogue (:file:`ita/detectors/catalog.yaml`,
read as data so the chat does not import the detectors' numeric stack)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


from ita.config import DETECTOR_CATALOG, load_yaml

VOCABULARY_FILE = Path(__file__).parent.parent / "vocabulary.yaml"


def alias_body(alias: str) -> str:
    alias = str(alias).strip().lower()
    if alias.startswith("re:"):
        return alias[3:]
    parts = [p for p in re.split(r"[\s_\-/]+", alias) if p]
    return r"[\s\-_/]*".join(re.escape(p) for p in parts)


def word_re(aliases) -> re.Pattern:
    """One whole-word pattern for a list of aliases, longest first."""
    bodies = sorted({alias_body(a) for a in aliases if str(a).strip()}, key=len, reverse=True)
    return re.compile(r"(?<![\w])(?:" + "|".join(bodies) + r")(?![\w])")


@dataclass
class Vocab:
    raw: dict
    symbols: list[tuple[str, re.Pattern]]
    currencies: set[str]
    sessions: list[tuple[str, re.Pattern]]
    no_session: re.Pattern
    detectors: list[tuple[str, re.Pattern]]
    detector_labels: dict[str, str]
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
def vocabulary() -> Vocab:
    """The compiled vocabulary (read once from :data:`VOCABULARY_FILE`)."""
    raw = load_yaml(VOCABULARY_FILE.read_text(encoding="utf-8"))
    raw["detectors"] = {k: list(e.get("words") or [k]) for k, e in detector_entries().items()}
    months = [(int(m), re.compile(r"(?:" + "|".join(alias_body(a) for a in al) + r")"))
              for m, al in raw["months"].items()]
    month_bodies = sorted({alias_body(a) for al in raw["months"].values() for a in al}, key=len, reverse=True)
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
    return Vocab(
        raw=raw,
        symbols=[(s, word_re(al)) for s, al in raw["symbols"].items()],
        currencies={c.upper() for c in raw["currencies"]},
        sessions=[(s, word_re(al)) for s, al in raw["sessions"].items()],
        no_session=word_re(raw["no_session"]),
        detectors=[(d, word_re(al)) for d, al in raw["detectors"].items()],
        detector_labels={k: str(e.get("label") or k) for k, e in detector_entries().items()},
        params=[(name, spec.get("type", "float"), re.compile(p)) for name, spec in raw["params"].items()
                for p in spec["patterns"]],
        arg_keys={k.lower(): arg for arg, keys in raw["arg_keys"].items() for k in keys},
        timeframes={t.upper() for t in raw["timeframes"]},
        months=months,
        month_alt="(?:" + "|".join(month_bodies) + ")",
        period_from=re.compile(r"(?<![\w])(?:" + "|".join(alias_body(a) for a in raw["period_from"]) + r")\s*$"),
        period_to=re.compile(r"(?<![\w])(?:" + "|".join(alias_body(a) for a in raw["period_to"]) + r")\s*$"),
        repeat=word_re(fu["repeat"]),
        start_markers=re.compile(r"^\s*(?:" + "|".join(sorted((alias_body(a) for a in fu["start_markers"]),
                                                               key=len, reverse=True)) + r")(?![\w])"),
        anywhere_markers=word_re(fu["anywhere_markers"]),
        intents=intents,
        day_words=word_re(raw["day_words"]),
        version_words=word_re(raw["version_words"]),
        run_words=word_re(raw["run_words"]),
        typo_targets=[str(w) for w in raw["typo_targets"]],
        protected=words,
        messages=raw["messages"],
    )


@lru_cache(maxsize=1)
def detector_entries() -> dict[str, dict]:
    """The detector catalogue's entries by kind, in catalogue order (the file is read as data)."""
    raw = load_yaml(DETECTOR_CATALOG.read_text(encoding="utf-8"))
    return dict(raw.get("kinds") or raw)
