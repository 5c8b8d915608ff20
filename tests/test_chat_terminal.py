"""``ita chat`` in the terminal, as a real process: a backtest's statistics are printed before its charts exist
(with a "rendering" line), then the files line and the chart paths — one-shot and interactive (issue 12)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REQUEST = "backtest asia_fvg_break on EURUSD for March 2025"


def ita_chat(args: list[str], sample_store, home: Path, stdin: str | None = None) -> tuple[str, float]:
    """Run ``ita chat --no-llm …``; returns its output and the wall-clock time its "rendering" line was read."""
    env = {**os.environ, "ITA_HOME": str(home), "ITA_DATA_DIR": str(sample_store.data_dir), "COLUMNS": "200",
           "TERM": "dumb", "PYTHONUNBUFFERED": "1"}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "ita.cli", "chat", "--no-llm", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, bufsize=1)
    proc.stdin.write(stdin or "")
    proc.stdin.close()
    lines, seen_at = [], 0.0
    for line in proc.stdout:  # as the trader reads it
        lines.append(line)
        if not seen_at and "Rendering" in line:
            seen_at = time.time()
    assert proc.wait(300) == 0, proc.stderr.read()[-3000:]
    return "".join(lines), seen_at


def check_order(out: str, seen_at: float) -> None:
    """Statistics → "rendering 4 charts" → the files line → the chart paths; each said once; the statistics were
    on the screen before the first chart was written."""
    stats, rendering = out.find("Win rate"), out.find("Rendering 4 charts and the HTML report")
    files, equity = out.find("Files:"), out.find("equity.png")
    assert -1 < stats < rendering < files < equity, out
    assert out.count("Win rate") == 1 and out.count("Files:") == 1 and out.count("By month") == 1, out
    paths = re.findall(r"^\s+image (\S+\.png)$", out, re.M)
    assert len(paths) == 4 and all(Path(p).is_file() for p in paths)
    assert seen_at < min(Path(p).stat().st_mtime for p in paths), "the statistics waited for the charts"


@pytest.mark.slow
def test_one_shot_prints_the_statistics_first_then_the_chart_paths(sample_store, tmp_path):
    check_order(*ita_chat([REQUEST], sample_store, tmp_path / "home"))


@pytest.mark.slow
def test_interactive_prints_the_statistics_first_then_the_chart_paths(sample_store, tmp_path):
    out, seen_at = ita_chat([], sample_store, tmp_path / "home", stdin=f"{REQUEST}\nlist setups\nexit\n")
    check_order(out[:out.find("asia_sweep")], seen_at)
    assert "asia_sweep" in out and out.count("Rendering") == 1  # no rendering line where nothing renders
