"""The RAG branch of the chat: theory questions are answered from the trader's own library first, with
citations (real knowledge base: Chroma + SQLite in the test's ITA_HOME), and chat uploads ingest files."""
from __future__ import annotations

import textwrap
from types import SimpleNamespace

import pytest
from langchain_core.messages import AIMessage

from ita.agent import ChatSession
from ita.agent.context import AgentConfig

NOTES = textwrap.dedent("""\
    # My ICT notes

    ## Inversion fair value gap

    An inversion fair value gap (IFVG) is a gap that price closed through. A bullish gap closed below its
    bottom becomes resistance; I sell the retrace into it with the stop above the gap.

    ## Breaker block

    A breaker block is an order block that failed: price broke through it and returned. The failed block
    flips its role, support becomes resistance.
    """)


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return AgentConfig(use_llm=False, chat_db=tmp_path / "chat.db")


def test_empty_library_says_so_and_how_to_add(cfg):
    t = ChatSession("kb0", cfg).ask("what is a breaker block?")
    assert [r.tool for r in t.results] == ["kb_search"] and t.results[0].data["documents"] == 0
    assert "empty" in t.answer and "ita kb add" in t.answer


def test_theory_question_quotes_the_library_with_citations(cfg, tmp_path):
    from ita.knowledge_base import KnowledgeBase

    notes = tmp_path / "ict_notes.md"
    notes.write_text(NOTES, encoding="utf-8")
    KnowledgeBase().add([notes])
    t = ChatSession("kb1", cfg).ask("what is a breaker block?")
    r = t.results[0]
    assert r.tool == "kb_search" and r.ok and r.data["passages"]
    top = r.data["passages"][0]
    assert top["file"] == "ict_notes.md" and "failed" in top["text"]
    assert "ict_notes.md, p. 1" in t.answer and "> " in t.answer
    ru = ChatSession("kb2", cfg).ask("что такое IFVG?")
    assert ru.results[0].tool == "kb_search" and "IFVG" in ru.results[0].data["passages"][0]["text"]
    assert "библиотеки" in ru.answer


def test_llm_answers_from_kb_search(cfg, tmp_path):
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel

    from ita.knowledge_base import KnowledgeBase

    class Fake(FakeMessagesListChatModel):
        def bind_tools(self, tools, **kw):
            return self

    notes = tmp_path / "ict_notes.md"
    notes.write_text(NOTES, encoding="utf-8")
    KnowledgeBase().add([notes])
    model = Fake(responses=[
        AIMessage(content="", tool_calls=[{"name": "kb_search", "id": "k1", "args": {"query": "breaker block"}}]),
        AIMessage(content="Your notes define a breaker block as a failed order block (ict_notes.md, p. 1)."),
    ])
    llm = AgentConfig(api_key="x", use_llm=True, chat_db=cfg.chat_db)
    t = ChatSession("kb3", llm, model=model).ask("explain breaker blocks from my course")
    assert t.used_llm and [r.tool for r in t.results] == ["kb_search"]
    assert t.answer.startswith("Your notes define a breaker block")


def test_chat_upload_ingests_under_the_original_name(tmp_path, monkeypatch):
    from ita.agent.chainlit_app import handle_upload
    from ita.knowledge_base import KnowledgeBase

    src = tmp_path / "3f9c-upload-tmp"
    src.write_text(NOTES, encoding="utf-8")
    up = SimpleNamespace(name="ict_notes.md", path=str(src))
    reply = handle_upload([up], "en")
    assert "`ict_notes.md` added" in reply
    assert [d["file"] for d in KnowledgeBase().documents()] == ["ict_notes.md"]
    assert "already in the library" in handle_upload([up], "en")
    empty = tmp_path / "scan.pdf"
    empty.write_bytes(b"%PDF-1.4\n%%EOF\n")
    bad = handle_upload([SimpleNamespace(name="scan.pdf", path=str(empty))], "en")
    assert "⚠️ `scan.pdf`" in bad
    assert [d["file"] for d in KnowledgeBase().documents()] == ["ict_notes.md"]
