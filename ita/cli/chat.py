"""``ita chat``: talk to ITA in the terminal (one request, or an interactive conversation)."""
from __future__ import annotations

from typing import List, Optional

import typer

from ita.cli.common import console, err_console



def chat(
    message: Optional[List[str]] = typer.Argument(None, help="A request; without one, an interactive chat starts."),
    thread: str = typer.Option("terminal", "--thread", "-t", help="Conversation id: the same id continues a conversation (also after a restart)."),
    llm: Optional[bool] = typer.Option(None, "--llm/--no-llm", help="Use the language model (needs OPENAI_API_KEY); default: when a key is set."),
):
    """Talk to ITA in the terminal: backtests, setups, detectors, charts — in English or Russian.

    \b
    Examples:
      ita chat "backtest asia_fvg_break on EURUSD for 2025"
      ita chat "same on XAUUSD"            (the conversation remembers: same --thread)
      ita chat "show trade 3"
      ita chat "бэктест asia_sweep по XAUUSD за 2025"
      ita chat                             (interactive; `exit` or Ctrl-D to leave)
    Without OPENAI_API_KEY a built-in command parser answers; with one (and optionally OPENAI_BASE_URL for
    Ollama / vLLM / llama.cpp, ITA_MODEL for the model) the model chooses the tools and explains the numbers.
    """
    from rich.markdown import Markdown

    if not message:  # an interactive chat is long-lived: the chart renderer starts now, beside the imports
        from ita.charts import warm_up

        warm_up()
    else:  # one question, one process: charts (if any) go to the renderer kept between commands
        from ita.charts.mode import use_daemon

        use_daemon()
    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig

    cfg = AgentConfig.from_env()
    if llm is False or (llm and not cfg.api_key):
        if llm:
            err_console.print("No OPENAI_API_KEY set: using the built-in command parser.")
        cfg = AgentConfig.from_env(use_llm=False)
    session = ChatSession(thread, cfg)

    def one(text: str) -> None:
        import difflib

        said: list[str] = []  # the paragraphs of the answer on the screen so far

        def show(answer: str) -> None:
            """Print what ``answer`` adds to the paragraphs already printed (the complete answer after the early
            one: the files line where "rendering …" was, and what came after the early answer)."""
            parts = answer.split("\n\n")
            ops = difflib.SequenceMatcher(None, said, parts, autojunk=False).get_opcodes()
            new = [p for tag, _, _, j1, j2 in ops if tag in ("replace", "insert") for p in parts[j1:j2]]
            if new:
                console.print(Markdown("\n\n".join(new)))
            said[:] = parts

        with console.status("Thinking …") as status:
            def early(first) -> None:  # the statistics, the moment they exist; the charts render meanwhile
                if not said:  # (a request with several backtests: the others come with the complete answer)
                    show(first.answer)
                status.update("Rendering charts …")

            turn = session.ask(text, early=early)
        show(turn.answer)  # after an early answer only what it adds: the files line instead of "rendering …"
        for a in turn.artifacts:
            console.print(f"  [dim]{a.kind}[/] {a.path}", highlight=False)
        console.print(f"[dim]{turn.seconds:.1f} s · {'LLM' if turn.used_llm else 'command parser'} · thread {thread}[/]")

    if message:
        one(" ".join(message))
        return
    try:
        import readline

        hist = cfg.chat_db.parent / "chat_history"
        hist.parent.mkdir(parents=True, exist_ok=True)
        if hist.exists():
            readline.read_history_file(str(hist))
    except Exception:  # no readline (Windows): plain input
        readline, hist = None, None
    console.print(f"ITA chat · thread {thread} · {'LLM ' + cfg.model if cfg.use_llm else 'command parser (no LLM)'} "
                  f"· type `help`, `exit` to leave")
    while True:
        try:
            text = input("you › ").strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if text.lower() in ("exit", "quit", "выход", ":q"):
            break
        if text:
            one(text)
            if readline is not None and hist is not None:
                try:
                    readline.write_history_file(str(hist))
                except OSError:
                    pass
