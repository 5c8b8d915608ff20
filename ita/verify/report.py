"""The HTML report of ``ita setups verify``: our chart of every labelled case beside the trader's screenshot.

One self-contained file (plotly.js embedded, screenshots as base64 data URIs), so it opens offline and
can be mailed. Sections: key numbers (labels, hits, misses, unlabelled, precision, recall), the label
table (click a row to jump to its case), one card per label — header with the result, our reason, the
trader's note, then :func:`case_figure` on the left and the screenshot (or a "no screenshot"
placeholder) on the right — and one card per unlabelled detection. Charts are stored as plotly JSON and
drawn when scrolled into view, so a report with dozens of cases stays responsive; no Chromium is needed
(PNGs only with :func:`case_pngs`).

Times on the charts are New York wall-clock (``America/New_York``) like every ITA chart; the label's own
time is shown as written, in its zone.
"""
from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ita.charts import style as S
from ita.charts.common import PAGE_CSS, finite, gap_rangebreaks, json_clean, meta_dict, script_json, slice_window, spread_tags, title_block
from ita.errors import write_text_atomic
from ita.times import ny_text, utc
from ita.verify.labels import fmt_local

_BEFORE = pd.Timedelta(minutes=45)
_AFTER = pd.Timedelta(minutes=90)
_MAX_SPAN = pd.Timedelta(hours=7)
_ORDER_LEN = pd.Timedelta(hours=1)
_PLOT_PX_H = 380  # nominal plot height of the HTML chart (520 px div minus margins), for tag spacing
_TAG_GAP_PX = 16
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
TOL_FILL = "rgba(234, 179, 8, 0.13)"
AMBER = "#b45309"
_NO_TIME = "–"  # a missing time in the tables and headers


# ---------------------------------------------------------------------------------------------- figure

def case_spec(candles: pd.DataFrame, *, title: str, subtitle: str = "", pip_size: float = 0.0001,
              label: Mapping | None = None, signal: Mapping | None = None, session_range: Mapping | None = None,
              break_time=None, tolerance: int = 0, step: pd.Timedelta = pd.Timedelta(minutes=5)) -> dict:
    """:func:`case_figure` as a plain plotly figure dict (fast: no validation) — see there."""
    lab = dict(label or {})
    sg = dict(signal or {})
    meta = meta_dict(sg.get("meta"))
    rng = dict(session_range) if session_range else (meta.get("range") if isinstance(meta.get("range"), Mapping) else None)
    zone = meta.get("zone") if isinstance(meta.get("zone"), Mapping) else None
    brk = meta.get("break") if isinstance(meta.get("break"), Mapping) else None
    t_label = utc(lab.get("bar_time") or lab.get("time"))
    t_sig = utc(sg.get("time"))
    known = utc(sg.get("known_at")) or (t_sig + step if t_sig is not None else None)
    b_time = utc(brk.get("time")) if brk else utc(break_time)
    z_time = utc(zone.get("time")) if zone else None
    z_first = (z_time - step) if (z_time is not None and str(zone.get("type", "")).lower() == "fvg") else z_time
    r_start, r_end = (utc(rng.get("start")), utc(rng.get("end"))) if rng else (None, None)
    pip = float(pip_size) if finite(pip_size) and float(pip_size) > 0 else 0.0001
    dec = S.price_decimals(pip)
    pf = f"{{:.{dec}f}}"

    focus = [t for t in (t_label, t_sig, known, b_time, z_first) if t is not None]
    if not focus:
        raise ValueError("case_figure needs a label or a signal with a time")
    anchors = focus + [t for t in (r_start,) if t is not None]
    hi_t = max(focus) + _AFTER
    lo_t = max(min(anchors) - _BEFORE, min(focus) - _MAX_SPAN)
    win = slice_window(candles, lo_t, hi_t)
    idx = pd.DatetimeIndex(win.index)
    ny = S.index_to_ny(idx)
    half = step / 2
    o, h, lo, c = (win[k].to_numpy(dtype="float64") for k in ("open", "high", "low", "close"))

    def X(t, shift=pd.Timedelta(0)):
        return None if t is None else S.xstr(S.to_ny(t + shift))

    rnd = lambda a: np.round(a, dec + 1).tolist()  # noqa: E731
    traces: list[dict] = [dict(
        type="candlestick", x=S.xstr(ny), open=rnd(o), high=rnd(h), low=rnd(lo), close=rnd(c), name="bars",
        increasing=dict(line=dict(color=S.CANDLE_UP, width=1), fillcolor="#ffffff"),
        decreasing=dict(line=dict(color=S.CANDLE_DOWN, width=1), fillcolor=S.CANDLE_DOWN),
        whiskerwidth=0, hoverlabel=dict(bgcolor="white"))]
    x_lo = (ny[0] - half) if len(ny) else S.to_ny(lo_t)
    x_hi = (ny[-1] + half) if len(ny) else S.to_ny(hi_t)
    x_end = S.xstr(x_hi)

    levels = []
    for k in ("entry_price", "sl_price", "tp_price"):
        if finite(sg.get(k)) is not None:
            levels.append(float(sg[k]))
    if rng:
        levels += [p for p in (finite(rng.get("high")), finite(rng.get("low"))) if p is not None]
    if zone:
        levels += [p for p in (finite(zone.get("top")), finite(zone.get("bottom"))) if p is not None]
    ylo = min([*levels, *(lo.tolist() if len(lo) else [])]) if (levels or len(lo)) else 0.0
    yhi = max([*levels, *(h.tolist() if len(h) else [])]) if (levels or len(h)) else 1.0
    span = max(yhi - ylo, 10 * pip)
    y0, y1 = ylo - 0.07 * span, yhi + 0.12 * span

    shapes: list[dict] = []
    ann: list[dict] = []
    tags: list[tuple[float, str, str]] = []

    # ---- session range (clipped to the window) with dotted extensions
    if rng and r_start is not None and r_end is not None:
        rh, rl = finite(rng.get("high")), finite(rng.get("low"))
        if rh is not None and rl is not None:
            xs = X(max(r_start, lo_t), -half)
            shapes.append(dict(type="rect", xref="x", yref="y", x0=xs, x1=X(r_end, -half), y0=rl, y1=rh,
                               fillcolor=S.BLUE_FILL, line=dict(color=S.BLUE, width=1), layer="below"))
            for p in (rh, rl):
                shapes.append(dict(type="line", xref="x", yref="y", x0=X(r_end, -half), x1=x_end, y0=p, y1=p,
                                   line=dict(color=S.BLUE, width=1, dash="dot"), layer="below"))
            sess = str(rng.get("session") or "session").replace("_", " ")
            ann.append(dict(x=xs, y=rh, xref="x", yref="y", xanchor="left", yanchor="bottom",
                            text=f"{html.escape(sess.title())} range {abs(rh - rl) / pip:.1f}p", showarrow=False,
                            font=dict(size=11, color=S.BLUE)))
            tags += [(rh, f"H {pf.format(rh)}", S.BLUE), (rl, f"L {pf.format(rl)}", S.BLUE)]

    # ---- tolerance band and label marker
    if t_label is not None:
        color = S.GREEN if str(lab.get("direction")) == "long" else S.RED
        if tolerance > 0:
            shapes.append(dict(type="rect", xref="x", yref="paper", x0=X(t_label - tolerance * step, -half),
                               x1=X(t_label + tolerance * step, half), y0=0, y1=1, fillcolor=TOL_FILL,
                               line=dict(width=0), layer="below"))
        shapes.append(dict(type="line", xref="x", yref="paper", x0=X(t_label), x1=X(t_label), y0=0, y1=1,
                           line=dict(color=color, width=1.6, dash="dash")))
        arrow = "▲" if str(lab.get("direction")) == "long" else "▼"
        ann.append(dict(x=X(t_label), y=1.0, xref="x", yref="paper", yanchor="bottom",
                        text=f"<b>label #{html.escape(str(lab.get('label', '')))} {arrow} "
                             f"{html.escape(str(lab.get('direction', '')))}</b>",
                        showarrow=False, font=dict(size=12, color=color), bgcolor="rgba(255,255,255,0.9)"))

    # ---- zone (FVG) from its first candle for an hour after the signal
    if zone:
        zt, zb = finite(zone.get("top")), finite(zone.get("bottom"))
        if zt is not None and zb is not None:
            z_end = min((known or z_first) + _ORDER_LEN, hi_t)
            shapes.append(dict(type="rect", xref="x", yref="y", x0=X(z_first, -half), x1=X(z_end, -half),
                               y0=min(zt, zb), y1=max(zt, zb), fillcolor=S.PURPLE_FILL,
                               line=dict(color=S.PURPLE, width=1), layer="below"))
            zs = finite(zone.get("size_pips"))
            arrow = "↓ " if str(zone.get("direction")) in ("bearish", "short") else "↑ "
            tags.append(((zt + zb) / 2, f"{str(zone.get('type') or 'zone').upper()[:5]} {arrow}"
                         + (f"{zs:.1f}p" if zs is not None else ""), S.PURPLE))

    # ---- break bar
    if b_time is not None and len(win):
        k = idx.searchsorted(b_time)
        if k < len(win) and idx[k] == b_time:
            bdir = str((brk or {}).get("direction") or sg.get("direction") or lab.get("direction") or "")
            down = bdir in ("short", "bearish")
            ann.append(dict(x=S.xstr(ny[k]), y=lo[k] if down else h[k], xref="x", yref="y", text="break",
                            showarrow=True, arrowhead=2, arrowsize=1, arrowwidth=1.3, arrowcolor=S.BLUE,
                            ax=0, ay=34 if down else -34, font=dict(size=11, color=S.BLUE),
                            bgcolor="rgba(255,255,255,0.85)"))

    # ---- signal: marker on the signal bar, entry/SL/TP for an hour from known_at
    if t_sig is not None:
        d = str(sg.get("direction") or "")
        col = S.GREEN if d == "long" else S.RED
        if len(win):
            k = idx.searchsorted(t_sig)
            if k < len(win) and idx[k] == t_sig:
                # below a long's signal bar / above a short's: the break arrow sits on the other side
                ann.append(dict(x=S.xstr(ny[k]), y=lo[k] if d == "long" else h[k], xref="x", yref="y",
                                text=f"signal {html.escape(d)}", showarrow=True, arrowhead=2, arrowcolor=col,
                                ax=0, ay=40 if d == "long" else -40, font=dict(size=11, color=col),
                                bgcolor="rgba(255,255,255,0.9)"))
        x0 = X(known or t_sig, -half)
        x1 = X(min((known or t_sig) + _ORDER_LEN, hi_t), -half)
        for key, name, lc, dash in (("tp_price", "TP", S.GREEN, "solid"), ("entry_price", "Entry", S.INK, "dash"),
                                    ("sl_price", "SL", S.RED, "solid")):
            p = finite(sg.get(key))
            if p is None:
                continue
            shapes.append(dict(type="line", xref="x", yref="y", x0=x0, x1=x1, y0=p, y1=p,
                               line=dict(color=lc, width=1.5, dash=dash)))
            tags.append((p, f"{name} {pf.format(p)}", lc))

    if tags:  # price tags on the right edge, spread apart so they never overlap
        want = [(p - y0) / (y1 - y0) * _PLOT_PX_H for p, _, _ in tags]
        got = spread_tags(want, _TAG_GAP_PX, 8, _PLOT_PX_H - 8)
        for (p, text, col), w_px, g_px in zip(tags, want, got):
            ann.append(dict(x=1.0, xref="paper", y=p, yref="y", text=text, showarrow=True, arrowhead=0, arrowwidth=1,
                            arrowcolor=col, ax=12, ay=-(g_px - w_px), axref="pixel", ayref="pixel", xanchor="left",
                            yanchor="middle", font=dict(size=10, color="white", family=S.MONO), bgcolor=col,
                            borderpad=2))
    if not len(win):
        ann.append(dict(x=0.5, y=0.5, xref="paper", yref="paper", text="no candle data in this window",
                        showarrow=False, font=dict(size=18, color=S.MUTED)))

    breaks = gap_rangebreaks(idx, step)
    layout = S.base_layout(
        title=title_block(title, subtitle),
        margin=dict(l=64, r=118, t=92, b=50),
        shapes=shapes, annotations=ann, hovermode="x",
        xaxis=S.axis_style(type="date", range=[S.xstr(x_lo), x_end], rangeslider=dict(visible=False),
                           rangebreaks=breaks, title=dict(text="New York time", font=dict(size=12, color=S.MUTED)),
                           hoverformat="%a %d %b %H:%M NY"),
        yaxis=S.axis_style(range=[y0, y1], tickformat=f".{dec}f", hoverformat=f".{dec}f"),
    )
    return dict(data=traces, layout=layout)


def case_figure(candles: pd.DataFrame, **kw):
    """One labelled case (or unlabelled detection) on its candles, as a :class:`plotly.graph_objects.Figure`.

    ``candles``: OHLC frame indexed by UTC bar open (may be the whole period; sliced to 45 min before the
    earliest setup time — session range start, break, zone, label; at most 7 h before the label/signal —
    to 90 min after). Keywords: ``title``/``subtitle`` (plain text / simple HTML), ``pip_size``,
    ``label`` (a row of :attr:`VerifyResult.labels`: ``label``, ``direction``, ``bar_time``),
    ``signal`` (a signals row: ``time``, ``known_at``, ``direction``, ``entry_price``, ``sl_price``,
    ``tp_price``, ``meta`` with ``range``/``break``/``zone``), ``session_range`` (dict ``high``, ``low``,
    ``start``, ``end``, ``session``; default the signal's ``meta.range``), ``break_time`` (UTC; used when
    the signal does not carry one, e.g. the evaluator's break on a day without a signal), ``tolerance``
    (bars; drawn as a faint band around the label), ``step`` (bar length).

    Draws: candles (New York time on x); the session range (blue) with dotted extensions; the break bar;
    the zone (purple) for an hour after the signal; entry/SL/TP for an hour from the decision time; the
    signal bar; the label as a dashed vertical line (green long, red short) with its tolerance band.
    Raises :class:`ValueError` when neither a label nor a signal time is given.
    """
    import plotly.graph_objects as go

    return go.Figure(case_spec(candles, **kw))


# ---------------------------------------------------------------------------------------------- cases

def _label_tz_time(r: Mapping) -> str:

    return f"{fmt_local(r['bar_time'], r['tz'])} {r['tz']}"


def _cases(res) -> list[dict]:
    """Everything needed to draw and describe each case: labels first, then unlabelled detections."""
    from ita.data.instruments import get_instrument
    from ita.data.timeframes import tf_delta

    step = tf_delta(res.setup.setup.timeframe)
    sig_by_id = {r["signal_id"]: r for r in res.signals.to_dict("records")} if len(res.signals) else {}
    why = {(r["symbol"], r["day"]): r for r in res.explain.to_dict("records")} if len(res.explain) else {}
    out = []
    for r in res.labels.to_dict("records"):
        sid = r["signal_id"] or None
        sg = sig_by_id.get(sid) if sid else None
        if sg is None and len(res.signals):  # a miss: show that day's nearest signal (e.g. the other direction)
            day_sigs = res.signals[(res.signals["symbol"] == r["symbol"]) & (res.signals["day"] == r["day"])]
            if len(day_sigs):
                k = int(np.argmin(np.abs((pd.DatetimeIndex(day_sigs["time"]) - r["bar_time"]).total_seconds())))
                sg = day_sigs.iloc[k].to_dict()
        ex = why.get((r["symbol"], r["day"]))
        brk = ex.get("time") if ex is not None and sg is None else None
        day = r["day"]
        head = (f"#{r['label']} · {r['symbol']} {r['timeframe']} · {r['direction']} · "
                f"{pd.Timestamp(day):%a %Y-%m-%d} · {r['result'].upper()}")
        sub = html.escape(r["why"][:160] + ("…" if len(r["why"]) > 160 else ""))
        out.append(dict(kind="label", rec=r, signal=sg, step=step, title=head, subtitle=sub,
                        pip=get_instrument(r["symbol"]).pip_size,
                        session_range=res.ranges.get(r["symbol"], {}).get(day) if sg is None else None,
                        break_time=brk, candles=res.candles.get(r["symbol"])))
    for k, s in enumerate(res.unlabelled.to_dict("records"), 1):
        head = f"Unlabelled {k} · {s['symbol']} {s['tf']} · {s['direction']} · {pd.Timestamp(s['day']):%a %Y-%m-%d}"
        out.append(dict(kind="unlabelled", rec=s, signal=s, step=step, title=head,
                        subtitle=html.escape(f"{s['signal_id']} · signal bar {ny_text(s['time'], missing=_NO_TIME)} NY · no label"),
                        pip=get_instrument(s["symbol"]).pip_size, session_range=None, break_time=None,
                        candles=res.candles.get(s["symbol"])))
    return out


def _spec_of(case: dict, tolerance: int) -> dict | None:
    if case["candles"] is None:
        return None
    lab = case["rec"] if case["kind"] == "label" else None
    return case_spec(case["candles"], title=case["title"], subtitle=case["subtitle"], pip_size=case["pip"],
                     label=lab, signal=case["signal"], session_range=case["session_range"],
                     break_time=case["break_time"], tolerance=tolerance if lab else 0, step=case["step"])


def case_pngs(res, folder) -> list[str]:
    """Write ``case_NN.png`` per label and ``unlabelled_NN.png`` per unlabelled detection into ``folder``
    (1400×800, needs Chromium: ~5 s for the first, ~0.5 s each after). Returns the file names. Raises
    :class:`~ita.errors.ItaError` when Chromium is missing."""
    from ita.charts.export import save_png

    names, k = [], 0
    for case in _cases(res):
        spec = _spec_of(case, res.tolerance)
        if spec is None:
            continue
        if case["kind"] == "label":
            name = f"case_{int(case['rec']['label']):02d}.png"
        else:
            k += 1
            name = f"unlabelled_{k:02d}.png"
        save_png(json_clean(spec), Path(folder) / name)
        names.append(name)
    return names


# ---------------------------------------------------------------------------------------------- HTML

def _img(path: str | None, n: Any) -> str:
    if path:
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            return f"<div class='noshot'>Screenshot {html.escape(p.name)} could not be read: {html.escape(str(exc))}</div>"
        mime = _MIME.get(p.suffix.lower(), "application/octet-stream")
        b64 = base64.b64encode(data).decode("ascii")
        return (f"<figure class='shot'><img alt='trader screenshot for label #{html.escape(str(n))}' "
                f"src='data:{mime};base64,{b64}'><figcaption>{html.escape(p.name)} (the trader's chart)</figcaption></figure>")
    return (f"<div class='noshot'>No screenshot for label #{html.escape(str(n))}.<br><span class='muted'>Add one with "
            f"<code>--screenshots DIR</code> ({int(n):02d}.png or row_{int(n):02d}.png) or a <code>screenshot</code> "
            f"column.</span></div>")


def _cards(m: pd.Series) -> str:
    items = []
    for k in ("Labels", "Hits", "Misses", "Unlabelled", "Precision [%]", "Recall [%]"):
        v = m.get(k)
        txt = S.fmt_num(v, 1, suffix="%").replace("%", " %") if "[%]" in k else S.fmt_stat(k, v)
        cls = " pos" if k == "Hits" else " neg" if k in ("Misses", "Unlabelled") and (v or 0) > 0 else ""
        items.append(f"<div class='card'><div class='k'>{html.escape(k.replace(' [%]', ''))}</div>"
                     f"<div class='v{cls}'>{html.escape(txt)}</div></div>")
    return "".join(items)


def _table(res) -> str:
    head = ("<tr><th>#</th><th>label time</th><th>NY</th><th>dir</th><th>result</th>"
            "<th>matched signal / nearest detection and reason</th></tr>")
    rows = []
    for r in res.labels.to_dict("records"):
        res_cls = "pos" if r["result"] == "hit" else "neg"
        if r["result"] == "hit":
            detail = f"{r['signal_id']} · label at {r['at']}"
        else:
            detail = r["why"]
            if r["nearest_signal_id"] and "(signal bar" not in detail:
                nb = r["nearest_bars"]  # the day's own signal is already named in the reason
                detail += (f" · nearest detection: {r['nearest_direction']} {ny_text(r['nearest_time'], missing=_NO_TIME)} NY, "
                           f"{abs(nb):g} bars {'before' if nb < 0 else 'after'}")
        rows.append(f"<tr data-href='#case-{r['label']}'><td>{r['label']}</td><td>{html.escape(_label_tz_time(r))}</td>"
                    f"<td>{ny_text(r['bar_time'], missing=_NO_TIME)}</td><td class='{'pos' if r['direction'] == 'long' else 'neg'}'>"
                    f"{r['direction']}</td><td class='{res_cls}'><b>{r['result']}</b></td>"
                    f"<td class='detail'>{html.escape(detail)}</td></tr>")
    return f"<table class='labels'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


_CSS = PAGE_CSS + """
main{max-width:1700px}h2{margin:28px 0 10px}.card{min-width:120px}
table.labels{border-collapse:collapse;font-size:13px;width:100%;
font-variant-numeric:tabular-nums}table.labels th,table.labels td{padding:5px 8px;border-bottom:1px solid #eef0f3;
text-align:left;vertical-align:top;white-space:nowrap}table.labels td.detail{white-space:normal}
table.labels tr[data-href]{cursor:pointer}table.labels tr[data-href]:hover{background:#eef2ff}
.case{background:#fff;border:1px solid #e5e7eb;border-left:5px solid #9ca3af;border-radius:8px;padding:12px 14px;
margin-bottom:16px}.case.hit{border-left-color:#15803d}.case.miss{border-left-color:#dc2626}
.case.unlabelled{border-left-color:#b45309}.badge{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:12px;font-weight:700;color:#fff;margin-left:6px}.badge.hit{background:#15803d}.badge.miss{background:#dc2626}
.badge.unlabelled{background:#b45309}.why{font-size:13px;margin:4px 0}.note{font-size:13px;margin:6px 0 10px;
padding:6px 10px;background:#f9fafb;border-left:3px solid #cbd5e1;white-space:pre-wrap}
.pair{display:grid;grid-template-columns:minmax(0,1.25fr) minmax(0,1fr);gap:14px;align-items:start}
@media (max-width:1100px){.pair{grid-template-columns:1fr}}.chart{height:520px;width:100%}
.chart .placeholder{padding:40px;text-align:center;color:#6b7280}.shot{margin:0}.shot img{max-width:100%;
border:1px solid #e5e7eb;border-radius:4px}.shot figcaption{font-size:12px;color:#6b7280}
.noshot{border:2px dashed #cbd5e1;border-radius:8px;min-height:200px;display:flex;flex-direction:column;
align-items:center;justify-content:center;text-align:center;color:#4b5563;padding:20px;font-size:14px}
ul.rules{font-size:13px;color:#374151;margin:6px 0 0 18px}
"""

_JS = """
(function(){
var CFG={displaylogo:false,responsive:true,modeBarButtonsToRemove:['select2d','lasso2d','autoScale2d']};
document.querySelectorAll('tr[data-href]').forEach(function(tr){tr.addEventListener('click',function(){
  var el=document.querySelector(tr.getAttribute('data-href'));if(el){el.scrollIntoView({behavior:'smooth'});}});});
var node=document.getElementById('case-figs');if(!node||typeof Plotly==='undefined'){return;}
var FIGS=JSON.parse(node.textContent);
function draw(div){var i=+div.getAttribute('data-fig');if(div.getAttribute('data-done'))return;
  div.setAttribute('data-done','1');div.innerHTML='';var f=FIGS[i];Plotly.newPlot(div,f.data,f.layout,CFG);}
var divs=document.querySelectorAll('div.chart[data-fig]');
if('IntersectionObserver' in window){var io=new IntersectionObserver(function(es){es.forEach(function(e){
  if(e.isIntersecting){draw(e.target);io.unobserve(e.target);}});},{rootMargin:'400px'});
  divs.forEach(function(d){io.observe(d);});}else{divs.forEach(draw);}
})();
"""


def verify_report_html(res, path, *, title: str | None = None, charts: bool = True) -> Path:
    """Write the self-contained HTML report of a :class:`~ita.verify.VerifyResult` to ``path``.

    ``title``: plain text (default: the setup label). ``charts``: embed plotly.js and one chart per case
    (plotly JSON, drawn in the browser when scrolled into view; no Chromium needed). With
    ``charts=False`` the file holds the tables, reasons, notes and screenshots only (small and fast, for
    tests or mail). Screenshots are embedded as base64 data URIs. Written to a temporary file beside
    ``path`` and moved into place. Raises :class:`~ita.errors.ItaError` if it cannot be written.
    """
    path = Path(path)
    m = res.metrics
    title = title or f"{res.setup.label} · label check"
    cases = _cases(res)
    specs, blocks = [], []
    for case in cases:
        r = case["rec"]
        fig_html = "<div class='chart'><div class='placeholder'>charts not rendered (--no-charts)</div></div>"
        if charts:
            spec = _spec_of(case, res.tolerance)
            if spec is not None:  # the card's header carries title and reason
                spec["layout"]["title"] = dict(text="")
                spec["layout"]["margin"] = dict(l=64, r=118, t=34, b=50)
                fig_html = (f"<div class='chart' data-fig='{len(specs)}'><div class='placeholder'>loading chart…"
                            f"</div></div>")
                specs.append(json_clean(spec))
        if case["kind"] == "label":
            kind = r["result"]
            t_lab = html.escape(_label_tz_time(r))
            near = ""
            if r["result"] == "miss" and r["nearest_signal_id"]:
                nb = r["nearest_bars"]
                near = (f"<div class='why muted'>Nearest detection: {html.escape(str(r['nearest_signal_id']))} "
                        f"({html.escape(str(r['nearest_direction']))}, signal bar {ny_text(r['nearest_time'], missing=_NO_TIME)} NY, "
                        f"{abs(nb):g} bars {'before' if nb < 0 else 'after'} the label"
                        + (f", matched to label #{r['nearest_label']}" if not pd.isna(r["nearest_label"]) else "")
                        + ")</div>")
            rule = ""
            if r["rule_reason"] and r["rule_reason"] != "signal" and r["rule_reason"] not in r["why"]:
                rule = f"<div class='why muted'>Evaluator: {html.escape(r['rule_reason'])}</div>"
            note = f"<div class='note'><b>Trader:</b> {html.escape(r['note'])}</div>" if r["note"] else ""
            blocks.append(
                f"<section class='case {kind}' id='case-{r['label']}'>"
                f"<h3>#{r['label']} · {html.escape(r['symbol'])} {html.escape(r['timeframe'])} · "
                f"<span class='{'pos' if r['direction'] == 'long' else 'neg'}'>{r['direction']}</span> · "
                f"{t_lab} = {ny_text(r['bar_time'], missing=_NO_TIME)} NY<span class='badge {kind}'>{kind.upper()}</span></h3>"
                f"<div class='why'>{html.escape(r['why'])}</div>{near}{rule}{note}"
                f"<div class='pair'>{fig_html}{_img(r['screenshot'], r['label'])}</div></section>")
        else:
            blocks.append(
                f"<section class='case unlabelled'><h3>{html.escape(case['title'])}<span class='badge unlabelled'>"
                f"UNLABELLED</span></h3><div class='why'>{html.escape(str(r['signal_id']))} · signal bar "
                f"{ny_text(r['time'], missing=_NO_TIME)} NY · entry {S.fmt_num(r['entry_price'], 5)}, SL {S.fmt_num(r['sl_price'], 5)}, "
                f"TP {S.fmt_num(r['tp_price'], 5)} · the rule found it, no label within "
                f"{res.tolerance} bars</div><div class='pair'>{fig_html}<div></div></div></section>")
    n_lab = len(res.labels)
    unl_head = (f"<h2>Unlabelled detections ({len(res.unlabelled)})</h2><p class='muted'>Signals of the setup in "
                f"{res.start:%Y-%m-%d} → {res.end:%Y-%m-%d} that no label matched: false positives from the "
                f"trader's point of view (or setups the trader missed).</p>")
    if not len(res.unlabelled):
        unl_head += "<p class='muted'>None: every detection in the period has a label.</p>"
    rules = (f"<ul class='rules'><li>A label <b>hits</b> a signal of the same symbol, direction and timeframe when the "
             f"labelled candle is one of the signal's setup candles (break bar, the FVG's three candles, the signal "
             f"bar) or at most {res.tolerance} bars from them; one signal matches at most one label (nearest first)."
             f"</li><li>A <b>miss</b> shows the nearest detection and the evaluator's own reason for that trading "
             f"day.</li><li>Precision = hits / (hits + unlabelled); recall = hits / labels.</li>"
             f"<li>Charts: New York time; blue = session range, purple = FVG zone, dashed line = the label "
             f"(yellow band = ± tolerance), entry/SL/TP for an hour after the signal.</li></ul>")
    figs_json = script_json(specs)
    plotly_js = ""
    if charts and specs:
        from plotly.offline import get_plotlyjs

        plotly_js = f"<script type='text/javascript'>{get_plotlyjs()}</script>"
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style>{plotly_js}</head>
<body><main>
<h1>{html.escape(title)}</h1>
<div class="sub">{n_lab} labels · period {res.start:%Y-%m-%d} → {res.end:%Y-%m-%d} · tolerance {res.tolerance} bars ·
chart times New York (America/New_York) · generated {pd.Timestamp.now(tz=S.TZ):%Y-%m-%d %H:%M} NY by ITA</div>
<div class="cards">{_cards(m)}</div>
<div class="panel">{_table(res)}{rules}</div>
<h2>Labelled cases</h2>
{''.join(b for b, c in zip(blocks, cases) if c['kind'] == 'label')}
{unl_head}
{''.join(b for b, c in zip(blocks, cases) if c['kind'] != 'label')}
</main>
<script type="application/json" id="case-figs">{figs_json}</script>
<script type="text/javascript">{_JS}</script>
</body></html>
"""
    return write_text_atomic(path, doc, "verify report")
