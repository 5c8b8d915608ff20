"""Setups as data: the schema (:mod:`.schema`), loading/versions/hashes (:mod:`.loader`) and evaluation
into signals (:mod:`.evaluate`)."""
from ita.setups.evaluate import detect, evaluate, explain, run_detectors, warmup
from ita.setups.loader import LoadedSetup, list_setups, load_setup, parse_setup_text
from ita.setups.schema import Setup

__all__ = ["LoadedSetup", "Setup", "detect", "evaluate", "explain", "list_setups", "load_setup", "parse_setup_text", "run_detectors", "warmup"]
