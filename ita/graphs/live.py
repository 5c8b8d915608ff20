"""The live graph: one run per symbol and timeframe at each candle close. It never places orders.

Reads top to bottom::

    START → fetch ─┬─ (no new closed bar) ──────────────────────────────────────────────→ END
                   └→ detect → evaluate ─┬─ (no new signal) ─────────────────────────────→ journal → END
                                         └→ score → decide ─┬─ (nothing to alert) ───────→ journal
                                                            └→ render → comment → notify → journal

* ``fetch``    closed bars of the window (the setups' warm-up before the cursor, up to now) from the feed;
               while the market is open it waits up to ``wait_s`` for the candle it was scheduled for.
* ``detect``   each active setup's detector context on that window (:func:`ita.setups.detect`): every
               declared detector runs once, when the evaluation first needs it.
* ``evaluate`` the setups' signals known after the cursor (:func:`ita.setups.evaluate` — the backtest's
               own code, ``known_after=cursor``: a setup whose completing step has no new event is done
               after running that one detector).
* ``score``    the signal's feature vector (:mod:`ita.learn.features`) and p(success): the trained model where
               its walk-forward gate lets it for the setup, else Laplace over the setup's backtest before the
               period (:mod:`ita.live.score`); ``score_kind`` says which.
* ``decide``   expired order / threshold / cool-downs (by signal time, so a replay decides as live did) /
               paper versions (journaled, never alerted) / the risk governor's limits (:mod:`ita.live.governor`);
               each signal is journaled once, with its pending deliveries, before anything is sent.
* ``render``   the snapshot PNG on several timeframes (:func:`ita.charts.snapshot_figure`).
* ``comment``  vision model (when configured and the score is high enough) or the template.
* ``notify``   Telegram and the outbox, retried with backoff inside the latency budget.
* ``journal``  the Notion journal row; the outcomes of earlier signals are followed with the backtest's
               simulator (:mod:`ita.live.outcomes`); the cursor moves to the last close.

State: :class:`ita.live.state.LiveState`; context: :class:`ita.live.context.LiveContext`.
"""
from __future__ import annotations

import logging
import time

import pandas as pd
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from ita.data.timeframes import tf_delta
from ita.errors import ItaError
from ita.live.context import LiveContext
from ita.live.state import LiveState

log = logging.getLogger("ita.live")
MAX_CATCH_UP = pd.Timedelta(days=3)


def _timed(fn):
    """Record the node's wall time in ``timings``."""
    def node(state: LiveState, runtime: Runtime[LiveContext]) -> dict:
        t0 = time.perf_counter()
        out = fn(state, runtime.context) or {}
        out["timings"] = {fn.__name__: time.perf_counter() - t0}
        return out

    node.__name__ = fn.__name__
    node.__doc__ = fn.__doc__
    return node


# ---- nodes ----------------------------------------------------------------------------------------------

@_timed
def fetch(state: LiveState, ctx: LiveContext) -> dict:
    """Closed bars from the feed: from the warm-up before the cursor up to the clock's now."""
    from ita.errors import DataError

    sym, tf = state["symbol"], state["timeframe"]
    step = tf_delta(tf)
    now = ctx.clock.now()
    cursor = ctx.journal.cursor(ctx.run, sym, tf)
    if cursor is None:  # first run ever: only the last closed candle is new
        cursor = now.floor(step) - step
        ctx.journal.set_cursor(ctx.run, sym, tf, cursor)
    errors = []
    if now - cursor > MAX_CATCH_UP:
        errors.append(f"{sym} {tf}: the last evaluated bar closed {cursor:%Y-%m-%d %H:%M} UTC; catching up on "
                      f"the last {MAX_CATCH_UP.days} days only.")
        cursor = now - MAX_CATCH_UP
    since = cursor - ctx.history(tf)
    expected = state.get("expected_close")
    deadline = time.monotonic() + ctx.config.wait_s
    while True:
        try:
            candles = ctx.feed.closed_bars(sym, tf, ctx.clock.now(), since)
        except (DataError, ItaError) as exc:
            return {"candles": None, "last_close": None, "cursor": cursor, "errors": [*errors, str(exc)]}
        last = candles.index[-1] + step if len(candles) else None
        live_market = last is not None and expected is not None and last >= expected - 2 * step
        if expected is None or not live_market or last >= expected or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    errors += ctx.keep(sym, tf, candles)     # live runs: the closed bars go into the candle store
    return {"candles": candles, "last_close": last, "cursor": cursor, "now": now, "errors": errors}


def after_fetch(state: LiveState) -> str:
    last, cur = state.get("last_close"), state.get("cursor")
    return "detect" if last is not None and (cur is None or last > cur) else END


@_timed
def detect(state: LiveState, ctx: LiveContext) -> dict:
    """Each active setup's detector context on the window (detectors run once, when first needed)."""
    from ita.setups import detect as run

    return {"contexts": {k: run(s, state["candles"], state["symbol"]) for k, s in ctx.setups_on(state["timeframe"]).items()}}


@_timed
def evaluate(state: LiveState, ctx: LiveContext) -> dict:
    """The setups' signals on the window; new ones are known after the cursor and by the last close."""
    from ita.setups import evaluate as run

    out = []
    for key, c in state["contexts"].items():
        sig = run(ctx.setups[key], state["candles"], state["symbol"], context=c, known_after=state["cursor"])
        new = sig[sig["known_at"] <= state["last_close"]]
        out += [{**row, "setup_key": key} for row in new.to_dict("records")]
    out.sort(key=lambda r: (r["known_at"], r["signal_id"]))
    return {"candidates": out}


def after_evaluate(state: LiveState) -> str:
    return "score" if state.get("candidates") else "journal"


@_timed
def score(state: LiveState, ctx: LiveContext) -> dict:
    """Features and p(success) of each new signal: the model where its gate lets it, else the setup's baseline
    (Laplace); the expected R at the signal's RR."""
    from ita.setups import evaluate as run

    out, errors, todays = [], [], {}
    for c in state["candidates"]:
        b = ctx.baseline(c["setup_key"], c["symbol"])
        key = c["setup_key"]
        if key not in todays:      # the setup's signals in the window: the earlier ones of the day count
            todays[key] = run(ctx.setups[key], state["candles"], state["symbol"], context=state["contexts"][key])
        sig = todays[key]
        same = sig[(sig["day"] == c["day"]) & (sig["known_at"] < c["known_at"])].to_dict("records")
        s = ctx.score_signal(c, b, window=state["candles"], same_day=same)
        if s.features is None:
            errors.append(f"{c['signal_id']}: {s.basis.rpartition('(')[2].rstrip(')')}")
        rr = float((c.get("meta") or {}).get("rr") or 0.0)
        out.append({**c, "score": s.p, "score_basis": s.basis, "score_kind": s.kind, "features": s.features,
                    "score_why": s.why, "expected_r": s.p * rr - (1 - s.p)})
    return {"scored": out, "errors": errors}


@_timed
def decide(state: LiveState, ctx: LiveContext) -> dict:
    """Expired / below threshold / cool-down / paper version / risk governor / alert; journal each signal once,
    before any send."""
    from ita.live.governor import governor_reason

    cfg, j = ctx.config, ctx.journal
    now = state.get("now") or ctx.clock.now()
    alerts, decisions = [], []
    for c in state["scored"]:
        known = pd.Timestamp(c["known_at"])
        exp = c.get("expires_at")
        last_setup = j.last_alert(ctx.run, c["symbol"], c["rule_id"])
        last_sym = j.last_alert(ctx.run, c["symbol"])
        if exp is not None and not pd.isna(exp) and now >= exp:
            decision, reason = "expired", f"the order expired at {pd.Timestamp(exp):%H:%M} UTC before the run at {now:%H:%M} UTC"
        elif c["score"] < cfg.min_score:
            decision, reason = "below_threshold", f"score {c['score']:.2f} < threshold {cfg.min_score:.2f}"
        elif last_setup is not None and known - last_setup < cfg.cooldown_setup:
            decision, reason = "cooldown", f"{c['rule_id']} alerted on {c['symbol']} at {last_setup:%H:%M} UTC (cool-down {cfg.cooldown_setup})"
        elif last_sym is not None and known - last_sym < cfg.cooldown_symbol:
            decision, reason = "cooldown", f"{c['symbol']} alerted at {last_sym:%H:%M} UTC (symbol cool-down {cfg.cooldown_symbol})"
        elif c["setup_key"] in cfg.paper:
            decision, reason = "paper", f"{c['rule_id']} v{c['rule_version']} is in paper status: signal journaled, not alerted"
        elif (why := governor_reason(ctx, c, known)) is not None:
            decision, reason = "governor", why
        else:
            decision, reason = "alert", f"score {c['score']:.2f} ≥ threshold {cfg.min_score:.2f}"
        new = j.record(ctx.run, c, score=c["score"], score_basis=c["score_basis"], decision=decision,
                       reason=reason, close_wall=ctx.clock.wall_of(known), channels=ctx.targets(),
                       score_kind=c.get("score_kind", "laplace"), features=c.get("features"))
        if not new:
            continue  # journaled by another run (overlap, restart): never twice
        decisions.append({"signal_id": c["signal_id"], "decision": decision, "reason": reason, "score": c["score"]})
        if decision == "alert":
            alerts.append(c["signal_id"])
    return {"alerts": alerts, "decisions": decisions}


def after_decide(state: LiveState) -> str:
    return "render" if state.get("alerts") else "journal"


@_timed
def render(state: LiveState, ctx: LiveContext) -> dict:
    """The snapshot PNG of each alert on the configured timeframes (none when ``charts`` is empty)."""
    if not ctx.config.charts:
        return {}
    from ita.charts import save_png, snapshot_figure
    from ita.data.instruments import get_instrument

    errors = []
    by_id = {c["signal_id"]: c for c in state["scored"]}
    for sid in state["alerts"]:
        c = by_id[sid]
        path = ctx.charts_dir / f"{sid}.png"
        try:
            fig = snapshot_figure(state["candles"], c, timeframes=ctx.config.charts, pip_size=get_instrument(c["symbol"]).pip_size,
                                  title=f"{c['symbol']} {c['direction']} · {c['rule_id']} v{c['rule_version']}",
                                  subtitle=f"score {c['score']:.2f} · {c['score_basis']}")
            save_png(fig, path, width=1400, height=1000)
            ctx.journal.annotate(ctx.run, sid, chart=str(path))
        except (ItaError, ValueError) as exc:
            errors.append(f"{sid}: chart skipped ({exc})")
    return {"errors": errors}


@_timed
def comment(state: LiveState, ctx: LiveContext) -> dict:
    """2–3 sentences per alert: the vision model for high scores when configured, else the template."""
    from ita.live.comment import template_comment, vision_comment

    errors = []
    by_id = {c["signal_id"]: c for c in state["scored"]}
    for sid in state["alerts"]:
        c = by_id[sid]
        text, source = None, "template"
        v = ctx.vision
        if v is not None and c["score"] >= ctx.config.vision_min_score:
            chart = (ctx.journal.signal(ctx.run, sid) or {}).get("chart")
            try:
                text = vision_comment(c, chart, api_key=v.api_key, base_url=v.base_url, model=v.model,
                                      timeout=min(v.timeout, 15.0),
                                      extra={"score": c["score"], "score_basis": c["score_basis"]})
                source = "llm"
            except Exception as exc:  # noqa: BLE001 - any model failure: the template answers
                errors.append(f"{sid}: vision comment failed ({type(exc).__name__}: {exc}); templated comment used")
        if text is None:
            text = template_comment(c, score=c["score"], expected_r=c["expected_r"],
                                    setup=ctx.setups[c["setup_key"]].setup)
        if c.get("score_why"):                     # the model scored it: its top SHAP contributions
            text = f"{text} Model: {c['score_why']}."
        ctx.journal.annotate(ctx.run, sid, comment=text, comment_source=source)
    return {"errors": errors}


def _deliver(state: LiveState, ctx: LiveContext, kinds: tuple[str, ...]) -> dict:
    from ita.live.channels import deliver

    out = {k: dict(v) for k, v in (state.get("delivered") or {}).items()}
    for sid in state.get("alerts") or []:
        sig = ctx.journal.signal(ctx.run, sid)
        deadline = float(sig["close_wall"]) + ctx.config.send_deadline_s
        for ch in ctx.targets():
            if ch.partition(":")[0] in kinds:
                out.setdefault(sid, {})[ch] = deliver(ctx.journal, ctx.run, sid, ch, ctx.channels, deadline=deadline)
    return {"delivered": out}


@_timed
def notify(state: LiveState, ctx: LiveContext) -> dict:
    """Telegram (every configured chat) and the outbox; failures stay pending for the retry job."""
    return _deliver(state, ctx, ("telegram", "outbox"))


@_timed
def journal(state: LiveState, ctx: LiveContext) -> dict:
    """The Notion journal row of each alert; the outcomes of earlier signals; then the cursor moves to the last
    close, and the hour's higher-timeframe feature state is built for the hour's later signals."""
    from ita.live.outcomes import track

    out = _deliver(state, ctx, ("notion",))
    if state.get("candles") is not None and len(state["candles"]):
        try:
            track(ctx.journal, ctx.run, state["symbol"], state["candles"], ctx.setups)
        except Exception as exc:  # noqa: BLE001 - outcome tracking never stops the live loop
            out["errors"] = [f"{state['symbol']}: outcome tracking failed ({type(exc).__name__}: {exc})"]
    if state.get("last_close") is not None:
        ctx.journal.set_cursor(ctx.run, state["symbol"], state["timeframe"], state["last_close"])
        if state.get("candles") is not None and len(state["candles"]):   # after the alerts: the hour's HTF state
            ctx.prepare_features(state["symbol"], state["last_close"], state["candles"])
    return out


# ---- the graph ------------------------------------------------------------------------------------------

def build_live_graph():
    """Compile the live graph. Invoke with ``{"symbol", "timeframe", "expected_close"}`` and
    ``context=LiveContext(...)``; returns the final :class:`ita.live.state.LiveState`."""
    g = StateGraph(LiveState, context_schema=LiveContext)
    for node in (fetch, detect, evaluate, score, decide, render, comment, notify, journal):
        g.add_node(node.__name__, node)
    g.add_edge(START, "fetch")
    g.add_conditional_edges("fetch", after_fetch, ["detect", END])
    g.add_edge("detect", "evaluate")
    g.add_conditional_edges("evaluate", after_evaluate, ["score", "journal"])
    g.add_edge("score", "decide")
    g.add_conditional_edges("decide", after_decide, ["render", "journal"])
    g.add_edge("render", "comment")
    g.add_edge("comment", "notify")
    g.add_edge("notify", "journal")
    g.add_edge("journal", END)
    return g.compile()
