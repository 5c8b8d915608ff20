"""LLM layer — the trader's theory library: PDF/Markdown ingest, Chroma (offline embeddings) + SQLite
FTS5 hybrid retrieval, citations by file and page. Planned with the theory-library issue; the core never
imports this package."""
