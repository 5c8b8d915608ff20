"""Files → pages → passages ("chunks") for the theory library. Pure: reads a file, writes nothing.

Formats
-------
* **PDF** (``.pdf``, text extracted with pypdf, page by page). Headings are found from the text's font:
  a short line set noticeably larger than the body text (≥ 1.15× the document's most common size), or
  all bold in a non-bold body, or shaped like a heading (numbered ``1.2 Title`` / ``Chapter``/``Глава``…,
  ALL CAPS). A page whose text cannot be extracted (an image) is skipped and reported; a PDF with **no**
  extractable text at all (a scan) raises :class:`KnowledgeBaseError` naming the file — run OCR first.
  A file pypdf cannot read (not a PDF, damaged) raises one :class:`KnowledgeBaseError`, ``<file>: not a
  readable PDF: <cause>``; pypdf's own warnings and log lines during the read are captured, never printed
  (they go to this module's logger at DEBUG level).
* **Markdown** (``.md``, ``.markdown``): ``#`` and underlined headings, paragraphs, list items, code fences;
  YAML front matter's ``title`` is the title.
* **Text** (``.txt``, ``.text``): paragraphs by blank lines; headings = underlined lines, ``#`` lines,
  numbered or ALL CAPS short lines. UTF-8 (with or without BOM), falling back to Windows-1251.
  Markdown and text have one page, unless they contain form feeds (``\\f``), which start a new page.

Passages: :mod:`ita.knowledge_base.chunking` (never across a page or a section, ~800 characters).
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ita.errors import ItaError
from ita.knowledge_base.chunking import Chunk, make_chunks

EMPTY_PAGE_CHARS = 10  # a page with fewer extracted characters counts as having no text

log = logging.getLogger(__name__)

SUPPORTED = {".pdf": "pdf", ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text"}


class KnowledgeBaseError(ItaError):
    """A theory-library problem the user can fix: a missing, unsupported, scanned or unreadable file,
    an unknown document, or a wrong embedding configuration. ``str(err)`` is the whole message."""


@dataclass
class ParsedDocument:
    path: Path
    file: str
    kind: str
    title: str
    sha256: str
    pages: int
    chunks: list[Chunk] = field(default_factory=list)
    empty_pages: list[int] = field(default_factory=list)

    @property
    def note(self) -> str:
        if not self.empty_pages:
            return ""
        pages = ", ".join(map(str, self.empty_pages[:10])) + (" …" if len(self.empty_pages) > 10 else "")
        return f"no extractable text on page(s) {pages} (images?) — skipped"


# --------------------------------------------------------------------------------------------------------
# entry points


def check_path(path: str | Path) -> Path:
    """The file as a :class:`Path` if it exists and has a supported type, else :class:`KnowledgeBaseError`."""
    p = Path(path).expanduser()
    if not p.exists():
        raise KnowledgeBaseError(f"{path}: no such file.")
    if p.is_dir():
        raise KnowledgeBaseError(f"{path}: is a folder; pass the files (e.g. {path}/*.pdf).")
    if p.suffix.lower() not in SUPPORTED:
        raise KnowledgeBaseError(
            f"{p.name}: unsupported file type {p.suffix or '(none)'!r}; the library takes PDF (.pdf), "
            "Markdown (.md) and text (.txt). Export other formats to PDF first.")
    return p


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def parse_file(path: str | Path) -> ParsedDocument:
    """Read one file into pages and passages. Raises :class:`KnowledgeBaseError` for a missing, unsupported,
    unreadable or scanned (no text) file, or one with nothing to index."""
    p = check_path(path)
    kind = SUPPORTED[p.suffix.lower()]
    sha = file_sha256(p)
    if kind == "pdf":
        pages, title, empty = _read_pdf(p)
    else:
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1251", errors="replace")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        pages, title = (_read_markdown(text) if kind == "markdown" else _read_text(text))
        empty = []
    chunks = make_chunks(pages, file=p.name, sha256=sha)
    if not chunks:
        raise KnowledgeBaseError(f"{p.name}: no text to index (the file is empty).")
    return ParsedDocument(path=p.resolve(), file=p.name, kind=kind, title=title or p.stem, sha256=sha,
                          pages=len(pages), chunks=chunks, empty_pages=empty)


# --------------------------------------------------------------------------------------------------------
# blocks: each page is a list of ("h", heading) / ("p", paragraph) / ("li", list item)

_NUMBERED = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVXLC]{1,5}\.|[A-ZА-Я]\))\s+\S")
_KEYWORD_HEAD = re.compile(r"^(?:chapter|part|section|module|lesson|unit|appendix|глава|часть|раздел|модуль|урок|"
                           r"приложение)\b\s*[\dIVXLC]*", re.I)
_BULLET = re.compile(r"^\s*(?:[-*+•▪◦●–—]\s+|\d{1,3}[.)]\s+|[a-zа-я][.)]\s+)")
_SYMBOL_BULLET = re.compile(r"^\s*[-*+•▪◦●–—]\s+")
_HR = re.compile(r"^\s*([-*_])(?:\s*\1){2,}\s*$")


def _shape_ok(t: str) -> bool:
    words = t.split()
    return (2 <= len(t) <= 100 and 1 <= len(words) <= 14 and any(c.isalpha() for c in t)
            and not t.endswith((".", ",", ";")) and not _SYMBOL_BULLET.match(t))


def _textual_heading(t: str) -> bool:
    """Heading by shape alone: ``1.2 Title``, ``1. Title Case``, a chapter keyword, or ALL CAPS."""
    if not _shape_ok(t):
        return False
    words = t.split()
    letters = [c for c in t if c.isalpha()]
    if re.match(r"^\d{1,2}(?:\.\d{1,2})+\.?\s+\S", t):          # 1.2 / 2.1.3 Title
        return len(words) <= 12 and not t.endswith(":")
    if _NUMBERED.match(t):                                         # 1. Title Case (not "1. mark the range")
        alpha = [w for w in words[1:] if w[:1].isalpha()]
        caps = sum(w[:1].isupper() for w in alpha)
        return bool(alpha) and len(words) <= 9 and caps >= 0.6 * len(alpha) and not t.endswith(":")
    if _KEYWORD_HEAD.match(t) and len(words) <= 10:
        return True
    return len(letters) >= 4 and all(c.isupper() for c in letters) and len(words) <= 8


def _clean(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


def _join_lines(lines: list[str]) -> str:
    out = ""
    for ln in lines:
        ln = ln.strip()
        if not ln:
            continue
        if not out:
            out = ln
        elif out.endswith("-") and len(out) > 1 and out[-2].isalpha():
            out += ln  # a word broken at a hyphen: keep the hyphen ("three-\ncandle" → "three-candle")
        else:
            out += " " + ln
    return _clean(out)


# ---- PDF


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.messages.append(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed record is dropped, never raised
            pass


_PYPDF_QUIET = threading.Lock()  # the pypdf logger and the warnings filters are process-wide


@contextlib.contextmanager
def _quiet_pypdf():
    """Capture pypdf's log records (logger ``pypdf``) and Python warnings for the block; yields the list of
    captured messages. Nothing reaches the terminal or the root logger."""
    logger = logging.getLogger("pypdf")
    handler = _Capture()
    with _PYPDF_QUIET, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        propagate = logger.propagate
        logger.addHandler(handler)
        logger.propagate = False
        try:
            yield handler.messages
        finally:
            logger.removeHandler(handler)
            logger.propagate = propagate
            handler.messages.extend(str(w.message) for w in caught)


def _unreadable_cause(p: Path, exc: Exception) -> str:
    try:
        with open(p, "rb") as f:
            head = f.read(1024)
    except OSError:
        head = b""
    if b"%PDF-" not in head:
        return "it has no PDF header (%PDF-), so it is not a PDF or is badly damaged"
    return f"{type(exc).__name__}: {exc}"


def _read_pdf(p: Path) -> tuple[list[list[tuple[str, str]]], str, list[int]]:
    with _quiet_pypdf() as messages:
        try:
            return _parse_pdf(p)
        finally:
            for m in messages:
                log.debug("pypdf, reading %s: %s", p.name, m)


def _parse_pdf(p: Path) -> tuple[list[list[tuple[str, str]]], str, list[int]]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(p))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # e.g. AES without the cryptography package
                raise KnowledgeBaseError(f"{p.name}: the PDF is encrypted and cannot be opened ({exc}).") from exc
            if not ok:
                raise KnowledgeBaseError(f"{p.name}: the PDF is password-protected; save an unprotected copy "
                                         "and add that.")
        raw_pages = [_pdf_lines(page) for page in reader.pages]
        meta_title = ""
        try:
            meta_title = (reader.metadata.title or "") if reader.metadata else ""
        except Exception:
            pass
    except KnowledgeBaseError:
        raise
    except Exception as exc:  # pypdf raises many kinds (PdfReadError, KeyError, ValueError …) on a damaged file
        raise KnowledgeBaseError(f"{p.name}: not a readable PDF: {_unreadable_cause(p, exc)}. Nothing was added; "
                                 "re-export or re-download it and add it again.") from exc
    n = len(raw_pages)
    if n == 0:
        raise KnowledgeBaseError(f"{p.name}: the PDF has no pages.")
    empty = [i + 1 for i, lines in enumerate(raw_pages)
             if sum(len(t.strip()) for t, _, _ in lines) < EMPTY_PAGE_CHARS]
    if len(empty) == n:
        raise KnowledgeBaseError(
            f"{p.name}: no extractable text on any of its {n} page(s) — it looks like a scan (images only). "
            "Nothing was added. Run OCR on it first (e.g. `ocrmypdf --force-ocr in.pdf out.pdf`, or export "
            "with text from your PDF tool) and add the result.")
    # body font: the most common size by characters; headings are set larger
    sizes: dict[float, int] = {}
    bold_chars = total_chars = 0
    for lines in raw_pages:
        for t, size, bold in lines:
            k = len(t.strip())
            sizes[round(size * 2) / 2] = sizes.get(round(size * 2) / 2, 0) + k
            total_chars += k
            bold_chars += k if bold else 0
    body = max(sizes, key=sizes.get) if sizes else 0.0
    body_bold = total_chars > 0 and bold_chars > total_chars / 2
    pages, first_heading = [], ""
    for i, lines in enumerate(raw_pages):
        if i + 1 in empty:
            pages.append([])
            continue
        lines = _merge_wrapped_headings([(_clean(t), size, bold) for t, size, bold in _drop_page_numbers(lines)], body)
        blocks: list[tuple[str, str]] = []
        para: list[str] = []

        def flush():
            if para:
                blocks.append(("p", _join_lines(para)))
                para.clear()

        for t, size, bold in lines:
            if not t:
                continue
            big = body > 0 and size >= body * 1.15
            if big:  # a title may wrap over lines (merged above): allow it to be longer
                head = (2 <= len(t) <= 200 and len(t.split()) <= 28 and any(c.isalpha() for c in t)
                        and not t.endswith((".", ",", ";")) and not _SYMBOL_BULLET.match(t))
            else:
                head = (_shape_ok(t) and bold and not body_bold and len(t.split()) <= 10) or _textual_heading(t)
            if head:
                flush()
                blocks.append(("h", t))
                first_heading = first_heading or t
                continue
            if _BULLET.match(t):
                flush()
            para.append(t)
        flush()
        pages.append(blocks)
    return pages, _clean(meta_title) or first_heading, empty


def _merge_wrapped_headings(lines: list[tuple[str, float, bool]], body: float) -> list[tuple[str, float, bool]]:
    """Join consecutive lines set in the same large size (a heading wrapped over two or three lines)."""
    out: list[tuple[str, float, bool]] = []
    for t, size, bold in lines:
        if not t:
            continue
        big = body > 0 and size >= body * 1.15
        if (big and out and abs(out[-1][1] - size) < 0.6 and out[-1][1] >= body * 1.15
                and not out[-1][0].endswith((".", ":", "!", "?")) and len(out[-1][0]) + len(t) <= 200):
            out[-1] = (out[-1][0] + " " + t, size, out[-1][2] and bold)
        else:
            out.append((t, size, bold))
    return out


def _pdf_lines(page) -> list[tuple[str, float, bool]]:
    """The page's text as lines ``(text, font size, all bold)`` using pypdf's text visitor."""
    lines: list[tuple[str, float, bool]] = []
    cur: list[tuple[str, float, bool]] = []

    def end_line():
        txt = "".join(t for t, _, _ in cur)
        if txt.strip():
            vis = [(t, s, b) for t, s, b in cur if t.strip()]
            size = max(s for _, s, _ in vis)
            bold = all(b for _, _, b in vis)
            lines.append((txt, size, bold))
        cur.clear()

    def visit(text, cm, tm, font_dict, font_size):
        if not text:
            return
        try:
            scale = abs(tm[0] * tm[3] - tm[1] * tm[2]) ** 0.5 * abs(cm[0] * cm[3] - cm[1] * cm[2]) ** 0.5
        except Exception:
            scale = 1.0
        size = float(font_size or 0) * (scale or 1.0)
        name = str(font_dict.get("/BaseFont", "")) if font_dict else ""
        bold = bool(re.search(r"bold|black|heavy|semibold|demi", name, re.I))
        parts = text.split("\n")
        for j, part in enumerate(parts):
            if j > 0:
                end_line()
            if part:
                cur.append((part, size, bold))

    try:
        page.extract_text(visitor_text=visit)
    except Exception:
        cur.clear()
        lines.clear()
        txt = page.extract_text() or ""
        return [(ln, 0.0, False) for ln in txt.split("\n") if ln.strip()]
    end_line()
    return lines


def _drop_page_numbers(lines):
    """Drop a bare page number ("3", "- 3 -", "Page 3", "3 / 12") as the first or last line."""
    pat = re.compile(r"^\s*(?:[-–—]\s*)?(?:page|стр\.?|страница)?\s*\d{1,4}(?:\s*(?:/|of|из)\s*\d{1,4})?\s*(?:[-–—])?\s*$", re.I)
    out = list(lines)
    if out and pat.match(out[-1][0]):
        out.pop()
    if out and pat.match(out[0][0]):
        out.pop(0)
    return out


# ---- Markdown and text

_MD_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")


def _md_inline(t: str) -> str:
    t = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", t)       # images → alt text
    t = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", t)         # links → text
    t = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", t)  # bold
    t = re.sub(r"`([^`]+)`", r"\1", t)
    return t


def _front_matter(text: str) -> tuple[str, str]:
    m = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    if not m:
        return text, ""
    title = ""
    tm = re.search(r"^title:\s*['\"]?(.*?)['\"]?\s*$", m.group(1), re.M)
    if tm:
        title = tm.group(1).strip()
    return text[m.end():], title


def _read_markdown(text: str) -> tuple[list[list[tuple[str, str]]], str]:
    text, title = _front_matter(text)
    pages, first_h1 = [], ""
    for page_text in text.split("\f"):
        lines = page_text.split("\n")
        blocks: list[tuple[str, str]] = []
        para: list[str] = []
        kind = "p"
        in_code, code = False, []

        def flush():
            nonlocal kind
            if para:
                blocks.append((kind, _join_lines([_md_inline(x) for x in para])))
                para.clear()
            kind = "p"

        for i, ln in enumerate(lines):
            if ln.strip().startswith(("```", "~~~")):
                if in_code:
                    blocks.append(("p", "\n".join(code).strip()))
                    code, in_code = [], False
                else:
                    flush()
                    in_code = True
                continue
            if in_code:
                code.append(ln)
                continue
            m = _MD_HEADING.match(ln)
            if m:
                flush()
                h = _clean(_md_inline(m.group(2)))
                if h:
                    blocks.append(("h", h))
                    if len(m.group(1)) == 1 and not first_h1:
                        first_h1 = h
                continue
            if para and _UNDERLINE.match(ln) and len(para) == 1 and kind == "p":
                h = _clean(_md_inline(para[0]))
                para.clear()
                blocks.append(("h", h))
                if ln.strip().startswith("=") and not first_h1:
                    first_h1 = h
                continue
            if not ln.strip() or _HR.match(ln):
                flush()
                continue
            if _BULLET.match(ln) and not ln.startswith((" " * 4, "\t")):
                flush()
                kind = "li"
            para.append(ln)
        if in_code and code:
            blocks.append(("p", "\n".join(code).strip()))
        flush()
        pages.append([b for b in blocks if b[1]])
    return pages, title or first_h1


def _read_text(text: str) -> tuple[list[list[tuple[str, str]]], str]:
    pages, first = [], ""
    for page_text in text.split("\f"):
        paras = re.split(r"\n\s*\n", page_text)
        blocks: list[tuple[str, str]] = []
        for para in paras:
            lines = [ln for ln in para.split("\n") if ln.strip()]
            while lines:
                first_line = lines[0].strip()
                m = _MD_HEADING.match(first_line)
                if len(lines) >= 2 and _UNDERLINE.match(lines[1]) and _shape_ok(first_line):
                    blocks.append(("h", _clean(first_line)))
                    lines = lines[2:]
                elif m:
                    blocks.append(("h", _clean(m.group(2))))
                    lines = lines[1:]
                elif _textual_heading(first_line) or (len(lines) == 1 and _shape_ok(first_line)
                                                      and len(first_line.split()) <= 8
                                                      and first_line[:1].isupper() and len(paras) > 1
                                                      and not first_line.endswith(("!", "?", ":"))
                                                      and para is not paras[-1]):
                    blocks.append(("h", _clean(first_line)))
                    lines = lines[1:]
                else:
                    break
            if not lines:
                continue
            cur: list[str] = []
            for ln in lines:
                if _BULLET.match(ln) and cur:
                    blocks.append(("p" if not _BULLET.match(cur[0]) else "li", _join_lines(cur)))
                    cur = []
                cur.append(ln)
            if cur:
                blocks.append(("li" if _BULLET.match(cur[0]) else "p", _join_lines(cur)))
        if not first:
            first = next((b[1] for b in blocks if b[0] == "h"), "")
        pages.append([b for b in blocks if b[1]])
    return pages, first


__all__ = ["KnowledgeBaseError", "ParsedDocument", "parse_file", "check_path", "SUPPORTED"]
