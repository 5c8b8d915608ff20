"""The evaluation set of ``ita eval kb``: ``evals/kb/`` — a small theory library the project wrote itself
(``library/*.pdf``, built from ``sources/*.md`` by ``build_library.py``) and ``questions.yaml``: questions in
English and Russian, each with its reference passage(s) — file, 1-based page and the exact text span that
answers it. A few questions have **no** answer in the library (``kind: out_of_library``).

:func:`load_questions` reads the set (:class:`ValueError` on a malformed entry), :func:`check_questions` lists
what does not match the library, :func:`fingerprint` identifies the set a run scored.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path


from ita.config import REPO_ROOT, load_yaml

EVALS_DIR = REPO_ROOT / "evals" / "kb"
LIBRARY_DIR = EVALS_DIR / "library"
QUESTIONS_PATH = EVALS_DIR / "questions.yaml"
KINDS = ("direct", "jargon", "paraphrase", "out_of_library")
LANGS = ("en", "ru")


@dataclass(frozen=True)
class Reference:
    file: str
    page: int
    text: str

    @property
    def page_id(self) -> str:
        return f"{self.file}#p{self.page}"

    @property
    def lang(self) -> str:
        return text_lang(self.text)


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    kind: str
    question: str
    references: tuple[Reference, ...]

    @property
    def in_library(self) -> bool:
        return self.kind != "out_of_library"

    @property
    def cross_lingual(self) -> bool:
        return self.in_library and any(r.lang != self.lang for r in self.references)

    def slices(self) -> list[str]:
        out = [self.kind, self.lang]
        if self.cross_lingual:
            out.append("cross-lingual")
        return out


def text_lang(text: str) -> str:
    """``"ru"`` when at least 30 % of the letters are Cyrillic, else ``"en"``."""
    letters = [c for c in text if c.isalpha()]
    cyr = sum("\u0400" <= c <= "\u04ff" for c in letters)
    return "ru" if letters and cyr / len(letters) >= 0.3 else "en"


def load_questions(path: str | Path | None = None) -> list[Question]:
    """Read ``questions.yaml``; raises :class:`ValueError` naming the question for a malformed entry."""
    path = Path(path or QUESTIONS_PATH)
    data = load_yaml(path.read_text(encoding="utf-8")) or {}
    out: list[Question] = []
    seen: set[str] = set()
    for i, q in enumerate(data.get("questions") or [], start=1):
        qid = str(q.get("id") or f"#{i}")
        where = f"{path.name}: question {qid}"
        if qid in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(qid)
        kind, lang, text = q.get("kind"), q.get("lang"), str(q.get("question") or "").strip()
        if kind not in KINDS:
            raise ValueError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        if lang not in LANGS:
            raise ValueError(f"{where}: lang {lang!r} is not one of {', '.join(LANGS)}")
        if not text:
            raise ValueError(f"{where}: empty question")
        refs = []
        for r in q.get("references") or []:
            try:
                refs.append(Reference(file=str(r["file"]), page=int(r["page"]), text=str(r["text"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{where}: a reference needs file, page (integer) and text ({exc})") from None
        if kind == "out_of_library" and refs:
            raise ValueError(f"{where}: an out_of_library question has no references")
        if kind != "out_of_library" and not refs:
            raise ValueError(f"{where}: needs at least one reference (or kind: out_of_library)")
        out.append(Question(id=qid, lang=lang, kind=kind, question=text, references=tuple(refs)))
    return out


def normalize(text: str) -> str:
    """NFKC, soft hyphens and bullets dropped, whitespace collapsed — how spans and passages are compared."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "")
    text = re.sub(r"[•▪◦●]", " ", text)
    return " ".join(text.split())


def pdf_pages(path: Path) -> list[str]:
    """The normalised text of each page of a PDF (pypdf, as the knowledge base reads it)."""
    from pypdf import PdfReader

    return [normalize(p.extract_text() or "") for p in PdfReader(str(path)).pages]


def check_questions(questions_path: str | Path | None = None, library_dir: str | Path | None = None,
                    min_questions: int = 30) -> list[str]:
    """Problems of the evaluation set, as messages (empty = fine): every reference file must be in the
    library, its page must exist and contain the span (whitespace-insensitive); at least ``min_questions``
    in-library questions, both languages, and some out-of-library questions."""
    library_dir = Path(library_dir or LIBRARY_DIR)
    try:
        questions = load_questions(questions_path)
    except ValueError as exc:
        return [str(exc)]
    problems: list[str] = []
    pages: dict[str, list[str] | None] = {}
    for q in questions:
        for r in q.references:
            if r.file not in pages:
                f = library_dir / r.file
                pages[r.file] = pdf_pages(f) if f.is_file() else None
            doc = pages[r.file]
            if doc is None:
                problems.append(f"{q.id}: {r.file} is not in {library_dir}")
            elif not 1 <= r.page <= len(doc):
                problems.append(f"{q.id}: {r.file} has {len(doc)} pages, not page {r.page}")
            elif normalize(r.text) not in doc[r.page - 1]:
                other = [i + 1 for i, t in enumerate(doc) if normalize(r.text) in t]
                hint = f" (it is on page {other[0]})" if other else ""
                problems.append(f"{q.id}: the span {r.text[:60]!r}… is not on {r.file} page {r.page}{hint}")
    n_in = sum(q.in_library for q in questions)
    if n_in < min_questions:
        problems.append(f"only {n_in} in-library questions (at least {min_questions})")
    if {q.lang for q in questions} != set(LANGS):
        problems.append("questions in both English and Russian are expected")
    if not any(not q.in_library for q in questions):
        problems.append("no out_of_library question")
    return problems


def fingerprint(questions_path: str | Path | None = None, library_dir: str | Path | None = None) -> str:
    """SHA-256 (16 hex) of questions.yaml and the library PDFs: runs with different fingerprints scored a
    different set, so their delta mixes a change of the set with a change of the retriever."""
    h = hashlib.sha256(Path(questions_path or QUESTIONS_PATH).read_bytes())
    for f in sorted(Path(library_dir or LIBRARY_DIR).glob("*.pdf")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]
