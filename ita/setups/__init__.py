"""Setups as data: the schema (:mod:`.schema`), loading/versions/hashes (:mod:`.loader`) and evaluation
into signals (:mod:`.evaluate`).

The names below are imported on first use (:func:`ita.lazy.lazy_exports`): listing or loading setups never
loads pandas or the detectors."""
from ita.lazy import lazy_exports

__all__ = ["LoadedSetup", "Setup", "detect", "evaluate", "explain", "list_setups", "load_setup", "parse_setup_text", "run_detectors", "warmup"]

lazy_exports(__name__, {
    **dict.fromkeys(("detect", "evaluate", "explain", "run_detectors", "warmup"), "ita.setups.evaluate"),
    **dict.fromkeys(("LoadedSetup", "list_setups", "load_setup", "parse_setup_text"), "ita.setups.loader"),
    "Setup": "ita.setups.schema",
})
