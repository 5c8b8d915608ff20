"""Notion's wire format for the fake (:mod:`tests.fakes.notion`): error JSON, ids, timestamps, rich text, the
page and block shapes the API returns, query filter operators, and reading a property's plain value."""
from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

from . import Response

CODES = {400: "validation_error", 401: "unauthorized", 403: "restricted_resource", 404: "object_not_found",
         409: "conflict_error", 429: "rate_limited", 500: "internal_server_error",
         502: "internal_server_error", 503: "service_unavailable", 504: "gateway_timeout"}
ANNOTATIONS = {"bold": False, "italic": False, "strikethrough": False, "underline": False, "code": False,
               "color": "default"}


class NotionError(Exception):
    """Raised inside handlers; becomes Notion's error JSON."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code = status, code or CODES.get(status, "internal_server_error")


OPS = {
    "equals": lambda a, b: a == b, "does_not_equal": lambda a, b: a != b,
    "contains": lambda a, b: b in (a or ""), "does_not_contain": lambda a, b: b not in (a or ""),
    "starts_with": lambda a, b: (a or "").startswith(b), "ends_with": lambda a, b: (a or "").endswith(b),
    "greater_than": lambda a, b: a is not None and a > b, "less_than": lambda a, b: a is not None and a < b,
    "greater_than_or_equal_to": lambda a, b: a is not None and a >= b,
    "less_than_or_equal_to": lambda a, b: a is not None and a <= b,
    "before": lambda a, b: a is not None and a < b, "after": lambda a, b: a is not None and a > b,
    "on_or_before": lambda a, b: a is not None and a <= b, "on_or_after": lambda a, b: a is not None and a >= b,
    "is_empty": lambda a, b: a in (None, "", []), "is_not_empty": lambda a, b: a not in (None, "", []),
}


def page_property(page: dict, name: str) -> Any:
    """Plain value of a page property: text of title/rich_text, select name, number, date start, ..."""
    prop = page["properties"][name]
    kind = prop["type"]
    value = prop.get(kind)
    if kind in ("title", "rich_text"):
        return "".join(item.get("plain_text", "") for item in value or [])
    if kind == "select":
        return value["name"] if value else None
    if kind == "multi_select":
        return [v["name"] for v in value or []]
    if kind == "date":
        return value["start"] if value else None
    return value


def matcher(method: str, path_prefix: str):
    return lambda call: method in ("*", call.http_method) and call.path.startswith(path_prefix)


def error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return status, {"object": "error", "status": status, "code": code, "message": message,
                    "request_id": str(uuid.uuid4())}, headers or {}


def not_found(kind: str, object_id: str) -> NotionError:
    return NotionError(404, f"Could not find {kind} with ID: {object_id}. Make sure the relevant pages and "
                            "databases are shared with your integration.")


def norm(object_id: str) -> str:
    return str(object_id).replace("-", "").lower()


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:00.000Z")


def rich_text(text: str) -> list[dict]:
    return [rich_item({"text": {"content": text}}, "")]


def rich_item(item: Any, where: str) -> dict:
    if not isinstance(item, dict):
        raise NotionError(400, f"body failed validation: {where} should be an object.")
    kind = item.get("type") or ("text" if "text" in item else next(iter(item), "text"))
    if kind != "text":  # mentions, equations: kept as sent
        return {"type": kind, "annotations": dict(ANNOTATIONS), "plain_text": "", "href": None, **item}
    content = (item.get("text") or {}).get("content")
    if not isinstance(content, str):
        raise NotionError(400, f"body failed validation: {where}.text.content should be defined.")
    if len(content) > 2000:
        raise NotionError(400, f"body failed validation: {where}.text.content.length should be ≤ `2000`, "
                               f"instead was `{len(content)}`.")
    link = (item.get("text") or {}).get("link")
    return {"type": "text", "text": {"content": content, "link": link},
            "annotations": {**ANNOTATIONS, **(item.get("annotations") or {})}, "plain_text": content,
            "href": link.get("url") if link else None}


def shallow(block: dict) -> dict:
    """A block as the API lists it: its nested children are fetched separately."""
    out = copy.deepcopy(block)
    out.get(out["type"], {}).pop("children", None)
    return out


def public(page: dict) -> dict:
    """The page object as the API returns it (no ``children``)."""
    return copy.deepcopy({k: v for k, v in page.items() if k != "children"})
