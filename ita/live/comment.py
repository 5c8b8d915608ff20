"""The comment on a live signal: 2–3 sentences (strength, weakness, risk note).

* :func:`template_comment` — always available, built from the signal's own features (the steps' evidence,
  the zone, the range, RR, risk, the baseline score). Deterministic.
* :func:`vision_comment` — with a vision-capable model configured (``OPENAI_API_KEY``, optionally
  ``OPENAI_BASE_URL`` and ``ITA_VISION_MODEL``/``ITA_MODEL``): the model gets the snapshot PNG and the signal
  JSON (prompt: ``prompts/live_comment.md``) and writes the comment. Any failure (network, timeout, 4xx/5xx,
  an empty answer) falls back to the template, with the reason.

Either way every number the trader sees comes from the signal, not from the model.
"""
from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import pandas as pd

from ita.times import NY


def _hhmm(t) -> str:
    try:
        return pd.Timestamp(t).tz_convert(NY).strftime("%H:%M")
    except (TypeError, ValueError):
        return "?"


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


_LEVELS = {"session_range": "{name} range", "initial_balance": "initial balance", "equal_levels": "equal",
           "previous_levels": "previous {period}"}
_PERIODS = {"D": "day's", "W": "week's", "M": "month's"}


def _level_name(name, setup) -> str:
    """A detector's level in words: ``asia_range`` → "Asia range", ``ib`` → "initial balance"."""
    det = getattr(setup, "detectors", {}).get(name) if name else None
    if det is None:
        return str(name or "level").replace("_", " ")
    label = getattr(det, "session", None) or name
    return _LEVELS.get(det.kind, "{name}").format(name=str(label).replace("_", " ").title(),
                                                   period=_PERIODS.get(getattr(det, "period", ""), ""))


def _minus(x: float) -> str:
    return f"{x:+.2f}".replace("-", "−")


def template_comment(signal: dict, *, score: float | None = None, expected_r: float | None = None,
                     setup=None) -> str:
    """Three sentences from the signal's features: what lined up, what argues against it, the risk note.

    ``signal``: a row of :func:`ita.setups.evaluate` as a dict (``meta`` a dict). ``score``: p(success);
    ``expected_r``: the baseline's expected result in R at this signal's RR; ``setup``: the
    :class:`~ita.setups.schema.Setup`, to name levels by what they are. Times in the text are New York
    wall-clock; pips per the instrument.
    """
    meta = signal.get("meta") if isinstance(signal.get("meta"), dict) else {}
    side = str(signal.get("direction", "")).lower()
    long_ = side == "long"
    what: list[str] = []
    for st in meta.get("steps", []):
        kind = st.get("step")
        if kind == "break":
            rng = meta.get("range") or {}
            sess = str(rng.get("session") or "session").replace("_", " ").title()
            what.append(f"a close {'above' if long_ else 'below'} the {sess} range at {_hhmm(st.get('time'))}")
        elif kind == "sweep":
            n = st.get("bars_to_reclaim")
            back = ("closed back inside on the same bar" if n == 0 else
                    f"closed back inside {n} bar{'s' if n != 1 else ''} later" if isinstance(n, int) else "reclaimed")
            what.append(f"a sweep of the {_level_name(st.get('level_name'), setup)} {st.get('side', '')}, {back}")
        elif kind == "structure":
            what.append(f"a {str(st.get('direction', '')).lower()} {st.get('kind', 'structure break')}")
        elif kind in ("fvg", "order_block"):
            zone = meta.get("zone") or {}
            size = _num(zone.get("size_pips"))
            name = "FVG" if kind == "fvg" else "order block"
            what.append(f"a {str(st.get('direction', '')).lower()} {name}" + (f" of {size:.1f} pips" if size else ""))
        elif kind == "trend":
            what.append("the higher-timeframe structure in its favour")
    rr = _num(meta.get("rr"))
    entry = {"limit": "a limit at the zone", "market": "a market entry", "stop": "a stop entry"}.get(
        str(signal.get("entry_type")), "an entry")
    first = (f"{side.capitalize()} {signal.get('symbol', '')}: " + ", then ".join(what) if what
             else f"{side.capitalize()} {signal.get('symbol', '')} from {signal.get('rule_id', 'the setup')}")
    first += f"; {entry}" + (f" with {rr:.1f}R to the target." if rr else ".")

    notes: list[str] = []
    if score is not None and expected_r is not None:
        notes.append(f"the setup's backtest {'does not pay' if expected_r < 0 else 'pays'} at this RR "
                     f"(p {score:.2f}, expected {_minus(expected_r)}R)")
    zone = meta.get("zone") or {}
    size = _num(zone.get("size_pips"))
    if size is not None and size < 1.5:
        notes.append("the gap is small, so a wick can fill it without a reaction")
    risk = _num(meta.get("risk_pips"))
    rng = meta.get("range") or {}
    hi, lo = _num(rng.get("high")), _num(rng.get("low"))
    if risk and hi is not None and lo is not None:
        from ita.data.instruments import get_instrument

        width = abs(hi - lo) / get_instrument(str(signal.get("symbol"))).pip_size
        if width > 3 * risk:
            words = str(rng.get("session") or "").replace("_", " ").split()
            is_ib = "ib" in (w.lower() for w in words) or "balance" in (w.lower() for w in words)
            what_rng = "initial balance" if is_ib else f"{' '.join(words).title()} range" if words else "range"
            notes.append(f"the {what_rng} is wide ({width:.0f} pips) against a {risk:.1f}-pip stop")
    second = (notes[0][0].upper() + notes[0][1:] + "".join(f"; {n}" for n in notes[1:]) + ".") if notes else ""

    until = signal.get("expires_at")
    flat = signal.get("exit_by")
    risk_txt = f"Risk {risk:.1f} pips" if risk else "Risk as shown"
    parts = []
    if until is not None and not pd.isna(until) and signal.get("entry_type") != "market":
        parts.append(f"the order is valid until {_hhmm(until)} NY")
    if flat is not None and not pd.isna(flat):
        parts.append(f"the trade is flat by {_hhmm(flat)} NY")
    third = risk_txt + ("; " + " and ".join(parts) if parts else "")
    third += " — check the calendar for news inside that window."
    return " ".join(p for p in (first, second, third) if p)


def vision_comment(signal: dict, chart: Path | None, *, api_key: str, base_url: str | None, model: str,
                   timeout: float = 15.0, extra: dict | None = None) -> str:
    """The comment written by a vision-capable chat model (any OpenAI-compatible server) from the snapshot
    PNG and the signal JSON. Raises whatever the client raises (the caller falls back to the template) and
    :class:`ValueError` for an empty answer."""
    from langchain_core.messages import HumanMessage, SystemMessage
    from langchain_openai import ChatOpenAI

    from ita.config import prompt

    payload = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in signal.items()
               if k not in ("setup_hash",)}
    payload.update(extra or {})
    content: list[dict] = [{"type": "text", "text": "Signal:\n" + json.dumps(payload, default=str, ensure_ascii=False)}]
    if chart is not None and Path(chart).is_file():
        b64 = base64.b64encode(Path(chart).read_bytes()).decode()
        content.append({"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}})
    llm = ChatOpenAI(model=model, api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0, temperature=0)
    reply = llm.invoke([SystemMessage(prompt("live_comment.md")), HumanMessage(content=content)])
    text = " ".join(str(reply.content or "").split())
    if not text:
        raise ValueError("the model returned an empty comment")
    return text[:600]
