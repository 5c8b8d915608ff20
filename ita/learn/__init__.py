"""The learning module: a feature journal, datasets, a walk-forward p(success) model that must beat chance,
its gate into the live score, explanations, similar past signals, recommendations and guided feature
discovery. Deterministic and leak-free: every feature is computed from what was known at the event's
``known_at`` (:mod:`.features`), and no choice (parameter, feature, threshold, calibration) sees a test fold
(:mod:`.validation`).

================  ========================================================================================
module            what it holds
================  ========================================================================================
:mod:`.features`  the feature catalogue (units, windows, known-at rules) and the known-at check
:mod:`.labels`    detector-event datasets with their own labels (FVG respected / mitigated, sweep reversal)
:mod:`.dataset`   setup and detector datasets with outcomes, the prediction targets, Parquet storage
================  ========================================================================================

It may import the core (data, detectors, setups, backtest, charts, store) and nothing above it (tools,
agent, cli, graphs, live) — an import-linter contract.
"""
