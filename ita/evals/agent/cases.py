"""The agent evaluation set (``evals/agent/``): labelled chat requests as data, split into a development half
and a held-out half.

Layout::

    evals/agent/dev/<theme>.yaml       the development half: the parser may be improved against these
    evals/agent/heldout/<theme>.yaml   the held-out half: never read by the parser's vocabulary or its tests

A file is a YAML list of cases. A case is one request (``say`` + its expectation) or a conversation
(``turns: [...]`` of such requests, in order, sharing context). The expectation of a turn is exactly one of:

=====================================  ============================================================================
``tool: NAME, args: {...}``            call tool NAME with these arguments (defaults left out: ``None``, ``{}``,
                                       ``timeframe: M5``, ``limit: 10``); ``calls: [{tool, args}, ...]`` the further
                                       calls of a request naming several setups or symbols; ``refused: true`` when a
                                       part of the request must also be refused. ``$last_run`` stands for the run the
                                       conversation's last backtest made (``None`` = "the latest run" also matches)
``ask: ARG``                           ask one clarifying question for the missing argument ARG
``expect: refuse``                     refuse (orders, deletions, shell commands) — no tool call
``expect: unsupported``                say honestly that it cannot do that — no tool call, no question
``expect: greeting|help|theory``       greet / show help / treat as a theory question (the library answers:
                                       ``kb_search``)
=====================================  ============================================================================

Every case has a stable id, ``<theme>-<sha1 of its turns' texts, 10 hex>``, and its half follows from the id
(:func:`split_of`: the last hex digit odd → held-out), so a new case's half is decided by its text, not by
whoever adds it; :func:`load_cases` refuses a case filed in the wrong half. Relative periods ("last month",
"this week") are relative to :data:`TODAY` (the evaluation sets ``ITA_TODAY`` to it).

Example::

    >>> cases = load_cases()                                   # doctest: +SKIP
    >>> len(cases), cases[0].split, cases[0].turns[0].say      # doctest: +SKIP
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field

from ita.errors import ItaError

SPLITS = ("dev", "heldout")
TODAY = "2025-11-20"          # a Thursday: "this week" = 2025-11-17 → 2025-11-20, "last month" = October 2025
LAST_RUN = "$last_run"
KINDS = ("tool", "ask", "refuse", "unsupported", "greeting", "help", "theory")
_CYR = re.compile(r"[а-яё]", re.I)


def default_dir() -> Path:
    """``evals/agent`` of the repository (next to the ``ita`` package)."""
    return Path(__file__).resolve().parents[3] / "evals" / "agent"


class Turn(BaseModel):
    """One request and what the agent must do with it (see the module doc)."""

    say: str
    kind: Literal["tool", "ask", "refuse", "unsupported", "greeting", "help", "theory"]
    tool: str | None = None
    args: dict[str, Any] = Field(default_factory=dict)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    ask: str | None = None
    refused: bool = False

    @property
    def lang(self) -> str:
        return "ru" if _CYR.search(self.say) else "en"


class Case(BaseModel):
    """A labelled request or conversation: ``id``, ``theme`` (its file), ``split`` (dev | heldout), ``turns``."""

    id: str
    theme: str
    split: Literal["dev", "heldout"]
    turns: list[Turn]

    @property
    def lang(self) -> str:
        return self.turns[0].lang


def _plain(v: Any) -> Any:
    """YAML dates → ISO strings (``2025-01-01`` unquoted is a date), recursively."""
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def case_id(theme: str, texts: list[str]) -> str:
    """``<theme>-<10 hex>`` from the turns' texts (whitespace-normalised, lower case)."""
    key = "\n".join(" ".join(t.lower().split()) for t in texts)
    return f"{theme}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def split_of(cid: str) -> str:
    """The half a case id belongs to: ``heldout`` when its last hex digit is odd, else ``dev``."""
    return "heldout" if int(cid[-1], 16) % 2 else "dev"


def _turn(raw: dict, where: str) -> Turn:
    if not isinstance(raw, dict) or not isinstance(raw.get("say"), str) or not raw["say"].strip():
        raise ItaError(f"{where}: a turn needs 'say: <text>'")
    raw = _plain(raw)
    if "tool" in raw:
        if not isinstance(raw.get("args", {}), dict):
            raise ItaError(f"{where}: args must be a mapping")
        return Turn(say=raw["say"], kind="tool", tool=raw["tool"], args=raw.get("args") or {},
                    calls=raw.get("calls") or [], refused=bool(raw.get("refused")))
    if "ask" in raw:
        return Turn(say=raw["say"], kind="ask", ask=str(raw["ask"]))
    kind = raw.get("expect")
    if kind not in KINDS[2:]:
        raise ItaError(f"{where}: a turn needs 'tool:', 'ask:' or 'expect: refuse|unsupported|greeting|help|theory' "
                       f"(got {kind!r})")
    return Turn(say=raw["say"], kind=kind)


def read_file(path: Path) -> list[Case]:
    """The cases of one YAML file, ids computed, the half from the id (not from the folder)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except yaml.YAMLError as exc:
        raise ItaError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, list):
        raise ItaError(f"{path}: expected a list of cases")
    out = []
    for i, item in enumerate(raw, 1):
        where = f"{path.name} case {i}"
        turns_raw = item.get("turns") if isinstance(item, dict) and "turns" in item else [item]
        turns = [_turn(t, f"{where} turn {j}") for j, t in enumerate(turns_raw, 1)]
        cid = case_id(path.stem, [t.say for t in turns])
        out.append(Case(id=cid, theme=path.stem, split=split_of(cid), turns=turns))
    return out


def load_cases(folder: str | Path | None = None, splits: tuple[str, ...] = SPLITS) -> list[Case]:
    """Every case of ``folder`` (default :func:`default_dir`) in the given halves, in file order.

    Raises :class:`~ita.errors.ItaError` naming the file and case for a malformed case, a duplicate, or a
    case filed in the wrong half (its id decides the half: move it to ``<half>/<theme>.yaml``)."""
    folder = Path(folder) if folder else default_dir()
    seen: dict[str, str] = {}
    out: list[Case] = []
    for split in SPLITS:
        for path in sorted((folder / split).glob("*.yaml")):
            for c in read_file(path):
                if c.split != split:
                    raise ItaError(f"{path}: case {c.id} ({c.turns[0].say!r}) belongs to the {c.split} half: "
                                   f"move it to {c.split}/{path.name}")
                if c.id in seen:
                    raise ItaError(f"{path}: case {c.id} ({c.turns[0].say!r}) repeats {seen[c.id]}")
                seen[c.id] = str(path)
                if split in splits:
                    out.append(c)
    if not out:
        raise ItaError(f"no agent evaluation cases in {folder}/{{{','.join(splits)}}}/*.yaml")
    return out


def heldout_texts(folder: str | Path | None = None) -> list[str]:
    """The held-out requests' texts, whitespace-normalised and lower-cased (for the disjointness check)."""
    return [" ".join(t.say.lower().split()) for c in load_cases(folder, ("heldout",)) for t in c.turns]
