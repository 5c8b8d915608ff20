"""The theory library's store: a Chroma collection (dense) and SQLite FTS5 (keyword), kept consistent.

Layout (``KnowledgeBase(path)``, default ``$ITA_HOME/kb``)::

    kb/kb.db      SQLite: documents, chunks (+ FTS5 index chunks_fts, made by sqlite-utils), meta — the source of truth
    kb/chroma/    Chroma persistent client; collection ``ita_theory`` (cosine), one vector per chunk, same ids

Consistency
-----------
A file is written in one SQLite transaction that also upserts its vectors into Chroma; if anything fails the
transaction rolls back and the vectors written so far are deleted, so a file is in both stores or in neither
(a replaced file keeps its previous version). The previous version's vectors are deleted after the commit.
Whenever the two stores' counts differ when the collection is opened (a crash between the two), the
difference is repaired from SQLite: vectors without a row are deleted, rows without a vector re-embedded.
Search results are always read from SQLite, so a stray vector can never surface.

Identity and de-duplication
---------------------------
A document is identified by its **file name** (``course.pdf``): adding a changed ``course.pdf`` (another
hash) replaces the old passages, wherever the file now lives (an upload lands in a temporary folder). The
same content (SHA-256 of the bytes) is never stored twice: the same file again, or a copy under another
name, is ``unchanged``.

Search
------
* ``dense``: Chroma cosine similarity on the embedding (see ``embeddings.py``) of the query widened by
  :func:`~ita.knowledge_base.query.dense_query`.
* ``keyword``: SQLite FTS5 with bm25 ranking (the heading column weighs 2×), tokeniser :data:`FTS_TOKENIZE`,
  asked with the safe MATCH expression :func:`~ita.knowledge_base.query.fts_query` (stop words dropped, jargon
  widened by the glossary).
* ``hybrid`` (default): both, each asked for ``max(4k, 20)`` candidates, fused with reciprocal rank fusion
  (:func:`~ita.knowledge_base.query.rrf`, ``RRF_K = 60``).

How the query text is built, and why, is in :mod:`ita.knowledge_base.query`.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from ita.config import settings
from ita.errors import closest
from ita.knowledge_base.chunking import Chunk
from ita.knowledge_base.ingest import KnowledgeBaseError, ParsedDocument, check_path, parse_file
from ita.knowledge_base.query import dense_query, fts_query, rrf

if TYPE_CHECKING:  # sqlite_utils imports pandas (seconds): only for creating the FTS index
    import sqlite_utils

COLLECTION = "ita_theory"
MODES = ("hybrid", "dense", "keyword")
FTS_TOKENIZE = "porter unicode61 remove_diacritics 2"


@dataclass
class Passage:
    """A retrieved passage. ``score``: RRF score (hybrid), cosine similarity (dense) or −bm25 (keyword);
    higher is better. ``dense_rank``/``keyword_rank``: 1-based rank in that list, None if it was not there."""

    text: str
    file: str
    page: int
    section: str
    chunk_id: str
    score: float
    dense_rank: Optional[int] = None
    keyword_rank: Optional[int] = None

    @property
    def citation(self) -> str:
        return f"{self.file}, p. {self.page}"


@dataclass
class IngestReport:
    """The outcome of adding one file: ``status`` added | unchanged | replaced | error."""

    file: str
    pages: int = 0
    chunks: int = 0
    status: str = "added"
    message: str = ""


class ProgressEvent(str):
    """A progress message (a ``str``, so any ``progress(msg)`` callback works) that also carries
    ``file``, ``stage`` (read | embed | store | done), ``done`` and ``total`` for a progress bar."""

    file: str
    stage: str
    done: int
    total: int

    def __new__(cls, msg: str, file: str = "", stage: str = "", done: int = 0, total: int = 0):
        obj = super().__new__(cls, msg)
        obj.file, obj.stage, obj.done, obj.total = file, stage, done, total
        return obj


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ------------------------------------------------------------------------------------------------------------


class KnowledgeBase:
    """The trader's theory library. See the module doc; the CLI is ``ita kb``.

    >>> kb = KnowledgeBase()                                  # doctest: +SKIP
    >>> kb.add(["course.pdf", "notes.md"])                    # doctest: +SKIP
    >>> for p in kb.search("what is an IFVG?", k=3):          # doctest: +SKIP
    ...     print(p.citation, p.section, p.text[:80])

    ``embedding_function``: any Chroma embedding function; default :func:`get_embedding_function`
    (``ITA_EMBEDDINGS``). It is passed to Chroma every time the collection is opened.
    """

    def __init__(self, path: str | Path | None = None, embedding_function=None):
        self.path = Path(path).expanduser() if path else settings().home / "kb"
        self._ef = embedding_function
        self._conn: Optional[sqlite3.Connection] = None
        self._client = None
        self._col = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"KnowledgeBase({str(self.path)!r})"

    # -- plumbing ----------------------------------------------------------------------------------------
    @property
    def ef(self):
        if self._ef is None:
            from ita.knowledge_base.embeddings import get_embedding_function

            self._ef = get_embedding_function()
        return self._ef

    @property
    def conn(self) -> sqlite3.Connection:
        """The SQLite connection to ``kb.db`` (shared by threads; writes hold the library's lock)."""
        if self._conn is None:
            with self._lock:
                if self._conn is None:
                    self.path.mkdir(parents=True, exist_ok=True)
                    conn = sqlite3.connect(str(self.path / "kb.db"), check_same_thread=False, timeout=30)
                    conn.execute("PRAGMA journal_mode=WAL")
                    self._create_schema(conn)
                    self._conn = conn
        return self._conn

    @property
    def db(self) -> "sqlite_utils.Database":
        """``kb.db`` as a :class:`sqlite_utils.Database` (for inspection; the library itself uses :attr:`conn`)."""
        import sqlite_utils

        return sqlite_utils.Database(self.conn)

    @staticmethod
    def _create_schema(conn: sqlite3.Connection) -> None:
        conn.execute("""CREATE TABLE IF NOT EXISTS documents (
            file TEXT PRIMARY KEY, path TEXT, title TEXT, kind TEXT, pages INTEGER, chunks INTEGER,
            sha256 TEXT, added_at TEXT, empty_pages TEXT)""")
        conn.execute("""CREATE TABLE IF NOT EXISTS chunks (
            id INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, file TEXT NOT NULL, page INTEGER,
            n INTEGER, section TEXT, text TEXT, sha256 TEXT)""")
        conn.execute("CREATE INDEX IF NOT EXISTS chunks_file ON chunks(file)")
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.commit()
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'chunks_fts'").fetchone():
            # the FTS5 index with its sync triggers, created once by sqlite-utils (imported only here: it
            # pulls in pandas, seconds of start-up that a search does not need)
            import sqlite_utils

            sqlite_utils.Database(conn)["chunks"].enable_fts(["text", "section"], fts_version="FTS5",
                                                             create_triggers=True, tokenize=FTS_TOKENIZE)
            conn.commit()

    def embedding_id(self) -> str:
        """The configured embedding function's id, as recorded in ``meta`` (``"name:model"``, e.g.
        ``"ita_minilm_int8:all-MiniLM-L6-v2-onnx-int8"``; the class name when the function does not describe itself)."""
        ef = self.ef
        try:
            name, config = ef.name(), ef.get_config()
        except Exception:
            return type(ef).__name__
        return f"{name}:{config.get('model', '')}" if isinstance(config, dict) else str(name)

    def _stored_embedding_id(self) -> Optional[str]:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'embedding'").fetchone()
        return row[0] if row else None

    def _check_embedding(self) -> None:
        stored, current = self._stored_embedding_id(), self.embedding_id()
        if stored and stored != current and self._chunk_count():
            raise KnowledgeBaseError(
                f"the library at {self.path} was indexed with embeddings {stored!r}, but {current!r} is "
                "configured now (ITA_EMBEDDINGS). Set ITA_EMBEDDINGS back, or run `ita kb reindex` to "
                "re-embed the stored passages with the new model.")

    def _open_client(self):
        if self._client is None:
            import chromadb
            from chromadb.config import Settings

            (self.path / "chroma").mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(self.path / "chroma"),
                                                     settings=Settings(anonymized_telemetry=False))
        return self._client

    def _collection(self, check: bool = True):
        """The Chroma collection, opened with our embedding function (it must be passed on every open)."""
        with self._lock:
            if check:
                self._check_embedding()
            if self._col is None:
                client = self._open_client()
                try:
                    self._col = client.get_or_create_collection(
                        COLLECTION, embedding_function=self.ef, configuration={"hnsw": {"space": "cosine"}})
                except ValueError as exc:  # Chroma: the collection was made with another embedding function
                    if self._chunk_count():
                        raise KnowledgeBaseError(
                            f"the library at {self.path} was indexed with another embedding function ({exc}). "
                            "Set ITA_EMBEDDINGS back, or run `ita kb reindex`.") from exc
                    client.delete_collection(COLLECTION)  # empty library: free to switch models
                    self._col = client.get_or_create_collection(
                        COLLECTION, embedding_function=self.ef, configuration={"hnsw": {"space": "cosine"}})
                self._reconcile()
            return self._col

    def _chunk_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def _chroma_ids(self) -> set[str]:
        ids: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self._col.get(include=[], limit=page, offset=offset)["ids"]
            ids.update(got)
            if len(got) < page:
                return ids
            offset += page

    def _reconcile(self) -> None:
        """Repair the dense index from SQLite when their counts differ (see the module doc)."""
        if self._col.count() == self._chunk_count():
            return
        have = self._chroma_ids()
        rows = {r[0]: r for r in self.conn.execute("SELECT chunk_id, file, page, n, section, text, sha256 FROM chunks")}
        orphans = [i for i in have if i not in rows]
        if orphans:
            for s in range(0, len(orphans), 1000):
                self._col.delete(ids=orphans[s:s + 1000])
        missing = [rows[i] for i in rows if i not in have]
        if missing:
            chunks = [Chunk(chunk_id=r[0], file=r[1], page=r[2], n=r[3], section=r[4] or "", text=r[5]) for r in missing]
            self._upsert(chunks, [r[6] for r in missing], self._embed([c.embed_text() for c in chunks]))

    def _embed(self, texts: list[str], progress=None):
        from ita.knowledge_base.embeddings import embed_texts

        return embed_texts(self.ef, texts, progress=progress)

    def _upsert(self, chunks: list[Chunk], shas: list[str], vectors) -> None:
        step = 1000
        try:
            step = min(step, self._open_client().get_max_batch_size())
        except Exception:
            pass
        for s in range(0, len(chunks), step):
            part = chunks[s:s + step]
            self._col.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=[v for v in vectors[s:s + step]],
                documents=[c.text for c in part],
                metadatas=[{"file": c.file, "page": c.page, "section": c.section, "n": c.n, "sha256": sha}
                           for c, sha in zip(part, shas[s:s + step])])

    # -- adding ------------------------------------------------------------------------------------------
    def add(self, paths, progress: Optional[Callable[[str], None]] = None, strict: bool = False) -> list[IngestReport]:
        """Add files (PDF, Markdown, text). One :class:`IngestReport` per file, in order.

        A file that cannot be read (missing, unsupported type, scanned PDF, corrupt) gets status ``error``
        with the reason; the others are still added. ``strict=True`` (the CLI) instead raises
        :class:`KnowledgeBaseError` before anything is stored if any file cannot be read.
        ``progress(msg)`` is called with :class:`ProgressEvent` s (a ``str``) while reading, embedding
        (after every batch of passages) and storing.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        paths = list(paths)

        def say(msg, **kw):
            if progress:
                progress(ProgressEvent(msg, **kw))

        parsed: list[ParsedDocument | IngestReport] = []
        errors: list[str] = []
        if strict:  # cheap checks first: a typo in the 5th name must not wait for 4 PDFs to be read
            for p in paths:
                try:
                    check_path(p)
                except KnowledgeBaseError as exc:
                    errors.append(str(exc))
            if errors:
                raise KnowledgeBaseError(_join_errors(errors))
        for p in paths:
            name = Path(str(p)).name
            say(f"reading {name}", file=name, stage="read")
            try:
                parsed.append(parse_file(p))
            except KnowledgeBaseError as exc:
                errors.append(str(exc))
                parsed.append(IngestReport(file=name, status="error", message=str(exc)))
        if strict and errors:
            raise KnowledgeBaseError(_join_errors(errors))
        reports = []
        for item in parsed:
            reports.append(item if isinstance(item, IngestReport) else self._add_one(item, say))
        return reports

    def _add_one(self, doc: ParsedDocument, say) -> IngestReport:
        with self._lock:
            same = self.conn.execute("SELECT file, chunks FROM documents WHERE sha256 = ?", [doc.sha256]).fetchone()
            if same:
                msg = ("already in the library (same content)" if same[0] == doc.file
                       else f"same content as {same[0]}, already in the library — not added twice")
                say(f"{doc.file}: unchanged", file=doc.file, stage="done", done=1, total=1)
                return IngestReport(doc.file, doc.pages, same[1], "unchanged", msg)
            old = self.conn.execute("SELECT path, chunks FROM documents WHERE file = ?", [doc.file]).fetchone()
            total = len(doc.chunks)
            try:
                col = self._collection()
                vectors = self._embed(
                    [c.embed_text() for c in doc.chunks],
                    progress=lambda d, t: say(f"embedding {doc.file}: {d}/{t} passages", file=doc.file,
                                              stage="embed", done=d, total=t))
                say(f"storing {doc.file}", file=doc.file, stage="store", done=total, total=total)
                self._write(doc, vectors, col)
            except KnowledgeBaseError as exc:
                return IngestReport(doc.file, doc.pages, 0, "error", str(exc))
            except Exception as exc:  # noqa: BLE001 - reported per file; both stores were rolled back
                return IngestReport(doc.file, doc.pages, 0, "error",
                                    f"{doc.file}: could not be stored ({type(exc).__name__}: {exc}); "
                                    "nothing of it was kept.")
            notes = [doc.note] if doc.note else []
            if old:
                notes.insert(0, f"replaced the previous version ({old[1]} passages)")
            say(f"{doc.file}: {'replaced' if old else 'added'}", file=doc.file, stage="done", done=total, total=total)
            return IngestReport(doc.file, doc.pages, total, "replaced" if old else "added", "; ".join(notes))

    def _write(self, doc: ParsedDocument, vectors, col) -> None:
        conn = self.conn
        old_ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks WHERE file = ?", [doc.file])]
        new_ids = [c.chunk_id for c in doc.chunks]
        touched = False
        try:
            with conn:  # one SQLite transaction; Chroma is written inside it, so a failure rolls both back
                conn.execute("DELETE FROM chunks WHERE file = ?", [doc.file])
                conn.execute("DELETE FROM documents WHERE file = ?", [doc.file])
                conn.executemany(
                    "INSERT INTO chunks (chunk_id, file, page, n, section, text, sha256) VALUES (?,?,?,?,?,?,?)",
                    [(c.chunk_id, c.file, c.page, c.n, c.section, c.text, doc.sha256) for c in doc.chunks])
                conn.execute(
                    "INSERT INTO documents (file, path, title, kind, pages, chunks, sha256, added_at, empty_pages) "
                    "VALUES (?,?,?,?,?,?,?,?,?)",
                    [doc.file, str(doc.path), doc.title, doc.kind, doc.pages, len(doc.chunks), doc.sha256, _now(),
                     json.dumps(doc.empty_pages)])
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('embedding', ?)", [self.embedding_id()])
                touched = True
                self._upsert(doc.chunks, [doc.sha256] * len(doc.chunks), vectors)
        except BaseException:
            if touched:
                try:
                    col.delete(ids=new_ids)
                except Exception:  # the next open reconciles from SQLite
                    pass
            raise
        stale = [i for i in old_ids if i not in set(new_ids)]
        if stale:
            try:
                for s in range(0, len(stale), 1000):
                    col.delete(ids=stale[s:s + 1000])
            except Exception:  # reconciled on the next open (counts differ)
                self._col = None

    # -- listing and removing ----------------------------------------------------------------------------
    def documents(self) -> list[dict]:
        """The stored documents: file, title, pages, chunks, sha256, added_at (+ path, kind, empty_pages)."""
        rows = self.conn.execute(
            "SELECT file, title, pages, chunks, sha256, added_at, path, kind, empty_pages FROM documents "
            "ORDER BY added_at, file").fetchall()
        keys = ("file", "title", "pages", "chunks", "sha256", "added_at", "path", "kind", "empty_pages")
        out = []
        for r in rows:
            d = dict(zip(keys, r))
            d["empty_pages"] = json.loads(d["empty_pages"] or "[]")
            out.append(d)
        return out

    def _resolve(self, file: str | Path) -> str:
        names = [r[0] for r in self.conn.execute("SELECT file FROM documents")]
        paths = {r[1]: r[0] for r in self.conn.execute("SELECT file, path FROM documents")}
        s = str(file)
        if s in names:
            return s
        try:
            resolved = str(Path(s).expanduser().resolve())
            if resolved in paths:
                return paths[resolved]
        except OSError:
            pass
        base = Path(s).name
        if base in names:
            return base
        lower = [n for n in names if n.lower() == base.lower()]
        if len(lower) == 1:
            return lower[0]
        hint = closest(base, names) if names else ""
        listed = "the library is empty" if not names else f"stored: {', '.join(sorted(names)[:10])}"
        raise KnowledgeBaseError(f"{s}: not in the library ({listed}).{hint} See `ita kb list`.")

    def remove(self, file: str | Path) -> int:
        """Remove a document (by file name or path) from both stores; returns the number of passages removed."""
        with self._lock:
            name = self._resolve(file)
            conn = self.conn
            ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks WHERE file = ?", [name])]
            col = self._collection(check=False)
            with conn:
                conn.execute("DELETE FROM chunks WHERE file = ?", [name])
                conn.execute("DELETE FROM documents WHERE file = ?", [name])
                for s in range(0, len(ids), 1000):
                    col.delete(ids=ids[s:s + 1000])
            return len(ids)

    def reindex(self, progress: Optional[Callable[[str], None]] = None) -> int:
        """Re-embed every stored passage with the current embedding function (after changing
        ``ITA_EMBEDDINGS``): the Chroma collection is rebuilt from SQLite. Returns the number of passages."""
        with self._lock:
            client = self._open_client()
            rows = self.conn.execute("SELECT chunk_id, file, page, n, section, text, sha256 FROM chunks ORDER BY id").fetchall()
            chunks = [Chunk(chunk_id=r[0], file=r[1], page=r[2], n=r[3], section=r[4] or "", text=r[5]) for r in rows]

            def prog(d, t):
                if progress:
                    progress(ProgressEvent(f"embedding {d}/{t} passages", file="", stage="embed", done=d, total=t))

            vectors = self._embed([c.embed_text() for c in chunks], progress=prog)
            try:
                client.delete_collection(COLLECTION)
            except Exception:
                pass
            self._col = client.get_or_create_collection(COLLECTION, embedding_function=self.ef,
                                                        configuration={"hnsw": {"space": "cosine"}})
            if chunks:
                self._upsert(chunks, [r[6] for r in rows], vectors)
            with self.conn:
                self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('embedding', ?)",
                                     [self.embedding_id()])
            return len(chunks)

    # -- search ------------------------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, mode: str = "hybrid") -> list[Passage]:
        """The ``k`` best passages for ``query``; ``mode`` hybrid (default) | dense | keyword."""
        if mode not in MODES:
            raise KnowledgeBaseError(f"unknown search mode {mode!r}; use one of: {', '.join(MODES)}.{closest(mode, MODES)}")
        k = int(k)
        if k < 1:
            raise KnowledgeBaseError(f"k must be at least 1 (got {k}).")
        query = (query or "").strip()
        if not query or not self._chunk_count():
            return []
        n_cand = max(4 * k, 20) if mode == "hybrid" else k
        dense: list[tuple[str, float]] = self._dense(query, n_cand) if mode in ("hybrid", "dense") else []
        keyword: list[tuple[str, float]] = self._keyword(query, n_cand) if mode in ("hybrid", "keyword") else []
        d_rank = {cid: i for i, (cid, _) in enumerate(dense, start=1)}
        k_rank = {cid: i for i, (cid, _) in enumerate(keyword, start=1)}
        if mode == "hybrid":
            fused = rrf([[c for c, _ in dense], [c for c, _ in keyword]])
            order = sorted(fused, key=lambda c: (-fused[c], d_rank.get(c, 10**9), k_rank.get(c, 10**9)))
            scored = [(c, fused[c]) for c in order]
        else:
            scored = dense if mode == "dense" else keyword
        rows = self._rows([c for c, _ in scored])
        out = []
        for cid, score in scored:
            r = rows.get(cid)
            if r is None:  # a vector without a row: never shown (reconciled on the next open)
                continue
            out.append(Passage(text=r[5], file=r[1], page=r[2], section=r[4] or "", chunk_id=cid,
                               score=float(score), dense_rank=d_rank.get(cid), keyword_rank=k_rank.get(cid)))
            if len(out) == k:
                break
        return out

    def _rows(self, ids: list[str]) -> dict[str, tuple]:
        if not ids:
            return {}
        q = "SELECT chunk_id, file, page, n, section, text FROM chunks WHERE chunk_id IN ({})".format(
            ",".join("?" * len(ids)))
        with self._lock:
            return {r[0]: r for r in self.conn.execute(q, ids).fetchall()}

    def _dense(self, query: str, n: int) -> list[tuple[str, float]]:
        col = self._collection()
        n = min(n, self._chunk_count())
        if n <= 0:
            return []
        vec = self.ef.embed_query([dense_query(query)])[0]
        res = col.query(query_embeddings=[vec], n_results=n, include=["distances"])
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0])]

    def _keyword(self, query: str, n: int) -> list[tuple[str, float]]:
        match = fts_query(query)
        if not match:
            return []
        sql = ("SELECT c.chunk_id, bm25(chunks_fts, 1.0, 2.0) AS r FROM chunks_fts "
               "JOIN chunks c ON c.id = chunks_fts.rowid WHERE chunks_fts MATCH ? ORDER BY r LIMIT ?")
        try:
            with self._lock:
                rows = self.conn.execute(sql, [match, n]).fetchall()
        except sqlite3.OperationalError:  # pragma: no cover - fts_query only emits quoted tokens
            return []
        return [(cid, -float(r)) for cid, r in rows]

    def close(self) -> None:
        """Close the SQLite connection (Chroma's client is shared per process and needs no closing)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._col = None
        self._client = None


def _join_errors(errors: list[str]) -> str:
    return errors[0] if len(errors) == 1 else "\n".join(f"- {e}" for e in errors)
