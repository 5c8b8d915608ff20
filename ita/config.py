"""Where ITA keeps things. Every location is an environment variable with a sensible default.

=======================  ===============================================  ==========================================
variable                 default                                          what lives there
=======================  ===============================================  ==========================================
``ITA_HOME``             ``~/.ita``                                       everything below, unless set separately
``ITA_DATA_DIR``         ``$ITA_HOME/data``                               candle store: ``<SYMBOL>/<TF>.parquet``
``ITA_RUNS_DIR``         ``$ITA_HOME/runs``                               one folder per backtest run
``ITA_DB``               ``$ITA_HOME/ita.db``                             SQLite store of runs, trades, signals
``ITA_SETUPS_DIR``       ``./setups`` if present, else the repo's         setup YAMLs: ``<id>/v<N>.yaml``
``ITA_SAMPLE_DATA``      ``<repo>/../shared/data``                        MT5 sample exports imported on first use
``ITA_PROMPTS_DIR``      ``<repo>/prompts``                               prompts and answer templates (data)
``ITA_TODAY``            today in New York                                what relative periods are relative to
``ITA_RENDERER_IDLE_S``  ``600``                                          seconds ``ita backtest``'s PNG renderer stays warm
=======================  ===============================================  ==========================================

The language model (any OpenAI-compatible server), for the chat agent and the live loop's vision comments:

=====================  =====================================================================================
variable               meaning
=====================  =====================================================================================
``OPENAI_API_KEY``     enables the LLM paths; without it the deterministic parser and templates answer
``OPENAI_BASE_URL``    any OpenAI-compatible server (Ollama ``http://localhost:11434/v1``, vLLM, llama.cpp)
``ITA_MODEL``          model name (default ``gpt-4o-mini``)
``ITA_LLM``            ``off`` forces the deterministic paths even with a key
``ITA_LLM_TIMEOUT``    seconds per model call (default 30)
=====================  =====================================================================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROMPTS_DIR = Path(os.environ.get("ITA_PROMPTS_DIR", REPO_ROOT / "prompts"))
DETECTOR_CATALOG = Path(__file__).resolve().parent / "detectors" / "catalog.yaml"   # data: read by the detectors and the chat
DEFAULT_MODEL = "gpt-4o-mini"


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var)
    return Path(value).expanduser() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved locations; build with :func:`settings` so environment changes are picked up."""

    home: Path
    data_dir: Path
    runs_dir: Path
    db_path: Path
    setups_dir: Path
    sample_data_dir: Path


def settings() -> Settings:
    """Read the environment now and return the :class:`Settings` (no directories are created)."""
    home = _path("ITA_HOME", Path.home() / ".ita")
    local_setups = Path.cwd() / "setups"
    default_setups = local_setups if (local_setups / "asia_fvg_break").is_dir() else REPO_ROOT / "setups"
    return Settings(
        home=home,
        data_dir=_path("ITA_DATA_DIR", home / "data"),
        runs_dir=_path("ITA_RUNS_DIR", home / "runs"),
        db_path=_path("ITA_DB", home / "ita.db"),
        setups_dir=_path("ITA_SETUPS_DIR", default_setups),
        sample_data_dir=_path("ITA_SAMPLE_DATA", REPO_ROOT.parent / "shared" / "data"),
    )


@dataclass(frozen=True)
class LLMSettings:
    """The language model ITA may call: ``use_llm`` is true when a key is set and ``ITA_LLM`` is not ``off``.
    ``timeout`` in seconds per call. The key is never printed (``repr`` hides it)."""

    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    model: str = DEFAULT_MODEL
    use_llm: bool = False
    timeout: float = 30.0

    @classmethod
    def from_env(cls, **overrides) -> "LLMSettings":
        """Read ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``ITA_MODEL``, ``ITA_LLM``, ``ITA_LLM_TIMEOUT`` now;
        ``overrides`` win. Raises :class:`ValueError` for a non-numeric ``ITA_LLM_TIMEOUT``."""
        key = os.environ.get("OPENAI_API_KEY") or None
        off = os.environ.get("ITA_LLM", "").strip().lower() in ("off", "0", "false", "no")
        cfg = dict(api_key=key, base_url=os.environ.get("OPENAI_BASE_URL") or None,
                   model=os.environ.get("ITA_MODEL") or DEFAULT_MODEL, use_llm=bool(key) and not off,
                   timeout=float(os.environ.get("ITA_LLM_TIMEOUT", "30")))
        cfg.update(overrides)
        return cls(**cfg)


@lru_cache(maxsize=None)
def prompt(name: str) -> str:
    """The text of ``prompts/<name>`` (e.g. ``"system.md"``, ``"live_comment.md"``) under ``ITA_PROMPTS_DIR``.
    Raises :class:`FileNotFoundError`."""
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def load_yaml(text: str):
    """``yaml.safe_load(text)`` through libyaml's C parser when PyYAML was built with it (``CSafeLoader``,
    ~10× faster; every command reads the setups, the vocabulary and the catalogues), else the pure-Python
    parser. Same types and values (the resolver is the same); raises :class:`yaml.YAMLError` with
    ``problem_mark`` (line/column) on bad YAML."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
