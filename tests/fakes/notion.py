"""A fake Notion API server (version 2025-09-03: databases hold data sources) for tests of notion-client.

Reproduces: ``/v1/...`` routes for users/me, databases and data_sources retrieve, data source query
(property filters incl. ``and``/``or``, sorts, ``page_size``/``start_cursor`` pagination), pages
create/retrieve/update, block children append/list and the single-part file upload flow (create →
multipart ``send`` → "uploaded"); Notion's object shapes (page properties with ids and every schema
property present, rich text expanded with ``plain_text``/annotations, select options auto-created);
Notion's error JSON ``{"object": "error", "status", "code", "message", "request_id"}`` so notion-client
raises ``APIResponseError`` with ``.code``/``.status``/``.headers``; 401 ``unauthorized`` for a wrong or
missing token on every endpoint; 400 ``missing_version`` without ``Notion-Version`` (a code notion-client
does not know, so it raises ``UnknownHTTPResponseError`` - as against the real API); 400
``invalid_request_url`` for unknown routes; validation errors real code trips over (unknown property
"X is not a property that exists.", wrong value type, rich text > 2000 characters, > 100 children,
commas in select options, filter type not matching the property, an attached file upload that is not
"uploaded"); 429 with a ``Retry-After`` header via ``fail_next``.

More databases (``add_database``) and plain pages to hold reports (``add_page``; a page created under a
page has only a title); nested blocks as Notion creates them (a ``table`` with its ``table_row``
children, the row width checked against ``table_width``), each block's children listed with
``page_size``/``start_cursor`` pagination (Notion's 100 per request).

Not reproduced: other property types' validation beyond the common ones, relations/rollups/formulas,
multi-part or external-URL uploads, file size limits, nesting deeper than one level, comments, search,
real default ordering of queries (unsorted results come in creation order), permissions/sharing.
"""
from __future__ import annotations

import copy
import datetime as dt
import mimetypes
import re
import uuid
from typing import Any

from . import Call, FakeServer, Response, _Rule
from .notion_wire import CODES as _CODES
from .notion_wire import OPS as _OPS
from .notion_wire import NotionError, page_property
from .notion_wire import error as _error
from .notion_wire import matcher as _matcher
from .notion_wire import norm as _norm
from .notion_wire import not_found as _not_found
from .notion_wire import now as _now
from .notion_wire import public as _public
from .notion_wire import rich_item as _rich_item
from .notion_wire import rich_text as _rich_text
from .notion_wire import shallow as _shallow

DEFAULT_PROPERTIES = {
    "Name": "title", "Signal ID": "rich_text", "Setup": "select", "Version": "rich_text", "Symbol": "select",
    "Timeframe": "select", "Direction": "select", "Entry": "number", "SL": "number", "TP": "number",
    "RR": "number", "Score": "number", "Signal time": "date", "Comment": "rich_text", "Status": "select"}
_MESSAGES = {401: "API token is invalid.", 429: "You have been rate limited. Please try again in a few minutes.",
             500: "Unexpected error occurred.", 503: "Notion is unavailable, please try again later.",
             409: "Conflict occurred while saving. Please try again."}
_EMPTY = {"title": [], "rich_text": [], "select": None, "multi_select": [], "number": None, "date": None,
          "checkbox": False, "url": None, "email": None, "phone_number": None}
_COLORS = ["default", "gray", "brown", "orange", "yellow", "green", "blue", "purple", "pink", "red"]
_FILE_BLOCKS = {"image", "file", "pdf", "video", "audio"}
class FakeNotion(FakeServer):
    """``FakeNotion(token="secret_test", properties=None)``: one database (the signal journal, "Signals")
    with one data source; :meth:`add_database` adds more, :meth:`add_page` a plain page.

    Use ``notion_client.Client(auth=fake.token, base_url=fake.url, retry=False)``.
    """

    def __init__(self, token: str = "secret_test", properties: dict[str, str] | None = None) -> None:
        self.token = token
        self.bot_id = str(uuid.uuid4())
        self._sources: dict[str, dict] = {}  # data source id -> {database_id, title, schema}
        self._pages: list[dict] = []
        self._blocks: dict[str, list[dict]] = {}  # block id -> its child blocks (nested blocks only)
        self._uploads: dict[str, dict] = {}
        self._created = _now()
        self.database_id, self.data_source_id = self.add_database(properties or DEFAULT_PROPERTIES, "Signals")
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def schema(self) -> dict[str, dict]:
        """The first database's properties (the journal's)."""
        return self._sources[self.data_source_id]["schema"]

    def add_database(self, properties: dict[str, str], title: str = "Database") -> tuple[str, str]:
        """Another database with one data source of these properties ``{name: type}``; returns
        ``(database_id, data_source_id)``."""
        schema: dict[str, dict] = {}
        for i, (name, kind) in enumerate(properties.items()):
            config = {"options": []} if kind in ("select", "multi_select") else \
                {"format": "number"} if kind == "number" else {}
            schema[name] = {"id": "title" if kind == "title" else f"p{i:03d}", "name": name, "type": kind,
                            kind: config}
        database_id, data_source_id = str(uuid.uuid4()), str(uuid.uuid4())
        self._sources[data_source_id] = {"database_id": database_id, "title": title, "schema": schema}
        return database_id, data_source_id

    def add_page(self, title: str = "ITA reports") -> str:
        """A plain workspace page (e.g. the parent of report pages); returns its id."""
        page_id = str(uuid.uuid4())
        page = {"object": "page", "id": page_id, "created_time": _now(), "last_edited_time": _now(),
                "created_by": {"object": "user", "id": self.bot_id},
                "last_edited_by": {"object": "user", "id": self.bot_id}, "cover": None, "icon": None,
                "parent": {"type": "workspace", "workspace": True}, "archived": False, "in_trash": False,
                "is_locked": False, "properties": {"title": {"id": "title", "type": "title",
                                                             "title": _rich_text(title)}},
                "url": f"https://www.notion.so/{_norm(page_id)}", "public_url": None, "children": []}
        with self._lock:
            self._pages.append(page)
        return page_id

    def rows(self, data_source_id: str) -> list[dict]:
        """The pages (rows) of one data source, current state, in creation order."""
        with self._lock:
            return [_public(p) for p in self._pages
                    if p["parent"].get("data_source_id") == data_source_id and not p["in_trash"]]

    def blocks(self, block_id: str) -> list[dict]:
        """The children of a page or block as stored (nested children under ``children``)."""
        with self._lock:
            return copy.deepcopy(self._children_of(block_id))

    # -- recorded state ----------------------------------------------------------------------------
    @property
    def pages(self) -> list[dict]:
        """Created pages (Notion page objects, current state) plus ``children``: the blocks as sent."""
        with self._lock:
            return copy.deepcopy(self._pages)

    @property
    def uploads(self) -> dict[str, dict]:
        """File uploads: id -> {filename, content_type, data, status}."""
        with self._lock:
            return {k: {f: u[f] for f in ("filename", "content_type", "data", "status")}
                    for k, u in self._uploads.items()}

    def calls(self, method: str, path_prefix: str = "/v1/") -> list[Call]:
        """Recorded requests with this HTTP verb whose path starts with ``path_prefix``."""
        return [c for c in self.requests if c.http_method == method.upper() and c.path.startswith(path_prefix)]

    page_property = staticmethod(lambda page, name: page_property(page, name))

    # -- scripting ---------------------------------------------------------------------------------
    def fail_next(self, method: str, path_prefix: str, status: int, *, retry_after: int | None = None,
                  times: int = 1, message: str | None = None, code: str | None = None) -> None:
        """Answer the next ``times`` matching requests with Notion's error JSON (nothing is created).
        429 carries ``Retry-After: retry_after`` (default 1)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        extra = {"retry_after": retry_after, "code": code or _CODES.get(status, "internal_server_error"),
                 "message": message or _MESSAGES.get(status, "Request failed.")}
        self._script(self._failures, _Rule(_matcher(method, path_prefix), times, status=status, extra=extra))

    def delay_next(self, method: str, path_prefix: str, seconds: float, times: int = 1) -> None:
        """Process the next ``times`` matching requests normally (the page IS created) but answer late."""
        self._script(self._delays, _Rule(_matcher(method, path_prefix), times, seconds=seconds))

    # -- HTTP --------------------------------------------------------------------------------------
    _ROUTES = [("GET", r"/v1/users/me", "_users_me"),
               ("GET", r"/v1/databases/([^/]+)", "_database"),
               ("GET", r"/v1/data_sources/([^/]+)", "_data_source"),
               ("POST", r"/v1/data_sources/([^/]+)/query", "_query"),
               ("POST", r"/v1/pages", "_create_page"),
               ("GET", r"/v1/pages/([^/]+)", "_get_page"),
               ("PATCH", r"/v1/pages/([^/]+)", "_update_page"),
               ("PATCH", r"/v1/blocks/([^/]+)/children", "_append"),
               ("GET", r"/v1/blocks/([^/]+)/children", "_children"),
               ("POST", r"/v1/file_uploads", "_create_upload"),
               ("GET", r"/v1/file_uploads/([^/]+)", "_get_upload"),
               ("POST", r"/v1/file_uploads/([^/]+)/send", "_send_upload")]

    def _serve(self, call: Call) -> Response:
        self._record(call)
        try:
            if call.headers.get("authorization") != f"Bearer {self.token}":
                raise NotionError(401, _MESSAGES[401])
            if not call.headers.get("notion-version"):
                raise NotionError(400, "Notion-Version header failed validation: Notion-Version header "
                                       "should be defined, instead was `undefined`.", "missing_version")
            if call.body_error:
                raise NotionError(400, "Error parsing JSON body.", "invalid_json")
            rule = self._take(self._failures, call)
            if rule:
                headers = {"Retry-After": rule.extra["retry_after"]} if rule.extra["retry_after"] else {}
                return _error(rule.status, rule.extra["code"], rule.extra["message"], headers)
            for verb, pattern, name in self._ROUTES:
                m = re.fullmatch(pattern, call.path)
                if m and verb == call.http_method:
                    result = getattr(self, name)(call, *m.groups())
                    break
            else:
                raise NotionError(400, "Invalid request URL.", "invalid_request_url")
        except NotionError as exc:
            return _error(exc.status, exc.code, str(exc))
        self._hold(call)
        return 200, {**result, "request_id": str(uuid.uuid4())}, {}

    # -- endpoints ---------------------------------------------------------------------------------
    def _users_me(self, call: Call) -> dict:
        return {"object": "user", "id": self.bot_id, "name": "ITA", "avatar_url": None, "type": "bot",
                "bot": {"owner": {"type": "workspace", "workspace": True}, "workspace_name": "ITA Test",
                        "workspace_limits": {"max_file_upload_size_in_bytes": 5 * 1024 * 1024}}}

    def _database(self, call: Call, database_id: str) -> dict:
        ds_id, src = next(((k, v) for k, v in self._sources.items() if _norm(v["database_id"]) == _norm(database_id)),
                          (None, None))
        if src is None:
            raise _not_found("database", database_id)
        return {"object": "database", "id": src["database_id"], "title": _rich_text(src["title"]),
                "description": [], "parent": {"type": "workspace", "workspace": True}, "is_inline": False,
                "in_trash": False, "is_locked": False, "created_time": self._created,
                "last_edited_time": self._created, "icon": None, "cover": None,
                "url": f"https://www.notion.so/{_norm(src['database_id'])}", "public_url": None,
                "data_sources": [{"id": ds_id, "name": src["title"]}]}

    def _data_source(self, call: Call, data_source_id: str) -> dict:
        ds_id, src = self._check_data_source(data_source_id)
        with self._lock:
            properties = copy.deepcopy(src["schema"])
        return {"object": "data_source", "id": ds_id, "title": _rich_text(src["title"]),
                "description": [], "parent": {"type": "database_id", "database_id": src["database_id"]},
                "database_parent": {"type": "workspace", "workspace": True}, "properties": properties,
                "created_time": self._created, "last_edited_time": self._created, "archived": False,
                "in_trash": False, "icon": None, "cover": None,
                "url": f"https://www.notion.so/{_norm(src['database_id'])}"}

    def _query(self, call: Call, data_source_id: str) -> dict:
        ds_id, src = self._check_data_source(data_source_id)
        schema = src["schema"]
        body = call.params
        size = body.get("page_size") or 100
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise NotionError(400, f"body failed validation: body.page_size should be ≤ `100`, instead was `{size}`.")
        with self._lock:
            keep = self._compile(body.get("filter"), schema)
            pages = [p for p in self._pages if not p["in_trash"] and p["parent"].get("data_source_id") == ds_id
                     and keep(p)]
            for sort in reversed(body.get("sorts") or []):  # stable sorts, last key first
                name = None if "timestamp" in sort else self._prop(sort.get("property", ""), schema)["name"]
                keyed = [(p[sort["timestamp"]] if name is None else page_property(p, name), p) for p in pages]
                present = sorted((kp for kp in keyed if kp[0] is not None), key=lambda kp: kp[0],
                                 reverse=sort.get("direction") == "descending")
                pages = [p for _, p in present] + [p for v, p in keyed if v is None]  # empty values last
            start = 0
            if body.get("start_cursor"):
                ids = [_norm(p["id"]) for p in pages]
                if _norm(body["start_cursor"]) not in ids:
                    raise NotionError(400, f"start_cursor provided is invalid: {body['start_cursor']}")
                start = ids.index(_norm(body["start_cursor"]))
            chunk, rest = pages[start:start + size], pages[start + size:]
            return {"object": "list", "results": [_public(p) for p in chunk], "has_more": bool(rest),
                    "next_cursor": rest[0]["id"] if rest else None, "type": "page_or_data_source",
                    "page_or_data_source": {}}

    def _create_page(self, call: Call) -> dict:
        body = call.params
        parent = body.get("parent") or {}
        if "data_source_id" in parent:
            ds_id, src = self._check_data_source(parent["data_source_id"])
        elif "database_id" in parent:
            ds_id = self._database(call, parent["database_id"])["data_sources"][0]["id"]
            src = self._sources[ds_id]
        elif "page_id" in parent:
            with self._lock:
                parent_page = self._page(parent["page_id"])
            return self._create_subpage(body, parent_page)
        else:
            raise NotionError(400, "body failed validation: body.parent.data_source_id should be defined, "
                                   "instead was `undefined`.")
        schema = src["schema"]
        values = self._values(body.get("properties"), schema)
        children = self._check_blocks(body.get("children") or [])
        now = _now()
        page_id = str(uuid.uuid4())
        properties = {}
        for name, prop in schema.items():
            properties[name] = values.get(prop["id"]) or {"id": prop["id"], "type": prop["type"],
                                                          prop["type"]: copy.deepcopy(_EMPTY.get(prop["type"]))}
        title = next((page_property({"properties": properties}, n) for n, p in schema.items()
                      if p["type"] == "title"), "")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title or "").strip("-")
        page = {"object": "page", "id": page_id, "created_time": now, "last_edited_time": now,
                "created_by": {"object": "user", "id": self.bot_id},
                "last_edited_by": {"object": "user", "id": self.bot_id}, "cover": body.get("cover"),
                "icon": body.get("icon"), "parent": {"type": "data_source_id", "data_source_id": ds_id,
                                                     "database_id": src["database_id"]},
                "archived": False, "in_trash": False, "is_locked": False, "properties": properties,
                "url": f"https://www.notion.so/{slug + '-' if slug else ''}{_norm(page_id)}",
                "public_url": None, "children": children}
        with self._lock:
            self._pages.append(page)
            self._store_nested(children)
            return _public(page)

    def _create_subpage(self, body: dict, parent_page: dict) -> dict:
        props = body.get("properties") or {}
        extra = [k for k in props if k != "title"]
        if extra:
            raise NotionError(400, f"{extra[0]} is not a property that exists. A page under a page has only "
                                   "`title`.")
        title = props.get("title")
        if not isinstance(title, dict) or not isinstance(title.get("title"), list):
            raise NotionError(400, "body failed validation: body.properties.title.title should be defined.")
        items = [_rich_item(x, f"body.properties.title.title[{i}]") for i, x in enumerate(title["title"])]
        children = self._check_blocks(body.get("children") or [])
        page_id = str(uuid.uuid4())
        slug = re.sub(r"[^A-Za-z0-9]+", "-", "".join(x["plain_text"] for x in items)).strip("-")
        page = {"object": "page", "id": page_id, "created_time": _now(), "last_edited_time": _now(),
                "created_by": {"object": "user", "id": self.bot_id},
                "last_edited_by": {"object": "user", "id": self.bot_id}, "cover": None, "icon": body.get("icon"),
                "parent": {"type": "page_id", "page_id": parent_page["id"]}, "archived": False,
                "in_trash": False, "is_locked": False,
                "properties": {"title": {"id": "title", "type": "title", "title": items}},
                "url": f"https://www.notion.so/{slug + '-' if slug else ''}{_norm(page_id)}",
                "public_url": None, "children": children}
        with self._lock:
            self._pages.append(page)
            parent_page["children"].append({"object": "block", "id": page_id, "type": "child_page",
                                            "created_time": page["created_time"], "has_children": True,
                                            "in_trash": False,
                                            "child_page": {"title": "".join(x["plain_text"] for x in items)}})
            self._store_nested(children)
            return _public(page)

    def _get_page(self, call: Call, page_id: str) -> dict:
        with self._lock:
            return _public(self._page(page_id))

    def _update_page(self, call: Call, page_id: str) -> dict:
        body = call.params
        with self._lock:
            page = self._page(page_id)
            ds_id = page["parent"].get("data_source_id")
            schema = self._sources[ds_id]["schema"] if ds_id else {}
            values = self._values(body.get("properties"), schema)
            for name, prop in schema.items():
                if prop["id"] in values:
                    page["properties"][name] = values[prop["id"]]
            for flag in ("in_trash", "archived"):
                if flag in body:
                    page["in_trash"] = page["archived"] = bool(body[flag])
            page["last_edited_time"] = _now()
            return _public(page)

    def _append(self, call: Call, block_id: str) -> dict:
        blocks = self._check_blocks(call.params.get("children") or [])
        with self._lock:
            self._children_of(block_id).extend(blocks)
            self._store_nested(blocks)
        return {"object": "list", "results": [_shallow(b) for b in blocks], "next_cursor": None,
                "has_more": False, "type": "block", "block": {}}

    def _children(self, call: Call, block_id: str) -> dict:
        size = call.query.get("page_size") or "100"
        if not str(size).isdigit() or not 1 <= int(size) <= 100:
            raise NotionError(400, f"page_size should be ≤ `100`, instead was `{size}`.")
        with self._lock:
            blocks = [_shallow(b) for b in self._children_of(block_id)]
        start = 0
        if call.query.get("start_cursor"):
            ids = [_norm(b["id"]) for b in blocks]
            if _norm(call.query["start_cursor"]) not in ids:
                raise NotionError(400, f"start_cursor provided is invalid: {call.query['start_cursor']}")
            start = ids.index(_norm(call.query["start_cursor"]))
        chunk, rest = blocks[start:start + int(size)], blocks[start + int(size):]
        return {"object": "list", "results": chunk, "next_cursor": rest[0]["id"] if rest else None,
                "has_more": bool(rest), "type": "block", "block": {}}

    def _create_upload(self, call: Call) -> dict:
        body = call.params
        if body.get("mode", "single_part") != "single_part":
            raise NotionError(400, f"The fake supports only mode `single_part`, not `{body.get('mode')}`.")
        filename = body.get("filename")
        upload_id = str(uuid.uuid4())
        upload = {"id": upload_id, "filename": filename, "data": None, "status": "pending",
                  "content_type": body.get("content_type") or (mimetypes.guess_type(filename)[0] if filename else None),
                  "created_time": _now()}
        with self._lock:
            self._uploads[upload_id] = upload
            return self._upload_object(upload)

    def _get_upload(self, call: Call, upload_id: str) -> dict:
        with self._lock:
            return self._upload_object(self._upload(upload_id))

    def _send_upload(self, call: Call, upload_id: str) -> dict:
        with self._lock:
            upload = self._upload(upload_id)
            if upload["status"] != "pending":
                raise NotionError(400, f"File upload {upload_id} is in status `{upload['status']}`; only "
                                       "`pending` uploads accept a file.")
            if "file" not in call.files:
                raise NotionError(400, "body failed validation: body.file should be defined, instead was `undefined`.")
            filename, data = call.files["file"]
            upload.update(data=data, status="uploaded", filename=upload["filename"] or filename,
                          content_type=upload["content_type"] or mimetypes.guess_type(filename)[0])
            return self._upload_object(upload)

    # -- helpers -----------------------------------------------------------------------------------
    def _check_data_source(self, data_source_id: str) -> tuple[str, dict]:
        for ds_id, src in self._sources.items():
            if _norm(ds_id) == _norm(data_source_id):
                return ds_id, src
        raise _not_found("data_source", data_source_id)

    def _children_of(self, block_id: str) -> list[dict]:
        """The stored child list of a page or of a nested block (404 for anything else)."""
        for key, children in self._blocks.items():
            if _norm(key) == _norm(block_id):
                return children
        return self._page(block_id)["children"]

    def _store_nested(self, blocks: list[dict]) -> None:
        for b in blocks:
            if b.get("has_children"):
                self._blocks[b["id"]] = b[b["type"]]["children"]

    def _page(self, page_id: str) -> dict:
        for page in self._pages:
            if _norm(page["id"]) == _norm(page_id):
                return page
        raise _not_found("page", page_id)

    def _upload(self, upload_id: str) -> dict:
        for key, upload in self._uploads.items():
            if _norm(key) == _norm(upload_id):
                return upload
        raise _not_found("file_upload", upload_id)

    def _upload_object(self, u: dict) -> dict:
        expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {"object": "file_upload", "id": u["id"], "created_time": u["created_time"],
                "last_edited_time": _now(), "expiry_time": expiry if u["status"] == "pending" else None,
                "upload_url": f"{self.url}/v1/file_uploads/{u['id']}/send" if u["status"] == "pending" else None,
                "archived": False, "status": u["status"], "filename": u["filename"],
                "content_type": u["content_type"], "content_length": len(u["data"]) if u["data"] else None,
                "in_trash": False}

    def _prop(self, key: str, schema: dict) -> dict:
        for name, prop in schema.items():
            if key in (name, prop["id"]):
                return prop
        raise NotionError(400, f"{key} is not a property that exists.")

    def _values(self, properties: Any, schema: dict) -> dict[str, dict]:
        """Validated property values of a create/update, keyed by property id."""
        if not isinstance(properties, (dict, type(None))):
            raise NotionError(400, "body failed validation: body.properties should be an object.")
        values = [self._value(key, value, schema) for key, value in (properties or {}).items()]
        return {v["id"]: v for v in values}

    def _value(self, key: str, value: Any, schema: dict) -> dict:
        """Validate one property value of a create/update and return it in Notion's response shape."""
        prop = self._prop(key, schema)
        name, kind = prop["name"], prop["type"]
        if not isinstance(value, dict) or kind not in value:
            raise NotionError(400, f"{name} is expected to be {kind}.")
        v = copy.deepcopy(value[kind])  # never touch the recorded request
        where = f"body.properties.{name}.{kind}"
        if kind in ("title", "rich_text"):
            if not isinstance(v, list):
                raise NotionError(400, f"{name} is expected to be {kind}.")
            v = [_rich_item(item, f"{where}[{i}]") for i, item in enumerate(v)]
        elif kind == "number":
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise NotionError(400, f"body failed validation: {where} should be a number or `null`, "
                                       f"instead was `{v!r}`.")
        elif kind in ("select", "multi_select"):
            items = v if kind == "multi_select" else [v]
            if kind == "multi_select" and not isinstance(v, list):
                raise NotionError(400, f"{name} is expected to be {kind}.")
            for item in items:
                if item is None:
                    continue
                option_name = item.get("name") if isinstance(item, dict) else None
                if not isinstance(option_name, str) or not option_name:
                    raise NotionError(400, f"body failed validation: {where}.name should be defined.")
                if "," in option_name:
                    raise NotionError(400, f"Invalid select value, commas not allowed: {option_name}")
                item.update(self._option(prop, option_name))
        elif kind == "date" and v is not None:
            try:
                dt.datetime.fromisoformat(str(v.get("start")).replace("Z", "+00:00"))
            except (AttributeError, ValueError):
                raise NotionError(400, f"body failed validation: {where}.start should be a valid ISO 8601 "
                                       f"date string, instead was `{v}`.") from None
            v = {"start": v["start"], "end": v.get("end"), "time_zone": v.get("time_zone")}
        return {"id": prop["id"], "type": kind, kind: v}

    def _option(self, prop: dict, option_name: str) -> dict:
        with self._lock:  # Notion creates unknown options on write
            options = prop[prop["type"]]["options"]
            for option in options:
                if option["name"] == option_name:
                    return dict(option)
            option = {"id": str(uuid.uuid4())[:8], "name": option_name, "color": _COLORS[len(options) % 10],
                      "description": None}
            options.append(option)
            return dict(option)

    def _check_blocks(self, blocks: list, nested: bool = False) -> list[dict]:
        if not isinstance(blocks, list):
            raise NotionError(400, "body failed validation: body.children should be an array.")
        if len(blocks) > 100:
            raise NotionError(400, f"body failed validation: body.children.length should be ≤ `100`, "
                                   f"instead was `{len(blocks)}`.")
        out = []
        for i, block in enumerate(blocks):
            kind = block.get("type") or next((k for k in block if k != "object"), None)
            if not kind or not isinstance(block.get(kind), dict):
                raise NotionError(400, f"body failed validation: body.children[{i}].{kind} should be defined.")
            payload = block[kind]
            if kind in _FILE_BLOCKS and payload.get("type") == "file_upload":
                upload_id = (payload.get("file_upload") or {}).get("id", "")
                with self._lock:
                    try:
                        status = self._upload(upload_id)["status"]
                    except NotionError:
                        status = None
                if status != "uploaded":
                    raise NotionError(400, f"File upload with ID {upload_id} is in status `{status}`; "
                                           "only `uploaded` file uploads can be attached."
                                      if status else f"Could not find file upload with ID: {upload_id}.")
            block = copy.deepcopy(block)  # never touch the recorded request
            kids = block[kind].get("children")
            if kids is not None:
                if nested:
                    raise NotionError(400, "The fake nests blocks one level deep only.")
                if kind == "table":
                    width = payload.get("table_width")
                    if not isinstance(width, int) or width < 1:
                        raise NotionError(400, f"body failed validation: body.children[{i}].table.table_width "
                                               "should be defined.")
                    for j, row in enumerate(kids):
                        cells = (row.get("table_row") or {}).get("cells") if isinstance(row, dict) else None
                        if row.get("type", "table_row") != "table_row" or not isinstance(cells, list):
                            raise NotionError(400, f"body failed validation: table children[{j}] should be a "
                                                   "table_row.")
                        if len(cells) != width:
                            raise NotionError(400, f"Number of cells in table row {j} ({len(cells)}) does not "
                                                   f"match table_width ({width}).")
                        for c, cell in enumerate(cells):
                            row["table_row"]["cells"][c] = [_rich_item(x, f"table row {j} cell {c}") for x in cell]
                block[kind]["children"] = self._check_blocks(kids, nested=True)
            elif kind == "table":
                raise NotionError(400, "body failed validation: a table needs its table_row children.")
            for key in ("rich_text", "caption"):
                if isinstance(block[kind].get(key), list):
                    block[kind][key] = [_rich_item(x, f"body.children[{i}].{kind}.{key}[{n}]")
                                        for n, x in enumerate(block[kind][key])]
            out.append({"object": "block", "id": str(uuid.uuid4()), "type": kind, "created_time": _now(),
                        "in_trash": False, **block, "has_children": bool(kids)})
        return out

    def _compile(self, flt: dict | None, schema: dict):
        """A predicate over pages for a query ``filter``; invalid filters fail even on an empty source."""
        if not flt:
            return lambda page: True
        if not isinstance(flt, dict):
            raise NotionError(400, "body failed validation: body.filter should be an object.")
        for combinator, combine in (("and", all), ("or", any)):
            if combinator in flt:
                parts = [self._compile(f, schema) for f in flt[combinator]]
                return lambda page, parts=parts, combine=combine: combine(p(page) for p in parts)
        if "property" not in flt:
            raise NotionError(400, "body failed validation: body.filter.property should be defined.")
        try:
            prop = self._prop(flt["property"], schema)
        except NotionError:
            raise NotionError(400, f"Could not find property with name or id: {flt['property']}") from None
        kind = next((k for k in flt if k != "property"), None)
        texts = {"title", "rich_text"}
        if kind != prop["type"] and not (kind in texts and prop["type"] in texts):
            raise NotionError(400, f"database property {prop['type']} does not match filter {kind}")
        condition = flt[kind]
        if not isinstance(condition, dict) or len(condition) != 1 or next(iter(condition)) not in _OPS:
            raise NotionError(400, f"body failed validation: body.filter.{kind} should be one of "
                                   f"{sorted(_OPS)}, instead was `{condition}`.")
        (op, wanted), = condition.items()
        return lambda page: _OPS[op](page_property(page, prop["name"]), wanted)
