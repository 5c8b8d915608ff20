"""Shared fixtures: a candle store with the real sample data imported once per test session.

Tests never touch ``~/.ita``: every test gets ``ITA_HOME`` in a temporary folder.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# No PNG renderer kept between commands (each test's ITA_HOME would hold a Chromium for 10 minutes): set for the
# whole session, before any fixture builds a subprocess environment; tests/test_renderer_daemon.py turns it on.
os.environ["ITA_RENDERER_IDLE_S"] = "0"
SAMPLE_DIR = Path(os.environ.get("ITA_SAMPLE_DATA", REPO.parent / "shared" / "data"))


def sample_file(symbol: str) -> Path:
    p = SAMPLE_DIR / f"{symbol}_M5_2025.csv"
    if not p.is_file():
        pytest.skip(f"sample data {p} not found (expected ../shared/data beside the repo)")
    return p


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    monkeypatch.setenv("ITA_HOME", str(tmp_path / "ita_home"))
    for var in ("ITA_DATA_DIR", "ITA_RUNS_DIR", "ITA_DB"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ITA_SAMPLE_DATA", str(SAMPLE_DIR))


@pytest.fixture
def offline_chat(sample_store, monkeypatch, tmp_path):
    """A factory of fresh LLM-less chat sessions over the sample store, today fixed to 2026-01-20 (relative
    periods are reproducible); each call is a new conversation thread in one chat database."""
    from ita.agent import ChatSession
    from ita.agent.context import AgentConfig

    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ITA_TODAY", "2026-01-20")
    n = iter(range(1000))
    return lambda: ChatSession(f"chat{next(n)}", AgentConfig(use_llm=False, chat_db=tmp_path / "chat.db"))


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory):
    """A :class:`CandleStore` holding the EURUSD and XAUUSD samples (imported once)."""
    from ita.data.store import CandleStore

    sample_file("EURUSD")
    store = CandleStore(tmp_path_factory.mktemp("sample_store"))
    store.ensure_samples(sample_dir=SAMPLE_DIR)
    return store


@pytest.fixture(scope="session")
def eurusd_m5(sample_store):
    return sample_store.load("EURUSD", "M5")


@pytest.fixture(scope="session")
def xauusd_m5(sample_store):
    return sample_store.load("XAUUSD", "M5")


def pytest_sessionfinish(session, exitstatus):
    """Safety net: stop any kept PNG renderer a test started under this session's temporary folders (a test that
    built a subprocess environment of its own would otherwise leave a Chromium running for 10 minutes)."""
    import signal

    try:
        base = str(session.config._tmp_path_factory.getbasetemp())  # noqa: SLF001 - pytest's own tmp root
    except Exception:  # noqa: BLE001
        return
    for d in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else ():
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ita.charts.daemon" in cmd and any(a.startswith(base.encode()) for a in cmd):
            try:
                os.kill(int(d.name), signal.SIGTERM)
            except OSError:
                pass
