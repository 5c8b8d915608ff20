"""LLM layer — the conversational agent (Chainlit, ``ita chat``): state, configuration, prompts, the
deterministic request parser and templated answers. Entry point: :class:`ChatSession`.

This layer imports the deterministic core; the core (``ita.data``, ``ita.detectors``, ``ita.setups``,
``ita.backtest``, ``ita.charts``, ``ita.store``) never imports it.
"""
from ita.agent.session import ChatSession, Turn

__all__ = ["ChatSession", "Turn"]
