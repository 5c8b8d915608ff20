"""The chat agent's tools: plain Python functions ``tool(**args) -> ToolResult`` over the deterministic core.

Every tool validates its arguments with a pydantic model (:data:`ARG_MODELS`; descriptions and examples
are what a language model reads), turns bad input and every :class:`~ita.errors.ItaError` into
``ToolResult.failure(...)`` with one clear message (an unknown symbol or setup comes with "Did you
mean …?"), and never raises for a user's mistake. Every number a user sees comes from here, already
rounded and formatted for a trader in ``tables``; the raw numbers are in ``data``.

=====================  ======================================================================================
tool                   arguments
=====================  ======================================================================================
``list_setups``        —
``show_setup``         ``setup_id``, ``version=None``
``validate_setup``     ``setup_id`` (an id: all its versions; or a YAML path)
``data_coverage``      ``symbol=None``
``load_candles``       ``symbol``, ``timeframe="M5"``, ``start=None``, ``end=None``
``run_detector``       ``detector``, ``symbol``, ``start=None``, ``end=None``, ``timeframe="M5"``,
                       ``params={}``, ``chart=True``
``evaluate_setup``     ``setup_id``, ``symbol``, ``start=None``, ``end=None``, ``version=None``, ``params={}``,
                       ``session=None``
``run_backtest``       the same + ``charts=True``
``explain_day``        ``setup_id``, ``symbol``, ``day``, ``version=None``
``show_trade``         ``trade``, ``run_id=None`` (latest run), ``chart=True``
``render_chart``       ``symbol``, ``time``, ``timeframe="M5"``, ``setup_id=None``, ``bars_before=60``,
                       ``bars_after=30``
``compare_runs``       ``run_a``, ``run_b``
``compare_versions``   ``setup_id``, ``version_a``, ``version_b``, ``symbol``, ``start=None``, ``end=None``
``list_runs``          ``limit=10``
=====================  ======================================================================================

Dates are ``"YYYY-MM-DD"`` (``"2025"`` and ``"2025-03"`` are read as the whole year / month); ``start`` and
``end`` ``None`` mean all stored data. Setup periods are trading days in the setup's time zone (New York);
candle and detector periods are UTC dates. Times shown to the trader are New York wall-clock. The sample
data is imported into the candle store on first use.

Example::

    >>> from ita.tools import core
    >>> r = core.run_backtest(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-01-01",
    ...                       end="2025-12-31", charts=False)                          # doctest: +SKIP
    >>> r.ok, r.data["stats"]["Trades"], r.data["run_id"]                             # doctest: +SKIP
"""
from __future__ import annotations

import datetime as _dt
import functools
import inspect
import json
import logging
import math
import re
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ita.config import settings
from ita.errors import DataError, ItaError, closest
from ita.backtest.stats import HEADLINE
from ita.format import DASH, as_float, fmt_int, fmt_money, fmt_num, fmt_pct, fmt_price, fmt_r
from ita.times import NY
from ita.times import day_text as _day
from ita.times import iso as _iso
from ita.times import ny_text as _ny
from ita.tools.results import Artifact, Table, ToolResult

log = logging.getLogger(__name__)

LAST_N = 10                 # rows of event / signal tables
DATE_ONLY_HOUR = 8          # render_chart: a bare date is centred on 08:00 New York

TOOLS: dict[str, Callable[..., ToolResult]] = {}
ARG_MODELS: dict[str, type[BaseModel]] = {}


# ============================================================================================ formatting

def _jsonable(v: Any) -> Any:
    from ita.store import json_scalar

    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return json_scalar(v)


def _one_line(msg: str) -> str:
    """An error message as one line: continuation lines (``file:line: field: problem``) joined."""
    parts = [p.strip() for p in str(msg).splitlines() if p.strip()]
    return " ".join(parts) if parts else str(msg)


# ============================================================================================ arguments

DETECTORS = ("fvg", "inverse_fvg", "swings", "structure", "order_blocks", "previous_levels", "session_range",
             "initial_balance", "opening_levels", "equal_levels", "sweeps", "atr")
_DETECTOR_ALIASES = {
    "fvgs": "fvg", "fair_value_gap": "fvg", "fair_value_gaps": "fvg", "imbalance": "fvg",
    "ifvg": "inverse_fvg", "inversion_fvg": "inverse_fvg", "inverse_fvgs": "inverse_fvg",
    "swing": "swings", "fractals": "swings", "structure_breaks": "structure", "bos": "structure",
    "choch": "structure", "mss": "structure", "order_block": "order_blocks", "ob": "order_blocks", "obs": "order_blocks",
    "previous_period_levels": "previous_levels", "pdh": "previous_levels", "pdl": "previous_levels",
    "previous_day_levels": "previous_levels", "session": "session_range", "range": "session_range",
    "asia_range": "session_range", "ib": "initial_balance", "opening_level": "opening_levels",
    "opens": "opening_levels", "equal_highs": "equal_levels", "equal_lows": "equal_levels", "eqh": "equal_levels",
    "eql": "equal_levels", "sweep": "sweeps", "liquidity_sweeps": "sweeps", "average_true_range": "atr",
}

_SYMBOL_DESC = "Instrument, e.g. EURUSD or XAUUSD (see data_coverage)."
_SETUP_DESC = "Setup id, e.g. asia_fvg_break (see list_setups)."
_VERSION_DESC = "Setup version N of vN.yaml, e.g. 1 (default: the latest)."
_START_DESC = "First day, YYYY-MM-DD (default: the first stored day)."
_END_DESC = "Last day, inclusive, YYYY-MM-DD (default: the last stored day)."
_PARAMS_DESC = ("One-off rule overrides {name: value}, e.g. {\"rr\": 3} or {\"target.rr\": 3}; never change the "
                "stored YAML.")
_SESSION_DESC = ("Keep only signals completed inside this session/killzone, e.g. london_killzone, "
                 "new_york_killzone (default: all).")


def _parse_date(v: Any, field: str) -> str | None:
    """``YYYY-MM-DD`` (also ``YYYY`` / ``YYYY-MM``: the first or, for ``end``, the last day) → ISO date."""
    if v is None or (isinstance(v, str) and not v.strip()):
        return None
    if isinstance(v, (_dt.date, pd.Timestamp)):
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    s = str(v).strip()
    m = re.fullmatch(r"(\d{4})(?:[-./](\d{1,2}))?(?:[-./](\d{1,2}))?", s)
    bad = f"{field} {s!r} is not a date; use YYYY-MM-DD, e.g. 2025-03-14."
    if not m:
        raise ValueError(bad)
    y, mo, d = m.groups()
    last = field in ("end",)
    try:
        if d:
            ts = pd.Timestamp(year=int(y), month=int(mo), day=int(d))
        elif mo:
            ts = pd.Timestamp(year=int(y), month=int(mo), day=1)
            ts = ts + pd.offsets.MonthEnd(0) if last else ts
        else:
            ts = pd.Timestamp(year=int(y), month=12, day=31) if last else pd.Timestamp(year=int(y), month=1, day=1)
    except ValueError:
        raise ValueError(bad) from None
    return ts.strftime("%Y-%m-%d")


def _parse_params(v: Any) -> dict:
    """``{"rr": 3}`` as is; ``"rr=3, session=asia"`` / ``"rr=3 flat_at=15:00"`` → dict; None → {}."""
    if v is None:
        return {}
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return {}
        if s.startswith("{"):
            try:
                out = json.loads(s)
            except json.JSONDecodeError:
                raise ValueError(f"params {s!r} is not valid JSON; use {{\"rr\": 3}} or rr=3.") from None
            if isinstance(out, dict):
                return out
        out = {}
        for part in re.split(r"[,;\s]+", s):
            if not part:
                continue
            if "=" not in part:
                raise ValueError(f"params {s!r}: expected name=value pairs, e.g. rr=3.")
            k, val = part.split("=", 1)
            out[k.strip()] = val.strip()
        return out
    raise ValueError(f"params must be a mapping like {{\"rr\": 3}}, got {type(v).__name__}.")


class _Args(BaseModel):
    """Shared normalisation of the arguments every tool uses (symbols, dates, versions, overrides)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("symbol", mode="before", check_fields=False)
    @classmethod
    def _symbol(cls, v):
        if v is None:
            return v
        from ita.data.instruments import get_instrument

        try:
            return get_instrument(str(v)).symbol
        except ItaError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("timeframe", mode="before", check_fields=False)
    @classmethod
    def _timeframe(cls, v):
        if v is None:
            return "M5"
        from ita.data.timeframes import normalize_tf

        try:
            return normalize_tf(str(v))
        except ItaError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("start", "end", "day", mode="before", check_fields=False)
    @classmethod
    def _date(cls, v, info):
        return _parse_date(v, info.field_name)

    @field_validator("version", "version_a", "version_b", mode="before", check_fields=False)
    @classmethod
    def _version(cls, v, info):
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        s = str(v).strip().lower().removeprefix("version").strip().lstrip("v")
        if not s.isdigit() or int(s) < 1:
            raise ValueError(f"{info.field_name} {v!r} is not a version number like 1 or v1.")
        return int(s)

    @field_validator("params", mode="before", check_fields=False)
    @classmethod
    def _params(cls, v):
        return _parse_params(v)

    @field_validator("setup_id", "session", "run_id", "run_a", "run_b", mode="before", check_fields=False)
    @classmethod
    def _strip(cls, v):
        return v.strip() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _period(self):
        lo, hi = getattr(self, "start", None), getattr(self, "end", None)
        if lo and hi and hi < lo:
            raise ValueError(f"The period ends ({hi}) before it starts ({lo}).")
        return self


class ListSetupsArgs(_Args):
    """No arguments: every setup with its versions, name, timeframe and content hash."""


class ShowSetupArgs(_Args):
    setup_id: str = Field(description=_SETUP_DESC, examples=["asia_fvg_break"])
    version: int | None = Field(None, description=_VERSION_DESC, examples=[1])


class ValidateSetupArgs(_Args):
    setup_id: str = Field(description="A setup id (validates all its versions) or the path of a setup YAML file.",
                          examples=["asia_fvg_break", "setups/asia_fvg_break/v1.yaml"])


class DataCoverageArgs(_Args):
    symbol: str | None = Field(None, description="Only this instrument, e.g. EURUSD (default: all stored).",
                               examples=["EURUSD"])


class LoadCandlesArgs(_Args):
    symbol: str = Field(description=_SYMBOL_DESC, examples=["EURUSD"])
    timeframe: str = Field("M5", description="Bar size: M1 M5 M15 M30 H1 H4 D1 (larger ones are resampled).",
                           examples=["M5", "H1"])
    start: str | None = Field(None, description="First UTC day, YYYY-MM-DD (default: all stored data).",
                              examples=["2025-03-01"])
    end: str | None = Field(None, description="Last UTC day, inclusive, YYYY-MM-DD (default: all stored data).",
                            examples=["2025-03-31"])


class RunDetectorArgs(_Args):
    detector: Literal[DETECTORS] = Field(  # type: ignore[valid-type]
        description="Detector: fvg, inverse_fvg, swings, structure (BOS/CHoCH), order_blocks, previous_levels, "
                    "session_range, initial_balance, opening_levels, equal_levels, sweeps, atr.",
        examples=["fvg"])
    symbol: str = Field(description=_SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description="First UTC day, YYYY-MM-DD (default: all stored data).",
                              examples=["2025-03-10"])
    end: str | None = Field(None, description="Last UTC day, inclusive, YYYY-MM-DD (default: all stored data).",
                            examples=["2025-03-14"])
    timeframe: str = Field("M5", description="Bar size the detector reads: M5, M15, H1, H4 …", examples=["M5"])
    params: dict[str, Any] = Field(default_factory=dict, description=(
        "Detector parameters, e.g. fvg {\"min_gap_pips\": 1, \"mitigation\": \"midpoint\"}, swings {\"left\": 3, "
        "\"right\": 3}, session_range {\"session\": \"asia\"}, sweeps {\"of\": \"previous_levels\", \"period\": \"D\"}, "
        "atr {\"period\": 14}."), examples=[{"min_gap_pips": 1.0}])
    chart: bool = Field(True, description="Render a PNG of the last few events.")

    @field_validator("detector", mode="before")
    @classmethod
    def _detector(cls, v):
        key = re.sub(r"[\s\-]+", "_", str(v).strip().lower())
        key = _DETECTOR_ALIASES.get(key, key)
        if key not in DETECTORS:
            raise ValueError(f"Unknown detector {v!r}.{closest(key, DETECTORS)} Detectors: {', '.join(DETECTORS)}.")
        return key


class EvaluateSetupArgs(_Args):
    setup_id: str = Field(description=_SETUP_DESC, examples=["asia_fvg_break"])
    symbol: str = Field(description=_SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description=_START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=_END_DESC, examples=["2025-12-31"])
    version: int | None = Field(None, description=_VERSION_DESC, examples=[1])
    params: dict[str, Any] = Field(default_factory=dict, description=_PARAMS_DESC, examples=[{"rr": 3}])
    session: str | None = Field(None, description=_SESSION_DESC, examples=["london_killzone"])


class RunBacktestArgs(EvaluateSetupArgs):
    charts: bool = Field(True, description="Render the equity curve, 3 sample trades (PNG) and the HTML report.")


class ExplainDayArgs(_Args):
    setup_id: str = Field(description=_SETUP_DESC, examples=["asia_fvg_break"])
    symbol: str = Field(description=_SYMBOL_DESC, examples=["EURUSD"])
    day: str = Field(description="The trading day (New York date), YYYY-MM-DD.", examples=["2025-03-14"])
    version: int | None = Field(None, description=_VERSION_DESC, examples=[1])


class ShowTradeArgs(_Args):
    trade: int = Field(ge=1, description="Trade number in the run (the # column), from 1.", examples=[12])
    run_id: str | None = Field(None, description="Run id, e.g. bt_20250101_120000_abc123 (default: the latest run).",
                               examples=["bt_20250101_120000_abc123"])
    chart: bool = Field(True, description="Show the annotated trade chart (PNG).")

    @field_validator("trade", mode="before")
    @classmethod
    def _trade(cls, v):
        return v.strip().lstrip("#").strip() if isinstance(v, str) else v


class RenderChartArgs(_Args):
    symbol: str = Field(description=_SYMBOL_DESC, examples=["EURUSD"])
    time: str = Field(description="Centre of the chart, 'YYYY-MM-DD HH:MM' New York time unless it carries an offset "
                                  "(e.g. '2025-03-12T12:30:00Z'); a bare date means 08:00 New York.",
                      examples=["2025-03-12 08:30"])
    timeframe: str = Field("M5", description="Bar size: M5, M15, H1 …", examples=["M5"])
    setup_id: str | None = Field(None, description="Draw this setup's detector events too, e.g. asia_fvg_break.",
                                 examples=["asia_fvg_break"])
    bars_before: int = Field(60, ge=1, le=1000, description="Bars before the time.")
    bars_after: int = Field(30, ge=0, le=1000, description="Bars after the time.")

    @field_validator("time", mode="before")
    @classmethod
    def _time(cls, v):
        _parse_time(v)
        return str(v).strip()


class CompareRunsArgs(_Args):
    run_a: str = Field(description="First run id (see list_runs).", examples=["bt_20250101_120000_abc123"])
    run_b: str = Field(description="Second run id.", examples=["bt_20250101_120500_def456"])


class CompareVersionsArgs(_Args):
    setup_id: str = Field(description=_SETUP_DESC, examples=["fvg_reversal"])
    version_a: int = Field(description="First version, e.g. 1.", examples=[1])
    version_b: int = Field(description="Second version, e.g. 2.", examples=[2])
    symbol: str = Field(description=_SYMBOL_DESC, examples=["EURUSD"])
    start: str | None = Field(None, description=_START_DESC, examples=["2025-01-01"])
    end: str | None = Field(None, description=_END_DESC, examples=["2025-12-31"])


class ListRunsArgs(_Args):
    limit: int = Field(10, ge=1, le=200, description="How many of the latest runs.", examples=[10])


def _parse_time(v: Any) -> pd.Timestamp:
    """``"2025-03-12 08:30"`` (New York) or a time with an offset → UTC Timestamp; ValueError otherwise."""
    s = str(v).strip() if v is not None else ""
    try:
        if not s or not re.match(r"^\d{4}-\d{1,2}-\d{1,2}", s):
            raise ValueError
        ts = pd.Timestamp(s)
    except (ValueError, TypeError):
        raise ValueError(f"time {v!r} is not a time; use 'YYYY-MM-DD HH:MM' (New York), e.g. 2025-03-12 08:30.") from None
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", s):  # a bare date: the London / New York morning
        ts = ts + pd.Timedelta(hours=DATE_ONLY_HOUR)
    if ts.tzinfo is None:
        ts = ts.tz_localize(NY, nonexistent="shift_forward", ambiguous=True)
    return ts.tz_convert("UTC")


def _validation_message(name: str, model: type[BaseModel], exc: ValidationError) -> str:
    """The first problem of a ValidationError as one sentence a trader (or a model) can act on."""
    e = exc.errors()[0]
    loc = ".".join(str(p) for p in e.get("loc", ()))
    field = str(e["loc"][0]) if e.get("loc") else ""
    typ = e.get("type", "")
    msg = str(e.get("msg", "")).removeprefix("Value error, ")
    if typ == "missing":
        fi = model.model_fields.get(field)
        desc = f": {fi.description.rstrip('.')}" if fi is not None and fi.description else ""
        return f"{name} needs `{field}`{desc}."
    if typ == "extra_forbidden":
        return f"{name} does not take `{loc}`.{closest(field, list(model.model_fields))} It takes: " \
               f"{', '.join(model.model_fields) or 'no arguments'}."
    if typ == "value_error":
        return msg if msg.endswith((".", "?")) else msg + "."
    if typ == "literal_error":
        return f"Invalid {loc} {e.get('input')!r}: {msg[0].lower() + msg[1:]}."
    got = e.get("input")
    text = msg[0].lower() + msg[1:] if msg else "invalid value"
    return f"Invalid {loc or 'arguments'} {got!r}: {text}."


def _signature(model: type[BaseModel]) -> inspect.Signature:
    params = []
    for fname, fi in model.model_fields.items():
        default = inspect.Parameter.empty if fi.is_required() else fi.get_default(call_default_factory=True)
        params.append(inspect.Parameter(fname, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default,
                                        annotation=fi.annotation))
    return inspect.Signature(params, return_annotation=ToolResult)


def tool(model: type[BaseModel]):
    """Register ``impl(args: model) -> ToolResult`` as the tool ``impl.__name__`` taking the model's fields as
    keyword (or positional) arguments; validation and :class:`ItaError` become failed results."""

    def deco(impl: Callable[[Any], ToolResult]) -> Callable[..., ToolResult]:
        name = impl.__name__
        sig = _signature(model)

        @functools.wraps(impl)
        def wrapper(*args: Any, **kwargs: Any) -> ToolResult:
            unknown = [k for k in kwargs if k not in model.model_fields]
            if unknown:
                return ToolResult.failure(name, f"{name} does not take `{unknown[0]}`."
                                          f"{closest(unknown[0], list(model.model_fields))} It takes: "
                                          f"{', '.join(model.model_fields) or 'no arguments'}.")
            try:
                bound = sig.bind_partial(*args, **kwargs)
            except TypeError as exc:
                return ToolResult.failure(name, f"{name}: {exc}.")
            try:
                a = model.model_validate(dict(bound.arguments))
            except ValidationError as exc:
                return ToolResult.failure(name, _validation_message(name, model, exc))
            try:
                res = impl(a)
            except ItaError as exc:
                return ToolResult.failure(name, _one_line(str(exc)))
            except Exception as exc:  # noqa: BLE001 - a tool never takes the conversation down
                log.exception("tool %s failed", name)
                return ToolResult.failure(name, f"{name} failed unexpectedly: {type(exc).__name__}: {exc}")
            res.tool = name
            return res

        wrapper.__signature__ = sig  # type: ignore[attr-defined]
        wrapper.args_schema = model  # type: ignore[attr-defined]
        wrapper.tool_name = name  # type: ignore[attr-defined]
        wrapper.description = inspect.cleandoc(impl.__doc__ or name).split("\n\n")[0].replace("\n", " ")  # type: ignore[attr-defined]
        TOOLS[name] = wrapper
        ARG_MODELS[name] = model
        return wrapper

    return deco


# ============================================================================================ shared helpers

def _instrument(symbol: str):
    from ita.data.instruments import get_instrument

    return get_instrument(symbol)


def _store(symbol: str | None = None):
    """The candle store, with the sample exports imported on first use (all, or just ``symbol``'s)."""
    from ita.data.store import SAMPLE_FILES, CandleStore

    store = CandleStore()
    want = [symbol] if symbol else list(SAMPLE_FILES)
    if any(s in SAMPLE_FILES and "M5" not in store.stored_timeframes(s) for s in want):
        store.ensure_samples([s for s in want if s in SAMPLE_FILES])
    return store


def _coverage(store, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC open times of the first and last stored bar of ``symbol`` (finest stored timeframe)."""
    tfs = store.stored_timeframes(symbol)
    if not tfs:
        have = store.symbols()
        raise DataError(f"No candles stored for {symbol}.{closest(symbol, have)} Stored symbols: "
                        f"{', '.join(have) or 'none'}. Import with `ita data import FILE --symbol {symbol} "
                        f"--timeframe M5 --server-tz Europe/Athens`.")
    idx = pd.read_parquet(store.path(symbol, tfs[0]), columns=[]).index
    idx = pd.DatetimeIndex(idx).tz_convert("UTC")
    return idx[0], idx[-1]


def _load(store, symbol: str, timeframe: str, start, end) -> pd.DataFrame:
    """``store.load`` with a period outside the data explained by the stored coverage."""
    try:
        return store.load(symbol, timeframe, start, end)
    except DataError as exc:
        if not str(exc).startswith(f"No {symbol} {timeframe} bars"):
            raise
        first, last = _coverage(store, symbol)
        lo = _day(start) if start is not None else "the start"
        hi = _day(end) if end is not None else "the end"
        raise DataError(f"No {symbol} {timeframe} bars in {lo} → {hi}; stored {first:%Y-%m-%d} → {last:%Y-%m-%d} "
                        "(UTC).") from None


def _load_setup(setup_id: str, version: int | None = None, params: dict | None = None):
    """:func:`ita.setups.load_setup` with override errors phrased for the chat (no CLI flags, no full list)."""
    from ita.errors import SetupError
    from ita.setups.loader import load_setup

    try:
        return load_setup(setup_id, version, params or None)
    except SetupError as exc:
        msg = str(exc)
        if msg.startswith("--param "):
            msg = "Override " + msg.removeprefix("--param ").split(" Parameters: ")[0]
            raise SetupError(msg if msg.endswith((".", "?")) else msg + ".") from None
        raise


def _run_error(exc: ItaError) -> ItaError:
    return ItaError(str(exc).replace("See `ita runs list`.", "Try `list runs`."))


def _trading_period(store, symbol: str, start: str | None, end: str | None, tz: str = NY) -> tuple[str, str]:
    """``start``/``end`` with ``None`` replaced by the first/last stored trading day (local date in ``tz``);
    :class:`DataError` naming the stored period when the requested one has no data."""
    first, last = _coverage(store, symbol)
    d0, d1 = first.tz_convert(tz).strftime("%Y-%m-%d"), last.tz_convert(tz).strftime("%Y-%m-%d")
    lo, hi = start or d0, end or d1
    if hi < lo or hi < d0 or lo > d1:
        raise DataError(f"No {symbol} data in {lo} → {hi}; stored {d0} → {d1}.")
    return lo, hi


def _charts_dir() -> Path:
    d = settings().home / "charts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _save_png(fig, path: Path, width: int = 1200, height: int = 700) -> tuple[Path | None, str | None]:
    """Write a PNG; a missing/failed Chromium becomes a warning, never a failed tool."""
    from ita.charts.export import save_png

    try:
        return save_png(fig, path, width=width, height=height), None
    except ItaError as exc:
        return None, f"PNG chart skipped: {_one_line(str(exc))}"


# ---- statistics tables ---------------------------------------------------------------------------------

# (label shown, stats key, kind) — the headline figures of the statistics catalogue
STAT_ROWS = [(st.label, st.key, st.kind) for st in HEADLINE]


def _stat_cell(stats: dict, key: str, kind: str, currency: str = "USD") -> str | int:
    v = stats.get(key)
    if kind == "int":
        f = as_float(v)
        return DASH if f is None else int(f)
    if kind == "pct":
        return fmt_pct(v)
    if kind == "r":
        return fmt_r(v)
    if kind == "money":
        return fmt_money(v, currency)
    if kind == "dd":
        r = fmt_r(v, signed=False)
        pct = stats.get("Max Drawdown [%]")
        return r if as_float(pct) is None else f"{r} ({fmt_pct(pct)})"
    return fmt_num(v, 2)


def _stat_delta(a: dict, b: dict, key: str, kind: str, currency: str = "USD") -> str:
    x, y = as_float(a.get(key)), as_float(b.get(key))
    if x is None or y is None or math.isinf(x) or math.isinf(y):
        return DASH
    d = y - x
    if kind == "int":
        return fmt_num(d, 0, signed=True)
    if kind == "pct":
        s = fmt_num(d, 1, signed=True)
        return f"{s} pp"
    if kind in ("r", "dd"):
        return fmt_r(d)
    if kind == "money":
        return fmt_money(d, currency)
    return fmt_num(d, 2, signed=True)


def stats_table(stats: dict, currency: str = "USD", title: str = "Statistics") -> Table:
    rows = [[label, _stat_cell(stats, key, kind, currency)] for label, key, kind in STAT_ROWS]
    return Table(columns=["metric", "value"], rows=rows, title=title)


def compare_table(a: dict, b: dict, name_a: str, name_b: str, currency: str = "USD", title: str = "") -> Table:
    rows = [[label, _stat_cell(a, key, kind, currency), _stat_cell(b, key, kind, currency),
             _stat_delta(a, b, key, kind, currency)] for label, key, kind in STAT_ROWS]
    return Table(columns=["metric", name_a, name_b, "Δ"], rows=rows, title=title)


def _stats_dict(stats) -> dict:
    from ita.store import json_scalar

    items = stats.items() if hasattr(stats, "items") else dict(stats).items()
    return {str(k): json_scalar(v) for k, v in items}


def _stats_line(stats: dict) -> str:
    n = int(as_float(stats.get("Trades")) or 0)
    if not n:
        return "no trades"
    return (f"{n} trades, win rate {fmt_pct(stats.get('Win Rate [%]'))}, {fmt_r(stats.get('Total R'))}, "
            f"PF {fmt_num(stats.get('Profit Factor'), 2)}")


# ============================================================================================ setups

def _step_row(k: int, st) -> list:
    what = getattr(st, "range", None) or getattr(st, "of", None) or getattr(st, "detector", None) or ""
    when = []
    win = getattr(st, "window", None)
    if win is not None:
        when.append(f"{win.start}–{win.end}" + (f" {win.timezone}" if getattr(win, "timezone", None) else ""))
    if getattr(st, "session", None):
        when.append(st.session)
    if getattr(st, "within_bars", None):
        when.append(f"within {st.within_bars} bars")
    if getattr(st, "until", None):
        when.append(f"before {st.until}")
    extra = []
    for attr in ("kind", "side", "by"):
        v = getattr(st, attr, None)
        if v not in (None, "any") and attr in type(st).model_fields:
            extra.append(f"{attr} {v}")
    direction = getattr(st, "direction", "") or ""
    return [k + 1, st.step, what + (f" ({', '.join(extra)})" if extra else ""), "; ".join(when) or DASH, direction or DASH]


def _rule_summary(s) -> dict:
    e, st, tg, o, m = s.entry, s.stop, s.target, s.order, s.management
    entry = f"{e.type} at {e.at}" + (f" + {e.buffer_pips:g} pip" if e.type == "stop" and e.buffer_pips else "")
    if st.type == "atr":
        stop = f"{st.multiple:g} × ATR ({st.atr})"
    else:
        stop = f"{st.type.replace('_', ' ')} + {st.buffer_pips:g} pip" + (f" ({st.swings})" if st.swings else "")
    if tg.type == "rr":
        target = f"{tg.rr:g}R"
    elif tg.type == "liquidity":
        target = f"nearest of {', '.join(tg.levels)} (min {tg.min_rr:g}R)"
    else:
        target = f"far side of {tg.range} (min {tg.min_rr:g}R)"
    order = f"valid until {o.valid_until}" + (f" or {o.valid_bars} bars" if o.valid_bars else "")
    mgmt = f"flat at {m.flat_at}, max {m.max_trades_per_day}/day" + (f", time stop {m.max_bars} bars" if m.max_bars else "")
    return {"entry": entry, "stop": stop, "target": target, "order": order, "management": mgmt}


@tool(ListSetupsArgs)
def list_setups(a: ListSetupsArgs) -> ToolResult:
    """List the setups (trading rules as versioned YAML) with their versions, timeframe, name and content hash."""
    from ita.setups.loader import list_setups as _list
    from ita.setups.loader import load_setup, setups_dir

    known = _list()
    items, rows = [], []
    for sid, versions in known.items():
        vs = ", ".join(f"v{v}" for v in versions)
        try:
            s = load_setup(sid)
        except ItaError as exc:
            err = _one_line(str(exc))
            items.append({"setup_id": sid, "versions": versions, "error": err})
            rows.append([sid, vs, DASH, f"invalid: {err[:80]}", DASH])
            continue
        items.append({"setup_id": sid, "versions": versions, "latest": s.version, "name": s.setup.name,
                      "timeframe": s.setup.timeframe, "hash": s.content_hash[:8]})
        rows.append([sid, vs, s.setup.timeframe, s.setup.name, s.content_hash[:8]])
    summary = (f"{len(known)} setups: {', '.join(known)}." if known else f"No setups in {setups_dir()}.")
    return ToolResult(tool="list_setups", summary=summary, data={"setups": items, "dir": str(setups_dir())},
                      tables={"setups": Table(columns=["setup", "versions", "timeframe", "name", "hash"], rows=rows,
                                              title="Setups")})


@tool(ShowSetupArgs)
def show_setup(a: ShowSetupArgs) -> ToolResult:
    """Show one setup: its rule step by step (sequence, entry, stop, target, management), version, hash and YAML."""
    from ita.setups.loader import list_setups as _list
    from ita.setups.loader import load_setup

    s = load_setup(a.setup_id, a.version)
    setup = s.setup
    rows = [_step_row(k, st) for k, st in enumerate(setup.sequence)]
    rule = _rule_summary(setup)
    text = s.path.read_text(encoding="utf-8")
    data = {
        "setup_id": s.id, "version": s.version, "versions": _list().get(s.id, [s.version]),
        "setup_hash": s.content_hash, "name": setup.name, "description": setup.description.strip(),
        "timeframe": setup.timeframe, "timezone": setup.timezone, "days": list(setup.days),
        "symbols": list(setup.symbols), "detectors": {k: d.kind for k, d in setup.detectors.items()},
        **rule, "path": str(s.path), "yaml": text,
    }
    summary = (f"{s.id} v{s.version} ({s.content_hash[:8]}): {setup.name}; {len(setup.sequence)} steps "
               f"({' → '.join(st.step for st in setup.sequence)}), entry {rule['entry']}, stop {rule['stop']}, "
               f"target {rule['target']}.")
    return ToolResult(tool="show_setup", summary=summary, data=data,
                      tables={"sequence": Table(columns=["#", "step", "what", "when", "direction"], rows=rows,
                                                title="Sequence")},
                      context={"setup_id": s.id, "version": s.version})


def _setup_errors(msg: str) -> list[str]:
    lines = [ln.strip() for ln in str(msg).splitlines() if ln.strip()]
    if lines and lines[0].rstrip(":").lower() in ("invalid setup", "invalid --param override"):
        lines = lines[1:]
    return lines or [str(msg)]


@tool(ValidateSetupArgs)
def validate_setup(a: ValidateSetupArgs) -> ToolResult:
    """Validate a setup: an id checks all its versions, a path checks that YAML file; errors name file:line and field."""
    from ita.errors import SetupError
    from ita.setups.loader import list_setups as _list
    from ita.setups.loader import load_setup, parse_setup_text, setups_dir

    target = a.setup_id
    files: list[dict] = []
    p = Path(target).expanduser()
    if not p.is_file() and (setups_dir() / target).is_file():
        p = setups_dir() / target
    if p.is_file() and p.suffix.lower() not in (".yaml", ".yml"):
        raise SetupError(f"{target} is not a setup file; setups are YAML files (.yaml).")
    if p.is_file():
        try:
            s = parse_setup_text(p.read_text(encoding="utf-8"), p)
            files.append({"path": str(p), "setup": f"{s.id} v{s.version}", "ok": True, "errors": []})
        except SetupError as exc:
            files.append({"path": str(p), "setup": DASH, "ok": False, "errors": _setup_errors(str(exc))})
        setup_id = None
    elif target.endswith((".yaml", ".yml")) or "/" in target or "\\" in target:
        raise SetupError(f"{target}: no such file.")
    else:
        versions = _list().get(target)
        if not versions:
            load_setup(target)  # raises with suggestions
        for v in versions:
            try:
                s = load_setup(target, v)
                files.append({"path": str(s.path), "setup": f"{s.id} v{s.version}", "hash": s.content_hash[:8],
                              "ok": True, "errors": []})
            except SetupError as exc:
                files.append({"path": str(setups_dir() / target / f"v{v}.yaml"), "setup": f"{target} v{v}",
                              "ok": False, "errors": _setup_errors(str(exc))})
        setup_id = target
    valid = all(f["ok"] for f in files)
    bad = [f for f in files if not f["ok"]]
    rows = [[Path(f["path"]).name if setup_id else f["path"], f["setup"], "OK" if f["ok"] else f["errors"][0]]
            for f in files]
    if valid:
        summary = f"{target}: {len(files)} file{'s' if len(files) != 1 else ''} valid."
    else:
        summary = f"{target}: {len(bad)} of {len(files)} invalid; first problem: {bad[0]['errors'][0]}"
    return ToolResult(tool="validate_setup", summary=summary,
                      data={"target": target, "valid": valid, "files": files},
                      tables={"validation": Table(columns=["file", "setup", "result"], rows=rows, title="Validation")},
                      context={"setup_id": setup_id} if setup_id else {})


# ============================================================================================ data

@tool(DataCoverageArgs)
def data_coverage(a: DataCoverageArgs) -> ToolResult:
    """Which symbols and timeframes are stored and for which period (UTC); imports the sample data on first use."""
    store = _store(a.symbol)
    cat = store.catalog()
    if a.symbol:
        cat = cat[cat["symbol"] == a.symbol]
        if cat.empty:
            _coverage(store, a.symbol)  # raises the store's message (stored symbols, how to import)
    series = [{"symbol": r.symbol, "timeframe": r.timeframe, "first": _iso(r.first), "last": _iso(r.last),
               "bars": int(r.bars), "server_tz": r.server_tz} for r in cat.itertuples()]
    rows = [[s["symbol"], s["timeframe"], f"{pd.Timestamp(s['first']):%Y-%m-%d %H:%M}",
             f"{pd.Timestamp(s['last']):%Y-%m-%d %H:%M}", fmt_int(s["bars"]), s["server_tz"] or DASH] for s in series]
    if series:
        summary = "; ".join(f"{s['symbol']} {s['timeframe']} {s['first'][:10]} → {s['last'][:10]} ({s['bars']:,} bars)"
                            for s in series) + ". Other timeframes are resampled on the fly."
    else:
        summary = f"No candles stored in {store.data_dir}."
    return ToolResult(tool="data_coverage", summary=summary,
                      data={"series": series, "data_dir": str(store.data_dir),
                            "resampled": "M15, M30, H1, H4, D1 from the finest stored (D1/H4 roll at 17:00 New York)"},
                      tables={"coverage": Table(columns=["symbol", "timeframe", "first (UTC)", "last (UTC)", "bars",
                                                         "server tz"], rows=rows, title="Stored candles")},
                      context={"symbol": a.symbol} if a.symbol else {})


@tool(LoadCandlesArgs)
def load_candles(a: LoadCandlesArgs) -> ToolResult:
    """Load candles and describe them: bar count, first/last bar, high/low with their times, average bar range."""
    inst = _instrument(a.symbol)
    store = _store(a.symbol)
    df = _load(store, a.symbol, a.timeframe, a.start, a.end)
    d = inst.digits
    hi_t, lo_t = df["high"].idxmax(), df["low"].idxmin()
    rng = (df["high"] - df["low"]) / inst.pip_size
    first, last = df.index[0], df.index[-1]
    change = (float(df["close"].iloc[-1]) - float(df["open"].iloc[0])) / inst.pip_size
    data = {
        "symbol": a.symbol, "timeframe": a.timeframe, "start": a.start, "end": a.end, "bars": int(len(df)),
        "first": _iso(first), "last": _iso(last), "open": float(df["open"].iloc[0]), "close": float(df["close"].iloc[-1]),
        "high": float(df["high"].max()), "high_time": _iso(hi_t), "low": float(df["low"].min()), "low_time": _iso(lo_t),
        "avg_range_pips": round(float(rng.mean()), 2), "change_pips": round(change, 1), "digits": d,
        "pip_size": inst.pip_size,
    }
    rows = [
        ["bars", fmt_int(len(df))],
        ["first bar (NY)", _ny(first)],
        ["last bar (NY)", _ny(last)],
        ["open", fmt_price(data["open"], d)],
        ["high", f"{fmt_price(data['high'], d)} ({_ny(hi_t)})"],
        ["low", f"{fmt_price(data['low'], d)} ({_ny(lo_t)})"],
        ["close", fmt_price(data["close"], d)],
        ["change", f"{fmt_num(change, 1, signed=True)} pips"],
        ["avg bar range", f"{fmt_num(data['avg_range_pips'], 1)} pips"],
    ]
    summary = (f"{a.symbol} {a.timeframe}: {len(df):,} bars {_ny(first)} → {_ny(last)} NY; high {fmt_price(data['high'], d)}, "
               f"low {fmt_price(data['low'], d)}, average bar range {data['avg_range_pips']:.1f} pips.")
    return ToolResult(tool="load_candles", summary=summary, data=data,
                      tables={"candles": Table(columns=["metric", "value"], rows=rows, title=f"{a.symbol} {a.timeframe}")},
                      context={"symbol": a.symbol, "start": a.start, "end": a.end, "timeframe": a.timeframe})


# ============================================================================================ detectors

# detector → (its parameters with defaults, allowed values of the choice parameters)
_DETECTOR_PARAMS: dict[str, tuple[dict[str, Any], dict[str, tuple]]] = {
    "fvg": ({"min_gap_pips": 0.0, "mitigation": "touch", "join": "none"},
            {"mitigation": ("touch", "midpoint", "close_through"), "join": ("none", "consecutive")}),
    "inverse_fvg": ({"min_gap_pips": 0.0, "by": "close"}, {"by": ("close", "wick")}),
    "swings": ({"left": 2, "right": 2}, {}),
    "structure": ({"left": 2, "right": 2, "by": "close"}, {"by": ("close", "wick")}),
    "order_blocks": ({"left": 2, "right": 2, "by": "close", "zone": "wick"},
                     {"by": ("close", "wick"), "zone": ("wick", "body")}),
    "previous_levels": ({"period": "D"}, {"period": ("D", "W", "M")}),
    "session_range": ({"session": "asia"}, {}),
    "initial_balance": ({"session": None}, {}),
    "opening_levels": ({"kind": "ny_midnight"}, {"kind": ("ny_midnight", "daily", "weekly")}),
    "equal_levels": ({"tolerance_pips": None, "tolerance_atr": None, "left": 2, "right": 2, "lookback": 10}, {}),
    "sweeps": ({"of": "previous_levels", "period": "D", "session": "asia", "side": None, "max_bars": 3,
                "min_pierce_pips": 0.0},
               {"of": ("previous_levels", "session_range", "initial_balance", "equal_levels"),
                "period": ("D", "W", "M"), "side": (None, "high", "low")}),
    "atr": ({"period": 14}, {}),
}
_CHART_KIND = {"fvg": "fvg", "inverse_fvg": "fvg", "swings": "swings", "structure": "structure_breaks",
               "order_blocks": "order_blocks", "previous_levels": "previous_period_levels",
               "session_range": "session_range", "initial_balance": "initial_balance",
               "opening_levels": "opening_levels", "equal_levels": "equal_levels", "sweeps": "sweeps", "atr": "atr"}
_INT_PARAMS = {"left", "right", "lookback", "max_bars", "period_bars"}


def _detector_params(detector: str, params: dict) -> dict:
    """The detector's parameters: defaults overlaid with ``params`` (coerced, checked); ItaError on a bad one."""
    defaults, choices = _DETECTOR_PARAMS[detector]
    out = dict(defaults)
    for k, v in (params or {}).items():
        key = str(k).strip()
        if key not in defaults:
            raise ItaError(f"{detector} has no parameter {key!r}.{closest(key, list(defaults))} "
                           f"Parameters: {', '.join(defaults)}.")
        d = defaults[key]
        if isinstance(v, str) and v.strip().lower() in ("none", "null", ""):
            v = None
        try:
            if v is not None and (key in _INT_PARAMS or (detector == "atr" and key == "period")):
                v = int(float(v))
            elif v is not None and (isinstance(d, float) or key.startswith(("tolerance", "min_"))):
                v = float(v)
            elif isinstance(v, str):
                v = v.strip()
        except (TypeError, ValueError):
            raise ItaError(f"{detector} parameter {key}={v!r} must be a number.") from None
        if key in choices:
            allowed = choices[key]
            if key == "period" and isinstance(v, str):
                v = v.upper()
            elif isinstance(v, str):
                v = v.lower()
            if v not in allowed:
                shown = [str(x) for x in allowed if x is not None]
                raise ItaError(f"{detector} parameter {key}={v!r} is not allowed; use one of: {', '.join(shown)}.")
        if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
            raise ItaError(f"{detector} parameter {key}={v!r} must not be negative.")
        out[key] = v
    return out


def _session(name: str | None):
    from ita.sessions import default_sessions, get_session

    if name is None:
        return None
    known = default_sessions()
    if name not in known:
        raise ItaError(f"Unknown session {name!r}.{closest(name, known)} Known: {', '.join(sorted(known))}.")
    return get_session(name)


def _levels(c: pd.DataFrame, pip: float, tf: str, p: dict) -> pd.DataFrame:
    """Price levels for sweeps: ``level``, ``side``, ``confirmed_at``, ``until`` (like the setup language)."""
    import ita.detectors as D
    from ita.sessions import local_time_to_utc

    far = pd.Timestamp("2262-01-01", tz="UTC")
    of = p["of"]
    if of == "equal_levels":
        eq = D.equal_levels(c, tolerance_pips=1.0, pip_size=pip, timeframe=tf)
        return eq.assign(until=far)[["level", "side", "confirmed_at", "until"]]
    if of == "previous_levels":
        out = D.previous_period_levels(c, p["period"], timeframe=tf)
        until = out["confirmed_at"].shift(-1)
        until = pd.DatetimeIndex(until).fillna(far) if len(out) else until
        until = pd.Series(until, index=out.index)
    else:
        win = _session(p["session"]) if of == "session_range" else None
        out = (D.session_range(c, win, timeframe=tf) if of == "session_range" else D.initial_balance(c, timeframe=tf))
        days = out["day"].to_numpy().astype("datetime64[D]") + np.timedelta64(1, "D")
        until = pd.Series(local_time_to_utc(days, "00:00", NY), index=out.index)
    parts = [pd.DataFrame({"level": out[side].to_numpy(), "side": side, "confirmed_at": out["confirmed_at"].to_numpy(),
                           "until": until.to_numpy(), "row": out.index}) for side in ("high", "low")]
    lv = pd.concat(parts, ignore_index=True)
    for col in ("confirmed_at", "until"):
        lv[col] = pd.to_datetime(lv[col], utc=True)
    return lv.sort_values(["confirmed_at", "row"], kind="stable").reset_index(drop=True)


def _detect(detector: str, c: pd.DataFrame, pip: float, tf: str, p: dict) -> pd.DataFrame:
    """Run one detector on candles ``c``; ItaError for bad parameter combinations."""
    import ita.detectors as D
    from ita.data.timeframes import tf_delta

    try:
        if detector == "fvg":
            return D.fvg(c, pip, p["min_gap_pips"], p["mitigation"], timeframe=tf, join=p["join"])
        if detector == "inverse_fvg":
            return D.inverse_fvg(c, pip, p["min_gap_pips"], by=p["by"], timeframe=tf)
        if detector in ("swings", "structure", "order_blocks"):
            sw = D.swings(c, p["left"], p["right"], timeframe=tf)
            if detector == "swings":
                return sw
            br = D.structure_breaks(c, sw, by=p["by"], timeframe=tf)
            return br if detector == "structure" else D.order_blocks(c, br, zone=p["zone"], timeframe=tf)
        if detector == "previous_levels":
            return D.previous_period_levels(c, p["period"], timeframe=tf)
        if detector == "session_range":
            return D.session_range(c, _session(p["session"]), timeframe=tf)
        if detector == "initial_balance":
            win = _session(p["session"])
            return D.initial_balance(c, *([win] if win is not None else []), timeframe=tf)
        if detector == "opening_levels":
            return D.opening_levels(c, kind=p["kind"], timeframe=tf)
        if detector == "equal_levels":
            tol_p, tol_a = p["tolerance_pips"], p["tolerance_atr"]
            if tol_p is None and tol_a is None:
                tol_p = 1.0
            return D.equal_levels(c, tolerance_pips=tol_p, tolerance_atr=tol_a, pip_size=pip, left=p["left"],
                                  right=p["right"], lookback=p["lookback"], timeframe=tf)
        if detector == "sweeps":
            lv = _levels(c, pip, tf, p)
            if p["side"]:
                lv = lv[lv["side"] == p["side"]].reset_index(drop=True)
            return D.sweeps(c, lv, level_col="level", name=p["of"], max_bars=p["max_bars"], until_col="until",
                            pip_size=pip, min_pierce_pips=p["min_pierce_pips"], timeframe=tf)
        if detector == "atr":
            vals = D.atr(c, p["period"]).to_numpy(dtype="float64")
            out = pd.DataFrame({"time": c.index, "confirmed_at": c.index + tf_delta(tf), "value": vals})
            return out[np.isfinite(out["value"].to_numpy())].reset_index(drop=True)
    except ValueError as exc:
        raise ItaError(f"{detector}: {exc}") from None
    raise ItaError(f"Unknown detector {detector!r}.")  # pragma: no cover - the argument model admits no other


# (header, column, kind) of the events table per detector; kinds: t time NY, d date, p price, s text, f1 number,
# pips price distance in pips, i int
_EVENT_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "fvg": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("direction", "direction", "s"),
            ("top", "top", "p"), ("bottom", "bottom", "p"), ("size, pips", "size_pips", "f1"),
            ("mitigated (NY)", "mitigated_at", "t")],
    "swings": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("kind", "kind", "s"),
               ("price", "price", "p")],
    "structure": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("kind", "kind", "s"),
                  ("direction", "direction", "s"), ("level", "level", "p"), ("swing (NY)", "swing_time", "t")],
    "order_blocks": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("direction", "direction", "s"),
                     ("top", "top", "p"), ("bottom", "bottom", "p"), ("break", "break_kind", "s"),
                     ("mitigated (NY)", "mitigated_at", "t")],
    "previous_levels": [("period", "label", "d"), ("high", "high", "p"), ("low", "low", "p"),
                        ("known (NY)", "confirmed_at", "t")],
    "session_range": [("day", "day", "d"), ("session", "session", "s"), ("high", "high", "p"), ("low", "low", "p"),
                      ("range, pips", "range_pips", "f1"), ("known (NY)", "confirmed_at", "t")],
    "opening_levels": [("day", "label", "d"), ("kind", "kind", "s"), ("time (NY)", "time", "t"), ("open", "open", "p")],
    "equal_levels": [("kind", "kind", "s"), ("level", "level", "p"), ("touches", "count", "i"),
                     ("first (NY)", "first_time", "t"), ("second (NY)", "second_time", "t"),
                     ("known (NY)", "confirmed_at", "t")],
    "sweeps": [("time (NY)", "time", "t"), ("known (NY)", "confirmed_at", "t"), ("direction", "direction", "s"),
               ("level", "level", "p"), ("extreme", "extreme", "p"), ("bars to reclaim", "bars_to_reclaim", "i")],
    "atr": [("time (NY)", "time", "t"), ("ATR, pips", "value_pips", "f1")],
}
_EVENT_COLUMNS["inverse_fvg"] = _EVENT_COLUMNS["fvg"]
_EVENT_COLUMNS["initial_balance"] = _EVENT_COLUMNS["session_range"]


def _cell(v: Any, kind: str, digits: int) -> Any:
    if kind == "t":
        return _ny(v) if v is not None and not (isinstance(v, float) and math.isnan(v)) and not pd.isna(v) else DASH
    if kind == "d":
        return _day(v)
    if kind == "p":
        return fmt_price(v, digits)
    if kind == "f1":
        return fmt_num(v, 1)
    if kind == "i":
        f = as_float(v)
        return DASH if f is None else int(f)
    return DASH if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _events_table(detector: str, ev: pd.DataFrame, digits: int, pip: float, n: int = LAST_N) -> Table:
    cols = _EVENT_COLUMNS[detector]
    tail = ev.tail(n).copy()
    if detector in ("session_range", "initial_balance") and len(tail):
        tail["range_pips"] = (tail["high"] - tail["low"]) / pip
    if detector == "atr" and len(tail):
        tail["value_pips"] = tail["value"] / pip
    rows = [[_cell(r.get(col), kind, digits) for _, col, kind in cols] for r in tail.to_dict("records")]
    return Table(columns=[h for h, _, _ in cols], rows=rows, title=f"Last {len(rows)} of {len(ev):,} events")


def _event_span(ev: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Start (UTC) and known time of each event, whatever the detector's columns."""
    start_col = next((c for c in ("time", "start", "period_start", "first_time") if c in ev.columns), "confirmed_at")
    return pd.to_datetime(ev[start_col], utc=True), pd.to_datetime(ev["confirmed_at"], utc=True)


def _detector_chart(detector: str, candles: pd.DataFrame, ev: pd.DataFrame, symbol: str, tf: str, pip: float,
                    out: Path) -> tuple[Path | None, str | None, int]:
    """PNG of the last few events (at most 3, within ~2 days); returns (path, warning, events focused)."""
    from ita.charts.detectors import detector_figure
    from ita.data.timeframes import tf_delta

    step = tf_delta(tf)
    if len(ev) == 0:
        t1 = candles.index[-1]
        t0 = candles.index[max(0, len(candles) - 120)]
        focus: list = []
    else:
        start, known = _event_span(ev)
        last_known = known.iloc[-1]
        k = min(3, len(ev))
        idx = list(ev.index[-k:])
        idx = [i for i in idx if last_known - start.loc[i] <= pd.Timedelta(days=2)] or [ev.index[-1]]
        focus = idx
        t0 = min(start.loc[i] for i in idx) - 40 * step
        t1 = max(known.loc[i] for i in idx) + 30 * step
        if detector in ("previous_levels", "opening_levels", "session_range", "initial_balance", "atr"):
            t0 = max(t0, last_known - pd.Timedelta(hours=30))
        t0 = max(t0, candles.index[0])
        t1 = min(t1, candles.index[-1])
        if t1 <= t0:
            t1 = candles.index[-1]
    title = f"{detector} · {symbol} {tf} · last {len(focus)} event{'s' if len(focus) != 1 else ''}"
    fig = detector_figure(candles, ev, _CHART_KIND[detector], t0, t1, title, pip, focus=focus or None)
    path, warn = _save_png(fig, out)
    return path, warn, len(focus)


@tool(RunDetectorArgs)
def run_detector(a: RunDetectorArgs) -> ToolResult:
    """Run one ICT detector (FVG, swings, BOS/CHoCH, order blocks, levels, sessions, sweeps, ATR) on stored candles:
    how many events, the last ones, and a chart of the latest."""
    inst = _instrument(a.symbol)
    store = _store(a.symbol)
    p = _detector_params(a.detector, a.params)
    lo_load = None if a.start is None else str((pd.Timestamp(a.start) - pd.Timedelta(days=10)).date())
    candles = _load(store, a.symbol, a.timeframe, lo_load, a.end)
    ev = _detect(a.detector, candles, inst.pip_size, a.timeframe, p)
    ev = ev.reset_index(drop=True)
    if len(ev):
        known = pd.to_datetime(ev["confirmed_at"], utc=True)
        keep = np.ones(len(ev), dtype=bool)
        if a.start is not None:
            keep &= (known >= pd.Timestamp(a.start, tz="UTC")).to_numpy()
        ev = ev[keep]
        order = np.argsort(pd.to_datetime(ev["confirmed_at"], utc=True).to_numpy(), kind="stable")
        ev = ev.iloc[order]
    count = int(len(ev))
    by_dir: dict[str, int] = {}
    for col in ("direction", "kind", "side"):
        if col in ev.columns and count:
            by_dir = {str(k): int(v) for k, v in ev[col].value_counts().sort_index().items()}
            break
    table = _events_table(a.detector, ev, inst.digits, inst.pip_size)
    artifacts, warnings = [], []
    if a.chart and len(candles):
        stamp = candles.index[-1].strftime("%Y%m%d%H%M")
        out = _charts_dir() / f"{a.detector}_{a.symbol}_{a.timeframe}_{stamp}.png"
        path, warn, k = _detector_chart(a.detector, candles, ev, a.symbol, a.timeframe, inst.pip_size, out)
        if path:
            artifacts.append(Artifact(kind="image", path=str(path), name=path.name,
                                      caption=f"{a.detector} on {a.symbol} {a.timeframe}: the last {k} event(s)"))
        if warn:
            warnings.append(warn)
    period = f"{a.start or _day(candles.index[0])} → {a.end or _day(candles.index[-1])}"
    parts = ", ".join(f"{v} {k}" for k, v in by_dir.items())
    summary = f"{a.detector} on {a.symbol} {a.timeframe}, {period}: {count:,} events" + (f" ({parts})" if parts else "") + "."
    last = None
    if count:
        r = ev.iloc[-1]
        last = {k: _jsonable(v) for k, v in r.items() if k not in ("bar", "confirm_bar", "first_bar", "last_bar",
                                                                  "swing_bar", "break_bar", "source_bar", "level_row",
                                                                  "reclaim_bar")}
    data = {"detector": a.detector, "symbol": a.symbol, "timeframe": a.timeframe, "start": a.start, "end": a.end,
            "period": period, "params": _jsonable(p), "count": count, "by": by_dir, "last_event": last,
            "warnings": warnings}
    return ToolResult(tool="run_detector", summary=summary, data=data, tables={"events": table}, artifacts=artifacts,
                      context={"symbol": a.symbol, "start": a.start, "end": a.end, "detector": a.detector,
                               "timeframe": a.timeframe})


# ============================================================================================ signals & backtests

@tool(EvaluateSetupArgs)
def evaluate_setup(a: EvaluateSetupArgs) -> ToolResult:
    """Evaluate a setup on stored candles: how many signals it gives (long/short, filled or not) and the last ones."""
    from ita.backtest.core import backtest
    from ita.backtest.runner import load_period_candles

    loaded = _load_setup(a.setup_id, a.version, a.params)
    inst = _instrument(a.symbol)
    store = _store(a.symbol)
    lo, hi = _trading_period(store, a.symbol, a.start, a.end, loaded.setup.timezone)
    candles = load_period_candles(store, loaded, a.symbol, lo, hi)
    res = backtest(loaded, candles, a.symbol, start=lo, end=hi, session=a.session)
    sig = res.signals
    d = inst.digits
    n = int(len(sig))
    longs = int((sig["direction"] == "long").sum()) if n else 0
    status = {str(k): int(v) for k, v in sig["status"].value_counts().items()} if n and "status" in sig else {}
    rows = []
    for r in sig.tail(LAST_N).to_dict("records"):
        risk = abs(float(r["entry_price"]) - float(r["sl_price"]))
        rr = abs(float(r["tp_price"]) - float(r["entry_price"])) / risk if risk else float("nan")
        rows.append([_day(r["day"]), _ny(r["known_at"], "%H:%M"), r["direction"], r["entry_type"],
                     fmt_price(r["entry_price"], d), fmt_price(r["sl_price"], d), fmt_price(r["tp_price"], d),
                     fmt_num(rr, 1), r.get("status", DASH)])
    label = loaded.label
    summary = (f"{label} on {a.symbol}, {lo} → {hi}" + (f", only {a.session}" if a.session else "") +
               f": {n} signals ({longs} long, {n - longs} short)" +
               (f"; {status.get('filled', 0)} filled" if status else "") + ".")
    data = {"setup_id": loaded.id, "version": loaded.version, "setup_hash": loaded.content_hash[:12],
            "symbol": a.symbol, "period": [lo, hi], "signals": n, "long": longs, "short": n - longs,
            "status": status, "overrides": _jsonable(loaded.overrides), "session": a.session,
            "last_signal": _jsonable({k: v for k, v in sig.iloc[-1].items() if k != "meta"}) if n else None}
    return ToolResult(tool="evaluate_setup", summary=summary, data=data,
                      tables={"signals": Table(columns=["day", "known (NY)", "direction", "entry type", "entry", "SL",
                                                        "TP", "R:R", "order"], rows=rows,
                                               title=f"Last {len(rows)} of {n} signals")},
                      context={"setup_id": loaded.id, "version": loaded.version, "symbol": a.symbol, "start": lo,
                               "end": hi, "params": a.params, "session": a.session})


def _by_month_table(by_month: pd.DataFrame, currency: str) -> Table:
    rows = []
    for m, r in by_month.iterrows():
        rows.append([str(m), int(r["trades"]), int(r["wins"]), int(r["losses"]), fmt_pct(r["win_rate_pct"]),
                     fmt_r(r["total_r"]), fmt_money(r["net_profit"], currency)])
    return Table(columns=["month", "trades", "wins", "losses", "win rate", "total R", "net profit"], rows=rows,
                 title="By month (entry month, UTC)")


@tool(RunBacktestArgs)
def run_backtest(a: RunBacktestArgs) -> ToolResult:
    """Backtest a setup on a symbol and period: statistics, by-month table, equity curve and sample trades (PNG),
    trades CSV and HTML report, stored as a run with the setup's version and hash."""
    from ita.backtest import runner

    loaded = _load_setup(a.setup_id, a.version, a.params)  # fail fast on a bad setup/override
    store = _store(a.symbol)
    lo, hi = _trading_period(store, a.symbol, a.start, a.end, loaded.setup.timezone)
    run = runner.run_backtest(a.setup_id, a.symbol, lo, hi, version=a.version, params=a.params or None,
                              charts=a.charts, html=a.charts, samples=3, session=a.session)
    res = run.result
    ls = res.setup
    currency = ls.setup.risk.currency
    stats = _stats_dict(res.stats)
    artifacts: list[Artifact] = []
    names = sorted(run.artifacts)
    if "equity.png" in run.artifacts:
        artifacts.append(Artifact(kind="image", path=str(run.artifacts["equity.png"]), name="equity.png",
                                  caption=f"Equity in R with drawdown · {ls.label} · {a.symbol}"))
    samples = []
    for name in names:
        m = re.fullmatch(r"trade_(\d+)\.png", name)
        if m:
            samples.append(int(m.group(1)))
            artifacts.append(Artifact(kind="image", path=str(run.artifacts[name]), name=name,
                                      caption=f"Trade {int(m.group(1))} · {ls.label} · {a.symbol}"))
    for name, caption in (("trades.csv", "All trades (times UTC)"), ("report.html", "Interactive report")):
        if name in run.artifacts:
            artifacts.append(Artifact(kind="file", path=str(run.artifacts[name]), name=name, caption=caption))
    n = int(as_float(stats.get("Trades")) or 0)
    trade_numbers = [int(t) for t in res.trades["trade"].tolist()] if n else []
    summary = (f"{ls.id} v{ls.version} ({ls.content_hash[:8]}) on {a.symbol}, {lo} → {hi}"
               + (f", only {a.session}" if a.session else "")
               + (f", overrides {ls.overrides}" if ls.overrides else "") + f": {_stats_line(stats)}; run {run.run_id}.")
    data = {
        "run_id": run.run_id, "setup_id": ls.id, "version": ls.version, "setup_hash": ls.content_hash,
        "symbol": a.symbol, "period": [lo, hi], "stats": stats, "overrides": _jsonable(ls.overrides),
        "params": a.params, "session": a.session, "currency": currency, "run_dir": str(run.run_dir),
        "sample_trades": samples, "trades": n, "first_trade": trade_numbers[0] if n else None,
        "last_trade": trade_numbers[-1] if n else None, "warnings": list(run.warnings),
    }
    return ToolResult(tool="run_backtest", summary=summary, data=data,
                      tables={"stats": stats_table(stats, currency),
                              "by_month": _by_month_table(res.by_month, currency)},
                      artifacts=artifacts,
                      context={"setup_id": ls.id, "version": ls.version, "symbol": a.symbol, "start": lo, "end": hi,
                               "params": a.params, "session": a.session, "run_id": run.run_id})


@tool(ExplainDayArgs)
def explain_day(a: ExplainDayArgs) -> ToolResult:
    """Why a setup did or did not trade on one day: the steps it passed, the step that failed and the reason."""
    from ita.setups import evaluate, explain
    from ita.setups.loader import load_setup

    loaded = load_setup(a.setup_id, a.version)
    inst = _instrument(a.symbol)
    store = _store(a.symbol)
    day = pd.Timestamp(a.day)
    candles = store.load(a.symbol, loaded.setup.timeframe, str((day - pd.Timedelta(days=10)).date()),
                         str((day + pd.Timedelta(days=1)).date()))
    why = explain(loaded, candles, a.symbol)
    row = why[why["day"] == day]
    if row.empty:
        raise ItaError(f"{a.day} ({day:%a}) is not a trading day of {loaded.id} with {a.symbol} data "
                       f"(days: {', '.join(loaded.setup.days)}).")
    r = row.iloc[0]
    tz = loaded.setup.timezone
    n_steps = len(loaded.setup.sequence)
    at = DASH if pd.isna(r["time"]) else r["time"].tz_convert(tz).strftime("%H:%M")
    sig = None
    if r["signal_id"]:
        sigs = evaluate(loaded, candles, a.symbol)
        hit = sigs[sigs["signal_id"] == r["signal_id"]]
        if len(hit):
            s = hit.iloc[0]
            d = inst.digits
            sig = {"signal_id": s["signal_id"], "direction": s["direction"], "entry_type": s["entry_type"],
                   "entry": fmt_price(s["entry_price"], d), "sl": fmt_price(s["sl_price"], d),
                   "tp": fmt_price(s["tp_price"], d), "known_at": _ny(s["known_at"], "%H:%M")}
    result = f"signal {r['signal_id']}" if r["signal_id"] else f"{r['failed_step']}: {r['reason']}"
    rows = [[f"{day:%a %Y-%m-%d}", f"{int(r['passed'])}/{n_steps}", r["direction"] or DASH, at, result]]
    if r["signal_id"]:
        summary = (f"{loaded.label} on {a.symbol}, {day:%a %Y-%m-%d}: signal {r['direction']}"
                   + (f" at {sig['known_at']} NY, entry {sig['entry']}, SL {sig['sl']}, TP {sig['tp']}" if sig else "") + ".")
    else:
        summary = (f"{loaded.label} on {a.symbol}, {day:%a %Y-%m-%d}: no trade; {r['passed']}/{n_steps} steps passed, "
                   f"{r['failed_step']} failed: {r['reason']}.")
    data = {"setup_id": loaded.id, "version": loaded.version, "setup_hash": loaded.content_hash[:12],
            "symbol": a.symbol, "day": a.day, "weekday": f"{day:%a}", "traded": bool(r["signal_id"]),
            "signal_id": r["signal_id"], "direction": r["direction"], "passed": int(r["passed"]), "steps": n_steps,
            "failed_step": r["failed_step"], "reason": r["reason"], "time": at, "signal": sig,
            "sequence": [st.step for st in loaded.setup.sequence]}
    return ToolResult(tool="explain_day", summary=summary, data=data,
                      tables={"day": Table(columns=["day", "steps", "bias", "at (NY)", "result"], rows=rows)},
                      context={"setup_id": loaded.id, "version": loaded.version, "symbol": a.symbol, "day": a.day})


# ============================================================================================ runs & trades

def _latest_runs(store, limit: int) -> pd.DataFrame:
    """Latest runs first; runs stored within the same second keep their insertion order (newest first)."""
    if not store.db["runs"].exists():
        return pd.DataFrame()
    return pd.DataFrame(list(store.db.query("select * from runs order by created_at desc, rowid desc limit ?",
                                            [int(limit)])))


def _no_runs() -> ItaError:
    return ItaError("No backtest runs are stored yet; run one first, e.g. `backtest asia_fvg_break on EURUSD`.")


@tool(ShowTradeArgs)
def show_trade(a: ShowTradeArgs) -> ToolResult:
    """Show one trade of a stored backtest run (default: the latest run): entry, stop, target, exit, result in R,
    and its annotated chart."""
    from ita.store import RunStore

    store = RunStore()
    run_id = a.run_id
    if run_id is None:
        latest = _latest_runs(store, 1)
        if latest.empty:
            raise _no_runs()
        run_id = str(latest.iloc[0]["run_id"])
    try:
        row = store.get_run(run_id)
    except ItaError as exc:
        raise _run_error(exc) from None
    trades = store.trades(run_id)
    n = len(trades)
    if n == 0:
        raise ItaError(f"Run {run_id} has no trades, so there is no trade {a.trade}.")
    hit = trades[trades["trade"] == a.trade]
    if hit.empty:
        lo, hi = int(trades["trade"].min()), int(trades["trade"].max())
        raise ItaError(f"Run {run_id} has {n} trades; there is no trade {a.trade} (choose {lo}–{hi}).")
    t = hit.iloc[0].to_dict()
    inst = _instrument(row["symbol"])
    d = inst.digits
    currency = _currency(row["setup_id"], row["setup_version"])
    r_val = as_float(t.get("r"))
    fields = [
        ("direction", t.get("direction")),
        ("trading day", _day(t.get("day"))),
        ("entry (NY)", f"{_ny(t.get('entry_time'))} @ {fmt_price(t.get('entry_price'), d)}"),
        ("stop loss", fmt_price(t.get("sl_price"), d)),
        ("take profit", fmt_price(t.get("tp_price"), d)),
        ("risk", f"{fmt_num(t.get('risk_pips'), 1)} pips"),
        ("exit (NY)", f"{_ny(t.get('exit_time'))} @ {fmt_price(t.get('exit_price'), d)}"),
        ("exit reason", t.get("exit_reason")),
        ("result", fmt_r(r_val)),
        ("profit", fmt_money(t.get("pnl"), currency)),
        ("bars held", fmt_int(t.get("bars_held"))),
        ("MAE / MFE", f"{fmt_r(t.get('mae_r'))} / {fmt_r(t.get('mfe_r'))}"),
    ]
    artifacts, warnings = [], []
    if a.chart:
        path, warn = _trade_png(row, t, inst)
        if path:
            artifacts.append(Artifact(kind="image", path=str(path), name=path.name,
                                      caption=f"Trade {a.trade} · {row['setup_id']} v{row['setup_version']} · {row['symbol']}"))
        if warn:
            warnings.append(warn)
    trade_data = {k: _jsonable(v) for k, v in t.items() if k not in ("run_id", "setup_hash")}
    summary = (f"Trade {a.trade} of {n} in run {run_id} ({row['setup_id']} v{row['setup_version']}, {row['symbol']}): "
               f"{t.get('direction')} {_ny(t.get('entry_time'))} NY at {fmt_price(t.get('entry_price'), d)}, SL "
               f"{fmt_price(t.get('sl_price'), d)}, TP {fmt_price(t.get('tp_price'), d)}; exit {t.get('exit_reason')} "
               f"{_ny(t.get('exit_time'))} at {fmt_price(t.get('exit_price'), d)}, {fmt_r(r_val)}.")
    data = {"run_id": run_id, "trade": a.trade, "trades": n, "setup_id": row["setup_id"],
            "version": row["setup_version"], "setup_hash": row["setup_hash"], "symbol": row["symbol"],
            "period": [row["start"], row["end"]], "currency": currency, "digits": d, "row": trade_data,
            "warnings": warnings}
    return ToolResult(tool="show_trade", summary=summary, data=data,
                      tables={"trade": Table(columns=["field", "value"], rows=[[k, v] for k, v in fields],
                                             title=f"Trade {a.trade}")},
                      artifacts=artifacts,
                      context={"run_id": run_id, "trade": a.trade, "setup_id": row["setup_id"],
                               "version": row["setup_version"], "symbol": row["symbol"]})


def _currency(setup_id: str, version: Any) -> str:
    """The account currency of a setup version (USD when the file is gone)."""
    from ita.setups.loader import load_setup

    try:
        return load_setup(setup_id, version).setup.risk.currency
    except ItaError:
        return "USD"


def _trade_png(run: dict, t: dict, inst) -> tuple[Path | None, str | None]:
    """The trade's PNG: the run's own sample if written, else a cached or freshly rendered chart."""
    from ita.charts.figures import trade_figure
    from ita.store import RunStore

    n = int(t["trade"])
    name = f"trade_{n:03d}.png"
    own = Path(run["run_dir"]) / name
    if own.is_file():
        return own, None
    cached = _charts_dir() / run["run_id"] / name
    if cached.is_file():
        return cached, None
    sig = {}
    db = RunStore().db
    if db["signals"].exists():
        got = list(db.query("select * from signals where run_id = ? and signal_id = ?", [run["run_id"], t["signal_id"]]))
        sig = dict(got[0]) if got else {}
    entry = pd.Timestamp(t["entry_time"])
    exit_ = pd.Timestamp(t["exit_time"])
    try:
        candles = _store(run["symbol"]).load(run["symbol"], run.get("timeframe") or "M5",
                                             entry - pd.Timedelta(days=3), exit_ + pd.Timedelta(days=1))
    except ItaError as exc:
        return None, f"Trade chart skipped: {_one_line(str(exc))}"
    title = f"{run['setup_id']} v{run['setup_version']} · {run['symbol']} · trade {n}"
    fig = trade_figure(candles, t, sig, title, inst.pip_size)
    return _save_png(fig, cached, width=1400, height=800)


@tool(RenderChartArgs)
def render_chart(a: RenderChartArgs) -> ToolResult:
    """Render a candle chart around a time (New York), optionally with a setup's detector events (sessions, FVGs,
    structure …) drawn on it."""
    from ita.charts.detectors import detector_figure
    from ita.data.timeframes import tf_delta

    inst = _instrument(a.symbol)
    store = _store(a.symbol)
    t = _parse_time(a.time)
    step = tf_delta(a.timeframe)
    pad = pd.Timedelta(days=5)
    lo_load = t - a.bars_before * step - pad
    hi_load = t + (a.bars_after + 1) * step + pad
    loaded = None
    if a.setup_id:
        from ita.setups.loader import load_setup

        loaded = load_setup(a.setup_id)
        lo_load = min(lo_load, t - pd.Timedelta(days=10))
    try:
        candles = store.load(a.symbol, a.timeframe, lo_load, hi_load)
    except DataError:
        candles = pd.DataFrame()
    pos = int(candles.index.searchsorted(t, "right")) - 1 if len(candles) else -1
    if pos < 0 or len(candles) == 0 or t - candles.index[pos] > pd.Timedelta(days=4):
        first, last = _coverage(store, a.symbol)
        raise DataError(f"No {a.symbol} {a.timeframe} bars around {a.time} NY; stored {_ny(first)} → {_ny(last)} NY.")
    i0, i1 = max(0, pos - a.bars_before), min(len(candles) - 1, pos + a.bars_after)
    w0, w1 = candles.index[i0], candles.index[i1]
    bar = candles.iloc[pos]
    d = inst.digits
    layers: list[tuple[str, pd.DataFrame]] = []
    counts: dict[str, int] = {}
    if loaded is not None:
        from ita.setups import run_detectors

        exec_c = candles if loaded.setup.timeframe == a.timeframe else store.load(
            a.symbol, loaded.setup.timeframe, lo_load, hi_load)
        outs = run_detectors(loaded, exec_c, a.symbol)
        for name, det in loaded.setup.detectors.items():
            ev = outs[name]
            kind = _setup_chart_kind(det)
            if kind is None:
                continue
            if kind == "atr":
                continue  # a lower panel per chart: left out of the combined view
            ev = ev.drop(columns=["known_bar"], errors="ignore")
            layers.append((kind, ev, _focus_near(kind, ev, t, step)))
            known = _event_span(ev)[1] if len(ev) else pd.Series(dtype="datetime64[ns, UTC]")
            since = w0 - pd.Timedelta(hours=24) if kind in _LEVEL_KINDS else w0  # levels stay in view for a day
            counts[name] = int(((known >= since) & (known <= w1 + step)).sum()) if len(ev) else 0
    title = f"{a.symbol} {a.timeframe} · {_ny(t)} NY" + (f" · {loaded.label}" if loaded is not None else "")
    fig = _combined_figure(candles, layers, w0, w1 + step, title, inst.pip_size, t, detector_figure)
    out = _charts_dir() / f"chart_{a.symbol}_{a.timeframe}_{_ny(t, '%Y%m%d_%H%M')}" \
                          f"{'_' + loaded.id if loaded is not None else ''}.png"
    path, warn = _save_png(fig, out)
    artifacts = [Artifact(kind="image", path=str(path), name=path.name, caption=title)] if path else []
    data = {"symbol": a.symbol, "timeframe": a.timeframe, "time": _iso(t), "time_ny": _ny(t),
            "bar": {"time": _iso(candles.index[pos]), "open": float(bar["open"]), "high": float(bar["high"]),
                    "low": float(bar["low"]), "close": float(bar["close"])},
            "window": [_iso(w0), _iso(w1)], "bars": int(i1 - i0 + 1), "setup_id": loaded.id if loaded else None,
            "events_in_window": counts, "warnings": [warn] if warn else []}
    rows = [["bar (NY)", _ny(candles.index[pos])], ["open", fmt_price(bar["open"], d)], ["high", fmt_price(bar["high"], d)],
            ["low", fmt_price(bar["low"], d)], ["close", fmt_price(bar["close"], d)],
            ["window (NY)", f"{_ny(w0)} → {_ny(w1)}"]]
    rows += [[f"{name} events", c] for name, c in counts.items()]
    summary = (f"{a.symbol} {a.timeframe} chart {_ny(w0)} → {_ny(w1)} NY around {_ny(t)}"
               + (f" with {loaded.label}'s detectors ({', '.join(f'{k} {v}' for k, v in counts.items())})" if loaded else "")
               + f"; bar at {_ny(candles.index[pos], '%H:%M')}: O {fmt_price(bar['open'], d)} H {fmt_price(bar['high'], d)} "
               f"L {fmt_price(bar['low'], d)} C {fmt_price(bar['close'], d)}.")
    ctx = {"symbol": a.symbol, "time": a.time, "timeframe": a.timeframe}
    if loaded is not None:
        ctx.update(setup_id=loaded.id, version=loaded.version)
    return ToolResult(tool="render_chart", summary=summary, data=data,
                      tables={"chart": Table(columns=["field", "value"], rows=rows)}, artifacts=artifacts, context=ctx)


def _setup_chart_kind(det) -> str | None:
    from ita.setups import schema as S

    for cls, kind in (("SessionRangeDetector", "session_range"), ("InitialBalanceDetector", "initial_balance"),
                      ("FVGDetector", "fvg"), ("SwingsDetector", "swings"), ("StructureDetector", "structure_breaks"),
                      ("OrderBlockDetector", "order_blocks"), ("PreviousLevelsDetector", "previous_period_levels"),
                      ("EqualLevelsDetector", "equal_levels"), ("ATRDetector", "atr")):
        c = getattr(S, cls, None)
        if c is not None and isinstance(det, c):
            return kind
    return None


_LEVEL_KINDS = ("session_range", "initial_balance", "previous_period_levels", "opening_levels")


def _focus_near(kind: str, ev: pd.DataFrame, t: pd.Timestamp, step: pd.Timedelta, near: int = 6) -> list:
    """Events a chart around ``t`` labels: the latest level known by ``t``; other events known within ``near``
    bars of ``t`` (the closest three). Everything else in the window is drawn faint."""
    if len(ev) == 0:
        return []
    start, known = _event_span(ev)
    if kind in _LEVEL_KINDS:
        before = known[known <= t + step]
        return [before.index[-1]] if len(before) else []
    dist = (known - t).abs()
    close = dist[dist <= near * step].sort_values(kind="stable")
    return list(close.index[:3])


def _combined_figure(candles, layers, t0, t1, title, pip, mark, detector_figure):
    """One chart with the events of several detectors: the first layer's figure plus the others' drawings."""
    import plotly.graph_objects as go

    from ita.charts import style as S

    if not layers:
        fig = detector_figure(candles, pd.DataFrame(), "swings", t0, t1, title, pip)
    else:
        figs = [detector_figure(candles, ev, kind, t0, t1, title, pip, focus=focus) for kind, ev, focus in layers]
        fig = figs[0]
        y0, y1 = fig.layout.yaxis.range
        for f in figs[1:]:
            fig.add_traces([tr for tr in f.data if tr.type != "candlestick"])
            fig.layout.shapes = tuple(fig.layout.shapes) + tuple(f.layout.shapes)
            fig.layout.annotations = tuple(fig.layout.annotations) + tuple(f.layout.annotations)
            fy0, fy1 = f.layout.yaxis.range
            y0, y1 = min(y0, fy0), max(y1, fy1)
        fig.update_yaxes(range=[y0, y1])
        fig.update_layout(margin=dict(r=150))
    x = S.xstr(S.to_ny(mark))
    fig.add_shape(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                  line=dict(color=S.MUTED, width=1, dash="dash"))
    fig.add_annotation(x=x, xref="x", y=1.0, yref="paper", text=f"{S.to_ny(mark):%H:%M}", showarrow=False,
                       yanchor="bottom", font=dict(size=11, color=S.MUTED))
    return fig if isinstance(fig, go.Figure) else go.Figure(fig)


@tool(CompareRunsArgs)
def compare_runs(a: CompareRunsArgs) -> ToolResult:
    """Compare two stored backtest runs: their statistics side by side with the differences (B − A)."""
    from ita.store import RunStore

    store = RunStore()
    try:
        ra, rb = store.get_run(a.run_a), store.get_run(a.run_b)
    except ItaError as exc:
        raise _run_error(exc) from None
    sa, sb = ra.get("stats") or {}, rb.get("stats") or {}

    def label(r):
        extra = []
        ov = r.get("overrides")
        if ov and ov not in ("{}", ""):
            extra.append(str(ov))
        if r.get("session_filter"):
            extra.append(f"session={r['session_filter']}")
        return (f"{r['setup_id']} v{r['setup_version']} · {r['symbol']} · {r['start']} → {r['end']}"
                + (f" · {' '.join(extra)}" if extra else ""))

    table = compare_table(sa, sb, "A", "B", title="A vs B")
    summary = f"A {a.run_a} ({label(ra)}): {_stats_line(sa)}. B {a.run_b} ({label(rb)}): {_stats_line(sb)}."
    data = {"run_a": a.run_a, "run_b": a.run_b, "a": label(ra), "b": label(rb), "stats_a": sa, "stats_b": sb,
            "delta": {key: (None if as_float(sa.get(key)) is None or as_float(sb.get(key)) is None
                            else as_float(sb.get(key)) - as_float(sa.get(key)))
                      for _, key, _ in STAT_ROWS}}
    for k, v in data["delta"].items():
        if v is not None and not math.isfinite(v):
            data["delta"][k] = None
    return ToolResult(tool="compare_runs", summary=summary, data=data, tables={"compare": table},
                      context={"run_a": a.run_a, "run_b": a.run_b})


def _short(v: Any, n: int = 60) -> str:
    if v is None:
        return DASH
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 1] + "…"


@tool(CompareVersionsArgs)
def compare_versions(a: CompareVersionsArgs) -> ToolResult:
    """Backtest two versions of a setup on the same symbol and period and compare them: statistics side by side
    with the differences, and what changed in the rule."""
    from ita.backtest import runner
    from ita.setups.loader import load_setup
    from ita.setups.versions import diff_versions

    la = load_setup(a.setup_id, a.version_a)
    load_setup(a.setup_id, a.version_b)
    diff = diff_versions(a.setup_id, a.version_a, a.version_b)
    store = _store(a.symbol)
    lo, hi = _trading_period(store, a.symbol, a.start, a.end, la.setup.timezone)
    runs = [runner.run_backtest(a.setup_id, a.symbol, lo, hi, version=v, charts=False, html=False)
            for v in (a.version_a, a.version_b)]
    sa, sb = (_stats_dict(r.result.stats) for r in runs)
    va, vb = f"v{diff.a}", f"v{diff.b}"
    currency = la.setup.risk.currency
    table = compare_table(sa, sb, va, vb, currency, title=f"{a.setup_id}: {va} vs {vb} on {a.symbol}, {lo} → {hi}")
    changes = [[k, _short(x), _short(y)] for k, (x, y) in diff.changes.items()]
    summary = (f"{a.setup_id} on {a.symbol}, {lo} → {hi}: {va} {_stats_line(sa)} (run {runs[0].run_id}); "
               f"{vb} {_stats_line(sb)} (run {runs[1].run_id}); {len(diff.changes)} rule fields differ.")
    data = {"setup_id": a.setup_id, "version_a": diff.a, "version_b": diff.b, "symbol": a.symbol, "period": [lo, hi],
            "run_a": runs[0].run_id, "run_b": runs[1].run_id,
            "hash_a": runs[0].result.setup.content_hash[:12], "hash_b": runs[1].result.setup.content_hash[:12],
            "stats_a": sa, "stats_b": sb, "currency": currency,
            "changes": {k: [_short(x, 200), _short(y, 200)] for k, (x, y) in diff.changes.items()}}
    return ToolResult(tool="compare_versions", summary=summary, data=data,
                      tables={"compare": table,
                              "changes": Table(columns=["field", va, vb], rows=changes, title="What changed")},
                      context={"setup_id": a.setup_id, "version": diff.b, "symbol": a.symbol, "start": lo, "end": hi,
                               "run_id": runs[1].run_id})


@tool(ListRunsArgs)
def list_runs(a: ListRunsArgs) -> ToolResult:
    """List the latest stored backtest runs with setup version, symbol, period and headline statistics."""
    from ita.store import RunStore

    df = _latest_runs(RunStore(), a.limit)
    runs, rows = [], []
    for r in df.to_dict("records") if not df.empty else []:
        wr = as_float(r.get("winrate"))
        item = {"run_id": r["run_id"], "created_at": r["created_at"], "setup_id": r["setup_id"],
                "version": r["setup_version"], "symbol": r["symbol"], "start": r["start"], "end": r["end"],
                "trades": r["trades_count"], "win_rate_pct": None if wr is None else round(wr * 100, 2),
                "total_r": as_float(r.get("total_r")), "profit_factor": _jsonable(as_float(r.get("profit_factor"))),
                "overrides": r.get("overrides") if r.get("overrides") not in (None, "{}") else None,
                "session": r.get("session_filter") or None}
        runs.append(item)
        rows.append([r["run_id"], f"{r['setup_id']} v{r['setup_version']}", r["symbol"], f"{r['start']} → {r['end']}",
                     int(r["trades_count"]), fmt_pct(None if wr is None else wr * 100), fmt_r(r.get("total_r")),
                     fmt_num(r.get("profit_factor"), 2)])
    summary = (f"{len(runs)} latest runs; newest {runs[0]['run_id']}." if runs else "No backtest runs are stored yet.")
    return ToolResult(tool="list_runs", summary=summary, data={"runs": runs},
                      tables={"runs": Table(columns=["run", "setup", "symbol", "period", "trades", "win rate",
                                                     "total R", "PF"], rows=rows, title="Backtest runs")})


__all__ = ["ARG_MODELS", "DETECTORS", "STAT_ROWS", "TOOLS", "compare_runs", "compare_table", "compare_versions",
           "data_coverage", "evaluate_setup", "explain_day", "fmt_int", "fmt_money", "fmt_num", "fmt_pct", "fmt_price",
           "fmt_r", "list_runs", "list_setups", "load_candles", "render_chart", "run_backtest", "run_detector",
           "kb_search", "show_setup", "show_trade", "stats_table", "tool", "validate_setup"]

# the theory-library tool registers itself in TOOLS (kept in its own module: it needs the knowledge base)
from ita.tools.kb import kb_search  # noqa: E402,F401
