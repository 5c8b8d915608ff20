"""Notion: one journal row per live signal, with the chart, in the trader's database (notion-client).

Properties written (each only if the database has it — the others are reported once at start-up):

=================  ==========  ==============================================================
property           type        value
=================  ==========  ==============================================================
``Name``           title       ``EURUSD long · asia_fvg_break v1 · Tue 04 Mar 02:15 NY``
``Signal ID``      rich_text   the signal's identity (setup, version, symbol, timeframe, bar)
``Setup``          select      setup id
``Version``        rich_text   ``v1``
``Symbol``         select      ``EURUSD``
``Timeframe``      select      ``M5``
``Direction``      select      ``long`` / ``short``
``Entry``/``SL``/``TP``  number  prices
``RR``             number      reward-to-risk
``Score``          number      p(success), 0–1
``Signal time``    date        the candle close that completed the signal (UTC)
``Comment``        rich_text   the comment
``Status``         select      ``new``; ``taken`` / ``skipped`` when the trader presses the button
``Vote``           select      ``up`` / ``down`` from the 👍 / 👎 buttons (optional property)
=================  ==========  ==============================================================

A property of another type than listed is written in that type when the value converts (a number into a
rich_text property, say). The page body holds the chart (uploaded with the File Upload API as an image
block), the comment and the score's basis.

Exactly once: before creating a row the data source is queried for the signal id (or the title), so a
retry after a timeout or a restart finds the row it already wrote instead of writing a second one.

Errors: a wrong token (401), a database not shared with the integration (404/403) or a rejected row (400)
are permanent; 429 carries ``Retry-After``; 5xx, 409 and network errors are retried with backoff.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ita.errors import ItaError
from ita.live.channels import SendError, ny_short
from ita.live.config import NotionSettings

log = logging.getLogger("ita.live")
PROPERTIES = {"Name": "title", "Signal ID": "rich_text", "Setup": "select", "Version": "rich_text",
              "Symbol": "select", "Timeframe": "select", "Direction": "select", "Entry": "number", "SL": "number",
              "TP": "number", "RR": "number", "Score": "number", "Signal time": "date", "Comment": "rich_text",
              "Status": "select"}


def _text(s: str) -> list[dict]:
    s = str(s)
    return [{"type": "text", "text": {"content": s[i:i + 2000]}} for i in range(0, max(len(s), 1), 2000)][:100]


def _value(kind: str, v):
    """``v`` as a Notion property value of type ``kind``; None when it does not convert."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return None
    if kind == "title":
        return {"title": _text(v)}
    if kind == "rich_text":
        return {"rich_text": _text(v)}
    if kind in ("select", "status"):
        return {kind: {"name": str(v).replace(",", " ")[:100]}}
    if kind == "multi_select":
        return {"multi_select": [{"name": str(v).replace(",", " ")[:100]}]}
    if kind == "number":
        try:
            return {"number": float(v)}
        except (TypeError, ValueError):
            return None
    if kind == "date":
        try:
            return {"date": {"start": pd.Timestamp(v).isoformat()}}
        except (TypeError, ValueError):
            return None
    if kind == "url":
        return {"url": str(v)}
    return None


def title(signal: dict) -> str:
    return (f"{signal['symbol']} {signal['direction']} · {signal['setup_id']} v{signal['version']} · "
            f"{ny_short(signal['known_at'])} NY")


def row_values(signal: dict) -> dict:
    """Our journal fields by property name (plain values)."""
    return {"Name": title(signal), "Signal ID": signal["signal_id"], "Setup": signal["setup_id"],
            "Version": f"v{signal['version']}", "Symbol": signal["symbol"], "Timeframe": signal["timeframe"],
            "Direction": signal["direction"], "Entry": signal["entry_price"], "SL": signal["sl_price"],
            "TP": signal["tp_price"], "RR": signal.get("rr"), "Score": round(float(signal["score"]), 4),
            "Signal time": signal["known_at"], "Comment": signal.get("comment") or "", "Status": "new"}


class NotionChannel:
    """The Notion journal database. :meth:`open` checks the token and finds the data source and its schema."""

    name = "notion"

    def __init__(self, settings: NotionSettings):
        from notion_client import Client

        self.settings = settings
        self.client = Client(auth=settings.token, base_url=settings.base_url.rstrip("/"), retry=False,
                             timeout_ms=int(settings.timeout_s * 1000))
        self.data_source_id: str | None = None
        self.schema: dict[str, str] = {}
        self.missing: list[str] = []

    def open(self) -> "NotionChannel":
        """Check the token and the database. Raises :class:`ItaError` saying what to fix."""
        from notion_client.errors import APIResponseError

        try:
            self.client.users.me()
        except APIResponseError as exc:
            raise ItaError(f"Notion rejected the token (ITA_NOTION_TOKEN): {exc}. Copy the internal integration "
                           "secret from notion.so/my-integrations.") from None
        except Exception as exc:  # noqa: BLE001 - network
            raise ItaError(f"Notion is not reachable at {self.settings.base_url} ({type(exc).__name__}: {exc}).") from None
        db = self.settings.database
        try:
            info = self.client.databases.retrieve(database_id=db)
            sources = info.get("data_sources") or []
            if not sources:
                raise ItaError(f"The Notion database {db} has no data source.")
            self.data_source_id = sources[0]["id"]
        except APIResponseError as exc:
            if exc.status != 404:
                raise ItaError(f"Notion refused the database {db}: {exc}.") from None
            self.data_source_id = db  # perhaps a data source id was given
        try:
            ds = self.client.data_sources.retrieve(data_source_id=self.data_source_id)
        except APIResponseError as exc:
            raise ItaError(f"Notion cannot find the journal database {db} ({exc}). Share the database with the "
                           "integration (••• → Connections) and check ITA_NOTION_DATABASE.") from None
        self.schema = {name: p.get("type") for name, p in (ds.get("properties") or {}).items()}
        self.missing = [p for p in PROPERTIES if p not in self.schema]
        if not any(t == "title" for t in self.schema.values()):
            raise ItaError(f"The Notion data source {self.data_source_id} has no title property.")
        if self.missing:
            log.warning("The Notion journal lacks the properties %s: those fields go only into the page body.",
                        ", ".join(self.missing))
        return self

    def properties(self, signal: dict) -> dict:
        out = {}
        title_prop = next(n for n, t in self.schema.items() if t == "title")
        for name, value in row_values(signal).items():
            target = title_prop if name == "Name" else name
            kind = self.schema.get(target)
            if kind is None:
                continue
            v = _value(kind, value)
            if v is not None:
                out[target] = v
        return out

    def _existing(self, signal: dict) -> str | None:
        if self.schema.get("Signal ID") in ("rich_text", "title"):
            flt = {"property": "Signal ID", self.schema["Signal ID"]: {"equals": signal["signal_id"]}}
        else:
            tp = next(n for n, t in self.schema.items() if t == "title")
            flt = {"property": tp, "title": {"equals": title(signal)}}
        res = self.client.data_sources.query(data_source_id=self.data_source_id, filter=flt, page_size=1)
        hits = res.get("results") or []
        return hits[0]["id"] if hits else None

    def feedback(self, page_id: str, chosen: dict) -> None:
        """Mirror the trader's button choices on the journal row: ``Status`` ← taken / skipped, ``Vote`` ← up /
        down (each only if the database has the property). Errors are logged, never raised: the choice is
        already in the SQLite journal."""
        props = {}
        for name, value in (("Status", chosen.get("taken")), ("Vote", chosen.get("vote"))):
            kind = self.schema.get(name)
            v = _value(kind, value) if kind and value else None
            if v is not None:
                props[name] = v
        if not props:
            return
        try:
            self.client.pages.update(page_id=page_id, properties=props)
        except Exception as exc:  # noqa: BLE001
            log.warning("Notion row %s: feedback not mirrored (%s)", page_id, exc)

    def send(self, signal: dict, target: str | None = None, uncertain: bool = False) -> str:
        """Write the journal row (or find the one written before); returns the page id."""
        from notion_client.errors import APIResponseError

        if self.data_source_id is None:
            self.open()
        try:
            found = self._existing(signal)
            if found:
                return found
            children: list[dict] = []
            chart = signal.get("chart")
            if chart and Path(chart).is_file():
                up = self.client.file_uploads.create(mode="single_part", filename=f"{signal['signal_id']}.png",
                                                     content_type="image/png")
                self.client.file_uploads.send(file_upload_id=up["id"],
                                              file=(f"{signal['signal_id']}.png", Path(chart).read_bytes(), "image/png"))
                children.append({"object": "block", "type": "image",
                                 "image": {"type": "file_upload", "file_upload": {"id": up["id"]}}})
            for text in (signal.get("comment"), f"Score {float(signal['score']):.2f}: {signal.get('score_basis') or ''}",
                         f"Signal {signal['signal_id']} · decided {signal.get('decision')}"):
                if text:
                    children.append({"object": "block", "type": "paragraph", "paragraph": {"rich_text": _text(text)}})
            page = self.client.pages.create(parent={"data_source_id": self.data_source_id},
                                            properties=self.properties(signal), children=children)
            return page["id"]
        except APIResponseError as exc:
            status = int(getattr(exc, "status", 0) or 0)
            if status == 429:
                ra = (getattr(exc, "headers", None) or {}).get("retry-after")
                raise SendError(f"Notion 429 rate limited: {exc}", retry_after=float(ra) if ra else None) from None
            if status >= 500 or status == 409:
                raise SendError(f"Notion {status}: {exc}") from None
            raise SendError(f"Notion {status} {getattr(exc, 'code', '')}: {exc}", permanent=True) from None
        except Exception as exc:  # noqa: BLE001 - timeouts and network errors (httpx)
            raise SendError(f"Notion request failed: {type(exc).__name__}: {exc}", uncertain=True) from None
