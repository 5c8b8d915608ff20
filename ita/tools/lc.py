"""LangChain wrappers of the tools of :mod:`ita.tools`, for ``model.bind_tools(...)`` and ``ToolNode``.

Each wrapper is a :class:`~langchain_core.tools.StructuredTool` with ``response_format="content_and_artifact"``:

* the **content** (what a language model reads) is compact JSON ``{"ok", "summary", "data"}`` — or
  ``{"ok": false, "error"}`` — with long strings and lists shortened;
* the **artifact** is the full :class:`~ita.tools.results.ToolResult` (tables, PNG/CSV paths, context), which
  the application shows to the trader and never sends to the model.

The argument schema is the JSON Schema of the tool's pydantic model (descriptions and examples included:
``tool.args``). LangChain passes the arguments through unvalidated so the tool itself validates them and a bad
argument comes back as a failed ToolResult with one clear sentence — the model can correct itself — instead of
an exception without an artifact.

Example::

    >>> from ita.tools.lc import TOOLS_BY_NAME
    >>> msg = TOOLS_BY_NAME["list_setups"].invoke(
    ...     {"name": "list_setups", "args": {}, "id": "call_1", "type": "tool_call"})    # doctest: +SKIP
    >>> msg.artifact.tables["setups"].rows[0]                                           # doctest: +SKIP
"""
from __future__ import annotations

import json
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from ita.tools.registry import ARG_MODELS, TOOLS
from ita.tools.results import ToolResult

MAX_CONTENT = 4000      # characters of JSON a model reads per tool call
_MAX_STR = 1500
_MAX_LIST = 12


def _shorten(v: Any, depth: int = 0) -> Any:
    """JSON-able ``v`` with long strings cut, long lists cut to their last items, deep nesting summarised."""
    if isinstance(v, str):
        return v if len(v) <= _MAX_STR else v[: _MAX_STR - 1] + "…"
    if isinstance(v, dict):
        if depth > 4:
            return f"{{{len(v)} keys}}"
        return {str(k): _shorten(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        items = list(v)
        if len(items) > _MAX_LIST:
            return [f"… {len(items) - _MAX_LIST} earlier items"] + [_shorten(x, depth + 1) for x in items[-_MAX_LIST:]]
        return [_shorten(x, depth + 1) for x in items]
    if isinstance(v, float):
        return None if v != v else round(v, 6)  # NaN → null; no float noise like -34.99999999999656
    return v


def content_for_model(result: ToolResult) -> str:
    """The compact JSON a language model reads for ``result`` (at most :data:`MAX_CONTENT` characters)."""
    if not result.ok:
        body: dict[str, Any] = {"ok": False, "error": result.error}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    data = _shorten(result.data)
    body = {"ok": True, "summary": result.summary, "data": data}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    if len(text) <= MAX_CONTENT:
        return text
    # too long: drop the largest data fields until it fits (the summary always stays)
    data = dict(data)
    dropped = []
    while data and len(text) > MAX_CONTENT:
        key = max(data, key=lambda k: len(json.dumps(data[k], ensure_ascii=False, default=str)))
        data.pop(key)
        dropped.append(key)
        body = {"ok": True, "summary": result.summary, "data": data, "omitted": dropped}
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    return text[:MAX_CONTENT]


def _wrap(name: str) -> StructuredTool:
    fn = TOOLS[name]
    model = ARG_MODELS[name]
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema["description"] = fn.description  # type: ignore[attr-defined]

    def run(**kwargs: Any) -> tuple[str, ToolResult]:
        result = fn(**kwargs)
        return content_for_model(result), result

    run.__name__ = name
    return StructuredTool.from_function(func=run, name=name, description=fn.description,  # type: ignore[attr-defined]
                                        args_schema=schema, response_format="content_and_artifact")


def langchain_tools() -> list[BaseTool]:
    """Every ITA tool as a LangChain tool, in the order of :data:`ita.tools.TOOLS`."""
    return [_wrap(name) for name in TOOLS]


TOOLS_BY_NAME: dict[str, BaseTool] = {t.name: t for t in langchain_tools()}

__all__ = ["MAX_CONTENT", "TOOLS_BY_NAME", "content_for_model", "langchain_tools"]
