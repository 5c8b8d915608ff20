"""Pages → passages ("chunks") of the theory library. Pure: no I/O.

Passages never cross a page (the cited page is exact) or a section. Inside a (page, section) the text is
split into sentences / list items and packed greedily up to ~``TARGET`` characters (hard limit ``MAX``);
the next passage repeats the previous one's last sentence when it is short (≤ ``OVERLAP`` characters) so
an idea cut at a boundary is still found whole. ~800 characters ≈ 150–200 MiniLM tokens: under the
model's 256-token window (nothing is truncated for the dense index) and about one idea — a paragraph the
chat can quote with a citation.

A heading is **kept with its text**: it opens the first passage of its section (a heading at the bottom of
a page, or several headings in a row, open the next passage that has body text), and every passage
carries its section's heading as metadata (also indexed for keyword search and prefixed to the embedded
text of continuation passages).

Ids: ``<sha256[:12]>-p<page>-c<n>`` (n = 1-based position of the passage on its page) — stable for the
same file content.

Example::

    >>> chunks = make_chunks([[("h", "Fair value gaps"), ("p", "A gap between candle 1 and candle 3.")]],
    ...                      file="notes.md", sha256="0" * 64)
    >>> chunks[0].chunk_id, chunks[0].section, chunks[0].page
    ('000000000000-p1-c1', 'Fair value gaps', 1)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

TARGET = 800          # characters a passage aims at
MAX = 1200            # characters a passage never exceeds
OVERLAP = 200         # a last sentence at most this long is repeated at the start of the next passage
MIN_TAIL = 150        # a page tail shorter than this joins the previous passage

_SENT_END = re.compile(r"(?<=[.!?…])[\"'»”)]*\s+(?=[\"'«“(]?[A-ZА-ЯЁ0-9])")


@dataclass
class Chunk:
    chunk_id: str
    file: str
    page: int
    section: str
    text: str
    n: int  # position on its page, 1-based

    def embed_text(self) -> str:
        """What the dense index embeds: the text, preceded by its section heading if it does not start with it."""
        if self.section and not self.text.startswith(self.section):
            return f"{self.section}\n{self.text}"
        return self.text





def _units(block_kind: str, text: str) -> list[str]:
    """Sentences (or a whole list item) of a block, each at most MAX characters."""
    if block_kind == "li" or len(text) <= TARGET // 2:
        parts = [text]
    else:
        parts = [s.strip() for s in _SENT_END.split(text) if s.strip()]
    out = []
    for s in parts:
        while len(s) > MAX:
            cut = s.rfind(" ", 0, MAX)
            cut = cut if cut > MAX // 2 else MAX
            out.append(s[:cut].strip())
            s = s[cut:].strip()
        if s:
            out.append(s)
    return out


def make_chunks(pages: list[list[tuple[str, str]]], file: str, sha256: str) -> list[Chunk]:
    """Pack each page's blocks into passages (see the module doc). ``pages`` is 0-indexed; pages are 1-based."""
    chunks: list[Chunk] = []
    section = ""
    pending: list[str] = []  # headings not yet followed by body text (carried over a page break)
    for pno, blocks in enumerate(pages, start=1):
        n = 0
        cur: list[tuple[str, str, bool]] = []  # (kind h|s|li, text, starts a new line)
        fresh = 0                              # body units added since the last passage was closed
        cur_section = section

        def length() -> int:
            return sum(len(t) + 1 for _, t, _ in cur)

        def close(overlap: bool) -> None:
            nonlocal cur, fresh, n
            if fresh:
                n += 1
                chunks.append(Chunk(chunk_id=f"{sha256[:12]}-p{pno}-c{n}", file=file, page=pno,
                                    section=cur_section, text=_join(cur), n=n))
            body = [u for u in cur if u[0] != "h"]
            if overlap and fresh and len(body) > 1 and len(body[-1][1]) <= OVERLAP:
                cur = [body[-1]]
            else:
                cur = []
            fresh = 0

        for kind, text in blocks:
            if kind == "h":
                close(overlap=False)
                section = text
                pending.append(text)
                continue
            if section != cur_section:
                close(overlap=False)
                cur_section = section
            if pending:
                cur.extend(("h", h, True) for h in pending)
                pending = []
            for i, u in enumerate(_units(kind, text)):
                if fresh and length() + len(u) > MAX:
                    close(overlap=True)
                cur.append(("li" if kind == "li" else "s", u, i == 0 or kind == "li"))
                fresh += 1
                if length() >= TARGET:
                    close(overlap=True)
        if fresh:  # end of page: a short tail joins the page's previous passage of the same section
            tail = cur[len(cur) - fresh:]
            prev = chunks[-1] if chunks else None
            tail_text = _join(tail)
            if (prev is not None and prev.page == pno and prev.section == cur_section
                    and all(k != "h" for k, _, _ in tail) and len(tail_text) < MIN_TAIL
                    and len(prev.text) + len(tail_text) < MAX):
                prev.text = prev.text + ("\n" if tail[0][2] else " ") + tail_text
                fresh = 0
            close(overlap=False)
    return chunks


def _join(units: list[tuple[str, str, bool]]) -> str:
    out = ""
    for i, (kind, text, newline) in enumerate(units):
        if not out:
            out = text
        else:
            after_heading = units[i - 1][0] == "h"
            out += ("\n" if (kind in ("h", "li") or newline or after_heading) else " ") + text
    return out.strip()


__all__ = ["Chunk", "make_chunks", "TARGET", "MAX", "OVERLAP", "MIN_TAIL"]
