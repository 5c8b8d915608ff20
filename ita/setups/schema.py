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

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _hhmm(v: str) -> str:
    parse_hhmm(v)
    return v


class Window(_Model):
    """Half-open wall-clock window ``[start, end)`` in the setup's timezone."""

    start: str = Field(description="HH:MM")
    end: str = Field(description="HH:MM; at or before start = starts the evening before day D")
    _v = field_validator("start", "end")(_hhmm)


# ---- detectors ------------------------------------------------------------------------------------------

class SessionRangeDetector(_Model):
    """High/low of a session window per trading day (:func:`ita.detectors.session_range`)."""

    kind: Literal["session_range"]
    session: str = Field(description="a name from this setup's `sessions` or the default sessions")


class FVGDetector(_Model):
    """Fair value gaps (:func:`ita.detectors.fvg`)."""

    kind: Literal["fvg"]
    min_gap_pips: float = Field(0.0, ge=0, description="smallest gap, pips")
    mitigation: Literal["touch", "midpoint", "close_through"] = "touch"


DetectorSpec = Annotated[Union[SessionRangeDetector, FVGDetector], Field(discriminator="kind")]


# ---- sequence steps -------------------------------------------------------------------------------------

class BreakStep(_Model):
    """First bar in ``window`` on day D that closes (or wicks) beyond the range of detector ``range``."""

    step: Literal["break"]
    range: str = Field(description="name of a session_range detector")
    window: Window
    by: Literal["close", "wick"] = "close"


class FVGStep(_Model):
    """An FVG whose third candle is one of the ``within_bars`` bars after the previous step's bar."""

    step: Literal["fvg"]
    detector: str = Field(description="name of an fvg detector")
    direction: Literal["with_break", "against_break"] = "with_break"
    within_bars: int = Field(3, ge=1, le=100, description="third candle i in b+1 … b+within_bars")
    until: str = Field(description="HH:MM on day D: the third candle must open before this")
    _v = field_validator("until")(_hhmm)


Step = Annotated[Union[BreakStep, FVGStep], Field(discriminator="step")]


# ---- order and trade rules ------------------------------------------------------------------------------

class Entry(_Model):
    """``limit`` at the zone: ``near_edge`` (long: top, short: bottom), ``midpoint`` or ``far_edge``;
    ``market`` at the next bar's open."""

    type: Literal["limit", "market"] = "limit"
    at: Literal["near_edge", "midpoint", "far_edge"] = "near_edge"


class Stop(_Model):
    """``beyond_zone``: long stop = zone bottom − buffer, short stop = zone top + buffer (pips)."""

    type: Literal["beyond_zone"] = "beyond_zone"
    buffer_pips: float = Field(1.0, ge=0)


class Target(_Model):
    """``rr``: target = entry ± rr × |entry − stop|."""

    type: Literal["rr"] = "rr"
    rr: float = Field(2.0, gt=0)


class Order(_Model):
    """The pending order is active from the bar after the signal while bars open before ``valid_until``."""

    valid_until: str = "11:00"
    _v = field_validator("valid_until")(_hhmm)


class Management(_Model):
    """``flat_at``: close any open trade at the close of the last bar opening before this time on D."""

    flat_at: str = "16:00"
    max_trades_per_day: int = Field(1, ge=1, le=1, description="v1 supports one setup per day")
    _v = field_validator("flat_at")(_hhmm)


class Execution(_Model):
    """How the simulator resolves what a bar cannot tell.

    ``intrabar``: when one bar touches both stop and target, ``stop_first`` (default, conservative) or
    ``target_first``. ``fill_bar``: on the bar a limit fills, check ``stop_only`` (the target cannot be
    known to come after the fill) or ``stop_and_target``.
    """

    intrabar: Literal["stop_first", "target_first"] = "stop_first"
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
    timeframe: Literal["M1", "M5", "M15", "M30", "H1", "H4", "D1"] = "M5"
    timezone: str = "America/New_York"
    days: list[Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]] = Field(
        default_factory=lambda: ["Mon", "Tue", "Wed", "Thu", "Fri"])
    symbols: list[str] = Field(default_factory=list, description="symbols the setup is meant for (informative)")
    sessions: dict[str, Window] = Field(default_factory=dict)
    detectors: dict[str, DetectorSpec]
    sequence: list[Step] = Field(min_length=1)
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
        for name, det in self.detectors.items():
            if isinstance(det, SessionRangeDetector) and det.session not in known:
                raise ValueError(f"detectors.{name}.session: unknown session {det.session!r}; define it under "
                                 f"`sessions:` or use one of {', '.join(sorted(known))}")
        kinds = {n: d.kind for n, d in self.detectors.items()}
        seq = self.sequence
        if not isinstance(seq[0], BreakStep):
            raise ValueError("sequence[0]: v1 setups start with a `break` step")
        for k, st in enumerate(seq):
            ref = st.range if isinstance(st, BreakStep) else st.detector
            want = "session_range" if isinstance(st, BreakStep) else "fvg"
            if kinds.get(ref) != want:
                raise ValueError(f"sequence[{k}]: {ref!r} must name a {want} detector declared under `detectors:` "
                                 f"(declared: {', '.join(f'{n} ({t})' for n, t in kinds.items())})")
        if not isinstance(seq[-1], FVGStep) and self.entry.type == "limit":
            raise ValueError("sequence: a limit entry at a zone needs the sequence to end with an `fvg` step")
        return self

    def session(self, name: str) -> SessionWindow:
        """The window ``name``: this setup's own definition first, else the default of that name."""
        from ita.sessions import get_session

        if name in self.sessions:
            w = self.sessions[name]
            return SessionWindow(name=name, start=w.start, end=w.end, timezone=self.timezone)
        return get_session(name)

    def window(self, w: Window, name: str = "") -> SessionWindow:
        return SessionWindow(name=name, start=w.start, end=w.end, timezone=self.timezone)

    @property
    def weekdays(self) -> tuple[int, ...]:
        return tuple(WEEKDAYS.index(d) for d in self.days)

    @property
    def detector_kinds(self) -> list[str]:
        return sorted({d.kind for d in self.detectors.values()})
