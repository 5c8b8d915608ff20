"""The Chainlit web chat for the ITA agent.

Start it from the repository root (Chainlit reads ``.chainlit/config.toml`` and ``chainlit.md`` from the
working directory)::

    scripts/chat_web.sh                       # http://127.0.0.1:8000
    PORT=8765 scripts/chat_web.sh --headless  # or: .venv/bin/chainlit run ita/agent/chainlit_app.py

What the trader sees for each message:

* every tool call as a Chainlit step (type ``tool``: input = the arguments as JSON, output = the tool's
  one-line summary or its error);
* the answer as Markdown (statistics as tables, setup id / version / hash and run id included), with the
  LLM fallback note in italics — a backtest's the moment its statistics exist, with a "⏳ Rendering 4 charts
  and the HTML report…" line that becomes the files line when they are written;
* charts (PNG) inline as :class:`chainlit.Image`, CSV/HTML reports as downloadable :class:`chainlit.File`,
  attached to that message.

One :class:`ita.agent.ChatSession` per Chainlit thread: the LangGraph SQLite checkpointer keeps the
conversation (follow-ups such as "same on XAUUSD" or "show trade 12") under the Chainlit thread id.
``ChatSession.ask`` is synchronous and runs in a worker thread (``cl.make_async``), so the event loop
stays free. Nothing that goes wrong reaches the trader as a stack trace: it is logged on the server and the
chat says, in one friendly sentence, what happened. ITA never places orders.

Chat settings (the gear next to the message box): the default symbol (used when neither the request nor
the conversation names one), the risk per trade in % (a ``risk_pct`` override of backtests, recorded with
the run) and the language-model switch (meaningful only when ``OPENAI_API_KEY`` is set; a new ChatSession
on the same thread). Settings are passed as ``ChatSession.ask(text, defaults=...)``.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterable

import chainlit as cl
from chainlit.input_widget import Select, Slider, Switch

log = logging.getLogger("ita.chainlit")
for _noisy in ("kaleido", "choreographer"):  # chart export logs every browser tab at INFO
    logging.getLogger(_noisy).setLevel(logging.WARNING)

AUTHOR = "ITA"
NO_DEFAULT = "ask"  # the "default symbol" choice that means: ask me when I name none
RISK_DEFAULT = 1.0  # the sample setups risk 1 % of the account per trade
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


# ---- what the trader sees when something goes wrong ---------------------------------------------------

def lang_of(text: str) -> str:
    return "ru" if _CYRILLIC.search(text or "") else "en"


# ---- the knowledge-base hook --------------------------------------------------------------------------

def handle_upload(files: Iterable[Any], lang: str = "en", progress=None) -> str:
    """The single hook for files the trader uploads in the chat: theory PDFs, Markdown or text notes go into
    the knowledge base (:class:`ita.knowledge_base.KnowledgeBase`), cited later by their original name.

    ``files``: Chainlit file elements (``.name``, ``.path``). Returns the Markdown reply: per file the pages
    and chunks added, "already in the library", or the one-sentence reason it was refused (e.g. a scanned
    PDF without text). Nothing half-ingested is ever kept.
    """
    import shutil
    import tempfile

    from ita.knowledge_base import KnowledgeBase

    lines = []
    with tempfile.TemporaryDirectory(prefix="ita_upload_") as tmp:
        paths = []
        for f in files:
            name = Path(getattr(f, "name", None) or Path(str(getattr(f, "path", "file"))).name).name
            dst = Path(tmp) / name
            shutil.copyfile(str(f.path), dst)  # the upload's own temp name would become the citation
            paths.append(dst)
        reports = KnowledgeBase().add(paths, progress=progress) if paths else []
    for r in reports:
        if r.status in ("added", "replaced"):
            verb = {"added": ("added", "добавлен"), "replaced": ("updated", "обновлён")}[r.status][lang == "ru"]
            lines.append(f"📚 `{r.file}` {verb}: {r.pages} "
                         + ("стр., " if lang == "ru" else "pages, ") + f"{r.chunks} "
                         + ("фрагментов" if lang == "ru" else "passages"))
        elif r.status == "unchanged":
            lines.append(f"📚 `{r.file}` " + ("уже в библиотеке" if lang == "ru" else "is already in the library"))
        else:
            lines.append(f"⚠️ `{r.file}`: {r.message}")
    tail = ("Спросите, например: «что такое FVG?»" if lang == "ru"
            else "Ask, for example: “what is a breaker block?”")
    return "\n\n".join([*lines, tail]) if lines else tail


# ---- settings ------------------------------------------------------------------------------------------

def _llm_available() -> bool:
    return bool(os.environ.get("OPENAI_API_KEY"))


def _llm_default() -> bool:
    return _llm_available() and os.environ.get("ITA_LLM", "").strip().lower() not in ("off", "0", "false", "no")


def _symbols() -> list[str]:
    try:
        from ita.data.instruments import instruments

        return sorted(instruments())
    except Exception:  # the registry is a YAML file in the package; never let the UI die on it
        log.exception("could not read the instrument registry")
        return ["EURUSD", "XAUUSD"]


def settings_widgets() -> list:
    symbols = _symbols()
    initial = os.environ.get("ITA_DEFAULT_SYMBOL", "EURUSD").upper()
    if initial not in symbols:
        initial = NO_DEFAULT
    items = {"Ask me each time": NO_DEFAULT, **{s: s for s in symbols}}
    key = _llm_available()
    return [
        Select(id="symbol", label="Default symbol", items=items, initial_value=initial,
               description="Used when a request names no symbol and the conversation has none yet."),
        Slider(id="risk_pct", label="Risk per trade, % of the account", initial=RISK_DEFAULT, min=0.25, max=5,
               step=0.25, description=("1 % = the setups' own risk. Scales profit and drawdown in money; R results do not change.")),
        Switch(id="use_llm", label="Language model (OpenAI-compatible)", initial=_llm_default(), disabled=not key,
               description=("Free-form understanding and explanations; every number still comes from the tools."
                            if key else "Set OPENAI_API_KEY on the server to enable; the built-in command "
                            "parser answers without it.")),
    ]


def _settings() -> dict:
    return cl.user_session.get("settings") or {}


# ---- the session ---------------------------------------------------------------------------------------

def _thread_id() -> str:
    return cl.context.session.thread_id


def _new_chat(use_llm: bool):
    """A ChatSession for this Chainlit thread (same thread id → same LangGraph conversation)."""
    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig

    return ChatSession(_thread_id(), AgentConfig.from_env(use_llm=bool(use_llm) and _llm_available()))


async def _chat():
    chat = cl.user_session.get("chat")
    want = bool(_settings().get("use_llm", _llm_default())) and _llm_available()
    if chat is None or bool(chat.config.use_llm) != want:
        chat = await cl.make_async(_new_chat)(want)
        cl.user_session.set("chat", chat)
    return chat


def defaults_of(settings: dict) -> dict:
    """The chat settings as request defaults (weaker than what the trader types or said before): the
    default symbol, and the risk % as a ``risk_pct`` override when it differs from the setups' 1 %."""
    out: dict = {}
    symbol = settings.get("symbol")
    if symbol and symbol != NO_DEFAULT:
        out["symbol"] = symbol
    risk = settings.get("risk_pct")
    if risk is not None and float(risk) != RISK_DEFAULT:
        out["params"] = {"risk_pct": float(risk)}
    return out


# ---- rendering -----------------------------------------------------------------------------------------

def _args_json(args: dict) -> str:
    return json.dumps(args or {}, ensure_ascii=False, indent=2, default=str)


def elements_for(artifacts: Iterable[Any]) -> list:
    """PNG charts inline as images; CSV/HTML (and anything else) as downloadable files. Missing files skipped."""
    out, seen = [], set()
    for a in artifacts:
        path = Path(a.path)
        if str(path) in seen or not path.is_file():
            continue
        seen.add(str(path))
        if a.kind == "image" and path.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".gif"):
            out.append(cl.Image(path=str(path), name=a.name or path.name, display="inline", size="large"))
        else:
            mime = {".csv": "text/csv", ".html": "text/html", ".json": "application/json"}.get(path.suffix.lower())
            out.append(cl.File(path=str(path), name=a.name or path.name, display="inline", mime=mime))
    return out


def answer_markdown(turn, settings: dict | None = None, lang: str = "en") -> str:
    """The turn's answer, with the LLM-fallback note in italics (once)."""
    text = (turn.answer or "").strip()
    note = (turn.note or "").strip()
    if note and note not in text:
        text = f"_{note}_\n\n{text}" if text else f"_{note}_"
    return text or "_(no answer)_"


async def _steps(results) -> None:
    for r in results:
        async with cl.Step(name=r.tool, type="tool", show_input="json", language="text") as step:
            step.input = _args_json(r.args)
            step.output = (r.summary or "") if r.ok else f"❌ {r.error or r.summary or 'failed'}"
            if not r.ok:
                step.is_error = True


async def show_early(early, settings: dict | None = None, lang: str = "en", shown: dict | None = None) -> dict:
    """An early answer (``ChatSession.ask(early=…)``): the tool steps and the text (the statistics, with a
    "rendering N charts…" line) sent at once; a later early answer of the same turn (a request with several
    backtests) updates that message. Returns what :func:`show_turn` needs to complete the message."""
    if shown:
        await _steps(early.results[shown["steps"]:])
        msg = shown["message"]
        msg.content = answer_markdown(early, settings, lang)
        await msg.update()
    else:
        await _steps(early.results)
        msg = cl.Message(content=answer_markdown(early, settings, lang), author=AUTHOR)
        await msg.send()
    return {"message": msg, "steps": len(early.results)}


async def show_turn(turn, settings: dict | None = None, lang: str = "en", shown: dict | None = None) -> None:
    """The complete answer: its text with the charts and files under it. After :func:`show_early` (``shown``) the
    early message is completed in place — its text (the progress line becomes the files line) updated and the
    elements attached to it — instead of a second message."""
    if shown:
        await _steps(turn.results[shown["steps"]:])
        msg = shown["message"]
        content = answer_markdown(turn, settings, lang)
        if content != msg.content:
            msg.content = content
            await msg.update()
    else:
        await _steps(turn.results)
        msg = cl.Message(content=answer_markdown(turn, settings, lang), author=AUTHOR)
        await msg.send()
    # one at a time: Message.send would upload them concurrently and the UI shows them in arrival order
    # (the equity curve first, then the sample trades, then the files)
    for element in elements_for(turn.artifacts):
        await element.send(for_id=msg.id)
        msg.elements.append(element)


# ---- warm-up -------------------------------------------------------------------------------------------

def warm_up() -> None:
    """Start the chart renderer's headless Chromium (in its own background thread, :func:`ita.charts.warm_up`)
    and load the agent (graph, tools, parser, the backtest and chart code), so the trader's first backtest
    pays for none of them (~3-5 s). Best effort, in a background thread; ``ITA_WARMUP=off`` skips it."""
    import time

    t0 = time.perf_counter()
    try:
        from ita.charts import warm_up as start_renderer

        start_renderer()  # returns at once: the browser starts beside the imports below
        from ita.agent import ChatSession
        from ita.agent.context import AgentConfig
        import ita.agent.answers  # noqa: F401
        import ita.backtest.runner  # noqa: F401
        import ita.charts.figures  # noqa: F401
        import ita.charts.report  # noqa: F401
        import ita.setups.evaluate  # noqa: F401
        import ita.tools  # noqa: F401

        ChatSession("warm-up", AgentConfig.from_env())  # compiles the graph and opens the chat database
        start_renderer(wait=True)
        log.info("warm-up done in %.1f s", time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - the first request will report a real problem properly
        log.warning("warm-up skipped: %s", exc)


@cl.on_app_startup
async def on_app_startup() -> None:
    if os.environ.get("ITA_WARMUP", "").strip().lower() not in ("off", "0", "false", "no"):
        import threading

        threading.Thread(target=warm_up, name="ita-warm-up", daemon=True).start()


# ---- Chainlit callbacks --------------------------------------------------------------------------------

@cl.set_starters
async def starters(user=None, language: str | None = None) -> list[cl.Starter]:
    if (language or "").lower().startswith("ru"):
        return [
            cl.Starter(label="Бэктест asia_fvg_break на EURUSD за 2025",
                       message="бэктест asia_fvg_break на EURUSD за 2025"),
            cl.Starter(label="Список сетапов", message="покажи сетапы"),
            cl.Starter(label="Сравнить v1 и v2 fvg_reversal", message="сравни v1 и v2 fvg_reversal на EURUSD за 2025"),
            cl.Starter(label="Что ты умеешь?", message="помощь"),
        ]
    return [
        cl.Starter(label="Backtest asia_fvg_break on EURUSD for 2025",
                   message="backtest asia_fvg_break on EURUSD for 2025"),
        cl.Starter(label="List the setups", message="list setups"),
        cl.Starter(label="Compare fvg_reversal v1 and v2", message="compare v1 and v2 of fvg_reversal on EURUSD for 2025"),
        cl.Starter(label="What can you do?", message="help"),
    ]


@cl.on_chat_start
async def on_chat_start() -> None:
    settings = await cl.ChatSettings(settings_widgets()).send()
    cl.user_session.set("settings", dict(settings or {}))


@cl.on_settings_update
async def on_settings_update(settings: dict) -> None:
    cl.user_session.set("settings", dict(settings or {}))
    # the LLM switch takes effect with the next message (a new ChatSession on the same thread)


@cl.on_message
async def on_message(message: cl.Message) -> None:
    text = (message.content or "").strip()
    lang = lang_of(text)
    files = [e for e in (message.elements or []) if getattr(e, "path", None)]
    try:
        if files:
            async with cl.Step(name="kb_add", type="tool") as step:  # PDFs take a while: show it as a step
                step.input = ", ".join(getattr(f, "name", "file") for f in files)
                reply = await cl.make_async(handle_upload)(files, lang)
                step.output = reply
            await cl.Message(content=reply, author=AUTHOR).send()
            if not text:
                return
        chat = await _chat()
        shown: dict = {}

        def early(first) -> None:  # the graph's worker thread: the statistics go out now, the charts render on
            shown.update(cl.run_sync(show_early(first, _settings(), lang, dict(shown))))

        turn = await cl.make_async(chat.ask)(text, defaults_of(_settings()), early)
        log.info("turn %.2fs used_llm=%s tools=%s early=%s", turn.seconds, turn.used_llm,
                 [r.tool for r in turn.results], bool(shown))
        await show_turn(turn, _settings(), lang, shown)
    except Exception as exc:  # never a stack trace in the chat
        log.exception("chat turn failed: %r", text[:200])
        from ita.agent.answers import friendly_error

        await cl.Message(content=friendly_error(exc, lang), author=AUTHOR).send()
