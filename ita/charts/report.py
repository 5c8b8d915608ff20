"""The interactive HTML report of a backtest: one self-contained file, no network needed to open it.

Layout: title and key numbers; the equity/drawdown figure (:func:`~ita.charts.figures.equity_figure`);
the full statistics table; a trade viewer; the trades table.

Design choice — the trade viewer shows **one trade chart at a time** (the exact figure of
:func:`~ita.charts.figures.trade_figure`, same as the PNGs) with ◀ ▶ buttons, ←/→ keys, a dropdown, and
clicks on the trades table or on a marker of the equity curve. The alternative, one long M15 candlestick
chart of the whole period with every trade drawn on it and a range slider, was rejected: a year of M15 is
~25 000 candles plus several hundred shapes, which makes plotly sluggish to open and pan, and the trader
reviews a trade in the context of its own session (range, break, zone, killzones), not as a dot on a year.
Only the selected chart is drawn (``Plotly.react``), so the report opens fast regardless of trade count.

Size: plotly.js is embedded inline (~4.8 MB, ``include_plotlyjs=True`` equivalent) because the trader's
machine may be offline. The trade charts (~14 KB of JSON each) are gzip-compressed and base64-encoded
(~2 KB each) and inflated in the browser with the built-in ``DecompressionStream`` (Chrome/Edge 80+,
Firefox 113+, Safari 16.4+); a browser without it still shows the equity curve and tables, and the viewer
says why it is empty. ~100 trades over a year of M5 data → ~5.1 MB, built in ~1.5 s. At most
:data:`MAX_TRADE_CHARTS` trades get a chart (evenly spread over the period beyond that).
"""
from __future__ import annotations

import base64
import gzip
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from plotly.utils import PlotlyJSONEncoder
from ita.charts import style as S
from ita.charts.common import PAGE_CSS, finite, json_clean, script_json
from ita.charts.figures import equity_spec, merge_layout, trade_spec, typed_arrays
from ita.errors import write_text_atomic
from ita.times import ny_text

MAX_TRADE_CHARTS = 500
_NO_TIME = "–"  # a missing time in the tables and headers

_KEY_STATS = ["Trades", "Win Rate [%]", "Total R", "Profit Factor", "Expectancy [R]", "Max Drawdown [R]",
              "Longest Losing Streak", "Return [%]"]


def _pip_size(trades: pd.DataFrame, signals: pd.DataFrame) -> float:
    """Pip size from the instrument registry (signals' ``symbol``), else |entry − SL| / risk_pips."""
    sym = None
    if signals is not None and len(signals) and "symbol" in signals.columns:
        sym = str(signals["symbol"].iloc[0])
    if sym:
        try:
            from ita.data.instruments import get_instrument

            return float(get_instrument(sym).pip_size)
        except Exception:  # noqa: BLE001 - unknown symbol: infer below
            pass
    if trades is not None and len(trades) and {"entry_price", "sl_price", "risk_pips"} <= set(trades.columns):
        ratio = (trades["entry_price"] - trades["sl_price"]).abs() / trades["risk_pips"].replace(0, np.nan)
        med = float(ratio.median()) if ratio.notna().any() else float("nan")
        if math.isfinite(med) and med > 0:
            return float(10 ** round(math.log10(med)))
    return 0.0001


def _pick(n: int, k: int) -> list[int]:
    if n <= k:
        return list(range(n))
    return sorted(set(int(i) for i in np.linspace(0, n - 1, k).round()))


def _stats_table(stats: pd.Series) -> str:
    if stats is None or len(stats) == 0:
        return "<p class='muted'>No statistics.</p>"
    cells = "".join(f"<div><span>{html.escape(str(k))}</span><b>{html.escape(S.fmt_stat(str(k), v))}</b></div>"
                    for k, v in stats.items())
    return f"<div class='stats'>{cells}</div>"


def _cards(stats: pd.Series) -> str:
    out = []
    for k in _KEY_STATS:
        if stats is None or k not in stats.index:
            continue
        v = stats[k]
        cls = ""
        if k in ("Total R", "Expectancy [R]", "Return [%]") and finite(v) is not None and finite(v) != 0:
            cls = " pos" if finite(v) > 0 else " neg"
        out.append(f"<div class='card'><div class='k'>{html.escape(k)}</div>"
                   f"<div class='v{cls}'>{html.escape(S.fmt_stat(k, v))}</div></div>")
    return "".join(out)


def _trades_table(trades: pd.DataFrame, chart_of: dict[int, int], dec: int) -> str:
    if trades is None or len(trades) == 0:
        return "<p class='muted'>No trades in this period.</p>"
    head = ("<tr><th>#</th><th>Side</th><th>Entry (NY)</th><th>Entry</th><th>SL</th><th>TP</th>"
            "<th>Exit (NY)</th><th>Exit</th><th>Reason</th><th>Risk [pips]</th><th>R</th></tr>")
    rows = []
    pf = f"{{:.{dec}f}}"
    for pos, tr in enumerate(trades.to_dict("records")):
        r = finite(tr.get("r"))
        rc = "pos" if (r or 0) > 0 else "neg" if (r or 0) < 0 else ""
        side = str(tr.get("direction", ""))
        i = chart_of.get(pos)
        attrs = f" data-i='{i}' class='clickable'" if i is not None else ""

        def p(key):
            v = finite(tr.get(key))
            return "–" if v is None else pf.format(v)

        rows.append(
            f"<tr{attrs}><td>{html.escape(str(tr.get('trade', pos + 1)))}</td>"
            f"<td class='{'pos' if side == 'long' else 'neg'}'>{html.escape(side)}</td>"
            f"<td>{ny_text(tr.get('entry_time'), missing=_NO_TIME)}</td><td>{p('entry_price')}</td><td>{p('sl_price')}</td>"
            f"<td>{p('tp_price')}</td><td>{ny_text(tr.get('exit_time'), missing=_NO_TIME)}</td><td>{p('exit_price')}</td>"
            f"<td>{html.escape(str(tr.get('exit_reason', '')))}</td>"
            f"<td>{S.fmt_num(tr.get('risk_pips'), 1)}</td>"
            f"<td class='{rc}'>{S.fmt_num(r, 2, signed=True)}</td></tr>")
    return f"<table class='trades' id='trades-table'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


_CSS = PAGE_CSS + """
table{border-collapse:collapse;font-size:13px;
font-variant-numeric:tabular-nums}.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));
column-gap:32px;font-size:13px;font-variant-numeric:tabular-nums}.stats div{display:flex;
justify-content:space-between;border-bottom:1px solid #f1f5f9;padding:5px 2px}.stats span{color:#4b5563}
table.trades{width:100%}
table.trades th,table.trades td{padding:5px 8px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
table.trades th{position:sticky;top:0;background:#f9fafb;color:#4b5563;font-weight:600}
table.trades td:nth-child(2),table.trades td:nth-child(9),table.trades th:nth-child(2),
table.trades th:nth-child(9){text-align:left}tr.clickable{cursor:pointer}tr.clickable:hover{background:#eef2ff}
tr.sel{background:#e0e7ff!important}.tablewrap{max-height:520px;overflow:auto}
.controls{display:flex;align-items:center;gap:8px;flex-wrap:wrap;margin-bottom:6px}
.controls button{font-size:14px;padding:5px 12px;border:1px solid #cbd5e1;background:#fff;border-radius:6px;
cursor:pointer}.controls button:hover{background:#f1f5f9}.controls select{font-size:14px;padding:5px;
border:1px solid #cbd5e1;border-radius:6px;max-width:520px}#trade{height:780px}#equity{height:600px}
#viewer-msg{padding:30px;text-align:center}
"""

_JS = """
(function(){
var CFG={displaylogo:false,responsive:true,modeBarButtonsToRemove:['select2d','lasso2d','autoScale2d']};
var eq=JSON.parse(document.getElementById('eq-json').textContent);
Plotly.newPlot('equity',eq.data,eq.layout,CFG);
var IDX=JSON.parse(document.getElementById('trade-index').textContent);
var sel=document.getElementById('trade-select'),msg=document.getElementById('viewer-msg'),
    cnt=document.getElementById('trade-count'),rows={},FIGS=null,cur=0;
if(!IDX.labels.length){return;}
IDX.labels.forEach(function(l,i){var o=document.createElement('option');o.value=i;o.textContent=l;sel.appendChild(o);});
document.querySelectorAll('#trades-table tr[data-i]').forEach(function(tr){
  rows[tr.getAttribute('data-i')]=tr;
  tr.addEventListener('click',function(){show(+tr.getAttribute('data-i'));
    document.getElementById('viewer').scrollIntoView({behavior:'smooth'});});});
function show(i){
  if(!FIGS){return;}var n=FIGS.length;cur=((i%n)+n)%n;var f=FIGS[cur];
  Plotly.react('trade',f.data,f.layout,CFG);sel.value=cur;cnt.textContent=(cur+1)+' / '+n;
  Object.keys(rows).forEach(function(k){rows[k].classList.toggle('sel',+k===cur);});
  var r=rows[cur];if(r){var w=r.closest('.tablewrap');if(w){var top=r.offsetTop-w.clientHeight/2;w.scrollTop=Math.max(0,top);}}
}
document.getElementById('prev').onclick=function(){show(cur-1);};
document.getElementById('next').onclick=function(){show(cur+1);};
sel.onchange=function(){show(+sel.value);};
document.addEventListener('keydown',function(e){
  if(e.target&&(e.target.tagName==='INPUT'||e.target.tagName==='SELECT'||e.target.tagName==='TEXTAREA'))return;
  if(e.key==='ArrowLeft'){show(cur-1);e.preventDefault();}
  if(e.key==='ArrowRight'){show(cur+1);e.preventDefault();}});
document.getElementById('equity').on('plotly_click',function(ev){
  var p=ev.points&&ev.points[0];if(!p||!p.customdata)return;var i=IDX.chart_of_pos[p.customdata[0]-1];
  if(i!==null&&i!==undefined){show(i);document.getElementById('viewer').scrollIntoView({behavior:'smooth'});}});
if(typeof DecompressionStream==='undefined'){
  msg.textContent='This browser cannot unpack the trade charts (needs DecompressionStream: Chrome/Edge 80+, '+
    'Firefox 113+, Safari 16.4+). The equity curve and tables above and below still work.';return;}
var b64=document.getElementById('trades-gz').textContent.trim(),bin=atob(b64),bytes=new Uint8Array(bin.length);
for(var k=0;k<bin.length;k++){bytes[k]=bin.charCodeAt(k);}
new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text().then(function(t){
  FIGS=JSON.parse(t);msg.style.display='none';show(0);
}).catch(function(e){msg.textContent='Could not unpack the trade charts: '+e;});
})();
"""


def report_html(candles: pd.DataFrame, trades: pd.DataFrame, signals: pd.DataFrame, equity: pd.DataFrame,
                stats: pd.Series, title: str, path) -> Path:
    """Write the self-contained interactive HTML report of a backtest to ``path`` and return it.

    ``candles``: the OHLC frame the backtest ran on (UTC bar-open index; columns ``open``, ``high``,
    ``low``, ``close``). ``trades``: the trades table (:data:`ita.backtest.engine.TRADE_COLUMNS`, times UTC,
    prices in price units, ``r`` in R). ``signals``: the signals table (``signal_id``, ``symbol``,
    ``known_at``, ``meta`` dict or JSON text, …) joined to trades on ``signal_id``; a trade without its
    signal is drawn without range/zone. ``equity`` / ``stats``: :func:`ita.backtest.stats.equity_curve` /
    :func:`~ita.backtest.stats.compute_stats`. ``title``: plain text. ``path``: the .html file (parent
    folders are created; written to a temporary file beside it, then ``os.replace``).

    Contents: key-number cards, the equity figure (click a trade marker to open its chart), all statistics,
    a trade viewer (◀ ▶, ←/→ keys, dropdown; one :func:`trade_figure` per trade, ≤ :data:`MAX_TRADE_CHARTS`),
    and the trades table (times in New York, click a row to open the chart). plotly.js is embedded, so the
    file opens offline; ~5.1 MB for ~100 trades. The pip size comes from the instrument registry via the
    signals' ``symbol`` (else inferred from ``risk_pips``).

    Raises :class:`ita.errors.ItaError` if the file cannot be written (message names the path).
    """
    path = Path(path)
    trades = trades if trades is not None else pd.DataFrame()
    signals = signals if signals is not None else pd.DataFrame()
    stats = stats if stats is not None else pd.Series(dtype=object)
    pip = _pip_size(trades, signals)
    dec = S.price_decimals(pip)
    symbol = str(signals["symbol"].iloc[0]) if len(signals) and "symbol" in signals.columns else ""

    eq_fig = equity_spec(equity, stats, title)
    # the page header carries title and stats
    eq_fig["layout"] = merge_layout(eq_fig["layout"], {"title": {"text": "", "subtitle": {"text": ""}}, "margin": {"t": 20}})

    sig_by_id: dict = {}
    if len(signals) and "signal_id" in signals.columns:
        for rec in signals.drop_duplicates("signal_id").to_dict("records"):
            sig_by_id[rec["signal_id"]] = rec
    recs = trades.to_dict("records") if len(trades) else []
    chosen = _pick(len(recs), MAX_TRADE_CHARTS)
    specs, labels, chart_of = [], [], {}
    for i, pos in enumerate(chosen):
        tr = recs[pos]
        n = tr.get("trade", pos + 1)
        sg = sig_by_id.get(tr.get("signal_id"), {})
        head = f"Trade {n} of {len(recs)}" + (f" · {symbol}" if symbol else "")
        specs.append(trade_spec(candles, tr, sg, head, pip))
        chart_of[pos] = i
        r = finite(tr.get("r"))
        labels.append(f"#{n} · {ny_text(tr.get('entry_time'), missing=_NO_TIME)} NY · {tr.get('direction', '')} · "
                      f"{tr.get('exit_reason', '')} {S.fmt_num(r, 2, signed=True)}R")
    payload = json.dumps(specs, separators=(",", ":"), default=str)
    if "NaN" in payload or "Infinity" in payload:  # a non-finite number somewhere (rare): null it, as JSON needs
        payload = json.dumps(json_clean(specs), separators=(",", ":"), default=str)
    gz = base64.b64encode(gzip.compress(payload.encode("utf-8"),
                                        compresslevel=9, mtime=0)).decode("ascii")
    index = {"labels": labels, "chart_of_pos": [chart_of.get(p) for p in range(len(recs))]}
    note = (f"<p class='muted'>{len(chosen)} of {len(recs)} trades have a chart (evenly spread).</p>"
            if len(chosen) < len(recs) else "")

    eq_json = json.dumps(typed_arrays(eq_fig), cls=PlotlyJSONEncoder, separators=(",", ":")).replace("</", "<\\/")
    period = ""
    if "Start" in stats.index and "End" in stats.index:
        period = f"{S.fmt_stat('Start', stats['Start'])} → {S.fmt_stat('End', stats['End'])} · "
    from plotly.offline import get_plotlyjs

    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{html.escape(title)}</title><style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head>
<body><main>
<h1>{html.escape(title)}</h1>
<div class="sub">{html.escape(period)}times in New York (America/New_York) · R = result in multiples of the
planned risk · generated {pd.Timestamp.now(tz=S.TZ):%Y-%m-%d %H:%M} NY by ITA</div>
<div class="cards">{_cards(stats)}</div>
<div class="panel"><div id="equity"></div></div>
<h2>Statistics</h2><div class="panel">{_stats_table(stats)}</div>
<h2 id="viewer">Trades</h2>
<div class="panel">
<div class="controls"><button id="prev" title="previous trade (←)">◀</button><select id="trade-select"></select>
<button id="next" title="next trade (→)">▶</button><span id="trade-count" class="muted"></span>
<span class="muted">· ← / → keys · click a row below or a marker on the equity curve</span></div>{note}
<div id="viewer-msg" class="muted">{'No trades in this period.' if not recs else 'Loading trade charts…'}</div>
<div id="trade"></div></div>
<div class="panel tablewrap">{_trades_table(trades, chart_of, dec)}</div>
</main>
<script type="application/json" id="eq-json">{eq_json}</script>
<script type="application/json" id="trade-index">{script_json(index)}</script>
<script type="application/octet-stream" id="trades-gz">{gz}</script>
<script type="text/javascript">{_JS}</script>
</body></html>
"""
    return write_text_atomic(path, doc, "HTML report")
