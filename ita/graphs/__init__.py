"""LLM layer — LangGraph graphs: ``chat.py`` (understand → call tools → answer) and ``live.py`` (fetch closed
candles → detect → evaluate → score → decide → render → comment → notify → journal). The core never imports
this package."""
