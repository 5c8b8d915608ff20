"""The theory library: ingest time per page and query latency on 10,000 passages (not a test).

Run: ``.venv/bin/python benchmarks/bench_kb.py`` (first run ~5–10 min on 2 cores: it embeds 10,000 passages;
later runs reuse the library in ``--kb-dir``, default ``$TMPDIR/ita_bench_kb``; ``--rebuild`` to redo it).

1. **Ingest**: a generated course PDF (fpdf2, ``--pages`` pages, two headed sections a page) is added to a
   fresh library: read (pypdf + chunking), embed (int8 MiniLM, batches of 32) and store (Chroma + SQLite FTS5),
   timed per page and per passage.
2. **10,000 passages**: ``--chunks`` synthetic passages (ICT vocabulary + filler sentences, ~450 characters,
   English with some Russian) written as 100 Markdown files and added through ``KnowledgeBase.add`` — the
   public path; passages embedded per second is printed.
3. **Queries**: ``--queries`` questions (jargon, natural language, Russian), each run in every mode after a
   warm-up; p50 / p95 / mean / max in ms. Target: under 100 ms per query. Nothing else is written.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ita.knowledge_base import KnowledgeBase  # noqa: E402
from ita.knowledge_base.embeddings import MiniLMEmbeddingFunction  # noqa: E402

CONCEPTS = [
    ("Fair Value Gap (FVG)", "an FVG is a three-candle imbalance where the first and third wicks do not overlap"),
    ("Inverse FVG (IFVG)", "an IFVG is a gap that price closed through, which now acts from the other side"),
    ("Change of Character (CHoCH)", "a CHoCH is the first break of structure against the prevailing swings"),
    ("Break of Structure (BOS)", "a BOS is a close beyond the last swing in the direction of the trend"),
    ("Optimal Trade Entry (OTE)", "the OTE is the 62 to 79 percent retracement of the impulse leg"),
    ("Order block", "an order-block is the last opposite candle before the displacement that broke structure"),
    ("Breaker block", "a breaker is an order block that failed after a liquidity sweep"),
    ("Liquidity", "buy-side liquidity rests above old highs and sell-side liquidity below old lows"),
    ("Killzones", "the London killzone runs from 02:00 to 05:00 and the New York AM from 07:00 to 10:00 NY time"),
    ("Silver Bullet", "the silver bullet is the first FVG between 10:00 and 11:00 New York time"),
    ("Judas swing", "the Judas swing is the false move at the open that raids one side of the Asia range"),
    ("Premium and discount", "buy in discount below the equilibrium and sell in premium above it"),
    ("Ордерблок", "ордерблок — последняя противоположная свеча перед импульсом, который сломал структуру"),
    ("Ликвидность", "ликвидность над старыми максимумами забирают перед разворотом"),
]
FILLER = [
    "Mark the level on the higher timeframe first and wait for price to come to you.",
    "Risk no more than half a percent of the account on a single idea.",
    "The daily bias decides which side of the range you want to trade.",
    "Journal every trade with a screenshot and the reason you took it.",
    "Partials at the first target pay for the patience the runner needs.",
    "Avoid the hour around red-folder news; spreads widen and wicks lie.",
    "Displacement is a strong candle body that leaves an imbalance behind.",
    "A sweep of equal highs is fuel; the reversal after it is the trade.",
    "Не торгуйте против старшего таймфрейма без веской причины.",
    "Стоп ставится за свип, а не за круглую цифру.",
]
QUERIES = [
    "IFVG", "CHoCH", "OTE", "BOS", "FVG", "order-block", "what is a breaker block?", "London killzone hours",
    "how do I trade the silver bullet?", "where does liquidity rest?", "what is the Judas swing",
    "premium and discount", "how much should I risk per trade", "when to avoid news",
    "что такое ордерблок?", "ликвидность", "стоп за свип", "displacement candle", "equal highs sweep",
    "daily bias", "journal screenshot", "partial profits runner", "the first FVG after 10:00",
    "gap closed through acts from the other side",
]


def make_course_pdf(path: Path, pages: int) -> Path:
    from fpdf import FPDF

    rnd = random.Random(7)
    pdf = FPDF()
    pdf.set_auto_page_break(True, 15)
    for p in range(pages):
        pdf.add_page()
        for s in range(2):
            title, gist = CONCEPTS[(2 * p + s) % 12]  # core fonts: English only
            pdf.set_font("Helvetica", "B", 15)
            pdf.multi_cell(0, 8, f"{p + 1}.{s + 1} {title}", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 10.5)
            body = gist[0].upper() + gist[1:] + ". " + " ".join(rnd.sample(FILLER[:8], 5))
            pdf.multi_cell(0, 5.5, body, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
    pdf.output(str(path))
    return path


def synthetic_library(folder: Path, chunks: int, files: int = 100) -> list[Path]:
    """``chunks`` passages of ~450 characters as ``files`` Markdown files, one section (= one passage) each."""
    rnd = random.Random(42)
    folder.mkdir(parents=True, exist_ok=True)
    per_file = chunks // files
    out = []
    for f in range(files):
        lines = []
        for s in range(per_file):
            title, gist = rnd.choice(CONCEPTS)
            body = [gist[0].upper() + gist[1:] + "."] + rnd.sample(FILLER, 4)
            rnd.shuffle(body)
            lines.append(f"## {title} — note {f}.{s}\n\n{' '.join(body)}\n")
        p = folder / f"notes_{f:03d}.md"
        p.write_text("\n".join(lines), encoding="utf-8")
        out.append(p)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    i = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[i]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=40, help="pages of the generated course PDF (ingest timing)")
    ap.add_argument("--chunks", type=int, default=10_000, help="synthetic passages for the query benchmark")
    ap.add_argument("--queries", type=int, default=len(QUERIES), help="queries per mode (cycled)")
    ap.add_argument("--repeats", type=int, default=3, help="times each query is run per mode")
    ap.add_argument("--kb-dir", type=Path, default=Path(os.environ.get("ITA_BENCH_KB_DIR",
                                                                        Path(tempfile.gettempdir()) / "ita_bench_kb")))
    ap.add_argument("--rebuild", action="store_true", help="rebuild the 10,000-passage library")
    args = ap.parse_args()
    con = Console()
    ef = MiniLMEmbeddingFunction()
    t = time.perf_counter()
    ef(["warm-up"])
    con.print(f"MiniLM int8 loaded in {time.perf_counter() - t:.2f} s")

    # ---- 1. ingest per page
    with tempfile.TemporaryDirectory(prefix="ita_bench_ingest_") as tmp:
        pdf = make_course_pdf(Path(tmp) / "course.pdf", args.pages)
        from ita.knowledge_base.ingest import parse_file

        t = time.perf_counter()
        parse_file(pdf)
        t_parse = time.perf_counter() - t
        kb = KnowledgeBase(Path(tmp) / "kb", embedding_function=ef)
        kb.conn  # schema (sqlite-utils import) outside the timing
        kb._collection()
        t = time.perf_counter()
        rep = kb.add([pdf])[0]
        t_add = time.perf_counter() - t
    tab = Table(title=f"Ingest: generated course PDF, {rep.pages} pages, {rep.chunks} passages")
    for c in ("stage", "total [s]", "per page [ms]", "per passage [ms]"):
        tab.add_column(c, justify="left" if c == "stage" else "right")
    tab.add_row("read + chunk (pypdf)", f"{t_parse:.2f}", f"{1000 * t_parse / rep.pages:.1f}", f"{1000 * t_parse / rep.chunks:.1f}")
    tab.add_row("add (read + embed + store)", f"{t_add:.2f}", f"{1000 * t_add / rep.pages:.1f}", f"{1000 * t_add / rep.chunks:.1f}")
    con.print(tab)

    # ---- 2. the 10,000-passage library
    kb_dir = args.kb_dir
    kb = KnowledgeBase(kb_dir / "kb", embedding_function=ef)
    have = kb._chunk_count() if (kb_dir / "kb" / "kb.db").exists() else 0
    if args.rebuild or have != args.chunks:
        kb.close()
        shutil.rmtree(kb_dir, ignore_errors=True)
        files = synthetic_library(kb_dir / "files", args.chunks)
        kb = KnowledgeBase(kb_dir / "kb", embedding_function=ef)
        kb._collection()
        con.print(f"Building {args.chunks:,} passages in {kb_dir} (embedding; minutes) …")
        t, last = time.perf_counter(), [0.0]

        def progress(ev):
            if getattr(ev, "stage", "") == "done" and time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                con.print(f"  {ev}  ({kb._chunk_count():,} passages, {time.perf_counter() - t:.0f} s)")

        reports = kb.add(files, progress=progress)
        t_build = time.perf_counter() - t
        n = sum(r.chunks for r in reports)
        avg = statistics.mean(len(r[0]) for r in kb.conn.execute("SELECT text FROM chunks LIMIT 2000"))
        con.print(f"Built {n:,} passages (avg {avg:.0f} chars) in {t_build:.0f} s: "
                  f"[bold]{n / t_build:.1f} passages/s[/] (parse + embed + store)")
        sample = [r[0] for r in kb.conn.execute("SELECT text FROM chunks LIMIT 512")]
        t = time.perf_counter()
        ef.embed(sample)
        con.print(f"Embedding alone: {len(sample) / (time.perf_counter() - t):.1f} passages/s (512 passages, batches of {ef.batch_size})")
    else:
        con.print(f"Reusing {have:,} passages in {kb_dir} (--rebuild to rebuild)")
    n_chunks = kb._chunk_count()

    # ---- 3. queries
    queries = [QUERIES[i % len(QUERIES)] for i in range(args.queries)]
    for mode in ("hybrid", "dense", "keyword"):  # warm-up: model, Chroma index, SQLite pages
        kb.search(queries[0], k=5, mode=mode)
    tab = Table(title=f"Query ms, k=5, {n_chunks:,} passages, {len(queries)}×{args.repeats} queries")
    for c in ("mode", "p50", "p95", "mean", "max", "< 100 ms"):
        tab.add_column(c, justify="left" if c == "mode" else "right")
    for mode in ("hybrid", "dense", "keyword"):
        times = []
        for _ in range(args.repeats):
            for q in queries:
                t = time.perf_counter()
                kb.search(q, k=5, mode=mode)
                times.append(1000 * (time.perf_counter() - t))
        ok = sum(x < 100 for x in times) / len(times)
        tab.add_row(mode, f"{pct(times, .5):.1f}", f"{pct(times, .95):.1f}", f"{statistics.mean(times):.1f}",
                    f"{max(times):.1f}", f"{100 * ok:.0f} %")
    con.print(tab)
    t = time.perf_counter()
    for q in queries:
        ef.embed_query([q])
    con.print(f"of which query embedding: {1000 * (time.perf_counter() - t) / len(queries):.1f} ms per query")


if __name__ == "__main__":
    main()
