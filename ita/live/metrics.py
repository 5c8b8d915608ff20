"""Prometheus metrics of the live loop (prometheus-client), the same numbers ``ita live status`` prints.

``ita live start --metrics-port 9108`` (or ``ita live replay … --metrics-port``) serves them at
``http://ADDR:PORT/metrics``; ``dashboards/ita_live.json`` is a Grafana dashboard over them.

=============================================  =========  ===================================================
metric                                         type       labels, meaning
=============================================  =========  ===================================================
``ita_live_signals_total``                     counter    ``decision``: journaled signals (alert,
                                                          below_threshold, cooldown, expired)
``ita_live_deliveries``                        gauge      ``channel`` (telegram, notion, outbox), ``status``
                                                          (pending, sending, sent, failed): delivery rows now
``ita_live_delivery_latency_seconds``          histogram  ``channel``: candle close → accepted, per sent
                                                          delivery (seconds of real time)
``ita_live_outbox_size``                       gauge      deliveries not sent yet (pending + sending)
``ita_live_feedback_total``                    counter    ``action`` (taken, skipped, up, down): button presses
``ita_live_signal_score``                      gauge      ``setup``, ``symbol``, ``kind`` (baseline or model):
                                                          the score of the latest signal
``ita_live_baseline_score``                    gauge      ``setup``, ``symbol``: p(success) of the baseline
``ita_live_feed_lag_seconds``                  gauge      ``symbol``, ``timeframe``: clock − the last closed
                                                          bar's close, at the last run
``ita_live_last_tick_timestamp_seconds``       gauge      ``symbol``, ``timeframe``: wall time of the last run
``ita_live_tick_duration_seconds``             histogram  ``symbol``: wall time of one run of the graph
``ita_live_run_errors_total``                  counter    ``symbol``: errors reported by runs
=============================================  =========  ===================================================

The journal-backed metrics (signals, deliveries, latency, outbox, feedback, scores) are read from the journal
(SQLite) at every scrape, so they equal what ``ita live signals`` / ``stats`` show and survive restarts; the
loop's own state (feed lag, last tick, run time, errors) is kept in memory by the running process.

Example::

    >>> m = LiveMetrics(Journal(), "live")                     # doctest: +SKIP
    >>> server = m.serve(9108)                                 # doctest: +SKIP
    >>> status = read_status("http://127.0.0.1:9108/metrics")  # doctest: +SKIP
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ita.errors import ItaError
from ita.live.journal import LIVE, Journal

LATENCY_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DEFAULT_URL = "http://127.0.0.1:9108/metrics"


class _JournalCollector:
    """Reads the journal's aggregates for one run at each scrape (:meth:`Journal.counts`)."""

    def __init__(self, journal: Journal, run: str):
        self.journal, self.run = journal, run

    def describe(self):
        return []  # collected on demand: registering must not read the database

    def collect(self):
        c = self.journal.counts(self.run)
        sig = CounterMetricFamily("ita_live_signals", "Journaled signals by decision.", labels=["decision"])
        for decision, n in sorted(c["decisions"].items()):
            sig.add_metric([decision], n)
        yield sig
        dl = GaugeMetricFamily("ita_live_deliveries", "Delivery rows by channel and status.", labels=["channel", "status"])
        for (channel, status), n in sorted(c["deliveries"].items()):
            dl.add_metric([channel, status], n)
        yield dl
        lat = HistogramMetricFamily("ita_live_delivery_latency_seconds",
                                    "Candle close to accepted by the channel, seconds.", labels=["channel"])
        for channel, values in sorted(c["latencies"].items()):
            buckets = [(_le(b), sum(1 for v in values if v <= b)) for b in LATENCY_BUCKETS]
            lat.add_metric([channel], buckets + [("+Inf", len(values))], sum_value=float(sum(values)))
        yield lat
        yield GaugeMetricFamily("ita_live_outbox_size", "Deliveries not sent yet (pending + sending).",
                                value=c["outstanding"])
        fb = CounterMetricFamily("ita_live_feedback", "Button presses by action.", labels=["action"])
        for action, n in sorted(c["feedback"].items()):
            fb.add_metric([action], n)
        yield fb
        sc = GaugeMetricFamily("ita_live_signal_score", "Score of the latest signal per setup and symbol.",
                               labels=["setup", "symbol", "kind"])
        for r in c["last_scores"]:
            if r["score"] is not None:
                sc.add_metric([r["setup_id"], r["symbol"], str(r["kind"] or "baseline")], float(r["score"]))
        yield sc


def _le(b: float) -> str:
    return f"{b:g}" if b != int(b) else f"{b:.1f}"


class LiveMetrics:
    """The metrics of one live service (``run`` = ``live`` or a replay id) in their own registry."""

    def __init__(self, journal: Journal | None = None, run: str = LIVE):
        self.journal = journal or Journal()
        self.run = run
        self.registry = CollectorRegistry()
        self.registry.register(_JournalCollector(self.journal, run))
        r = self.registry
        self.feed_lag = Gauge("ita_live_feed_lag_seconds", "Clock minus the close of the last closed bar, at the "
                              "last run.", ["symbol", "timeframe"], registry=r)
        self.last_tick = Gauge("ita_live_last_tick_timestamp_seconds", "Wall time of the last run.",
                               ["symbol", "timeframe"], registry=r)
        self.tick_seconds = Histogram("ita_live_tick_duration_seconds", "Wall time of one run of the live graph.",
                                      ["symbol"], buckets=TICK_BUCKETS, registry=r)
        self.errors = Counter("ita_live_run_errors", "Errors reported by runs of the live graph.", ["symbol"],
                              registry=r)
        self.baseline = Gauge("ita_live_baseline_score", "p(success) of the setup's baseline backtest.",
                              ["setup", "symbol"], registry=r)
        self.server = None
        self._thread = None

    def attach(self, service) -> "LiveMetrics":
        """Observe every run of ``service`` (:class:`ita.live.service.LiveService`) and publish its setups'
        baseline scores."""
        service.metrics = self
        for key in service.ctx.setups:
            for sym in service.ctx.config.symbols:
                self.baseline.labels(key.split("@")[0], sym).set(service.ctx.baseline(key, sym).p)
        return self

    def observe(self, report, now, seconds: float) -> None:
        """Record one run (:class:`ita.live.service.TickReport`) finished at clock time ``now``."""
        if report.skipped:
            return
        self.last_tick.labels(report.symbol, report.timeframe).set(time.time())
        if report.last_close is not None:
            self.feed_lag.labels(report.symbol, report.timeframe).set((now - report.last_close).total_seconds())
        self.tick_seconds.labels(report.symbol).observe(seconds)
        if report.errors:
            self.errors.labels(report.symbol).inc(len(report.errors))

    def serve(self, port: int, addr: str = "127.0.0.1"):
        """Serve ``/metrics`` on ``addr:port`` in a daemon thread. Raises :class:`ItaError` when the port is
        taken or cannot be bound."""
        from prometheus_client import start_http_server

        if not 0 < int(port) < 65536:
            raise ItaError(f"--metrics-port {port}: a TCP port between 1 and 65535, e.g. 9108.")
        try:
            self.server, self._thread = start_http_server(int(port), addr=addr, registry=self.registry)
        except OSError as exc:
            raise ItaError(f"Cannot serve metrics on {addr}:{port}: {exc.strerror or exc}. Another process (another "
                           "`ita live start`?) uses the port: choose another with --metrics-port.") from None
        return self.server

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def text(self) -> str:
        """The exposition text, as a scrape would return it."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode("utf-8")


# ---- reading the numbers back (ita live status) -------------------------------------------------------------

@dataclass
class Status:
    """The live loop's numbers as read from the metrics: ``source`` (the URL, or ``journal`` when no service
    answered), ``decisions`` {decision: n}, ``deliveries`` {(channel, status): n}, ``latency`` {channel: {count,
    sum, p50, p95}} (quantiles estimated from the histogram like PromQL's ``histogram_quantile``),
    ``outbox`` (int), ``feedback``, ``scores`` [(setup, symbol, kind, score)], ``baselines`` {(setup, symbol):
    p}, ``feed_lag`` {(symbol, tf): s}, ``last_tick`` {(symbol, tf): epoch s}, ``errors`` {symbol: n}."""

    source: str
    decisions: dict = field(default_factory=dict)
    deliveries: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    outbox: int = 0
    feedback: dict = field(default_factory=dict)
    scores: list = field(default_factory=list)
    baselines: dict = field(default_factory=dict)
    feed_lag: dict = field(default_factory=dict)
    last_tick: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.source != "journal"


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The ``q`` quantile from cumulative ``(upper bound, count)`` buckets (``+Inf`` last), interpolated
    linearly inside the bucket as Prometheus' ``histogram_quantile`` does; None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower  # beyond the largest finite bucket: its bound, like Prometheus
            return lower + (le - lower) * ((rank - below) / (count - below) if count > below else 1.0)
        lower, below = le, count
    return lower


def parse_status(text: str, source: str) -> Status:
    """A :class:`Status` from Prometheus exposition text (what ``/metrics`` returns)."""
    from prometheus_client.parser import text_string_to_metric_families

    st = Status(source)
    hist: dict = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            lb, v = s.labels, s.value
            if s.name == "ita_live_signals_total":
                st.decisions[lb["decision"]] = int(v)
            elif s.name == "ita_live_deliveries":
                st.deliveries[(lb["channel"], lb["status"])] = int(v)
            elif s.name == "ita_live_outbox_size":
                st.outbox = int(v)
            elif s.name == "ita_live_feedback_total":
                st.feedback[lb["action"]] = int(v)
            elif s.name == "ita_live_signal_score":
                st.scores.append((lb["setup"], lb["symbol"], lb["kind"], v))
            elif s.name == "ita_live_baseline_score":
                st.baselines[(lb["setup"], lb["symbol"])] = v
            elif s.name == "ita_live_feed_lag_seconds":
                st.feed_lag[(lb["symbol"], lb["timeframe"])] = v
            elif s.name == "ita_live_last_tick_timestamp_seconds":
                st.last_tick[(lb["symbol"], lb["timeframe"])] = v
            elif s.name == "ita_live_run_errors_total":
                st.errors[lb["symbol"]] = int(v)
            elif s.name.startswith("ita_live_delivery_latency_seconds"):
                h = hist.setdefault(lb["channel"], {"buckets": [], "count": 0, "sum": 0.0})
                if s.name.endswith("_bucket"):
                    h["buckets"].append((float(lb["le"]), v))
                elif s.name.endswith("_count"):
                    h["count"] = int(v)
                elif s.name.endswith("_sum"):
                    h["sum"] = v
    for channel, h in hist.items():
        b = sorted(h["buckets"])
        st.latency[channel] = {"count": h["count"], "sum": h["sum"], "p50": histogram_quantile(0.5, b),
                               "p95": histogram_quantile(0.95, b)}
    return st


def read_status(url: str | None = DEFAULT_URL, journal: Journal | None = None, run: str = LIVE,
                timeout: float = 2.0) -> Status:
    """The live loop's numbers: scraped from ``url`` when a service answers there, else computed from the
    journal (``run``) through the same collector (then the loop's own gauges — feed lag, last tick — are
    absent). Raises :class:`ItaError` when ``url`` answers with something that is not ITA's metrics."""
    import httpx

    if url:
        try:
            resp = httpx.get(url, timeout=timeout)
        except httpx.HTTPError:
            resp = None
        if resp is not None:
            if resp.status_code != 200 or "ita_live_" not in resp.text:
                raise ItaError(f"{url} answered HTTP {resp.status_code} without ITA's live metrics: is it the "
                               "`ita live start --metrics-port` of this machine?")
            return parse_status(resp.text, url)
    return parse_status(LiveMetrics(journal, run).text(), "journal")
