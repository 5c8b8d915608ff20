"""The theory-library tool: search the trader's own PDFs and notes (:mod:`ita.knowledge_base`) first.

Registered in :data:`ita.tools.registry.TOOLS` like every other tool. Passages come back with their citation
(file, page, section) so the answer can quote the trader's own library; nothing here is generated.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ita.tools.registry import tool
from ita.tools.results import ToolResult

SNIPPET_CHARS = 700


class KBSearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(description="The trader's question or the concept to look up, in their words.",
                       examples=["what is a breaker block?", "что такое FVG?"])
    k: int = Field(4, ge=1, le=10, description="How many passages to return.", examples=[4])

    @field_validator("query")
    @classmethod
    def _q(cls, v: str) -> str:
        v = " ".join(str(v).split())
        if len(v) < 2:
            raise ValueError("ask a question of at least two characters")
        return v[:1000]


@tool(KBSearchArgs)
def kb_search(a: KBSearchArgs) -> ToolResult:
    """Search the trader's theory library (their course PDFs, notes, rule books) and return the best
    passages with file, page and section. Use it first for any question about trading concepts or rules."""
    from ita.knowledge_base import KnowledgeBase

    kb = KnowledgeBase()
    docs = kb.documents()
    if not docs:
        return ToolResult(tool="kb_search", summary="The theory library is empty: no documents to search.",
                          data={"query": a.query, "documents": 0, "passages": []})
    found = kb.search(a.query, k=a.k)
    passages = [{"text": p.text if len(p.text) <= SNIPPET_CHARS else p.text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …",
                 "file": p.file, "page": p.page, "section": p.section, "score": round(float(p.score), 4),
                 "chunk_id": p.chunk_id} for p in found]
    cites = "; ".join(f"{p['file']} p.{p['page']}" for p in passages[:3])
    summary = (f"{len(passages)} passages from {len(docs)} documents for {a.query!r}: {cites}." if passages
               else f"No passage of the {len(docs)} documents matches {a.query!r}.")
    return ToolResult(tool="kb_search", summary=summary,
                      data={"query": a.query, "documents": len(docs), "passages": passages},
                      context={"last_question": a.query})
