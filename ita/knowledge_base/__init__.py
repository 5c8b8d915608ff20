"""The trader's theory library: course PDFs, notes and rule books, searchable with citations (file, page).

LLM layer — the core (detectors, setups, backtests) never imports this package.

>>> from ita.knowledge_base import KnowledgeBase
>>> kb = KnowledgeBase()                                   # $ITA_HOME/kb   # doctest: +SKIP
>>> kb.add(["course.pdf", "notes.md"], progress=print)     # doctest: +SKIP
[IngestReport(file='course.pdf', pages=42, chunks=131, status='added', message=''), ...]
>>> kb.search("what is an IFVG?", k=3)                     # doctest: +SKIP
[Passage(text='Inverse Fair Value Gap (IFVG)\\n...', file='course.pdf', page=7, section='Inverse ...', ...)]

* ``ingest.py``     PDF (pypdf) / Markdown / text → pages → passages; headings kept with their text
* ``embeddings.py`` offline int8 all-MiniLM-L6-v2 on onnxruntime (default) or OpenAI — ``ITA_EMBEDDINGS``
* ``query.py``      query text: FTS5 MATCH building, jargon glossary, dense query, highlighting, snippets, RRF
* ``store.py``      :class:`KnowledgeBase`: Chroma (dense, cosine) + SQLite FTS5 (bm25), fused by rank

Command line: ``ita kb add FILE... | list | remove FILE | search "query" | reindex``.
"""
from ita.knowledge_base.ingest import KnowledgeBaseError
from ita.knowledge_base.query import RRF_K
from ita.knowledge_base.store import COLLECTION, IngestReport, KnowledgeBase, Passage, ProgressEvent

__all__ = ["KnowledgeBase", "Passage", "IngestReport", "KnowledgeBaseError", "ProgressEvent", "COLLECTION", "RRF_K"]
