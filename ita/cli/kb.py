"""``ita kb …``: the theory library — add, list, remove, search, reindex."""
from __future__ import annotations

from pathlib import Path
from typing import List

import typer
from rich.table import Table

from ita.cli.common import console, err_console, fail

kb_app = typer.Typer(help="The theory library: your course PDFs, notes and rule books, searched with citations "
                          "(file, page). Offline embeddings + keyword search.", no_args_is_help=True)


def _kb_open():
    from ita.knowledge_base import KnowledgeBase

    return KnowledgeBase()


def _kb_progress_bar():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err_console, transient=True)


@kb_app.command("add")
def kb_add(files: List[Path] = typer.Argument(..., help="PDF (.pdf), Markdown (.md) or text (.txt) files.")):
    """Add files to the theory library; a changed file replaces its old passages, the same file is skipped.

    \b
    Examples:
      ita kb add course.pdf notes.md rules.txt
      ita kb add ~/ICT/*.pdf
    Nothing is stored when a file cannot be read (missing, unsupported type, a scanned PDF without text:
    run OCR first, e.g. `ocrmypdf in.pdf out.pdf`). Library: $ITA_HOME/kb.
    """
    from ita.knowledge_base import KnowledgeBaseError

    kb = _kb_open()
    tasks: dict = {}
    try:
        with _kb_progress_bar() as bar:
            def progress(ev) -> None:
                name = getattr(ev, "file", "") or str(ev)
                if name not in tasks:
                    tasks[name] = bar.add_task(name, total=None)
                stage, done, total = getattr(ev, "stage", ""), getattr(ev, "done", 0), getattr(ev, "total", 0)
                if stage == "embed":
                    bar.update(tasks[name], description=f"{name}: embedding", total=total, completed=done)
                elif stage == "done":
                    bar.update(tasks[name], description=f"{name}: done", total=max(total, 1), completed=max(total, 1))
                else:
                    bar.update(tasks[name], description=f"{name}: {stage or 'working'}")

            reports = kb.add(files, progress=progress, strict=True)
    except KnowledgeBaseError as exc:
        fail(exc)
    from rich import box

    colour = {"added": "green", "replaced": "cyan", "unchanged": "dim", "error": "bold red"}
    t = Table(box=box.SIMPLE_HEAD)
    for c in ("file", "status", "pages", "passages", "note"):
        t.add_column(c, justify="right" if c in ("pages", "passages") else "left", overflow="fold")
    for r in reports:
        t.add_row(r.file, f"[{colour.get(r.status, 'white')}]{r.status}[/]", str(r.pages), str(r.chunks), r.message)
    console.print(t)
    docs = kb.documents()
    console.print(f"Library {kb.path}: {len(docs)} document(s), {sum(d['chunks'] for d in docs):,} passages. "
                  'Try `ita kb search "what is an IFVG?"`.', highlight=False)
    failed = [r for r in reports if r.status == "error"]
    if failed:
        fail("\n".join(r.message for r in failed))


@kb_app.command("list")
def kb_list():
    """The documents in the theory library: pages, passages, when added, content hash."""
    from rich import box

    kb = _kb_open()
    docs = kb.documents()
    if not docs:
        console.print(f"The theory library ({kb.path}) is empty. Add your course: `ita kb add course.pdf notes.md`.",
                      highlight=False)
        return
    t = Table(title=f"Theory library {kb.path}", box=box.SIMPLE_HEAD)
    for c in ("file", "title", "pages", "passages", "added (UTC)", "sha256"):
        t.add_column(c, justify="right" if c in ("pages", "passages") else "left", overflow="fold")
    for d in docs:
        note = f" [yellow](no text on p. {', '.join(map(str, d['empty_pages'][:5]))})[/]" if d["empty_pages"] else ""
        t.add_row(d["file"], (d["title"] or "") + note, str(d["pages"]), str(d["chunks"]),
                  str(d["added_at"]).replace("T", " ").replace("+00:00", ""), d["sha256"][:12])
    console.print(t)


@kb_app.command("remove")
def kb_remove(file: str = typer.Argument(..., help="File name as listed by `ita kb list` (or its path).")):
    """Remove a document and all its passages from the theory library. Example: `ita kb remove course.pdf`."""
    from ita.knowledge_base import KnowledgeBaseError

    try:
        n = _kb_open().remove(file)
    except KnowledgeBaseError as exc:
        fail(exc)
    console.print(f"Removed {Path(file).name}: {n} passage(s).", highlight=False)


@kb_app.command("search")
def kb_search(
    query: List[str] = typer.Argument(..., help="What to look for, e.g. \"what is a breaker block?\"."),
    k: int = typer.Option(5, "-k", "--top", help="How many passages."),
    mode: str = typer.Option("hybrid", "--mode", "-m", help="hybrid (default: meaning + exact words) | dense (meaning) | keyword (exact words, bm25)."),
):
    """Search the theory library; passages with file · page · section and the matching words highlighted.

    \b
    Examples:
      ita kb search "what is an IFVG?"
      ita kb search "London killzone" -k 3
      ita kb search "ордерблок" --mode keyword
    """
    from rich.text import Text

    from ita.knowledge_base import KnowledgeBaseError
    from ita.knowledge_base.query import snippet

    text = " ".join(query).strip()
    kb = _kb_open()
    try:
        if not kb.documents():
            console.print("The theory library is empty. Add your course first: `ita kb add course.pdf`.")
            return
        with console.status("Searching …"):
            hits = kb.search(text, k=k, mode=mode)
    except KnowledgeBaseError as exc:
        fail(exc)
    if not hits:
        console.print(f"No passage matches {text!r}" + (" (keyword mode needs the exact words)." if mode == "keyword" else "."),
                      highlight=False)
        return
    for i, p in enumerate(hits, start=1):
        head = Text(f"{i}. ", style="bold")
        head.append(p.file, style="bold cyan")
        head.append(f" · p. {p.page}", style="cyan")
        if p.section:
            head.append(f" · {p.section}", style="bold")
        ranks = [f"{name} #{r}" for name, r in (("dense", p.dense_rank), ("keyword", p.keyword_rank)) if r]
        head.append(f"   score {p.score:.3g}" + (f" ({', '.join(ranks)})" if ranks else ""), style="dim")
        console.print(head)
        body_text = p.text[len(p.section):].lstrip() if p.section and p.text.startswith(p.section) else p.text
        snip, spans = snippet(body_text or p.text, text)
        body = Text("   " + snip)
        for a, b in spans:
            body.stylize("bold yellow", a + 3, b + 3)
        console.print(body)
        console.print()


@kb_app.command("reindex")
def kb_reindex():
    """Re-embed every stored passage with the current embedding model (after changing ITA_EMBEDDINGS)."""
    from ita.knowledge_base import KnowledgeBaseError

    kb = _kb_open()
    try:
        with _kb_progress_bar() as bar:
            task = bar.add_task("re-embedding", total=None)
            n = kb.reindex(progress=lambda ev: bar.update(task, total=getattr(ev, "total", None) or None,
                                                          completed=getattr(ev, "done", 0)))
    except KnowledgeBaseError as exc:
        fail(exc)
    console.print(f"Re-embedded {n:,} passages into {kb.path}.", highlight=False)
