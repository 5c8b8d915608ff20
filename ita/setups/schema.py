"""The setup language: a trader's rule as data, validated by pydantic.

A setup file ``setups/<id>/v<N>.yaml`` declares the detectors it needs (with parameters), its session
windows, an ordered ``sequence`` of conditions, and the entry / stop / target / order / management /
execution / risk rules. Every number of the rule lives here, not in Python. All times of day are
wall-clock ``"HH:MM"`` in the setup's ``timezone`` (default America/New_York) and windows are half-open
``[start, end)``; a window whose end is not after its start begins the evening before trading day D.

The JSON Schema for editors is ``Setup.model_json_schema()`` (``ita setups schema``).
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ita.sessions import SessionWindow, parse_hhmm
from ita.times import NY

_TF_ORDER = ["M1", "M5", "M15", "M30", "H1", "H4", "D1"]
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(v: str) -> str:
    parse_hhmm(v)
    return v


def _zone(v: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(v)
    except Exception:
        raise ValueError(f"unknown IANA time zone {v!r} (e.g. America/New_York)") from None
    return v


class Window(_Model):
    """Half-open wall-clock window ``[start, end)`` in the setup's timezone."""

    start: str = Field(description="HH:MM")
    end: str = Field(description="HH:MM; at or before start = starts the evening before day D")
    timezone: str | None = Field(None, description="IANA zone of this window (default: the setup's)")
    _v = field_validator("start", "end")(_hhmm)
    _tz = field_validator("timezone")(lambda v: v if v is None else _zone(v))


TF = Literal["M1", "M5", "M15", "M30", "H1", "H4", "D1"]
Direction = Literal["any", "long", "short", "with_bias", "against_bias", "with_break", "against_break"]
RELATIVE = ("with_bias", "against_bias", "with_break", "against_break")


# ---- detectors ------------------------------------------------------------------------------------------
# Each maps one-to-one onto a function of :mod:`ita.detectors`; every parameter is named and defaulted there.

class _HTF(_Model):
    timeframe: TF | None = Field(None, description="read on a higher timeframe (H1, H4, …): its events are "
                                 "visible from the close of the execution bar at which the HTF bar has closed")


class SessionRangeDetector(_Model):
    """High/low of a session window per trading day (:func:`ita.detectors.session_range`)."""

    kind: Literal["session_range"]
    session: str = Field(description="a name from this setup's `sessions` or the default sessions")


class FVGDetector(_HTF):
    """Fair value gaps (:func:`ita.detectors.fvg`), or with ``inverse: true`` inversion FVGs
    (:func:`ita.detectors.inverse_fvg`): gaps that price closed through (``inverse_by``), which flip
    polarity — the event is the inverting bar and its direction the new one."""

    kind: Literal["fvg"]
    min_gap_pips: float = Field(0.0, ge=0, description="smallest gap, pips")
    mitigation: Literal["touch", "midpoint", "close_through"] = "touch"
    inverse: bool = Field(False, description="use inversion FVGs (gaps closed through) instead of gaps")
    inverse_by: Literal["close", "wick"] = Field("close", description="inverse: what counts as through the gap")


class SwingsDetector(_HTF):
    """Fractal swing highs/lows (:func:`ita.detectors.swings`), known ``right`` bars after the extreme."""

    kind: Literal["swings"]
    left: int = Field(2, ge=1, le=50)
    right: int = Field(2, ge=1, le=50)


class StructureDetector(_HTF):
    """BOS / CHoCH (:func:`ita.detectors.structure_breaks`) over fractal swings of ``left``/``right``."""

    kind: Literal["structure"]
    left: int = Field(2, ge=1, le=50)
    right: int = Field(2, ge=1, le=50)
    by: Literal["close", "wick"] = "close"


class OrderBlockDetector(_HTF):
    """Order blocks (:func:`ita.detectors.order_blocks`): last opposite candle before a structure break."""

    kind: Literal["order_block"]
    left: int = Field(2, ge=1, le=50)
    right: int = Field(2, ge=1, le=50)
    by: Literal["close", "wick"] = "close"
    zone: Literal["wick", "body"] = "wick"


class PreviousLevelsDetector(_Model):
    """Previous day / week / month high and low (:func:`ita.detectors.previous_period_levels`), valid
    during the following period."""

    kind: Literal["previous_levels"]
    period: Literal["D", "W", "M"] = "D"


class InitialBalanceDetector(_Model):
    """Initial balance (:func:`ita.detectors.initial_balance`): high/low of the first hour of a cash
    session — ``session`` names a window (default ``ib_frankfurt``-style 09:00–10:00 Europe/Berlin)."""

    kind: Literal["initial_balance"]
    session: str | None = Field(None, description="a session name; default 09:00-10:00 Europe/Berlin")


class EqualLevelsDetector(_Model):
    """Equal highs / lows (:func:`ita.detectors.equal_levels`); exactly one tolerance."""

    kind: Literal["equal_levels"]
    tolerance_pips: float | None = Field(None, gt=0)
    tolerance_atr: float | None = Field(None, gt=0)
    left: int = Field(2, ge=1, le=50)
    right: int = Field(2, ge=1, le=50)
    lookback: int = Field(10, ge=1, le=100)

    @model_validator(mode="after")
    def _one_tolerance(self) -> "EqualLevelsDetector":
        if (self.tolerance_pips is None) == (self.tolerance_atr is None):
            raise ValueError("give exactly one of tolerance_pips or tolerance_atr")
        return self


class ATRDetector(_HTF):
    """Average true range (TA-Lib, :func:`ita.detectors.atr`) of ``period`` bars, in price."""

    kind: Literal["atr"]
    period: int = Field(14, ge=1, le=500)


DetectorSpec = Annotated[Union[SessionRangeDetector, FVGDetector, SwingsDetector, StructureDetector,
                               OrderBlockDetector, PreviousLevelsDetector, InitialBalanceDetector,
                               EqualLevelsDetector, ATRDetector], Field(discriminator="kind")]
LEVEL_KINDS = ("session_range", "previous_levels", "initial_balance", "equal_levels")
RANGE_KINDS = ("session_range", "initial_balance")


# ---- sequence steps -------------------------------------------------------------------------------------
# A step finds the FIRST event of its kind after the previous step's event (on the same trading day D),
# subject to its time filters. The first step's event sets the bias (long/short); later steps' `direction`
# is relative to it.

class _Step(_Model):
    window: Window | None = Field(None, description="the event's bar opens inside this wall-clock window on D")
    session: str | None = Field(None, description="like `window`, a named session/killzone (its own time zone)")
    within_bars: int | None = Field(None, ge=1, le=500,
                                    description="event bar at most this many bars after the previous step's bar")
    until: str | None = Field(None, description="HH:MM: the event's bar opens before this on D")
    from_bar: Literal["next", "same"] = Field("next", description="search from the bar after the previous "
                                              "step's bar (next) or from that bar itself (same)")
    _v = field_validator("until")(lambda v: v if v is None else _hhmm(v))

    @model_validator(mode="after")
    def _one_window(self):
        if self.window is not None and self.session is not None:
            raise ValueError("give either `window` or `session`, not both")
        return self


class BreakStep(_Step):
    """A bar that closes (or wicks) beyond the day's range of detector ``range`` (session range or
    initial balance): above the high → long bias, below the low → short."""

    step: Literal["break"]
    range: str = Field(description="name of a session_range or initial_balance detector")
    by: Literal["close", "wick"] = "close"
    direction: Direction = "any"


class SweepStep(_Step):
    """A liquidity sweep (:func:`ita.detectors.sweeps`) of a level of detector ``of``: the wick trades
    beyond it and a close back inside follows within ``reclaim_bars``. Sweeping a high → short bias
    (buy-side liquidity taken), a low → long. The event is the reclaiming bar."""

    step: Literal["sweep"]
    of: str = Field(description="a session_range, previous_levels, initial_balance or equal_levels detector")
    side: Literal["high", "low", "any"] = "any"
    reclaim_bars: int = Field(3, ge=0, le=50, description="close back inside within this many bars")
    min_pierce_pips: float = Field(0.0, ge=0)
    direction: Direction = "any"


class FVGStep(_Step):
    """A fair value gap of detector ``detector``; the event is its third candle."""

    step: Literal["fvg"]
    detector: str = Field(description="name of an fvg detector")
    direction: Direction = "with_bias"


class StructureStep(_Step):
    """A BOS and/or CHoCH of detector ``detector``; the event is the bar that breaks the swing."""

    step: Literal["structure"]
    detector: str = Field(description="name of a structure detector")
    kind: Literal["BOS", "CHoCH", "any"] = "any"
    direction: Direction = "with_bias"


class OrderBlockStep(_Step):
    """An order block of detector ``detector``; the event is the bar that confirmed it (its break)."""

    step: Literal["order_block"]
    detector: str = Field(description="name of an order_block detector")
    direction: Direction = "with_bias"


class TrendStep(_Model):
    """A filter, not an event: the last BOS/CHoCH of ``detector`` known at the previous step's bar (often
    a higher timeframe) must point with (or against) the bias."""

    step: Literal["trend"]
    detector: str = Field(description="name of a structure detector (e.g. on H1)")
    direction: Literal["with_bias", "against_bias"] = "with_bias"


Step = Annotated[Union[BreakStep, SweepStep, FVGStep, StructureStep, OrderBlockStep, TrendStep],
                 Field(discriminator="step")]
STEP_DETECTOR = {"break": ("range", RANGE_KINDS), "sweep": ("of", LEVEL_KINDS), "fvg": ("detector", ("fvg",)),
                 "structure": ("detector", ("structure",)), "order_block": ("detector", ("order_block",)),
                 "trend": ("detector", ("structure",))}
ZONE_STEPS = ("fvg", "order_block")


def tagged_model(where: str, tag: str) -> type[_Model] | None:
    """The detector (``where="detectors"``, tag = ``kind``) or step (``"sequence"``, tag = ``step``) model."""
    from typing import get_args

    union = DetectorSpec if where == "detectors" else Step
    field = "kind" if where == "detectors" else "step"
    for m in get_args(get_args(union)[0]):
        if tag in get_args(m.model_fields[field].annotation):
            return m
    return None


# ---- order and trade rules ------------------------------------------------------------------------------

class Entry(_Model):
    """How the order is placed once the sequence completes at the close of the signal bar.

    ``limit`` at the zone of the last fvg/order_block step: ``near_edge`` (long: top, short: bottom),
    ``midpoint`` or ``far_edge``. ``market``: at the next bar's open (planned price = signal bar close).
    ``stop``: a stop order ``buffer_pips`` beyond the signal bar (long: its high + buffer; short: low − buffer).
    """

    type: Literal["limit", "market", "stop"] = "limit"
    at: Literal["near_edge", "midpoint", "far_edge", "signal_bar"] = "near_edge"
    buffer_pips: float = Field(0.0, ge=0, description="stop entries: distance beyond the signal bar, pips")

    @model_validator(mode="after")
    def _at(self) -> "Entry":
        if self.type == "stop" and self.at != "signal_bar" and "at" in self.model_fields_set:
            raise ValueError("a stop entry is placed at `signal_bar`")
        if self.type == "limit" and self.at == "signal_bar":
            raise ValueError("a limit entry is placed at the zone: near_edge, midpoint or far_edge")
        return self


class Stop(_Model):
    """Protective stop, ``buffer_pips`` beyond the reference:

    ``beyond_zone`` (long: zone bottom, short: zone top), ``beyond_sweep`` (the swept wick's extreme),
    ``beyond_swing`` (the last swing low/high of detector ``swings`` known at the signal, beyond entry),
    ``atr`` (``multiple`` × ATR of detector ``atr`` at the signal bar from the entry).
    """

    type: Literal["beyond_zone", "beyond_sweep", "beyond_swing", "atr"] = "beyond_zone"
    buffer_pips: float = Field(1.0, ge=0)
    swings: str | None = Field(None, description="beyond_swing: name of a swings detector")
    atr: str | None = Field(None, description="atr: name of an atr detector")
    multiple: float = Field(1.5, gt=0, description="atr: stop distance in ATRs")


class Target(_Model):
    """``rr``: entry ± rr × |entry − stop|. ``liquidity``: the nearest level beyond the entry among the
    detectors ``levels`` (latest known at the signal). ``session_extreme``: the far side of the day's
    range of detector ``range`` (long: its high, short: its low). Level targets closer than ``min_rr``
    reject the signal (the reason is in ``ita setups explain``)."""

    type: Literal["rr", "liquidity", "session_extreme"] = "rr"
    rr: float = Field(2.0, gt=0)
    levels: list[str] = Field(default_factory=list, description="liquidity: level detector names")
    range: str | None = Field(None, description="session_extreme: a session_range/initial_balance detector")
    min_rr: float = Field(1.0, gt=0, description="level targets: reject the signal below this R:R")


class Order(_Model):
    """The pending order is active from the bar after the signal while bars open before ``valid_until``
    (HH:MM on D) and, with ``valid_bars``, within that many bars of the signal."""

    valid_until: str = "11:00"
    valid_bars: int | None = Field(None, ge=1, le=10_000)
    _v = field_validator("valid_until")(_hhmm)


class Management(_Model):
    """``flat_at``: close any open trade at the close of the last bar opening before this time on D.
    ``max_bars``: time stop, close at the close of the ``max_bars``-th bar held (fill bar = 1).
    ``max_trades_per_day``: after a signal, the sequence searches again from the bar after it."""

    flat_at: str = "16:00"
    max_bars: int | None = Field(None, ge=1, le=10_000)
    max_trades_per_day: int = Field(1, ge=1, le=20)
    _v = field_validator("flat_at")(_hhmm)


class Execution(_Model):
    """How the simulator resolves what a bar cannot tell.

    ``intrabar``: when one bar touches both stop and target (and on the fill bar, whether the stop or target
    came after the fill): ``lower_timeframe`` (default) replays that bar on the M1 bars inside it when M1
    candles are stored, else decides stop first; ``stop_first`` (conservative) or ``target_first`` always
    decide by the rule. ``fill_bar``: on the bar a limit fills, check ``stop_only`` (the target cannot be
    known to come after the fill) or ``stop_and_target``.
    """

    intrabar: Literal["lower_timeframe", "stop_first", "target_first"] = "lower_timeframe"
    fill_bar: Literal["stop_only", "stop_and_target"] = "stop_only"


class Risk(_Model):
    """Fixed-fractional risk: every trade risks ``risk_pct`` of the starting ``account`` (no compounding)."""

    account: float = Field(100_000.0, gt=0, description="starting balance, account currency")
    risk_pct: float = Field(1.0, gt=0, le=100, description="% of the starting balance risked per trade")
    currency: str = "USD"


class Setup(_Model):
    """A complete setup. See ``setups/asia_fvg_break/v1.yaml`` for a documented example."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{2,63}$")
    version: int = Field(ge=1)
    name: str
    description: str = ""
    timeframe: TF = Field("M5", description="execution timeframe: the candles the sequence and orders run on")
    timezone: str = NY
    days: list[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]] = Field(
        default_factory=lambda: ["Mon", "Tue", "Wed", "Thu", "Fri"])
    symbols: list[str] = Field(default_factory=list, description="symbols the setup is meant for (informative)")
    sessions: dict[str, Window] = Field(default_factory=dict)
    detectors: dict[str, DetectorSpec]
    sequence: list[Step] = Field(min_length=1)
    after_failed_sequence: Literal["skip_day", "retry"] = Field(
        "skip_day", description="when a later step is not found: give up day D, or retry from the next "
        "event of the first step")
    entry: Entry = Entry()
    stop: Stop = Stop()
    target: Target = Target()
    order: Order = Order()
    management: Management = Management()
    execution: Execution = Execution()
    risk: Risk = Risk()

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. America/New_York)") from None
        return v

    @model_validator(mode="after")
    def _references(self) -> "Setup":
        from ita.sessions import default_sessions

        known = set(self.sessions) | set(default_sessions())
        kinds = {n: d.kind for n, d in self.detectors.items()}
        declared = ", ".join(f"{n} ({t})" for n, t in kinds.items())

        def need(where: str, name: str | None, allowed: tuple[str, ...]) -> None:
            if name is None:
                raise ValueError(f"{where}: name a {' or '.join(allowed)} detector declared under `detectors:`")
            if kinds.get(name) not in allowed:
                raise ValueError(f"{where}: {name!r} must name a {' or '.join(allowed)} detector declared under "
                                 f"`detectors:` (declared: {declared})")

        for name, det in self.detectors.items():
            sess = getattr(det, "session", None)
            if sess is not None and sess not in known:
                raise ValueError(f"detectors.{name}.session: unknown session {sess!r}; define it under "
                                 f"`sessions:` or use one of {', '.join(sorted(known))}")
            tf = getattr(det, "timeframe", None)
            if tf is not None and _TF_ORDER.index(tf) < _TF_ORDER.index(self.timeframe):
                raise ValueError(f"detectors.{name}.timeframe: {tf} is finer than the setup's timeframe "
                                 f"{self.timeframe}; only the same or higher timeframes can be read")
        seq = self.sequence
        for k, st in enumerate(seq):
            field, allowed = STEP_DETECTOR[st.step]
            need(f"sequence[{k}].{field}", getattr(st, field), allowed)
            if getattr(st, "session", None) is not None and st.session not in known:
                raise ValueError(f"sequence[{k}].session: unknown session {st.session!r}; one of "
                                 f"{', '.join(sorted(known))}")
            if k == 0:
                if st.step == "trend":
                    raise ValueError("sequence[0]: a `trend` filter needs an earlier step to set the bias")
                if st.direction in RELATIVE:
                    raise ValueError(f"sequence[0].direction: {st.direction!r} is relative to a bias that the "
                                     "first step sets; use any, long or short")
                if st.within_bars is not None:
                    raise ValueError("sequence[0].within_bars: the first step has no previous step to count from")
        zone_steps = [st for st in seq if st.step in ZONE_STEPS]
        if self.entry.type == "limit" and not zone_steps:
            raise ValueError("entry: a limit entry at a zone needs an `fvg` or `order_block` step in the sequence")
        if self.stop.type == "beyond_zone" and not zone_steps:
            raise ValueError("stop.type: beyond_zone needs an `fvg` or `order_block` step in the sequence")
        if self.stop.type == "beyond_sweep" and not any(st.step == "sweep" for st in seq):
            raise ValueError("stop.type: beyond_sweep needs a `sweep` step in the sequence")
        if self.stop.type == "beyond_swing":
            need("stop.swings", self.stop.swings, ("swings",))
        if self.stop.type == "atr":
            need("stop.atr", self.stop.atr, ("atr",))
        if self.target.type == "liquidity":
            if not self.target.levels:
                raise ValueError("target.levels: list the level detectors a liquidity target may use")
            for j, name in enumerate(self.target.levels):
                need(f"target.levels[{j}]", name, ("session_range", "previous_levels", "initial_balance"))
        if self.target.type == "session_extreme":
            need("target.range", self.target.range, RANGE_KINDS)
        return self

    def session(self, name: str) -> SessionWindow:
        """The window ``name``: this setup's own definition first, else the default of that name."""
        from ita.sessions import get_session

        if name in self.sessions:
            w = self.sessions[name]
            return SessionWindow(name=name, start=w.start, end=w.end, timezone=w.timezone or self.timezone)
        return get_session(name)

    def step_window(self, st) -> SessionWindow | None:
        """A step's time window (its ``window`` in the setup's zone, or its named ``session``), or ``None``."""
        if getattr(st, "session", None):
            return self.session(st.session)
        if getattr(st, "window", None) is not None:
            return self.window(st.window, st.step)
        return None

    def window(self, w: Window, name: str = "") -> SessionWindow:
        return SessionWindow(name=name, start=w.start, end=w.end, timezone=w.timezone or self.timezone)

    @property
    def weekdays(self) -> tuple[int, ...]:
        return tuple(WEEKDAYS.index(d) for d in self.days)

    @property
    def detector_kinds(self) -> list[str]:
        return sorted({d.kind for d in self.detectors.values()})
