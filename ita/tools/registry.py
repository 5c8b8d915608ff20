"""The tool registry: the ``tool`` decorator, :data:`TOOLS` / :data:`ARG_MODELS`, and the shared argument model.

``@tool(ArgsModel)`` registers ``impl(args) -> ToolResult`` under ``impl.__name__``: the wrapper takes the model's
fields as keyword (or positional) arguments, validates them, and turns a validation error or an
:class:`~ita.errors.ItaError` into ``ToolResult.failure(name, one_sentence)`` — a tool never raises for a user's
mistake. :class:`ToolArgs` normalises what every tool takes: symbols (aliases → the instrument catalogue's
symbol), timeframes, dates (``YYYY``, ``YYYY-MM``, ``YYYY-MM-DD``), versions (``v2`` → 2) and one-off overrides
(``rr=3`` → ``{"rr": "3"}``).

Example::

    >>> from ita.tools.registry import parse_date
    >>> parse_date("2025-02", "end")
    '2025-02-28'
"""
from __future__ import annotations

import datetime as _dt
import functools
import inspect
import json
import logging
import re
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ita.errors import ItaError, closest
from ita.times import NY
from ita.tools.results import ToolResult

if TYPE_CHECKING:  # pandas/numpy are imported where used: the tool registry loads without them
    import pandas as pd

log = logging.getLogger(__name__)


DATE_ONLY_HOUR = 8          # render_chart: a bare date is centred on 08:00 New York


TOOLS: dict[str, Callable[..., ToolResult]] = {}


ARG_MODELS: dict[str, type[BaseModel]] = {}


def jsonable(v: Any) -> Any:
    from ita.store import json_scalar

    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return json_scalar(v)


def one_line(msg: str) -> str:
    """An error message as one line: continuation lines (``file:line: field: problem``) joined."""
    parts = [p.strip() for p in str(msg).splitlines() if p.strip()]
    return " ".join(parts) if parts else str(msg)


SYMBOL_DESC = "Instrument, e.g. EURUSD or XAUUSD (see data_coverage)."


SETUP_DESC = "Setup id, e.g. asia_fvg_break (see list_setups)."


VERSION_DESC = "Setup version N of vN.yaml, e.g. 1 (default: the latest)."


START_DESC = "First day, YYYY-MM-DD (default: the first stored day)."


END_DESC = "Last day, inclusive, YYYY-MM-DD (default: the last stored day)."


PARAMS_DESC = ("One-off rule overrides {name: value}, e.g. {\"rr\": 3} or {\"target.rr\": 3}; never change the "
                "stored YAML.")


SESSION_DESC = ("Keep only signals completed inside this session/killzone, e.g. london_killzone, "
                 "new_york_killzone (default: all).")


def parse_date(v: Any, field: str) -> str | None:
    """``YYYY-MM-DD`` (also ``YYYY`` / ``YYYY-MM``: the first or, for ``end``, the last day) → ISO date."""
    import pandas as pd

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


def parse_params(v: Any) -> dict:
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


class ToolArgs(BaseModel):
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
        return parse_date(v, info.field_name)

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
        return parse_params(v)

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


def parse_time(v: Any) -> pd.Timestamp:
    """``"2025-03-12 08:30"`` (New York) or a time with an offset → UTC Timestamp; ValueError otherwise."""
    import pandas as pd

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
                return ToolResult.failure(name, one_line(str(exc)))
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
