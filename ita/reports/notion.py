"""Report pages in Notion (notion-client): building blocks from tool tables, creating a page under the reports
page, uploading a chart, and reading a page back (tables with their rows) to verify what it shows.

Configuration: ``ITA_NOTION_TOKEN`` (the integration's secret), ``ITA_NOTION_REPORTS_PAGE`` (the page the
reports go under — share it with the integration), ``ITA_NOTION_API_URL``, ``ITA_NOTION_TIMEOUT``.

Notion's limits kept here: rich text ≤ 2000 characters per item, ≤ 100 blocks per request (the rest appended),
tables as ``table`` blocks with their ``table_row`` children created with them.
"""
from __future__ import annotations

import os
from pathlib import Path

from ita.errors import ItaError

MAX_BLOCKS = 100


def text(s: str, bold: bool = False, code: bool = False) -> list[dict]:
    """Rich text items (split at 2000 characters)."""
    s = str(s)
    ann = {"bold": bold, "code": code}
    return [{"type": "text", "text": {"content": s[i:i + 2000]}, "annotations": ann}
            for i in range(0, max(len(s), 1), 2000)]


def heading(s: str, level: int = 2) -> dict:
    kind = f"heading_{level}"
    return {"object": "block", "type": kind, kind: {"rich_text": text(s)}}


def paragraph(s: str, **kw) -> dict:
    return {"object": "block", "type": "paragraph", "paragraph": {"rich_text": text(s, **kw)}}


def table(columns: list[str], rows: list[list]) -> dict:
    """A Notion table: the header row first, every cell as text (``None`` → ``—``)."""
    def row(cells):
        return {"object": "block", "type": "table_row",
                "table_row": {"cells": [text("—" if c is None else str(c)) for c in cells]}}

    return {"object": "block", "type": "table", "table": {
        "table_width": len(columns), "has_column_header": True, "has_row_header": False,
        "children": [row(columns), *[row(r) for r in rows]]}}


def plain(rich: list[dict]) -> str:
    return "".join(x.get("plain_text") or (x.get("text") or {}).get("content", "") for x in rich or [])


class NotionPages:
    """Pages under one parent page. :meth:`from_env` reads the configuration; every failure is an
    :class:`ItaError` saying what to fix."""

    def __init__(self, token: str, parent: str, base_url: str = "https://api.notion.com", timeout_s: float = 20.0):
        from notion_client import Client

        self.parent = parent
        self.client = Client(auth=token, base_url=base_url.rstrip("/"), retry=False, timeout_ms=int(timeout_s * 1000))

    @classmethod
    def from_env(cls, parent: str | None = None) -> "NotionPages":
        from ita.live.config import api_url
        from ita.secrets import register

        token = (os.environ.get("ITA_NOTION_TOKEN") or "").strip()
        parent = (parent or os.environ.get("ITA_NOTION_REPORTS_PAGE") or "").strip()
        if not token:
            raise ItaError("Notion is not configured: set ITA_NOTION_TOKEN (an internal integration's secret).")
        if not parent:
            raise ItaError("Where should the report go? Set ITA_NOTION_REPORTS_PAGE (or --parent) to the id of a Notion "
                           "page shared with the integration (the 32 hex characters in its URL).")
        register(token)
        url = api_url("ITA_NOTION_API_URL", os.environ.get("ITA_NOTION_API_URL") or "https://api.notion.com")
        try:
            timeout = float(os.environ.get("ITA_NOTION_TIMEOUT") or 20.0)
        except ValueError:
            raise ItaError(f"ITA_NOTION_TIMEOUT must be seconds, got {os.environ['ITA_NOTION_TIMEOUT']!r}.") from None
        return cls(token, parent, url, timeout)

    def _call(self, what: str, fn, **kw):
        from notion_client.errors import APIResponseError

        try:
            return fn(**kw)
        except APIResponseError as exc:
            hint = (" Share the page with the integration (••• → Connections) and check its id."
                    if exc.status in (403, 404) else " Check ITA_NOTION_TOKEN." if exc.status == 401 else "")
            raise ItaError(f"Notion refused to {what} ({exc.status} {exc.code}): {exc}.{hint}") from None
        except Exception as exc:  # noqa: BLE001 - network, timeouts
            raise ItaError(f"Notion could not {what}: {type(exc).__name__}: {exc}.") from None

    def upload_image(self, path: Path) -> dict:
        """An image block of the PNG at ``path`` (uploaded with the File Upload API)."""
        up = self._call("start an upload", self.client.file_uploads.create, mode="single_part",
                        filename=Path(path).name, content_type="image/png")
        self._call("upload the chart", self.client.file_uploads.send, file_upload_id=up["id"],
                   file=(Path(path).name, Path(path).read_bytes(), "image/png"))
        return {"object": "block", "type": "image", "image": {"type": "file_upload", "file_upload": {"id": up["id"]}}}

    def create(self, title: str, blocks: list[dict]) -> dict:
        """A page titled ``title`` under the parent with ``blocks`` (more than 100 are appended in batches)."""
        page = self._call("create the report page", self.client.pages.create, parent={"page_id": self.parent},
                          properties={"title": {"title": text(title)}}, children=blocks[:MAX_BLOCKS])
        for i in range(MAX_BLOCKS, len(blocks), MAX_BLOCKS):
            self._call("add to the report page", self.client.blocks.children.append, block_id=page["id"],
                       children=blocks[i:i + MAX_BLOCKS])
        return page

    def read(self, page_id: str) -> list[dict]:
        """The page's blocks in order; a table block gets ``rows``: its cells as plain text, header first."""
        from notion_client.helpers import collect_paginated_api

        blocks = self._call("read the page back", collect_paginated_api, function=self.client.blocks.children.list,
                            block_id=page_id)
        for b in blocks:
            if b.get("type") == "table" and b.get("has_children"):
                rows = self._call("read a table", collect_paginated_api, function=self.client.blocks.children.list,
                                  block_id=b["id"])
                b["rows"] = [[plain(c) for c in r["table_row"]["cells"]] for r in rows if r.get("type") == "table_row"]
        return blocks


def tables_by_heading(blocks: list[dict]) -> dict[str, list[list[str]]]:
    """``{heading text: table rows}`` for each table that follows a heading."""
    out, current = {}, None
    for b in blocks:
        kind = b.get("type", "")
        if kind.startswith("heading_"):
            current = plain(b[kind].get("rich_text"))
        elif kind == "table" and current is not None:
            out[current] = b.get("rows") or []
    return out
