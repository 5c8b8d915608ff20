"""LLM layer — LangChain tools with pydantic argument schemas over the deterministic core (load candles,
run a detector, validate/evaluate a setup, run a backtest, render a chart). Every number a user sees
comes from a tool. Planned with the conversational-agent issue; the core never imports this package."""
