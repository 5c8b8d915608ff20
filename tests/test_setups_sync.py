"""Setups edited in a Notion table (notion-client against the fake Notion server): push fills the table, an edit
becomes the next validated version, a value of the wrong type or against the schema lands in that row's Error,
a YAML changed since the last sync is a refused pull naming the parameters, a database without the expected
properties is named."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import notion_client
import pytest
import yaml

from tests.conftest import REPO
from tests.fakes import FakeNotion
from tests.fakes.notion import page_property

COLUMNS = {"Name": "title", "Setup": "select", "Version": "number", "YAML path": "rich_text", "Value": "rich_text",
           "Type": "select", "Description": "rich_text", "Error": "rich_text"}


@pytest.fixture
def env(tmp_path, monkeypatch):
    setups = tmp_path / "setups"
    shutil.copytree(REPO / "setups", setups, ignore=shutil.ignore_patterns("*.md", "*.json"))
    monkeypatch.setenv("ITA_SETUPS_DIR", str(setups))
    with FakeNotion() as fake:
        db, ds = fake.add_database(COLUMNS, "Setups")
        monkeypatch.setenv("ITA_NOTION_TOKEN", fake.token)
        monkeypatch.setenv("ITA_NOTION_API_URL", fake.url)
        monkeypatch.setenv("ITA_NOTION_SETUPS_DATABASE", db)
        fake.setups_ds = ds
        yield fake, setups
    assert fake.errors == []


def ita(args):
    exe = Path(sys.executable).with_name("ita")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=REPO, timeout=300,
                          env={**os.environ, "COLUMNS": "200"})


def rows(fake) -> dict:
    return {page_property(r, "YAML path"): r for r in fake.rows(fake.setups_ds)
            if page_property(r, "Setup") == "asia_fvg_break"}


def edit(fake, path: str, value: str) -> None:
    client = notion_client.Client(auth=fake.token, base_url=fake.url)
    client.pages.update(page_id=rows(fake)[path]["id"], properties={"Value": {"rich_text": [{"text": {"content": value}}]}})


def test_push_edit_pull_new_version_errors_and_conflicts(env):
    fake, setups = env
    p = ita(["setups", "sync", "notion", "--push", "--setup", "asia_fvg_break"])
    assert p.returncode == 0, p.stdout + p.stderr
    r = rows(fake)
    rr = r["target.rr"]
    assert (page_property(rr, "Value"), page_property(rr, "Type"), page_property(rr, "Version")) == ("2.0", "number", 1)
    assert "entry +/- 2.0" in page_property(rr, "Description")  # the YAML line's comment
    assert page_property(r["sequence.0.window.start"], "Type") == "time"
    assert page_property(r["days"], "Value") == "[Mon, Tue, Wed, Thu, Fri]"
    assert "id" not in r and "version" not in r

    # nothing edited: nothing written
    p = ita(["setups", "sync", "notion"])
    assert p.returncode == 0 and "asia_fvg_break: no edits" in p.stdout
    assert not (setups / "asia_fvg_break" / "v2.yaml").exists()

    # an edit → v2, validated, comments kept, the table follows
    edit(fake, "target.rr", "3")
    p = ita(["setups", "sync", "notion"])
    assert p.returncode == 0, p.stdout + p.stderr
    v2 = setups / "asia_fvg_break" / "v2.yaml"
    assert v2.is_file() and "your edits are v2" in p.stdout
    assert "  rr: 3  " in v2.read_text() and "# entry +/- 2.0" in v2.read_text()
    assert yaml.safe_load((setups / "asia_fvg_break" / "v1.yaml").read_text())["target"]["rr"] == 2.0  # untouched
    assert page_property(rows(fake)["target.rr"], "Version") == 2

    # a value of the wrong type and one against the schema: the errors land on those rows, nothing is written
    edit(fake, "stop.buffer_pips", "one pip")
    edit(fake, "target.rr", "-1")
    p = ita(["setups", "sync", "notion"])
    assert p.returncode == 2
    r = rows(fake)
    assert "expects a number" in page_property(r["stop.buffer_pips"], "Error")
    assert "rr" in page_property(r["target.rr"], "Error") and "greater than 0" in page_property(r["target.rr"], "Error")
    assert page_property(r["management.flat_at"], "Error") == ""
    assert "stop.buffer_pips: expects a number" in p.stderr and not (setups / "asia_fvg_break" / "v3.yaml").exists()

    # fixed in Notion: the errors clear and v3 is written
    edit(fake, "stop.buffer_pips", "1.5")
    edit(fake, "target.rr", "3")
    p = ita(["setups", "sync", "notion"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert yaml.safe_load((setups / "asia_fvg_break" / "v3.yaml").read_text())["stop"]["buffer_pips"] == 1.5
    assert all(page_property(x, "Error") == "" for x in rows(fake).values())

    # the YAML moves on (v4 by hand) while the trader edits Notion: refused, the parameters named
    p = ita(["setups", "new-version", "asia_fvg_break", "--param", "rr=4"])
    assert p.returncode == 0, p.stderr
    edit(fake, "target.rr", "2.5")
    p = ita(["setups", "sync", "notion"])
    assert p.returncode == 2
    assert "the YAML changed since the last sync (v3 → v4)" in p.stderr
    assert "target.rr (3 → 4 in the YAML, 2.5 in Notion)" in p.stderr
    assert not (setups / "asia_fvg_break" / "v5.yaml").exists()


def test_a_database_without_the_properties_is_named(tmp_path, monkeypatch):
    with FakeNotion() as fake:
        db, _ = fake.add_database({"Name": "title", "Setup": "rich_text", "Value": "rich_text"}, "Half a table")
        monkeypatch.setenv("ITA_NOTION_TOKEN", fake.token)
        monkeypatch.setenv("ITA_NOTION_API_URL", fake.url)
        p = ita(["setups", "sync", "notion", "--database", db])
    assert p.returncode == 2
    assert "lacks the properties Version, YAML path, Type, Description, Error" in p.stderr
    assert "Traceback" not in p.stderr
