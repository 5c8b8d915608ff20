"""The theory library (ita.knowledge_base): real PDFs made here with fpdf2, real Chroma and real SQLite FTS5 in
temporary folders, the real offline int8 MiniLM model. Nothing is mocked except one injected failure to prove
the rollback."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ita.knowledge_base import IngestReport, KnowledgeBase, KnowledgeBaseError, Passage
from ita.knowledge_base.chunking import make_chunks
from ita.knowledge_base.embeddings import MiniLMEmbeddingFunction, get_embedding_function
from ita.knowledge_base.ingest import parse_file
from ita.knowledge_base.query import dense_query, fts_query
from ita.knowledge_base.store import COLLECTION

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------------ fixtures

def make_pdf(path: Path, pages: list[list[tuple[str, str]]]) -> Path:
    """A real PDF: each page a list of ("h", heading) / ("p", paragraph) / ("img", "") items (core fonts)."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    pdf = FPDF()
    pdf.set_auto_page_break(True, 15)
    for items in pages:
        pdf.add_page()
        for kind, text in items:
            if kind == "h":
                pdf.set_font("Helvetica", "B", 16)
                pdf.multi_cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
            elif kind == "img":  # a "scanned" page: a picture of a chart, no text layer
                img = Image.new("RGB", (600, 800), "white")
                draw = ImageDraw.Draw(img)
                for i in range(0, 600, 40):
                    draw.rectangle([i + 5, 300 - i // 3, i + 25, 500 - i // 4], fill="black")
                pdf.image(img, x=10, y=20, w=180)
            else:
                pdf.set_font("Helvetica", "", 11)
                pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
        pdf.set_auto_page_break(False)  # page number in the footer (dropped by the reader)
        pdf.set_font("Helvetica", "", 9)
        pdf.set_y(-12)
        pdf.cell(0, 5, str(pdf.page_no()), align="C")
        pdf.set_auto_page_break(True, 15)
    pdf.output(str(path))
    return path


FVG_BODY = ("A fair value gap is a three-candle imbalance: the wicks of the first and the third candle do not "
            "overlap. Price often returns to rebalance the gap before it continues. ")
COURSE_PAGES = [
    [("h", "1. Fair Value Gaps"), ("p", FVG_BODY * 3)],
    [("img", "")],
    [("h", "2. Inverse Fair Value Gap (IFVG)"),
     ("p", "When price closes through a fair value gap, the gap flips its role and becomes an IFVG. "
           "Traders use the IFVG as support or resistance on the retest.")],
    [("p", "The London killzone runs from 02:00 to 05:00 New York time; the daily high or low often forms there."),
     ("h", "3. Breaker Blocks"),
     ("p", "A breaker block is an order block that failed: after a liquidity sweep, price breaks through it "
           "and the failed order-block becomes a breaker.")],
]

# A trader's journal: the jargon passages are long and about something else, the distractors short and
# full of look-alike tokens (FVG ~ IFVG, choppy ~ CHoCH). Dense ranks the jargon passages below a
# distractor; keyword search finds them; hybrid puts them first.
JOURNAL_MD = """# Trading journal

## Fair Value Gap (FVG)

An FVG is a three-candle imbalance: the wicks of candle one and candle three do not overlap.

## Trading the FVG

Enter at the FVG's near edge with a limit order; the stop goes beyond the far edge of the FVG.

## FVG Midpoint

The midpoint of an FVG, consequent encroachment, is where price often reacts first.

## FVG size

A valid FVG on M5 is at least one pip wide; smaller gaps are noise.

## Swings

A swing high is a candle with lower highs on both sides; swing points define structure.

## London session routine

I start at 02:00 New York time with a coffee and mark the Asia high and low on the chart, then the previous day's high and low and the weekly open. I wait for one side of Asia to be raided and for displacement back into the range, and I check the news calendar so that no red folder event is due in the next hour. I risk half a percent, take partials at the Asia midpoint and move the stop to break-even after the first target. If the gap left by the displacement is traded through, the IFVG becomes my entry. If nothing happens by 05:00 I close the platform and go for a walk.

## Weekly review

Every Friday afternoon I export the trades of the week from the platform into my journal and add a screenshot of each entry. For every trade I write the higher timeframe bias, the session, the news of the day and the emotions I felt before and after. I check whether a CHoCH on M15 had confirmed the entry. Then I grade each trade A, B or C, add up the R of the week, compare it with my weekly loss limit and write one lesson for next week on a sticky note beside the screen.

## Market structure

Market structure is the sequence of swing highs and swing lows. A change in that sequence after a liquidity raid is the first sign of reversal.

## Choppy days

On choppy days the chop eats the stop: chop, chop, chop. If the chop lasts past 09:00, stop trading.
"""

RUSSIAN_TXT = """ЛИКВИДНОСТЬ

Ликвидность над старыми максимумами называют buy-side. Цена идёт за стопами, прежде чем развернуться.

Ордерблоки

Ордерблок — это последняя противоположная свеча перед импульсом, который сломал структуру. Вход делают на ретесте ордерблока.
\fOTE

Зона OTE — это откат 62–79 % от импульса; лучший уровень 70,5 %.
"""


@pytest.fixture(scope="module")
def ef():
    return MiniLMEmbeddingFunction()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("theory")
    make_pdf(d / "course.pdf", COURSE_PAGES)
    (d / "journal.md").write_text(JOURNAL_MD, encoding="utf-8")
    (d / "russian.txt").write_text(RUSSIAN_TXT, encoding="utf-8")
    make_pdf(d / "scan.pdf", [[("img", "")], [("img", "")]])
    (d / "slides.pptx").write_bytes(b"PK\x03\x04 not really")
    return d


@pytest.fixture(scope="module")
def library(tmp_path_factory, files, ef):
    """One library with the course PDF, the journal and the Russian notes (read-only tests share it)."""
    kb = KnowledgeBase(tmp_path_factory.mktemp("kb") / "kb", embedding_function=ef)
    reports = kb.add([files / "course.pdf", files / "journal.md", files / "russian.txt"])
    assert [r.status for r in reports] == ["added"] * 3, reports
    return kb


def dense_ids(kb: KnowledgeBase, file: str) -> list[str]:
    return kb._collection().get(where={"file": file}, include=[])["ids"]


def keyword_count(kb: KnowledgeBase, word: str) -> int:
    return kb.conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", [f'"{word}"']).fetchone()[0]


def rows(kb: KnowledgeBase, file: str) -> list[tuple]:
    return kb.conn.execute("SELECT chunk_id, page, section, text FROM chunks WHERE file = ? ORDER BY id", [file]).fetchall()


# ------------------------------------------------------------------------------------------------ ingest

def test_pdf_pages_headings_and_metadata(library, files):
    course = {d["file"]: d for d in library.documents()}["course.pdf"]
    assert course["pages"] == 4 and course["empty_pages"] == [2] and course["title"] == "1. Fair Value Gaps"
    assert course["sha256"] == parse_file(files / "course.pdf").sha256 and len(course["sha256"]) == 64
    chunks = rows(library, "course.pdf")
    assert course["chunks"] == len(chunks) == 4
    by_text = {t.split("\n")[0]: (cid, page, section, t) for cid, page, section, t in chunks}
    # headings open their passage and are the section; page numbers are the PDF's (page 2 is an image)
    cid, page, section, text = by_text["2. Inverse Fair Value Gap (IFVG)"]
    assert page == 3 and section == "2. Inverse Fair Value Gap (IFVG)" and "becomes an IFVG" in text
    assert re.fullmatch(course["sha256"][:12] + r"-p3-c1", cid)
    cid, page, section, text = by_text["3. Breaker Blocks"]
    assert page == 4 and "failed order-block becomes a breaker" in text
    # page 4 starts with the IFVG section's continuation: same section, page 4, before the new heading
    cont = [c for c in chunks if "London killzone" in c[3]]
    assert len(cont) == 1 and cont[0][1] == 4 and cont[0][2] == "2. Inverse Fair Value Gap (IFVG)"
    assert cont[0][0].endswith("-p4-c1") and by_text["3. Breaker Blocks"][0].endswith("-p4-c2")
    assert not any(re.fullmatch(r"\d+", c[3].split("\n")[-1]) for c in chunks)  # footer page numbers dropped
    # Chroma holds the same ids with the same metadata
    got = library._collection().get(ids=[c[0] for c in chunks], include=["metadatas"])
    meta = dict(zip(got["ids"], got["metadatas"]))
    assert set(meta) == {c[0] for c in chunks}
    assert all(meta[c[0]]["page"] == c[1] and meta[c[0]]["section"] == c[2] for c in chunks)
    assert all(m["file"] == "course.pdf" and m["sha256"] == course["sha256"] for m in meta.values())


def test_markdown_and_text_sections_and_pages(library):
    md = rows(library, "journal.md")
    assert {r[1] for r in md} == {1}
    weekly = [r for r in md if "CHoCH on M15" in r[3]]
    assert weekly[0][2] == "Weekly review" and weekly[0][3].startswith("Weekly review\nEvery Friday")
    ru = rows(library, "russian.txt")
    assert [(r[1], r[2]) for r in ru] == [(1, "ЛИКВИДНОСТЬ"), (1, "Ордерблоки"), (2, "OTE")]  # \f = new page
    assert ru[2][3].startswith("OTE\nЗона OTE")
    docs = {d["file"]: d for d in library.documents()}
    assert docs["russian.txt"]["pages"] == 2 and docs["journal.md"]["title"] == "Trading journal"


def test_heading_at_page_end_opens_next_page_passage():
    pages = [[("p", "Body of page one."), ("h", "Order Blocks")], [("p", "An order block is the last opposite candle.")]]
    chunks = make_chunks(pages, file="x.md", sha256="a" * 64)
    assert [(c.page, c.section, c.text) for c in chunks] == [
        (1, "", "Body of page one."),
        (2, "Order Blocks", "Order Blocks\nAn order block is the last opposite candle.")]


def test_long_section_is_split_with_overlap_within_limits():
    sents = [f"Sentence {i} is about liquidity, displacement and the fair value gap it leaves." for i in range(40)]
    chunks = make_chunks([[("h", "Long"), ("p", " ".join(sents))]], file="x.md", sha256="b" * 64)
    assert len(chunks) >= 3 and all(len(c.text) <= 1200 for c in chunks)
    assert chunks[0].text.startswith("Long\n") and all(c.section == "Long" for c in chunks)
    for a, b in zip(chunks, chunks[1:]):  # the last sentence of a passage opens the next one
        assert b.text.startswith(a.text.rsplit(". ", 1)[-1][:40])
    assert all(s in " ".join(c.text for c in chunks) for s in sents)


# ------------------------------------------------------------------------------------------------ de-dup, replace, remove

def test_same_file_twice_is_unchanged(tmp_path, files, ef):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    first = kb.add([files / "journal.md"])[0]
    assert isinstance(first, IngestReport) and first.status == "added" and first.chunks > 5
    again = kb.add([files / "journal.md"])[0]
    copy = tmp_path / "journal copy.md"
    shutil.copy(files / "journal.md", copy)
    dup = kb.add([copy])[0]
    assert (again.status, dup.status) == ("unchanged", "unchanged") and "journal.md" in dup.message
    assert len(kb.documents()) == 1 and len(dense_ids(kb, "journal.md")) == first.chunks
    assert kb._collection().count() == kb._chunk_count() == first.chunks


def test_changed_file_replaces_its_old_chunks(tmp_path, ef):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    f = tmp_path / "rules.md"
    f.write_text("# Entries\n\nEnter on the retest of the breaker after a sweep.\n\n# Stops\n\nStops go beyond the sweep wick.\n")
    v1 = kb.add([f])[0]
    assert v1.status == "added" and keyword_count(kb, "wick") == 1 and len(dense_ids(kb, "rules.md")) == v1.chunks == 2
    old_ids = set(dense_ids(kb, "rules.md"))
    (tmp_path / "v2").mkdir()
    f2 = tmp_path / "v2" / "rules.md"  # the same document, changed, uploaded from elsewhere
    f2.write_text("# Entries\n\nEnter at the OTE after a CHoCH.\n\n# Targets\n\nTarget the opposite liquidity pool.\n\n"
                  "# Management\n\nMove the stop to break-even at 1R.\n")
    v2 = kb.add([f2])[0]
    assert v2.status == "replaced" and v2.chunks == 3 and "2 passages" in v2.message
    assert keyword_count(kb, "wick") == 0 and keyword_count(kb, "choch") == 1           # keyword index
    new_ids = set(dense_ids(kb, "rules.md"))
    assert len(new_ids) == 3 and not new_ids & old_ids                                   # dense index
    assert kb._collection().count() == kb._chunk_count() == 3
    assert kb.documents()[0]["path"] == str(f2.resolve())
    top = kb.search("stop beyond the wick", k=1, mode="dense")[0]
    assert top.chunk_id in new_ids


def test_remove_by_name_and_by_path(tmp_path, files, ef):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    notes = tmp_path / "notes.md"
    notes.write_text("# CHoCH\n\nA CHoCH is the first break against the swing sequence.\n\n# BOS\n\nA BOS continues it.\n")
    kb.add([notes, files / "russian.txt"])
    assert kb.remove("notes.md") == 2
    assert dense_ids(kb, "notes.md") == [] and keyword_count(kb, "choch") == 0 and rows(kb, "notes.md") == []
    assert kb.remove(files / "russian.txt") == 3                                         # by path
    assert kb.documents() == [] and kb._collection().count() == 0 and kb._chunk_count() == 0
    kb.add([notes])
    with pytest.raises(KnowledgeBaseError, match=r"ntoes\.md: not in the library.*Did you mean: notes\.md"):
        kb.remove("ntoes.md")


def test_scanned_pdf_is_refused_and_nothing_indexed(tmp_path, files, ef):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    rep = kb.add([files / "scan.pdf"])[0]
    assert rep.status == "error" and rep.chunks == 0
    assert "scan.pdf" in rep.message and "no extractable text" in rep.message and "OCR" in rep.message
    with pytest.raises(KnowledgeBaseError, match="scan.pdf: no extractable text on any of its 2 page"):
        kb.add([files / "journal.md", files / "scan.pdf"], strict=True)   # strict: nothing at all is stored
    assert kb.documents() == [] and kb._chunk_count() == 0 and kb._collection().count() == 0
    with pytest.raises(KnowledgeBaseError, match="slides.pptx: unsupported file type"):
        kb.add([files / "journal.md", files / "slides.pptx"], strict=True)
    with pytest.raises(KnowledgeBaseError, match="missing.pdf: no such file"):
        kb.add([tmp_path / "missing.pdf"], strict=True)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    broken = kb.add([tmp_path / "broken.pdf", tmp_path / "missing.pdf"])
    assert [r.status for r in broken] == ["error", "error"] and "broken.pdf: not a readable PDF" in broken[0].message
    assert kb.documents() == []


def test_failed_write_rolls_back_both_stores(tmp_path, files, ef, monkeypatch):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    f = tmp_path / "journal.md"
    f.write_text(JOURNAL_MD, encoding="utf-8")
    assert kb.add([f])[0].status == "added"
    before_ids, before_rows = set(dense_ids(kb, "journal.md")), rows(kb, "journal.md")
    real = KnowledgeBase._upsert

    def half_then_crash(self, chunks, shas, vectors):  # Chroma accepts half of the vectors, then fails
        real(self, chunks[: len(chunks) // 2], shas[: len(chunks) // 2], vectors[: len(chunks) // 2])
        raise RuntimeError("disk full")

    monkeypatch.setattr(KnowledgeBase, "_upsert", half_then_crash)
    f.write_text(JOURNAL_MD.replace("Choppy days", "Choppy sessions"), encoding="utf-8")
    rep = kb.add([f, files / "russian.txt"])
    assert [r.status for r in rep] == ["error", "error"] and "disk full" in rep[0].message
    assert set(dense_ids(kb, "journal.md")) == before_ids and rows(kb, "journal.md") == before_rows  # old version intact
    assert dense_ids(kb, "russian.txt") == [] and rows(kb, "russian.txt") == []                       # new file: nothing
    assert kb._collection().count() == kb._chunk_count() == len(before_rows)
    monkeypatch.undo()
    assert kb.add([f])[0].status == "replaced"


def test_stores_are_reconciled_on_open(tmp_path, files, ef):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    kb.add([files / "russian.txt"])
    col = kb._collection()
    lost = dense_ids(kb, "russian.txt")[:2]
    col.delete(ids=lost)                               # e.g. a crash between the two stores
    col.add(ids=["stray"], embeddings=[[0.1] * 384], documents=["stray"], metadatas=[{"file": "x"}])
    kb2 = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    assert set(dense_ids(kb2, "russian.txt")) >= set(lost) and kb2._collection().count() == kb2._chunk_count()
    assert kb2._collection().get(ids=["stray"])["ids"] == []


# ------------------------------------------------------------------------------------------------ search

def test_hybrid_finds_jargon_that_dense_ranks_lower(tmp_path, files, ef):
    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    kb.add([files / "journal.md"])
    for query, section in (("IFVG", "London session routine"), ("CHoCH", "Weekly review")):
        dense = kb.search(query, k=10, mode="dense")
        keyword = kb.search(query, k=10, mode="keyword")
        hybrid = kb.search(query, k=5, mode="hybrid")
        d_rank = next(i for i, p in enumerate(dense, 1) if p.section == section)
        assert d_rank > 1, f"dense alone already ranks the {query} passage first; the test shows nothing"
        assert keyword[0].section == section and keyword[0].keyword_rank == 1
        assert hybrid[0].section == section and hybrid[0].file == "journal.md"
        assert hybrid[0].dense_rank == d_rank and hybrid[0].keyword_rank == 1
        assert hybrid[0].score == pytest.approx(1 / (60 + d_rank) + 1 / (60 + 1))


def test_search_returns_passages_with_citations(library):
    hits = library.search("what is a breaker block?", k=3)
    assert isinstance(hits[0], Passage) and hits[0].file == "course.pdf" and hits[0].page == 4
    assert hits[0].section == "3. Breaker Blocks" and hits[0].citation == "course.pdf, p. 4"
    assert [p.score for p in hits] == sorted((p.score for p in hits), reverse=True)
    dense = library.search("where does price go after the gap is closed through", k=3, mode="dense")
    assert all(p.keyword_rank is None and p.dense_rank == i for i, p in enumerate(dense, 1))
    assert library.search("order-block", k=2, mode="keyword")[0].section == "3. Breaker Blocks"
    assert library.search("   ") == [] and library.search("IFVG", k=1)[0].text
    with pytest.raises(KnowledgeBaseError, match="unknown search mode"):
        library.search("x", mode="semantic")


def test_russian_query_finds_russian_text(library):
    for query, section in (("что такое ликвидность?", "ЛИКВИДНОСТЬ"), ("ордерблоки", "Ордерблоки"),
                           ("вход на ретесте ордерблока", "Ордерблоки")):
        hit = library.search(query, k=1)[0]
        assert (hit.file, hit.section) == ("russian.txt", section), query
        assert library.search(query, k=1, mode="keyword")[0].section == section
    ote = library.search("зона OTE", k=1)[0]
    assert (ote.file, ote.page) == ("russian.txt", 2)


def test_jargon_glossary_bridges_acronyms_and_languages(library):
    # the course never writes "FVG", only "fair value gap"; the Russian question names the English concept
    fvg = library.search("FVG", k=10, mode="keyword")
    assert ("course.pdf", 1) in {(p.file, p.page) for p in fvg}
    breaker = library.search("что такое брейкер?", k=1)[0]
    assert (breaker.file, breaker.page, breaker.section) == ("course.pdf", 4, "3. Breaker Blocks")
    assert library.search("что такое брейкер?", k=1, mode="keyword")[0].section == "3. Breaker Blocks"
    assert fts_query("FVG") == '"fvg" OR "fair value gap" OR "imbalance" OR "имбала"*'
    assert dense_query("что такое ордерблок?") == "что такое ордерблок? (order block)"


@pytest.mark.parametrize("query", ['"', '""', "*", "IFVG*", "NEAR(", "NEAR(fvg ifvg, 2)", "-", "- -", "fvg -ifvg",
                                   "a AND OR NOT b", "'; DROP TABLE chunks; --", "^", "(", ")", ":", "text:gap",
                                   "{ifvg}", "\\", "\x00", "🚀", "_", "ordre   block!!!", "х" * 300])
def test_fts_hostile_queries_are_safe(library, query):
    n = library._chunk_count()
    for mode in ("keyword", "hybrid", "dense"):
        assert isinstance(library.search(query, k=3, mode=mode), list)
    assert library._chunk_count() == n


def test_fts_query_quotes_every_token():
    assert fts_query('NEAR(x* "b" -c') == '"near" OR "x" OR "b" OR "c"'
    assert fts_query("what is a break-even stop?") == '"break even" OR "break" OR "even" OR "stop"'
    assert fts_query("ликвидности") == '"ликвиднос"* OR "liquidity"'
    assert fts_query("?!") == ""


def test_reopen_in_new_object_and_new_process(library):
    queries = ["IFVG", "breaker block after a sweep", "ордерблок"]
    expect = {q: [(p.chunk_id, round(p.score, 4)) for p in library.search(q, k=3)] for q in queries}
    again = KnowledgeBase(library.path)          # default embedding function (ITA_EMBEDDINGS unset = minilm)
    assert {q: [(p.chunk_id, round(p.score, 4)) for p in again.search(q, k=3)] for q in queries} == expect
    script = ("import json, sys\nfrom ita.knowledge_base import KnowledgeBase\nkb = KnowledgeBase(sys.argv[1])\n"
              "print(json.dumps({q: [(p.chunk_id, round(p.score, 4)) for p in kb.search(q, k=3)] "
              "for q in json.loads(sys.argv[2])}))")
    env = {k: v for k, v in os.environ.items() if k != "ITA_EMBEDDINGS"}
    out = subprocess.run([sys.executable, "-c", script, str(library.path), json.dumps(queries)], cwd=REPO,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert {q: [tuple(x) for x in v] for q, v in got.items()} == expect


def test_embedding_mismatch_needs_reindex(tmp_path, files, ef):
    class Renamed(MiniLMEmbeddingFunction):  # stands for a different model (e.g. ITA_EMBEDDINGS=openai)
        @staticmethod
        def name() -> str:
            return "ita_minilm_int8_other"

    kb = KnowledgeBase(tmp_path / "kb", embedding_function=ef)
    kb.add([files / "russian.txt"])
    other = KnowledgeBase(tmp_path / "kb", embedding_function=Renamed())
    with pytest.raises(KnowledgeBaseError, match="reindex"):
        other.search("ордерблок")
    assert other.reindex() == 3 and other.search("ордерблок", k=1)[0].section == "Ордерблоки"


# ------------------------------------------------------------------------------------------------ embeddings

def test_embedding_function_is_sane_and_deterministic(ef):
    texts = ["The cat sits on the mat.", "A cat is sitting on a rug.", "The central bank raised interest rates.",
             "A fair value gap is a three-candle imbalance."]
    v = np.asarray(ef(texts))
    assert v.shape == (4, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > 0.6 and v[0] @ v[2] < 0.2 and v[0] @ v[1] > v[0] @ v[3] + 0.4
    again = np.asarray(MiniLMEmbeddingFunction(shared=False)(texts))     # a new session: same vectors
    assert np.array_equal(v, again)
    alone = np.asarray(ef([texts[3]]))[0]                                  # batch-independent (padding masked)
    assert np.allclose(alone, v[3], atol=1e-6)
    assert np.allclose(np.asarray(ef.embed_query([texts[0]]))[0], v[0], atol=1e-6)
    assert ef.default_space() == "cosine" and ef.get_config()["model"] == "all-MiniLM-L6-v2-onnx-int8"


def test_embedding_choice_from_environment(monkeypatch):
    monkeypatch.delenv("ITA_EMBEDDINGS", raising=False)
    assert isinstance(get_embedding_function(), MiniLMEmbeddingFunction)
    monkeypatch.setenv("ITA_EMBEDDINGS", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(KnowledgeBaseError, match="needs OPENAI_API_KEY"):
        get_embedding_function()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert get_embedding_function().name() == "ita_openai"
    monkeypatch.setenv("ITA_EMBEDDINGS", "minilmm")
    with pytest.raises(KnowledgeBaseError, match="Did you mean: minilm"):
        get_embedding_function()


def test_chroma_collection_name_and_telemetry(library):
    col = library._collection()
    assert col.name == COLLECTION and 3 <= len(COLLECTION) <= 512
    assert library._open_client().get_settings().anonymized_telemetry is False
    assert col.configuration_json["hnsw"]["space"] == "cosine"
    assert library.db["chunks_fts"].exists() and "porter unicode61" in library.db["chunks_fts"].schema


# ------------------------------------------------------------------------------------------------ CLI

def test_cli_random_bytes_pdf_is_one_clear_error_without_pypdf_noise(tmp_path, files, capsys, caplog):
    """Issue 18: a file of random bytes named .pdf gives ITA's message naming the file and the cause — no
    pypdf warning ("invalid pdf header", "EOF marker not found") on the terminal, in the log or as a Python
    warning — and the library is unchanged."""
    import logging
    import random
    import warnings

    from typer.testing import CliRunner

    from ita.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["kb", "add", str(files / "russian.txt")]).exit_code == 0
    kb = KnowledgeBase()
    before = (kb.documents(), rows(kb, "russian.txt"), kb._collection().count())
    kb.close()
    bad = tmp_path / "random.pdf"
    bad.write_bytes(random.Random(18).randbytes(4096))
    caplog.set_level(logging.DEBUG)
    caplog.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = runner.invoke(app, ["kb", "add", str(bad)])
    out = " ".join(r.output.split())
    captured = capsys.readouterr()
    assert r.exit_code == 2, r.output
    assert "random.pdf: not a readable PDF: it has no PDF header (%PDF-)" in out and "Nothing was added" in out
    assert out.startswith("Error: random.pdf: ") and out.count("random.pdf") == 1 and "Traceback" not in out
    terminal = (r.output + captured.out + captured.err).lower()
    for noise in ("invalid pdf header", "eof marker", "pypdf", "warning"):
        assert noise not in terminal, (noise, r.output)
    assert not [rec for rec in caplog.records if rec.name.startswith("pypdf") or rec.levelno >= logging.WARNING]
    assert not [w for w in caught if "pypdf" in (w.filename or "") or "pdf" in str(w.message).lower()]
    kb = KnowledgeBase()
    assert (kb.documents(), rows(kb, "russian.txt"), kb._collection().count()) == before
    assert "random.pdf" not in {d["file"] for d in kb.documents()}


def test_cli_happy_path_and_errors(tmp_path, files):
    from typer.testing import CliRunner

    from ita.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["kb", "list"])
    assert r.exit_code == 0 and "empty" in r.output
    r = runner.invoke(app, ["kb", "add", str(files / "course.pdf"), str(files / "russian.txt")])
    assert r.exit_code == 0, r.output
    assert "course.pdf" in r.output and "added" in r.output and "no extractable text on page(s) 2" in r.output
    r = runner.invoke(app, ["kb", "add", str(files / "course.pdf")])
    assert r.exit_code == 0 and "unchanged" in r.output
    r = runner.invoke(app, ["kb", "list"])
    assert r.exit_code == 0 and "course.pdf" in r.output and "russian.txt" in r.output and "1. Fair Value Gaps" in r.output
    r = runner.invoke(app, ["kb", "search", "what is an IFVG?", "-k", "2"])
    assert r.exit_code == 0 and "course.pdf · p. 3 · 2. Inverse Fair Value Gap (IFVG)" in r.output
    r = runner.invoke(app, ["kb", "search", "ордерблок", "--mode", "keyword", "-k", "1"])
    assert r.exit_code == 0 and "russian.txt · p. 1 · Ордерблоки" in r.output
    for bad, message in ((["kb", "add", str(tmp_path / "nope.pdf")], "nope.pdf: no such file"),
                         (["kb", "add", str(files / "slides.pptx")], "unsupported file type"),
                         (["kb", "add", str(files / "journal.md"), str(files / "scan.pdf")], "scan.pdf: no extractable text"),
                         (["kb", "remove", "cours.pdf"], "Did you mean: course.pdf"),
                         (["kb", "search", "x", "--mode", "fuzzy"], "unknown search mode")):
        r = runner.invoke(app, bad)
        assert r.exit_code == 2 and message in " ".join(r.output.split()), (bad, r.output)
        assert "Traceback" not in r.output
    kb = KnowledgeBase()
    assert {d["file"] for d in kb.documents()} == {"course.pdf", "russian.txt"}   # the journal was not stored
    r = runner.invoke(app, ["kb", "remove", "course.pdf"])
    assert r.exit_code == 0 and "Removed course.pdf: 4 passage(s)" in r.output
    assert [d["file"] for d in KnowledgeBase().documents()] == ["russian.txt"]
