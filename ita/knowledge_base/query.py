"""Query text for the theory library: what the dense and keyword indexes are asked with, highlighting, fusion.

Pure functions on strings — no store, no model — used by :class:`ita.knowledge_base.store.KnowledgeBase`
(searching) and by the faces (``ita kb search`` highlights the matched words of a passage).

Keyword query (:func:`fts_query`)
---------------------------------
SQLite FTS5 with bm25 ranking (the index's tokeniser is ``store.FTS_TOKENIZE``, ``porter unicode61
remove_diacritics 2``: case-folds Latin and Cyrillic, splits on punctuation (``order-block`` → ``order``
``block``), stems English (``blocks`` = ``block``); jargon such as IFVG, CHoCH, OTE, FVG, BOS is one token
each). The user's text is never passed to FTS as syntax: it is cut into word tokens, English/Russian stop
words (:data:`STOPWORDS`) dropped, each token double-quoted (so ``"``, ``*``, ``NEAR(``, ``-``, ``AND``, SQL are
plain words), hyphenated words also searched as a phrase, Russian words of ≥ 6 letters as a prefix (a crude
stemmer, :func:`stem`: ``ликвидности`` → ``ликвиднос*``), all joined with OR.

Jargon glossary (:data:`JARGON`)
--------------------------------
A query naming an ICT concept by one spelling is widened with its others — ``FVG`` ↔ ``fair value gap``,
``CHoCH`` ↔ ``change of character``, ``ордерблок`` ↔ ``order block`` — as extra OR terms for the keyword
search (:func:`fts_query`) and as appended English words for the dense one (:func:`dense_query`). On the
project's evaluation set (``ita eval kb``, 53 questions) this lifted hybrid hit-rate@1 from 0.45 to 0.57, @5
from 0.87 to 0.92 and cross-lingual hit-rate@5 from 0.56 to 0.78.

Fusion (:func:`rrf`)
--------------------
``hybrid`` search fuses the dense and keyword lists with **reciprocal rank fusion** — ``score = Σ 1 / (RRF_K +
rank)`` over the lists a passage appears in, :data:`RRF_K` ``= 60`` (the constant of Cormack, Clarke &
Büttcher 2009; it damps the influence of the very top ranks so a passage found by both lists beats one found
high by only one). RRF needs no score calibration between cosine and bm25, which live on different scales.
Dense models are weak on rare jargon ("IFVG", "CHoCH") and, with an English model, on Russian; the keyword
list covers both, while dense finds paraphrases.

None of these functions raises on odd input: ``None`` or text without a word gives ``""`` / ``[]``.
"""
from __future__ import annotations

import re
from typing import Iterable

RRF_K = 60
"""The reciprocal-rank-fusion constant ``k`` of :func:`rrf` (dimensionless; 60 as in Cormack et al. 2009)."""

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_HYPHENATED = re.compile(r"[^\W_]+(?:[-‐‑–/][^\W_]+)+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]", re.I)
STOPWORDS = frozenset("""
a an the is are was were be been being am of to in on at for and or nor but not no what whats how why when
where which who whom whose does do did doing done my your our their his her its it this that these those
with as by from about into onto than then there here me i you we they he she them us can could should would
will shall may might must have has had having so if else any some all each such very just also only too
tell explain describe say says said mean means define definition please give show find
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от
меня еще нет о из ему теперь когда даже ну ли если уже или ни быть был него до вас нибудь опять уж вам ведь
там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз
тоже себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы
нее сейчас были куда зачем всех никогда можно при об другой хоть после над больше тот через эти нас про
всего них какая много разве эту моя свою этой перед том такой им более всегда между это такое такая такие
что-то говорит сказано написано мой моём моем моих
""".split())


# ICT / SMC jargon: the spellings of one concept — acronym, English words, Russian words. A query naming one
# is widened with the others (keyword search: OR-ed phrases; dense search: the English words appended),
# because a course may write "FVG" where the trader asks about a "fair value gap", and an English-only
# embedding model cannot read "ордерблок". Russian words match by stem (the first max(5, n-2) letters).
JARGON: tuple[tuple[str, ...], ...] = (
    ("fvg", "fair value gap", "imbalance", "имбаланс"),
    ("ifvg", "inversion fair value gap", "inverse fair value gap"),
    ("bos", "break of structure", "слом структуры"),
    ("choch", "change of character", "смена характера"),
    ("mss", "market structure shift"),
    ("ote", "optimal trade entry", "оптимальная точка входа"),
    ("ob", "order block", "ордерблок", "ордер блок"),
    ("breaker block", "брейкер"),
    ("bpr", "balanced price range"),
    ("ce", "consequent encroachment"),
    ("bsl", "buy side liquidity"),
    ("ssl", "sell side liquidity"),
    ("liquidity", "ликвидность"),
    ("sweep", "stop hunt", "свип", "снятие ликвидности"),
    ("eqh", "equal highs", "равные максимумы"),
    ("eql", "equal lows", "равные минимумы"),
    ("pdh", "previous day high", "максимум предыдущего дня"),
    ("pdl", "previous day low", "минимум предыдущего дня"),
    ("htf", "higher timeframe", "старший таймфрейм"),
    ("ltf", "lower timeframe", "младший таймфрейм"),
    ("ib", "initial balance", "начальный баланс"),
    ("killzone", "kill zone", "киллзона"),
    ("silver bullet", "серебряная пуля"),
    ("premium", "премиум"),
    ("discount", "дисконт"),
    ("equilibrium", "равновесие"),
    ("swing", "свинг"),
    ("retracement", "откат"),
    ("nwog", "new week opening gap"),
    ("ndog", "new day opening gap"),
    ("po3", "power of three"),
)


def stem(token: str) -> str:
    """A Cyrillic token of ≥ 6 letters cut to its first ``max(5, len - 2)`` letters (``ликвидности`` →
    ``ликвиднос``); any other token unchanged. Case is kept (callers lower-case first)."""
    return token[:max(5, len(token) - 2)] if _CYRILLIC.search(token) and len(token) >= 6 else token


def _phrase_in(words: list[str], stems: list[str]) -> bool:
    n = len(words)
    return any(stems[i:i + n] == [stem(w) for w in words] for i in range(len(stems) - n + 1))


def jargon_expansions(text: str) -> list[str]:
    """The other spellings of every jargon concept the text names (see :data:`JARGON`), in glossary order,
    without duplicates and without the spellings the text already uses.

    ``jargon_expansions("what is an FVG?")`` → ``["fair value gap", "imbalance", "имбаланс"]``; a text naming
    no concept (or ``None``) → ``[]``. Matching is by whole words, case-insensitive, Russian words by
    :func:`stem`."""
    stems = [stem(t.lower()) for t in _TOKEN.findall(text or "")]
    out: list[str] = []
    for group in JARGON:
        named = [t for t in group if _phrase_in(_TOKEN.findall(t), stems)]
        if named:
            out.extend(t for t in group if t not in named and t not in out)
    return out


ACRONYMS = frozenset(g[0] for g in JARGON if " " not in g[0] and len(g[0]) <= 5 and g[0] not in ("sweep", "swing"))


def dense_query(text: str) -> str:
    """The text the dense index is asked with: the query plus the English words of its jargon (not the
    acronyms, which are what an embedding model reads worst) in parentheses, ``"; "``-separated.

    ``dense_query("что такое ордерблок?")`` → ``"что такое ордерблок? (order block)"``; the text itself when it
    names no jargon."""
    extra = [t for t in jargon_expansions(text) if not _CYRILLIC.search(t) and t not in ACRONYMS]
    return f"{text} ({'; '.join(extra)})" if extra else text


def fts_query(text: str) -> str:
    """A safe FTS5 MATCH expression for arbitrary user text: double-quoted terms joined with ``OR`` (Russian
    stems as ``"stem"*`` prefixes), ``''`` when the text has no searchable word (``None``, ``"?!"``). Any
    text yields valid syntax, so the MATCH never raises on the user's input.

    ``fts_query("FVG")`` → ``'"fvg" OR "fair value gap" OR "imbalance" OR "имбала"*'``."""
    tokens = [t.lower() for t in _TOKEN.findall(text or "")]
    if not tokens:
        return ""
    kept = [t for t in tokens if t not in STOPWORDS] or tokens
    terms: list[str] = []
    for phrase in _HYPHENATED.findall(text or ""):
        words = [w.lower() for w in _TOKEN.findall(phrase)]
        terms.append('"' + " ".join(words) + '"')
    for t in kept:
        if _CYRILLIC.search(t) and len(t) >= 6:
            terms.append(f'"{stem(t)}"*')
        else:
            terms.append(f'"{t}"')
    for phrase in jargon_expansions(text or ""):
        words = _TOKEN.findall(phrase)
        if len(words) == 1 and _CYRILLIC.search(words[0]) and len(words[0]) >= 6:
            terms.append(f'"{stem(words[0])}"*')
        else:
            terms.append('"' + " ".join(words) + '"')
    seen: list[str] = []
    for t in terms:
        if t not in seen:
            seen.append(t)
    return " OR ".join(seen)


def query_terms(text: str) -> list[str]:
    """The words of a query worth highlighting, lower-cased, in order (stop words dropped; Russian words cut
    by :func:`stem`); ``[]`` for ``None`` or a text of stop words only."""
    out = []
    for t in _TOKEN.findall(text or ""):
        low = t.lower()
        if low in STOPWORDS:
            continue
        out.append(stem(low))
    return out


def highlight_spans(text: str, query: str) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets (``text[start:end]`` is the word, end exclusive, ascending) of the
    words in ``text`` that match the query's terms (as the keyword search does: case-insensitive, a term
    matches words it starts, ``blocks`` matches ``block``). ``[]`` when the query has no term."""
    stems = set()
    for t in query_terms(query):
        stems.add(t)
        if len(t) > 3 and t.endswith("s") and not _CYRILLIC.search(t):
            stems.add(t[:-1])
    if not stems:
        return []
    spans = []
    for m in _TOKEN.finditer(text):
        w = m.group(0).lower()
        if any(w.startswith(s) for s in stems):
            spans.append((m.start(), m.end()))
    return spans


def snippet(text: str, query: str, width: int = 320) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``text`` of about ``width`` characters around the first query match (the start if none),
    with ``…`` where cut, and the highlight spans inside it.

    Returns ``(window, spans)``: ``window`` is ``text`` with whitespace runs collapsed to one space, cut at
    word boundaries to at most ``width`` characters (plus the ``…`` marks); ``spans`` are ``(start, end)``
    offsets into ``window`` as in :func:`highlight_spans`, only the words wholly inside it."""
    flat = re.sub(r"\s+", " ", text).strip()
    spans = highlight_spans(flat, query)
    if len(flat) <= width:
        return flat, spans
    first = spans[0][0] if spans else 0
    start = max(0, min(first - width // 3, len(flat) - width))
    if start > 0:
        sp = flat.find(" ", start)
        start = sp + 1 if 0 <= sp < start + 20 else start
    end = min(len(flat), start + width)
    if end < len(flat):
        sp = flat.rfind(" ", start, end)
        end = sp if sp > start + width // 2 else end
    pre, post = ("…" if start > 0 else ""), ("…" if end < len(flat) else "")
    shift = len(pre) - start
    out = pre + flat[start:end] + post
    inside = [(a + shift, b + shift) for a, b in spans if a >= start and b <= end]
    return out, inside


def rrf(lists: Iterable[list[str]], k: int = RRF_K) -> dict[str, float]:
    """Reciprocal rank fusion of ranked id lists: ``Σ 1/(k + rank)`` with 1-based ranks.

    ``lists``: id lists, best first (an id appears at most once per list). Returns ``{id: score}`` for every
    id in any list (unordered; sort by descending score), each score in ``(0, n_lists / (k + 1)]``."""
    scores: dict[str, float] = {}
    for ids in lists:
        for rank, cid in enumerate(ids, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    return scores
