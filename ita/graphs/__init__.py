"""LLM layer — LangGraph graphs: ``chat.py`` (understand → call tools → answer) and ``live.py``
(fetch closed candles → detect → evaluate → score → notify → journal). Planned with the agent and
live-signals issues; the core never imports this package."""
