"""Bad input names its cause and the fix: decimal-comma prices, a binary file renamed .csv, an unknown detector
kind or step in a setup — each one message, nothing stored."""
from __future__ import annotations

from pathlib import Path

import pytest

from ita.data.store import CandleStore
from ita.errors import DataError, SetupError
from tests.conftest import REPO

HEADER = "time,open,high,low,close,tick_volume,spread,real_volume"


def test_decimal_comma_prices_are_read_with_semicolons_and_named_with_the_fix_with_commas(tmp_path):
    f = tmp_path / "comma.csv"
    f.write_text("time;open;high;low;close;tick_volume\n2025.01.02 00:05:00;1,03507;1,03512;1,03495;1,03505;51\n"
                 "2025.01.02 00:10:00;1,03506;1,03522;1,03496;1,03496;18\n", encoding="utf-8")
    store = CandleStore(tmp_path / "data")
    store.import_file(f, "EURUSD", "M5", "Europe/Athens")
    assert store.load("EURUSD", "M5")["close"].tolist() == [1.03505, 1.03496]
    g = tmp_path / "quoted.csv"   # decimal commas inside a comma-separated file: only quotes keep the columns apart
    g.write_text('time,open,high,low,close\n2025.01.02 00:05:00,"1,03507","1,03512","1,03495","1,03505"\n',
                 encoding="utf-8")
    with pytest.raises(DataError, match=r"decimal comma \(e\.g\. '1,03507'\).*'\.' as the decimal separator"):
        CandleStore(tmp_path / "data2").import_file(g, "EURUSD", "M5", "Europe/Athens")
    assert not (tmp_path / "data2").exists()


def test_a_binary_file_renamed_csv_is_named_as_such(tmp_path):
    f = tmp_path / "chart.csv"
    f.write_bytes(bytes(range(256)) * 12)
    with pytest.raises(DataError, match="not a text CSV") as exc:
        CandleStore(tmp_path / "data").import_file(f, "EURUSD", "M5", "Europe/Athens")
    assert "tokeniz" not in str(exc.value).lower()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("old, new, want", [
    ("kind: fvg\n", "kind: fvgg\n", "detectors.fvg: unknown kind 'fvgg'. Did you mean: fvg? Use one of: "),
    ("- step: fvg  ", "- step: fvgg ", "sequence.1: unknown step 'fvgg'. Did you mean: fvg? Use one of: break,"),
])
def test_an_unknown_detector_kind_or_step_gets_did_you_mean_at_its_line(tmp_path, old, new, want):
    from ita.setups.loader import parse_setup_text

    text = (REPO / "setups" / "asia_fvg_break" / "v1.yaml").read_text(encoding="utf-8")
    assert old in text
    bad = text.replace(old, new, 1)
    with pytest.raises(SetupError) as exc:
        parse_setup_text(bad, Path("x.yaml"))
    msg = str(exc.value)
    assert want in msg and msg.count("x.yaml:") == 1      # one line, pointing at the entry
    assert "Input tag" not in msg                         # not pydantic's raw text
