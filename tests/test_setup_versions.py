"""`ita setups new-version` and `ita setups diff`: new versions are copies with explicit edits, validated
before they are written; the source version is never touched."""
from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from ita.cli import app
from ita.errors import SetupError
from ita.setups import list_setups, load_setup
from ita.setups.versions import diff_versions, new_version
from tests.conftest import REPO


@pytest.fixture
def setups_dir(tmp_path, monkeypatch):
    d = tmp_path / "setups"
    shutil.copytree(REPO / "setups", d)
    monkeypatch.setenv("ITA_SETUPS_DIR", str(d))
    return d


def test_new_version_with_param_keeps_comments_and_leaves_v1_alone(setups_dir):
    v1 = setups_dir / "asia_fvg_break" / "v1.yaml"
    before = v1.read_bytes()
    p = new_version("asia_fvg_break", params={"rr": 3, "valid_until": "10:30"})
    assert p.name == "v2.yaml" and v1.read_bytes() == before
    s = load_setup("asia_fvg_break", 2)
    assert (s.version, s.setup.target.rr, s.setup.order.valid_until) == (2, 3.0, "10:30")
    text = p.read_text()
    assert "# asia_fvg_break v1 — Asia range break" in text and "# one bar touching stop and target -> stop" in text
    assert load_setup("asia_fvg_break").version == 2  # latest


def test_diff_lists_changed_fields_and_text(setups_dir):
    new_version("asia_fvg_break", params={"rr": 3})
    d = diff_versions("asia_fvg_break", "v1", "v2")
    assert d.changes == {"target.rr": (2.0, 3.0)}
    assert "-version: 1" in d.text and "+version: 2" in d.text


def test_invalid_edit_writes_nothing(setups_dir):
    with pytest.raises(SetupError, match="target.rr"):
        new_version("asia_fvg_break", params={"rr": -1})
    with pytest.raises(SetupError, match="flow-style"):
        new_version("asia_fvg_break", params={"sessions.asia.start": "19:00"})
    assert list_setups()["asia_fvg_break"] == [1]


def test_cli_new_version_and_diff(setups_dir):
    r = CliRunner().invoke(app, ["setups", "new-version", "asia_fvg_break", "--param", "rr=3"])
    assert r.exit_code == 0, r.output
    assert "Created" in r.output and "v2" in r.output
    r = CliRunner().invoke(app, ["setups", "diff", "asia_fvg_break", "v1", "v2"])
    assert r.exit_code == 0 and "target.rr" in r.output
    r = CliRunner().invoke(app, ["setups", "diff", "asia_fvg_break", "v1", "v9"])
    assert r.exit_code == 2 and "no version 9" in r.output
