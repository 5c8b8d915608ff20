"""LLM layer — the conversational agent (Chainlit, Telegram, ``ita chat``): state, context, prompts.

Planned (issue "The conversational agent"): typed LangGraph state, a deterministic command parser for
the no-LLM default, and ChatOpenAI with the same tools when a key is configured. This layer may import
the deterministic core; the core (``ita.data``, ``ita.detectors``, ``ita.setups``, ``ita.backtest``,
``ita.charts``, ``ita.store``) never imports it.
"""
