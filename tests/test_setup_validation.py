"""Setup YAML: the v1 numbers as loaded, content hash, in-memory overrides, and errors that name the file,
line and field (API and CLI)."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ita.cli import app
from ita.errors import SetupError
from ita.setups import load_setup, parse_setup_text
from ita.setups.schema import BreakStep, FVGDetector, FVGStep, SessionRangeDetector

REPO = Path(__file__).resolve().parents[1]
V1 = REPO / "setups" / "asia_fvg_break" / "v1.yaml"
V1_TEXT = V1.read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _repo_setups(monkeypatch):
    monkeypatch.setenv("ITA_SETUPS_DIR", str(REPO / "setups"))


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


@pytest.fixture
def temp_setups(tmp_path, monkeypatch):
    """A setups dir holding a copy of v1; returns a function writing a variant of it as ``<id>/v<N>.yaml``."""
    root = tmp_path / "setups"
    (root / "asia_fvg_break").mkdir(parents=True)
    shutil.copy(V1, root / "asia_fvg_break" / "v1.yaml")
    monkeypatch.setenv("ITA_SETUPS_DIR", str(root))

    def put(text: str, setup_id: str = "asia_fvg_break", version: int = 1) -> Path:
        p = root / setup_id / f"v{version}.yaml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    return put


def variant(old: str, new: str) -> str:
    assert V1_TEXT.count(old) == 1, old
    return V1_TEXT.replace(old, new)


# ------------------------------------------------------------------------------------------ v1 as loaded

def test_v1_fields_equal_the_numbers_in_the_text():
    s = load_setup("asia_fvg_break")
    st = s.setup
    assert (s.version, s.path, st.id, st.version) == (1, V1, "asia_fvg_break", 1)
    assert (st.timeframe, st.timezone, st.days) == ("M5", "America/New_York", ["Mon", "Tue", "Wed", "Thu", "Fri"])
    assert st.symbols == ["EURUSD", "GBPUSD", "XAUUSD"]
    assert (st.sessions["asia"].start, st.sessions["asia"].end) == ("20:00", "00:00")
    rng, fvg = st.detectors["asia_range"], st.detectors["fvg"]
    assert isinstance(rng, SessionRangeDetector) and rng.session == "asia"
    assert isinstance(fvg, FVGDetector) and (fvg.min_gap_pips, fvg.mitigation) == (1.0, "touch")
    brk, gap = st.sequence
    assert isinstance(brk, BreakStep) and isinstance(gap, FVGStep)
    assert (brk.range, brk.window.start, brk.window.end, brk.by) == ("asia_range", "00:00", "05:00", "close")
    assert (gap.detector, gap.direction, gap.within_bars, gap.until) == ("fvg", "with_break", 3, "11:00")
    assert (st.entry.type, st.entry.at) == ("limit", "near_edge")
    assert (st.stop.type, st.stop.buffer_pips) == ("beyond_zone", 1.0)
    assert (st.target.type, st.target.rr) == ("rr", 2.0)
    assert st.order.valid_until == "11:00"
    assert (st.management.flat_at, st.management.max_trades_per_day) == ("16:00", 1)
    assert (st.execution.intrabar, st.execution.fill_bar) == ("stop_first", "stop_only")
    assert (st.risk.account, st.risk.risk_pct, st.risk.currency) == (100000.0, 1.0, "USD")
    # the session windows the engine will use
    asia = st.session("asia")
    assert (asia.start, asia.end, asia.timezone, asia.wraps) == ("20:00", "00:00", "America/New_York", True)


def test_v1_every_scalar_in_the_file_reaches_the_model():
    """Nothing in the YAML is silently dropped or defaulted: the model dump contains the file's values."""
    raw = yaml.safe_load(V1_TEXT)
    dump = load_setup("asia_fvg_break").setup.model_dump(mode="json")

    def walk(a, b, path=""):
        if isinstance(a, dict):
            for k, v in a.items():
                walk(v, b[k], f"{path}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), path
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}.{i}")
        else:
            assert a == b, (path, a, b)

    walk(raw, dump)


def test_content_hash_is_sha256_of_file_bytes():
    s = load_setup("asia_fvg_break")
    assert s.content_hash == hashlib.sha256(V1.read_bytes()).hexdigest()
    assert len(s.content_hash) == 64 and s.label == f"asia_fvg_break v1 ({s.content_hash[:8]})"
    canonical = json.dumps(s.setup.model_dump(mode="json"), sort_keys=True).encode()
    assert s.effective_hash == hashlib.sha256(canonical).hexdigest()
    assert load_setup("asia_fvg_break", "v1").content_hash == s.content_hash


def test_content_hash_follows_the_bytes_even_for_a_comment(temp_setups):
    p = temp_setups(V1_TEXT + "# a trailing comment\n")
    s = load_setup("asia_fvg_break")
    base = hashlib.sha256(V1.read_bytes()).hexdigest()
    assert s.content_hash == hashlib.sha256(p.read_bytes()).hexdigest() != base
    # the rule itself is unchanged, so the effective hash is too
    assert s.effective_hash == load_setup("asia_fvg_break", path=REPO / "setups").effective_hash


# ------------------------------------------------------------------------------------------ overrides

@pytest.mark.parametrize("params, path", [({"rr": 3}, "target.rr"), ({"target.rr": "3"}, "target.rr"),
                                          ({"target.rr": 3.0}, "target.rr")])
def test_override_changes_only_memory_and_effective_hash(params, path):
    before = (V1.read_bytes(), V1.stat().st_mtime_ns)
    base = load_setup("asia_fvg_break")
    s = load_setup("asia_fvg_break", params=params)
    assert s.setup.target.rr == 3.0 and base.setup.target.rr == 2.0
    assert list(s.overrides) == [path] and float(s.overrides[path]) == 3.0
    assert s.content_hash == base.content_hash
    assert s.effective_hash != base.effective_hash
    assert s.label.endswith(f"+{path}={s.overrides[path]}")
    # everything but target.rr is identical
    a, b = base.setup.model_dump(), s.setup.model_dump()
    a["target"]["rr"] = b["target"]["rr"] = None
    assert a == b
    assert (V1.read_bytes(), V1.stat().st_mtime_ns) == before
    assert load_setup("asia_fvg_break").setup.target.rr == 2.0     # no state kept between loads


def test_equal_overrides_give_equal_effective_hash():
    a = load_setup("asia_fvg_break", params={"rr": 3}).effective_hash
    b = load_setup("asia_fvg_break", params={"target.rr": "3.0"}).effective_hash
    assert a == b


def test_time_of_day_override_stays_a_time():
    """From the CLI every value is a string; YAML 1.1 would turn "10:30" into the number 630."""
    s = load_setup("asia_fvg_break", params={"valid_until": "10:30", "management.flat_at": "15:00"})
    assert (s.setup.order.valid_until, s.setup.management.flat_at) == ("10:30", "15:00")
    assert s.overrides == {"order.valid_until": "10:30", "management.flat_at": "15:00"}


def test_nested_override_by_dotted_path():
    s = load_setup("asia_fvg_break", params={"sequence.1.within_bars": "5", "min_gap_pips": 0.5})
    assert s.setup.sequence[1].within_bars == 5 and s.setup.detectors["fvg"].min_gap_pips == 0.5
    assert s.overrides == {"sequence.1.within_bars": 5, "detectors.fvg.min_gap_pips": 0.5}


@pytest.mark.parametrize("params, parts", [
    ({"rrr": 3}, ["--param rrr", "no such parameter", "Did you mean: rr"]),
    ({"within_bar": 2}, ["--param within_bar", "Did you mean: within_bars"]),
    ({"target.rrr": 3}, ["'target.rrr'", "Did you mean: target.rr"]),
    ({"sequence.5.within_bars": 2}, ["no such parameter 'sequence.5.within_bars'", "sequence.1.within_bars"]),
    ({"target.rr.x": 2}, ["no such parameter 'target.rr.x'", "target.rr"]),
    ({"start": "01:00"}, ["ambiguous", "sessions.asia.start", "sequence.0.window.start"]),
    ({"rr": "two"}, ["Invalid --param override", "target.rr", "valid number"]),
    ({"until": "25:00"}, ["Invalid --param override", "sequence.1.until", "out of range"]),
])
def test_bad_override_names_the_problem_and_leaves_file_alone(params, parts):
    before = V1.read_bytes()
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break", params=params)
    for part in parts:
        assert part in str(e.value), (part, str(e.value))
    assert V1.read_bytes() == before


# ------------------------------------------------------------------------------------------ YAML errors

def test_misspelled_field_names_file_line_and_suggestion(temp_setups):
    text = variant("min_gap_pips: 1.0", "min_gap_pip: 1.0")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    msg = str(e.value)
    line = line_of(text, "min_gap_pip:")
    assert f"{p}:{line}: detectors.fvg.min_gap_pip: unknown field 'min_gap_pip' Did you mean: min_gap_pips?" in msg
    assert msg.count("\n") == 1      # one problem, one line under the heading


def test_misspelled_field_in_a_sequence_step(temp_setups):
    text = variant("within_bars: 3", "within_bar: 3")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    assert f"{p}:{line_of(text, 'within_bar:')}: sequence.1.within_bar: unknown field" in str(e.value)
    assert "Did you mean: within_bars?" in str(e.value)


def test_wrong_type_names_line_and_dotted_field(temp_setups):
    text = variant("rr: 2.0 ", "rr: two ")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    assert f"{p}:{line_of(text, 'rr: two')}: target.rr: Input should be a valid number" in str(e.value)


@pytest.mark.parametrize("old, new, field", [
    ('    until: "11:00"', '    until: "25:00"', "sequence.1.until"),
    ('valid_until: "11:00"', 'valid_until: "25:00"', "order.valid_until"),
    ('flat_at: "16:00"', 'flat_at: "16:75"', "management.flat_at"),
    ('window: {start: "00:00"', 'window: {start: "0:0:0"', "sequence.0.window.start"),
])
def test_bad_time_of_day(temp_setups, old, new, field):
    text = variant(old, new)
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    bad = new.split('"')[1]
    assert f"{p}:{line_of(text, new)}: {field}:" in str(e.value) and repr(bad) in str(e.value)


def test_unknown_detector_reference_in_sequence(temp_setups):
    text = variant("    detector: fvg\n", "    detector: fvgg\n")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    msg = str(e.value)
    assert f"{p}:{line_of(text, 'detector: fvgg')}: sequence.1.detector: 'fvgg' must name a fvg detector" in msg
    assert "declared: asia_range (session_range), fvg (fvg)" in msg


def test_unknown_range_and_session_references(temp_setups):
    text = variant("range: asia_range", "range: asia_rnge")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    assert f"{p}:{line_of(text, 'asia_rnge')}: sequence.0.range: 'asia_rnge' must name a session_range" in str(e.value)
    text = variant("    session: asia\n", "    session: asai\n")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    assert f"{p}:{line_of(text, 'session: asai')}: detectors.asia_range.session: unknown session 'asai'" in str(e.value)


def test_unknown_detector_kind(temp_setups):
    text = variant("kind: fvg", "kind: fgv")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    assert f"{p}:{line_of(text, '  fvg:')}: detectors.fvg:" in str(e.value) and "'fgv'" in str(e.value)


def test_invalid_yaml_syntax_gives_line_and_column(temp_setups):
    text = variant("  at: near_edge ", "  at: near_edge: x ")
    p = temp_setups(text)
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    line = line_of(text, "near_edge: x")
    col = text.splitlines()[line - 1].index(": x") + 1
    assert str(e.value).startswith(f"{p}:{line}:{col}: not valid YAML")


def test_not_a_mapping(temp_setups):
    p = temp_setups("- just\n- a list\n")
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")
    assert str(e.value).startswith(f"{p}: a setup must be a YAML mapping")


def test_version_not_matching_path(temp_setups):
    p = temp_setups(V1_TEXT, version=2)      # says version: 1 but lives at v2.yaml
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_break")          # latest = v2
    assert str(e.value) == (f"{p}: declares id='asia_fvg_break' version=1 but lives at asia_fvg_break/v2; "
                            "make them agree (the file's place is its identity).")
    assert load_setup("asia_fvg_break", 1).version == 1


def test_id_not_matching_folder(temp_setups):
    p = temp_setups(V1_TEXT, setup_id="asia_fvg_copy")
    with pytest.raises(SetupError) as e:
        load_setup("asia_fvg_copy")
    assert f"{p}: declares id='asia_fvg_break' version=1 but lives at asia_fvg_copy/v1" in str(e.value)


def test_unknown_id_and_version():
    with pytest.raises(SetupError, match=r"Unknown setup 'asia_fvg_brake'\. Did you mean: asia_fvg_break\?"):
        load_setup("asia_fvg_brake")
    with pytest.raises(SetupError, match=r"asia_fvg_break has no version 7; versions: v1"):
        load_setup("asia_fvg_break", "v7")
    with pytest.raises(SetupError, match=r"Version 'latest' is not a number"):
        load_setup("asia_fvg_break", "latest")


def test_parse_setup_text_reports_all_problems_at_once():
    text = variant("rr: 2.0 ", "rr: -1 ").replace('flat_at: "16:00"', 'flat_at: "noon"')
    with pytest.raises(SetupError) as e:
        parse_setup_text(text, "x/v1.yaml")
    lines = str(e.value).splitlines()
    assert lines[0] == "Invalid setup:" and len(lines) == 3
    assert f"x/v1.yaml:{line_of(text, 'rr: -1')}: target.rr: Input should be greater than 0" in lines[1]
    assert f"x/v1.yaml:{line_of(text, 'flat_at:')}: management.flat_at:" in lines[2] and "'noon'" in lines[2]


# ------------------------------------------------------------------------------------------ CLI

def test_cli_backtest_unknown_setup_exits_2_with_suggestion(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("ITA_HOME", str(home))
    r = CliRunner().invoke(app, ["backtest", "asia_fvg_brake", "--symbol", "EURUSD"])
    assert r.exit_code == 2, r.output
    assert "Unknown setup 'asia_fvg_brake'. Did you mean: asia_fvg_break?" in r.output
    assert r.output.count("Error:") == 1 and "Traceback" not in r.output
    assert not home.exists()                  # failed before importing data or creating a run


def test_cli_backtest_bad_param_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path / "home"))
    r = CliRunner().invoke(app, ["backtest", "asia_fvg_break", "--param", "rrr=3"])
    assert r.exit_code == 2 and "Did you mean: rr" in r.output
    r = CliRunner().invoke(app, ["backtest", "asia_fvg_break", "--param", "rr"])
    assert r.exit_code == 2 and "expected key=value" in r.output
    assert not (tmp_path / "home").exists()


def test_cli_setups_validate_ok_and_failure(tmp_path):
    runner = CliRunner()
    r = runner.invoke(app, ["setups", "validate", str(V1)])
    assert r.exit_code == 0, r.output
    assert f"OK {V1}: asia_fvg_break v1 — Asia range break + FVG retrace" in " ".join(r.output.split())
    r = runner.invoke(app, ["setups", "validate", "asia_fvg_break"])
    assert r.exit_code == 0 and "OK" in r.output and "asia_fvg_break v1 (" in r.output
    bad = tmp_path / "v1.yaml"
    text = variant("min_gap_pips: 1.0", "min_gap_pip: 1.0")
    bad.write_text(text, encoding="utf-8")
    r = runner.invoke(app, ["setups", "validate", str(bad)])
    assert r.exit_code == 2
    flat = " ".join(r.output.split())
    assert f"{bad}:{line_of(text, 'min_gap_pip:')}: detectors.fvg.min_gap_pip: unknown field" in flat
    assert "Did you mean: min_gap_pips?" in flat and "Traceback" not in r.output
    assert bad.read_text(encoding="utf-8") == text


def test_cli_setups_show_prints_hash():
    r = CliRunner().invoke(app, ["setups", "show", "asia_fvg_break"])
    assert r.exit_code == 0
    assert f"sha256 {hashlib.sha256(V1.read_bytes()).hexdigest()}" in r.output
