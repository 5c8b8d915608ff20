"""Each command imports only what it uses (issue 12): checked through ``sys.modules`` of a fresh interpreter that
runs the command — what got imported, never how long it took (no timing assertions on a shared machine)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

LLM_AND_FRIENDS = ("langgraph", "langchain_core", "langsmith", "chromadb", "ragas", "plotly", "kaleido")
DATA_STACK = ("pandas", "numpy", "pyarrow", "talib")

RUN = """
import contextlib, io, json, sys
sys.argv = ["ita", *json.loads(sys.argv[1])]
from ita.cli import app
out = io.StringIO()
try:
    with contextlib.redirect_stdout(out):
        app(standalone_mode=False)
except SystemExit:
    pass
print(json.dumps({"modules": sorted({m.split(".")[0] for m in sys.modules}), "out": out.getvalue()}))
"""


def imported(args: list[str], home) -> tuple[set[str], str]:
    env = {**os.environ, "ITA_HOME": str(home)}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run([sys.executable, "-c", RUN, json.dumps(args)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(res["modules"]), res["out"]


def test_help_loads_no_llm_stack_no_charts_no_data_stack(tmp_path):
    mods, out = imported(["--help"], tmp_path)
    assert "ita backtest" in out
    assert not mods & set(LLM_AND_FRIENDS + DATA_STACK), sorted(mods & set(LLM_AND_FRIENDS + DATA_STACK))


def test_setups_list_loads_no_llm_stack_no_charts_no_data_stack(tmp_path):
    """(The versions' promotion statuses are read with sqlite3 alone, :mod:`ita.promotion.status`.)"""
    mods, out = imported(["setups", "list"], tmp_path)
    assert "asia_fvg_break" in out
    assert not mods & set(LLM_AND_FRIENDS + DATA_STACK), sorted(mods & set(LLM_AND_FRIENDS + DATA_STACK))


@pytest.mark.parametrize("group", ["data", "setups", "runs", "backtest", "chat", "live", "kb", "eval"])
def test_every_help_loads_no_llm_stack(group, tmp_path):
    mods, out = imported([group, "--help"], tmp_path)
    assert "Usage" in out
    assert not mods & set(LLM_AND_FRIENDS + DATA_STACK), sorted(mods & set(LLM_AND_FRIENDS + DATA_STACK))


def test_chat_list_setups_needs_the_graph_but_not_the_charts_or_detectors(tmp_path):
    mods, out = imported(["chat", "--no-llm", "list setups"], tmp_path)
    assert "asia_fvg_break" in out
    assert "langgraph" in mods  # the conversation's memory is a LangGraph checkpointer
    unused = {"chromadb", "ragas", "plotly", "kaleido", "openai", "langchain_openai", "talib"}
    assert not mods & unused, sorted(mods & unused)


def test_the_backtest_does_load_what_it_needs(tmp_path):
    """The counter-check: a command that computes does import the data stack and the detectors (the tests above
    can fail)."""
    mods, _ = imported(["setups", "explain", "asia_fvg_break", "--symbol", "EURUSD", "--day", "2025-03-14"], tmp_path)
    assert {"pandas", "numpy", "talib"} <= mods


def test_lazy_exports_keep_functions_named_like_their_submodules():
    """Importing ita.setups.evaluate (a submodule) first must not turn ``ita.setups.evaluate`` into the module: in a
    fresh interpreter, as an eager ``__init__`` would leave it."""
    code = ("from ita.setups.evaluate import warmup; from ita.detectors.fvg import inverse_fvg\n"
            "import ita.setups, ita.detectors; from ita.setups import evaluate\n"
            "print(callable(evaluate), callable(ita.setups.evaluate), callable(ita.detectors.fvg),"
            " 'evaluate' in dir(ita.setups))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "True", "True", "True"], out.stderr[-1500:]


def test_lazy_exports_name_only_the_packages_own_modules():
    from ita.lazy import lazy_exports

    with pytest.raises(ValueError, match="only its own submodules"):
        lazy_exports("ita.setups", {"ToolResult": "ita.tools.results"})  # would hide a layering breach
