"""Setups edited in a Notion table (``ita setups sync notion``): one row per setup parameter, so a trader who does
not edit YAML can change a value in Notion and get a new, validated setup version.

The database (``ITA_NOTION_SETUPS_DATABASE``, shared with the integration) needs these properties:

===============  ===================  ===================================================================
property         type                 holds
===============  ===================  ===================================================================
(the title)      title                ``asia_fvg_break · target.rr`` (any name)
``Setup``        rich text / select   the setup id
``Version``      number / rich text   the version the row's value was pushed from
``YAML path``    rich text            the parameter's dotted path in the YAML (``target.rr``)
``Value``        rich text            the value — edit this
``Type``         select / rich text   number, boolean, time (HH:MM), text, list
``Description``  rich text            the YAML line's comment
``Error``        rich text            why an edit was refused (written by ITA; empty when fine)
===============  ===================  ===================================================================

* **push** (``--push``) fills the table from each setup's latest version (rows updated in place, new ones
  created, rows of parameters that no longer exist archived) and records what was pushed.
* **pull** (the default) reads the rows; values that differ from the version they were pushed from are edits.
  Each edit is checked on its own (type, then the setup schema with the edit applied); a bad one gets its
  reason in the row's ``Error`` and is printed, and that setup is left as it is. Good edits become the next
  version, ``v<N+1>.yaml`` (:func:`ita.setups.versions.new_version` — an old version is never edited), and the
  rows are pushed again from it.
* **conflict**: when the YAML changed since the last sync (a newer version, or the synced file edited in place),
  the pull of that setup is refused and the parameters that changed in the YAML are named (those also edited in
  Notion are marked) — push first, then edit again.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlite_utils
import yaml

from ita.errors import ItaError, SetupError

PROPS = ("Setup", "Version", "YAML path", "Value", "Type", "Description", "Error")
SKIP = {"id", "version"}  # the file's identity; multi-line prose (the description) is not a parameter either
TYPES = ("number", "integer", "boolean", "time", "text", "list")  # integer: tables filled by hand


@dataclass
class SyncReport:
    """What a sync did: ``pushed`` {setup: rows}, ``created`` {setup: new version}, ``errors`` [(setup, path,
    message)], ``conflicts`` {setup: message}, ``unchanged`` [setups]."""

    pushed: dict = field(default_factory=dict)
    created: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    conflicts: dict = field(default_factory=dict)
    unchanged: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.conflicts


def parameters(setup_id: str, version: int | None = None) -> list[dict]:
    """The editable leaves of a setup version's YAML: ``{path, value, type, description}`` (the description is the
    comment on the value's line)."""
    from ita.setups.loader import line_of, setup_path

    p = setup_path(setup_id, version)
    text = p.read_text(encoding="utf-8")
    lines = text.splitlines()
    out = []

    def walk(obj, prefix):
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif isinstance(obj, list) and any(isinstance(x, (dict, list)) for x in obj):
            for i, v in enumerate(obj):
                walk(v, f"{prefix}.{i}")
        elif prefix not in SKIP and not (isinstance(obj, str) and "\n" in obj.strip()):  # prose stays in the YAML
            ln = line_of(text, tuple(int(x) if x.isdigit() else x for x in prefix.split(".")))
            comment = lines[ln - 1].split("#", 1)[1].strip() if ln and "#" in lines[ln - 1] else ""
            out.append({"path": prefix, "value": obj, "type": type_of(obj), "description": comment})

    walk(yaml.safe_load(text), "")
    return out


def type_of(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):  # whole or not: the setup schema decides what it accepts
        return "number"
    if isinstance(v, list):
        return "list"
    if isinstance(v, str) and re.fullmatch(r"\d{1,2}:\d{2}", v):
        return "time"
    return "text"


def show(v: Any) -> str:
    """A value as the Value cell shows it (lists in YAML flow style)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return yaml.safe_dump(v, default_flow_style=True, allow_unicode=True).strip()
    return "" if v is None else str(v).rstrip("\n")


def parse(text: str, kind: str) -> Any:
    """A Value cell read as ``kind``. Raises ValueError with the reason a trader can act on."""
    s = (text or "").strip()
    if kind == "number":
        try:
            f = float(s.replace(",", ".").replace("−", "-"))
        except ValueError:
            raise ValueError(f"expects a number (e.g. 2.5), got {s!r}") from None
        return int(f) if f.is_integer() and not re.search(r"[.,]", s) else f
    if kind == "integer":
        if not re.fullmatch(r"[-+]?\d+", s):
            raise ValueError(f"expects a whole number (e.g. 3), got {s!r}")
        return int(s)
    if kind == "boolean":
        low = s.lower()
        if low in ("true", "yes", "on", "1", "да"):
            return True
        if low in ("false", "no", "off", "0", "нет"):
            return False
        raise ValueError(f"expects true or false, got {s!r}")
    if kind == "time":
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", s)
        if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
            raise ValueError(f"expects a time HH:MM (New York unless the setup says otherwise), got {s!r}")
        return f"{int(m.group(1)):02d}:{m.group(2)}"
    if kind == "list":
        try:
            v = yaml.safe_load(s)
        except yaml.YAMLError:
            v = None
        if not isinstance(v, list):
            raise ValueError(f"expects a list like [Mon, Tue], got {s!r}")
        return v
    if kind == "text":
        return s
    raise ValueError(f"unknown Type {kind!r}: one of {', '.join(TYPES)}")


def _hash(setup_id: str, version: int) -> str:
    from ita.setups import load_setup

    return load_setup(setup_id, version).content_hash


class SyncState:
    """What was last pushed per setup (``setup_sync`` in the ITA database): version, file hash, values."""

    def __init__(self, path=None):
        from ita.config import settings

        self.path = path or settings().db_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db["setup_sync"].create({"setup_id": str, "database": str, "version": int, "hash": str, "values": str,
                                     "synced_at": str}, pk=("setup_id", "database"), if_not_exists=True)

    @contextmanager
    def _db(self):
        conn = sqlite3.connect(str(self.path), timeout=30.0)
        try:
            yield sqlite_utils.Database(conn)
            conn.commit()
        finally:
            conn.close()

    def get(self, setup_id: str, database: str) -> dict | None:
        with self._db() as db:
            rows = list(db.query("select * from setup_sync where setup_id = ? and database = ?", [setup_id, database]))
        if not rows:
            return None
        out = dict(rows[0])
        out["values"] = json.loads(out["values"])
        return out

    def put(self, setup_id: str, database: str, version: int, hash_: str, values: dict) -> None:
        with self._db() as db:
            db["setup_sync"].upsert({"setup_id": setup_id, "database": database, "version": version, "hash": hash_,
                                     "values": json.dumps(values), "synced_at": pd.Timestamp.now(tz="UTC").isoformat(
                                         timespec="seconds")}, pk=("setup_id", "database"))


class SetupsTable:
    """The Notion database of setup parameters (notion-client)."""

    def __init__(self, client, database: str):
        self.client, self.database = client, database
        self.data_source_id, self.schema, self.title = self._open()

    @classmethod
    def from_env(cls, database: str | None = None) -> "SetupsTable":
        from notion_client import Client

        from ita.live.config import api_url
        from ita.secrets import register

        token = (os.environ.get("ITA_NOTION_TOKEN") or "").strip()
        database = (database or os.environ.get("ITA_NOTION_SETUPS_DATABASE") or "").strip()
        if not token or not database:
            raise ItaError("Set ITA_NOTION_TOKEN and ITA_NOTION_SETUPS_DATABASE (the setups database's id, shared with "
                           "the integration) — or pass --database.")
        register(token)
        url = api_url("ITA_NOTION_API_URL", os.environ.get("ITA_NOTION_API_URL") or "https://api.notion.com")
        return cls(Client(auth=token, base_url=url, retry=False, timeout_ms=20000), database)

    def _call(self, what, fn, **kw):
        from notion_client.errors import APIResponseError

        try:
            return fn(**kw)
        except APIResponseError as exc:
            hint = " Share the database with the integration (••• → Connections)." if exc.status in (403, 404) else ""
            raise ItaError(f"Notion refused to {what} ({exc.status} {exc.code}): {exc}.{hint}") from None
        except Exception as exc:  # noqa: BLE001 - network
            raise ItaError(f"Notion could not {what}: {type(exc).__name__}: {exc}.") from None

    def _open(self):
        info = self._call("open the setups database", self.client.databases.retrieve, database_id=self.database)
        ds = (info.get("data_sources") or [{}])[0].get("id")
        if not ds:
            raise ItaError(f"The Notion database {self.database} has no data source.")
        props = self._call("read the setups database", self.client.data_sources.retrieve, data_source_id=ds)["properties"]
        schema = {name: p["type"] for name, p in props.items()}
        missing = [p for p in PROPS if p not in schema]
        if missing:
            raise ItaError(f"The Notion setups database lacks the propert{'y' if len(missing) == 1 else 'ies'} "
                           f"{', '.join(missing)}. It needs: a title, Setup, Version, YAML path, Value, Type, "
                           "Description, Error (see `ita setups sync --help`).")
        title = next(n for n, t in schema.items() if t == "title")
        return ds, schema, title

    def rows(self) -> list[dict]:
        from notion_client.helpers import collect_paginated_api

        pages = self._call("read the setups table", collect_paginated_api, function=self.client.data_sources.query,
                           data_source_id=self.data_source_id)
        return [{"id": p["id"], **{n: _cell(p["properties"].get(n)) for n in PROPS}} for p in pages]

    def _props(self, values: dict) -> dict:
        out = {}
        for name, v in values.items():
            kind = self.schema[self.title if name == "title" else name]
            out[self.title if name == "title" else name] = _value(kind, v)
        return out

    def create(self, values: dict) -> None:
        self._call("add a row", self.client.pages.create, parent={"data_source_id": self.data_source_id},
                   properties=self._props(values))

    def update(self, page_id: str, values: dict) -> None:
        self._call("update a row", self.client.pages.update, page_id=page_id, properties=self._props(values))

    def archive(self, page_id: str) -> None:
        self._call("archive a row", self.client.pages.update, page_id=page_id, in_trash=True)


def _cell(prop: dict | None) -> str:
    if not prop:
        return ""
    kind = prop.get("type")
    v = prop.get(kind)
    if kind in ("title", "rich_text"):
        return "".join(x.get("plain_text", "") for x in v or [])
    if kind == "select":
        return (v or {}).get("name") or ""
    if kind == "number":
        return "" if v is None else (str(int(v)) if float(v).is_integer() else str(v))
    return "" if v is None else str(v)


def _value(kind: str, v: Any) -> dict:
    s = show(v) if not isinstance(v, str) else v
    if kind in ("title", "rich_text"):
        return {kind: [{"type": "text", "text": {"content": s[:2000]}}] if s else []}
    if kind == "select":
        return {"select": {"name": s.replace(",", ";")[:100]} if s else None}
    if kind == "number":
        return {"number": float(v) if v not in (None, "") else None}
    raise ItaError(f"A setups-table property has type {kind}: use text, select or number.")


def push(table: SetupsTable, setup_ids: list[str] | None = None, state: SyncState | None = None) -> dict:
    """Fill the table from each setup's latest version; returns {setup: rows written}."""
    from ita.setups import list_setups

    state = state or SyncState()
    all_setups = list_setups()
    ids = setup_ids or sorted(all_setups)
    rows = table.rows()
    out = {}
    for sid in ids:
        if sid not in all_setups:
            raise ItaError(f"Unknown setup {sid!r}: one of {', '.join(sorted(all_setups))}.")
        version = all_setups[sid][-1]
        params = parameters(sid, version)
        have = {r["YAML path"]: r for r in rows if r["Setup"] == sid}
        for prm in params:
            values = {"title": f"{sid} · {prm['path']}", "Setup": sid, "Version": version, "YAML path": prm["path"],
                      "Value": show(prm["value"]), "Type": prm["type"], "Description": prm["description"], "Error": ""}
            row = have.pop(prm["path"], None)
            if row is None:
                table.create(values)
            elif any(str(row.get(k) or "") != str(show(values[k]) if k != "Version" else version)
                     for k in ("Version", "Value", "Type", "Description", "Error")):
                table.update(row["id"], values)
        for row in have.values():  # parameters that the latest version no longer has
            table.archive(row["id"])
        state.put(sid, table.database, version, _hash(sid, version), {p["path"]: p["value"] for p in params})
        out[sid] = len(params)
    return out


def pull(table: SetupsTable, setup_ids: list[str] | None = None, state: SyncState | None = None) -> SyncReport:
    """Turn the edits in the table into new setup versions (see the module docstring)."""
    from ita.setups import list_setups, load_setup
    from ita.setups.versions import new_version

    state = state or SyncState()
    rep = SyncReport()
    all_setups = list_setups()
    rows = table.rows()
    by_setup: dict[str, list[dict]] = {}
    for r in rows:
        by_setup.setdefault(r["Setup"], []).append(r)
    for sid in sorted(setup_ids or by_setup):
        srows = by_setup.get(sid, [])
        if sid not in all_setups:
            for r in srows:
                _flag(table, r, f"unknown setup {sid!r}", rep, sid)
            continue
        latest = all_setups[sid][-1]
        st = state.get(sid, table.database)
        base_version = st["version"] if st else max(int(float(r["Version"] or latest)) for r in srows)
        base = st["values"] if st else {p["path"]: p["value"] for p in parameters(sid, base_version)}
        edits, bad = {}, False
        for r in srows:
            try:
                value = parse(r["Value"], r["Type"] or "text")
            except ValueError as exc:
                _flag(table, r, f"{r['YAML path']}: {exc}", rep, sid)
                bad = True
                continue
            path = r["YAML path"]
            if not _same(value, base.get(path)):
                try:
                    load_setup(sid, base_version, params={path: value})  # the schema, with this edit alone
                except SetupError as exc:
                    _flag(table, r, " ".join(str(exc).split()), rep, sid)
                    bad = True
                    continue
                edits[path] = value
            if r["Error"]:  # fine now: the old reason goes
                table.update(r["id"], {"Error": ""})
        yaml_changed = latest != base_version or (st is not None and _hash(sid, latest) != st["hash"])
        if yaml_changed and edits:
            now = {p["path"]: p["value"] for p in parameters(sid, latest)}
            changed = sorted(p for p in set(now) | set(base) if not _same(now.get(p), base.get(p)))
            named = ", ".join(f"{p} ({show(base.get(p))} → {show(now.get(p))} in the YAML"
                              + (f", {show(edits[p])} in Notion" if p in edits else "") + ")" for p in changed[:12])
            rep.conflicts[sid] = (f"the YAML changed since the last sync (v{base_version} → v{latest}"
                                  + (", edited in place" if latest == base_version else "") + "): "
                                  + (named or "the file's text") + ". Push first (ita setups sync notion --push "
                                  f"--setup {sid}), then make your Notion edits again.")
            continue
        if bad or not edits:
            if not bad:
                rep.unchanged.append(sid)
            continue
        path = new_version(sid, from_version=base_version, params=edits)
        rep.created[sid] = int(re.search(r"v(\d+)\.yaml$", str(path)).group(1))
        rep.pushed.update(push(table, [sid], state))
    return rep


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    return a == b


def _flag(table: SetupsTable, row: dict, message: str, rep: SyncReport, sid: str) -> None:
    table.update(row["id"], {"Error": message[:1900]})
    rep.errors.append((sid, row.get("YAML path"), message))
