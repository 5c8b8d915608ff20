"""Where ITA keeps things. Every location is an environment variable with a sensible default.

=====================  ===============================================  ==========================================
variable               default                                          what lives there
=====================  ===============================================  ==========================================
``ITA_HOME``           ``~/.ita``                                       everything below, unless set separately
``ITA_DATA_DIR``       ``$ITA_HOME/data``                               candle store: ``<SYMBOL>/<TF>.parquet``
``ITA_RUNS_DIR``       ``$ITA_HOME/runs``                               one folder per backtest run
``ITA_DB``             ``$ITA_HOME/ita.db``                             SQLite store of runs, trades, signals
``ITA_SETUPS_DIR``     ``./setups`` if present, else the repo's         setup YAMLs: ``<id>/v<N>.yaml``
``ITA_SAMPLE_DATA``    ``<repo>/../shared/data``                        MT5 sample exports imported on first use
=====================  ===============================================  ==========================================
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


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
