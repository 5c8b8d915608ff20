"""The chat's Markdown answers as Telegram messages: HTML in Telegram's tag subset, tables as monospaced
``<pre>`` blocks, the "Try: …" line as inline-keyboard follow-ups, chunks within Telegram's 4096 characters.

What the answers use (:mod:`ita.agent.answers`): ``**bold**``, ``_italic_``, `` `code` ``, headings, ``-``
lists, Markdown tables (``---:`` right-aligns a column), fenced code. Anything else passes as escaped text.

Example::

    >>> html, hints = to_telegram("**EURUSD** 98 trades\\n\\n| metric | value |\\n|---|---:|\\n| Trades | 98 |"
    ...                           "\\n\\nTry: `same on XAUUSD`, `show trade 2`.")
    >>> print(html)
    <b>EURUSD</b> 98 trades
    <BLANKLINE>
    <pre>metric value
    Trades    98</pre>
    >>> hints
    ['same on XAUUSD', 'show trade 2']
"""
from __future__ import annotations

import html
import re

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
WIDE = 60  # characters: a wider table becomes one line per row ("cards"), which phones do not wrap mid-cell

_HINTS = re.compile(r"^[^`\n]{1,40}:\s*((?:`[^`]+`(?:,\s*)?)+)\.?\s*$")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def to_telegram(markdown: str) -> tuple[str, list[str]]:
    """``(html, hints)``: the answer as Telegram HTML and the follow-ups of its "Try: `a`, `b`." line (removed
    from the text)."""
    blocks = re.split(r"\n\s*\n", (markdown or "").strip())
    hints: list[str] = []
    out = []
    in_code: list[str] | None = None
    for block in blocks:
        lines = block.splitlines()
        if in_code is not None or (lines and lines[0].startswith("```")):
            in_code = (in_code or []) + [block]
            joined = "\n\n".join(in_code)
            if joined.count("```") >= 2:
                body = re.sub(r"^```[^\n]*\n?", "", joined).rsplit("```", 1)[0]
                out.append(f"<pre>{html.escape(body.rstrip())}</pre>")
                in_code = None
            continue
        m = _HINTS.match(block.strip()) if len(lines) == 1 else None
        if m:
            hints += re.findall(r"`([^`]+)`", m.group(1))
            continue
        if len(lines) >= 2 and all(ln.strip().startswith("|") for ln in lines) and _TABLE_SEP.match(lines[1].strip()):
            out.append(table_html(lines))
            continue
        out.append("\n".join(_line(ln) for ln in lines))
    if in_code:
        out.append(f"<pre>{html.escape(chr(10).join(in_code))}</pre>")
    return "\n\n".join(p for p in out if p.strip()), hints


def _cells(line: str) -> list[str]:
    s = line.strip()
    s = s[1:] if s.startswith("|") else s
    s = s[:-1] if s.endswith("|") else s
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", s)]


def _plain_cell(c: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*|`([^`]*)`", lambda m: m.group(1) or m.group(2) or "", c)


def table_html(lines: list[str]) -> str:
    """A Markdown table as a ``<pre>`` block: columns padded, numbers right-aligned where the separator row
    says ``---:``; wider than :data:`WIDE` characters → one line per row, ``column value`` pairs."""
    head = [_plain_cell(c) for c in _cells(lines[0])]
    right = [c.endswith(":") for c in _cells(lines[1])]
    rows = [[_plain_cell(c) for c in _cells(ln)] for ln in lines[2:]]
    rows = [r + [""] * (len(head) - len(r)) for r in rows]
    width = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    if sum(width) + len(width) - 1 <= WIDE:
        def fmt(r):
            return " ".join(c.rjust(width[i]) if i < len(right) and right[i] else c.ljust(width[i])
                            for i, c in enumerate(r)).rstrip()
        return "<pre>" + html.escape("\n".join(fmt(r) for r in [head, *rows])) + "</pre>"
    cards = []
    for r in rows:
        first = r[0]
        rest = " · ".join(f"{head[i]} {c}" for i, c in enumerate(r[1:], 1) if c not in ("", "—"))
        cards.append(f"{first}: {rest}")
    return "<pre>" + html.escape("\n".join(cards)) + "</pre>"


def _line(line: str) -> str:
    s = line.rstrip()
    heading = re.match(r"^#{1,6}\s+(.*)$", s)
    if heading:
        return f"<b>{_inline(heading.group(1))}</b>"
    bullet = re.match(r"^\s*[-*]\s+(.*)$", s)
    if bullet:
        return f"• {_inline(bullet.group(1))}"
    return _inline(s)


def _inline(text: str) -> str:
    """Inline Markdown → Telegram HTML; code spans first, so nothing inside them is interpreted."""
    codes: list[str] = []

    def keep(m):
        codes.append(f"<code>{html.escape(m.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    s = re.sub(r"`([^`]+)`", keep, text)
    s = html.escape(s, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
    s = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", s)
    s = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"<i>\1</i>", s)
    s = re.sub(r"\[([^\]]+)\]\((https?://[^)\s]+)\)", lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', s)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], s)


def chunks(text_html: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split HTML at paragraph boundaries into messages of at most ``limit`` characters (a single block longer
    than that is cut at line ends, its ``<pre>`` reopened in the next message)."""
    out: list[str] = []
    cur = ""
    for para in text_html.split("\n\n"):
        pieces = [para] if len(para) <= limit else _split_long(para, limit)
        for p in pieces:
            if cur and len(cur) + 2 + len(p) > limit:
                out.append(cur)
                cur = p
            else:
                cur = f"{cur}\n\n{p}" if cur else p
    if cur:
        out.append(cur)
    return out or [""]


def _split_long(para: str, limit: int) -> list[str]:
    pre = para.startswith("<pre>") and para.endswith("</pre>")
    body = para[5:-6] if pre else para
    room = limit - (11 if pre else 0)
    parts, cur = [], ""
    for ln in body.split("\n"):
        while len(ln) > room:  # a single enormous line: hard cut
            parts.append(ln[:room])
            ln = ln[room:]
        if cur and len(cur) + 1 + len(ln) > room:
            parts.append(cur)
            cur = ln
        else:
            cur = f"{cur}\n{ln}" if cur else ln
    if cur:
        parts.append(cur)
    return [f"<pre>{p}</pre>" for p in parts] if pre else parts


def caption(text: str) -> str:
    """A photo/document caption within Telegram's 1024 characters (plain text)."""
    text = (text or "").strip()
    return text if len(text) <= CAPTION_LIMIT else text[: CAPTION_LIMIT - 1] + "…"
