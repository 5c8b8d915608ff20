"""Build the evaluation theory library: ``evals/kb/sources/*.md`` → ``evals/kb/library/*.pdf``.

Each source is Markdown with explicit page breaks (a line ``<!-- pagebreak -->``); every source page becomes
exactly one PDF page, so the page numbers in ``evals/kb/questions.yaml`` are the PDF's own (1-based) page
numbers. A page whose text does not fit on one A4 page is an error, not a silent extra page.

Supported Markdown (deliberately small): ``# title``, ``## heading``, ``- bullet``, paragraphs separated by
blank lines. The text is set in DejaVu Sans (Unicode TrueType, so Cyrillic works), left-aligned, without
hyphenation, so ``pypdf`` extracts the words exactly as written.

The output is deterministic (fixed creation date), so rebuilding an unchanged source gives the same bytes.

Usage::

    .venv/bin/python evals/kb/build_library.py            # build, then check questions.yaml against the PDFs
    .venv/bin/python evals/kb/build_library.py --no-check
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from fpdf import FPDF

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
LIBRARY = HERE / "library"
PAGEBREAK = "<!-- pagebreak -->"
MAX_BYTES = 100_000
CREATED = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/share/fonts/TTF")]


def _font_files() -> tuple[Path, Path]:
    """DejaVuSans regular and bold: system fonts first, else the copies matplotlib bundles."""
    dirs = list(FONT_DIRS)
    try:
        import matplotlib

        dirs.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf")
    except ImportError:
        pass
    for d in dirs:
        reg, bold = d / "DejaVuSans.ttf", d / "DejaVuSans-Bold.ttf"
        if reg.is_file() and bold.is_file():
            return reg, bold
    raise SystemExit("DejaVuSans.ttf / DejaVuSans-Bold.ttf not found (apt-get install fonts-dejavu-core, or "
                     "pip install matplotlib)")


def parse_pages(text: str) -> list[list[tuple[str, str]]]:
    """Markdown → pages of blocks ``(kind, text)``, kind one of ``title``, ``h2``, ``bullet``, ``para``."""
    pages = []
    for raw in text.split(PAGEBREAK):
        blocks: list[tuple[str, str]] = []
        para: list[str] = []

        def flush():
            if para:
                blocks.append(("para", " ".join(para)))
                para.clear()

        for line in raw.splitlines():
            s = line.strip()
            if not s:
                flush()
            elif s.startswith("# "):
                flush()
                blocks.append(("title", s[2:].strip()))
            elif s.startswith("## "):
                flush()
                blocks.append(("h2", s[3:].strip()))
            elif s.startswith("- "):
                flush()
                blocks.append(("bullet", s[2:].strip()))
            elif blocks and blocks[-1][0] == "bullet" and not para and line.startswith("  "):
                blocks[-1] = ("bullet", blocks[-1][1] + " " + s)  # continuation line of a bullet
            else:
                para.append(s)
        flush()
        if blocks:
            pages.append(blocks)
    return pages


def build_pdf(source: Path, out: Path) -> int:
    """Render one source; returns the number of pages. Raises ``SystemExit`` if a page overflows."""
    reg, bold = _font_files()
    pages = parse_pages(source.read_text(encoding="utf-8"))
    title = next((t for kind, t in pages[0] if kind == "title"), source.stem)

    class Doc(FPDF):
        def footer(self):
            self.set_y(-14)
            self.set_font("DejaVu", size=8)
            self.set_text_color(110)
            self.cell(0, 6, f"ITA theory library · {title} · page {self.page_no()} of {len(pages)}", align="C")
            self.set_text_color(0)

    pdf = Doc(format="A4", unit="mm")
    pdf.set_creation_date(CREATED)
    pdf.set_title(title)
    pdf.set_author("ITA project")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_font("DejaVu", "", str(reg))
    pdf.add_font("DejaVu", "B", str(bold))
    for number, blocks in enumerate(pages, start=1):
        pdf.add_page()
        for kind, text in blocks:
            if kind == "title":
                pdf.set_font("DejaVu", "B", 16)
                pdf.multi_cell(0, 8, text, align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
            elif kind == "h2":
                pdf.ln(2)
                pdf.set_font("DejaVu", "B", 12)
                pdf.multi_cell(0, 6.5, text, align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            elif kind == "bullet":
                pdf.set_font("DejaVu", "", 10.5)
                pdf.set_x(pdf.l_margin + 2)
                pdf.cell(5, 5.4, "•")
                pdf.multi_cell(0, 5.4, text, align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            else:
                pdf.set_font("DejaVu", "", 10.5)
                pdf.multi_cell(0, 5.4, text, align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            if pdf.page_no() != number:
                raise SystemExit(f"{source.name}: page {number} does not fit on one A4 page; shorten it or move "
                                 f"text after a '{PAGEBREAK}'")
    out.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(out))
    if out.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{out.name}: {out.stat().st_size} bytes > {MAX_BYTES}")
    return len(pages)


def build_all(sources: Path = SOURCES, library: Path = LIBRARY) -> list[tuple[Path, int]]:
    built = []
    for src in sorted(sources.glob("*.md")):
        out = library / (src.stem + ".pdf")
        built.append((out, build_pdf(src, out)))
    return built


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-check", action="store_true", help="skip checking questions.yaml against the PDFs")
    args = ap.parse_args(argv)
    for out, n in build_all():
        print(f"{out.relative_to(HERE.parent.parent)}: {n} pages, {out.stat().st_size / 1024:.1f} KB")
    if not args.no_check:
        sys.path.insert(0, str(HERE.parent.parent))
        from ita.evals.kb.questions import check_questions

        problems = check_questions()
        for p in problems:
            print("PROBLEM:", p)
        if problems:
            return 1
        print("questions.yaml: every reference span is on its page")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
