"""Running the live graph: on the wall clock with APScheduler (``ita live start``) or on a simulated clock over
stored history (``ita live replay``), plus the outbox retry job and the Telegram button poller.

* **Live** — an APScheduler job per symbol and timeframe fires every minute at ``delay_s`` past the minute
  (``max_instances=1``, ``coalesce``: a run never overlaps the previous one of the same job); a run that
  finds no new closed candle ends at once, so a candle is evaluated within seconds of its close whatever
  the timeframe, and a late bar is picked up by the next minute. A job every 10 s retries the outbox.
* **Replay** — the simulated clock (:class:`ita.live.feeds.SimClock`) plays the stored bars at ``speed`` ×
  real time (or as fast as possible) and the same graph runs at each candle close + ``delay_s``; weekends
  without bars are skipped. The journal rows go under the replay's own run id.

Every run goes through :meth:`LiveService.tick`, which also prevents overlapping runs of the same symbol
and timeframe inside the process; across processes the journal's signal identity does (never twice).

Example::

    >>> svc = LiveService.replay_service(["asia_fvg_break"], ["EURUSD"], "2025-03-03", "2025-03-07", speed=None)  # doctest: +SKIP
    >>> report = svc.replay()                                                                                    # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from ita.config import settings
from ita.data.timeframes import tf_delta
from ita.live.config import LiveConfig
from ita.live.context import LiveContext
from ita.live.feeds import ReplayFeed, SimClock, WallClock
from ita.live.journal import LIVE, Journal

log = logging.getLogger("ita.live")


def open_channels(journal: Journal | None, outbox_dir: Path, telegram=None, notion=None) -> dict:
    """The outbox plus the given services, checked: Telegram's token (``getMe``) and Notion's database.
    ``journal`` records Telegram button presses (None: presses are not handled). Raises
    :class:`~ita.errors.ItaError` saying what to fix; channels opened before the failure are closed."""
    from ita.live.channels import OutboxChannel

    channels: dict = {"outbox": OutboxChannel(outbox_dir)}
    try:
        if notion is not None:
            from ita.live.notion import NotionChannel

            channels["notion"] = NotionChannel(notion).open()
        if telegram is not None:
            from ita.live.telegram import TelegramChannel

            mirror = None
            if "notion" in channels and journal is not None:
                def mirror(run, signal_id, chosen, _notion=channels["notion"]):
                    """A button press also sets the Notion row's Status / Vote."""
                    page = journal.remote_id(run, signal_id, "notion")
                    if page:
                        _notion.feedback(page, chosen)

            channels["telegram"] = TelegramChannel(telegram, journal, on_feedback=mirror, on_similar=similar_text).open()
    except BaseException:
        close_channels(channels)
        raise
    return channels


def similar_text(signal_id: str, k: int = 5) -> str:
    """The Telegram "Similar" button's answer: the k nearest earlier signals with their outcomes, as plain text
    (:func:`ita.tools.similar_signals`), or why there are none."""
    from ita.tools.learn import similar_signals

    r = similar_signals(signal_id=signal_id, k=k)
    if not r.ok:
        return f"Similar signals: {r.error}"
    rows = r.tables["similar"].rows
    return "\n".join([r.summary, *(" · ".join(str(v) for v in row[:7]) for row in rows)])


def replay_outbox(run: str) -> Path:
    """The outbox folder of a replay run: ``$ITA_HOME/replays/<run>/outbox``."""
    return settings().home / "replays" / run / "outbox"


def close_channels(channels: dict) -> None:
    for ch in channels.values():
        close = getattr(ch, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class ChannelCheck:
    """The outcome of checking one channel: ``ok`` True (works), False (failed) or None (not configured);
    ``detail`` says what was checked or what is wrong (secrets redacted)."""

    channel: str
    ok: bool | None
    detail: str


def check_channels(outbox_dir: Path | None = None, journal_path: Path | None = None) -> list[ChannelCheck]:
    """Check every channel :func:`open_channels` would open, each on its own (one failing never hides the next),
    without sending anything: the outbox folder (writable), the journal database (SQLite opens and answers),
    Telegram (the token with ``getMe``, the chats from ``ITA_TELEGRAM_CHAT_IDS``) and Notion (the token and the
    journal database). Every text goes through :func:`ita.secrets.redact`."""
    import os

    from ita.errors import ItaError
    from ita.live.config import NotionSettings, TelegramSettings
    from ita.secrets import redact

    out: list[ChannelCheck] = []

    def add(channel: str, ok: bool | None, detail: str) -> None:
        out.append(ChannelCheck(channel, ok, redact(detail)))

    def problem(exc: BaseException) -> str:
        return str(exc) if isinstance(exc, ItaError) else f"{type(exc).__name__}: {exc}"

    folder = Path(outbox_dir) if outbox_dir else LiveConfig((), ()).outbox_dir
    probe = folder
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.is_dir() and os.access(probe, os.W_OK | os.X_OK):
        add("outbox", True, f"folder {folder} is writable" + ("" if probe == folder else " (created on the first signal)"))
    else:
        add("outbox", False, f"cannot write the outbox folder {folder} ({probe} is not a writable folder): set "
                             "ITA_OUTBOX_DIR or ITA_HOME to a folder you can write")
    try:
        j = Journal(journal_path)
        add("journal", True, f"database {j.path} opens; {j.outstanding():,} deliveries waiting")
    except Exception as exc:  # noqa: BLE001 - sqlite3 / OS errors: report them, check the rest
        add("journal", False, f"the journal database {journal_path or settings().db_path} does not open "
                              f"({problem(exc)}): set ITA_DB or ITA_HOME")
    for name, settings_cls, hint in (("telegram", TelegramSettings, "ITA_TELEGRAM_TOKEN, ITA_TELEGRAM_CHAT_IDS"),
                                     ("notion", NotionSettings, "ITA_NOTION_TOKEN, ITA_NOTION_DATABASE")):
        try:
            cfg = settings_cls.from_env()
        except Exception as exc:  # noqa: BLE001 - a configuration mistake: this channel fails, the next is checked
            add(name, False, problem(exc))
            continue
        if cfg is None:
            add(name, None, f"not configured ({hint})")
            continue
        try:
            ch = open_channels(None, folder, **{name: cfg})[name]
        except Exception as exc:  # noqa: BLE001
            add(name, False, problem(exc))
            continue
        try:
            if name == "telegram":
                add(name, True, f"bot @{ch.me.username} at {cfg.base_url.removesuffix('/bot')} · chats "
                                f"{', '.join(map(str, cfg.chat_ids))}")
            else:
                add(name, True, f"data source {ch.data_source_id}" + (
                    f" · missing properties {', '.join(ch.missing)}" if ch.missing else " · all properties present"))
        finally:
            close = getattr(ch, "close", None)
            if close is not None:
                close()
    return out


def vision_config():
    """The language model settings (:class:`ita.config.LLMSettings`) when a model is configured, with
    ``ITA_VISION_MODEL`` as the model if set; else None."""
    import os

    from ita.config import LLMSettings

    cfg = LLMSettings.from_env()
    if not cfg.use_llm:
        return None
    return LLMSettings.from_env(model=os.environ.get("ITA_VISION_MODEL") or cfg.model)


@dataclass
class TickReport:
    """One run of the graph: what it saw and did."""

    symbol: str
    timeframe: str
    last_close: pd.Timestamp | None
    decisions: list[dict] = field(default_factory=list)
    delivered: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    skipped: bool = False


class LiveService:
    """The live graph with its services. Build with :meth:`live_service` or :meth:`replay_service`."""

    def __init__(self, ctx: LiveContext, graph=None):
        """``graph``: the compiled live graph, built by the entry point (:func:`ita.graphs.live.build_live_graph`;
        by default built here)."""
        if graph is None:
            from ita.graphs.live import build_live_graph

            graph = build_live_graph()
        self.ctx = ctx
        self.graph = graph
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self.on_tick: Callable[[TickReport], None] | None = None
        self.metrics = None  # an ita.live.metrics.LiveMetrics observing every run (LiveMetrics.attach)
        self.jobs: list[tuple] = []  # (function, APScheduler trigger, id) added to the live scheduler

    # ---- construction -----------------------------------------------------------------------------------
    @classmethod
    def live_service(cls, config: LiveConfig, feed, *, journal: Journal | None = None, vision="env",
                     setups: dict | None = None, keep_bars: bool = True, store=None) -> "LiveService":
        """A service for ``ita live start``: wall clock, run ``live``, charts under ``$ITA_HOME/live/charts``.
        ``setups``: the configured setups already loaded (:func:`~ita.live.context.load_setups`), if any;
        ``keep_bars``: append the feed's closed bars to the candle store (``store``, default the configured one)."""
        journal = journal or Journal()
        journal.recover(LIVE)
        channels = open_channels(journal, config.outbox_dir, config.telegram, config.notion)
        home = settings().home
        ctx = LiveContext(config=config, feed=feed, clock=WallClock(), journal=journal, channels=channels,
                          charts_dir=home / "live" / "charts", start=pd.Timestamp.now(tz="UTC"), run=LIVE,
                          vision=vision_config() if vision == "env" else vision, setups=setups or {},
                          keep_bars=keep_bars, store=store)
        ctx.charts_dir.mkdir(parents=True, exist_ok=True)
        return cls(ctx)

    @classmethod
    def replay_service(cls, setups, symbols, start, end, *, speed: float | None = 600.0, notify=None,
                       journal: Journal | None = None, outbox_dir: Path | None = None, store=None, vision=None,
                       run: str | None = None, **config) -> "LiveService":
        """A replay of stored history ``start``…``end`` (New York dates, inclusive) under a new run id
        ``replay_…`` (or ``run``: resume that replay — what it journaled and delivered is not done again);
        notifications go to the replay's own outbox unless ``notify`` names other channels."""
        from ita.live.context import history, load_setups

        cfg = LiveConfig.build(setups, symbols, notify=notify or ("outbox",), **config)
        loaded = load_setups(cfg.setups)
        if run is None:
            created = pd.Timestamp.now(tz="UTC")
            digest = hashlib.sha256(f"{setups}{symbols}{start}{end}{created.value}".encode()).hexdigest()[:6]
            run = f"replay_{created:%Y%m%d_%H%M%S}_{digest}"
        folder = replay_outbox(run).parent
        feed = ReplayFeed(cfg.symbols, start, end, history=history(loaded.values()) + pd.Timedelta(days=1),
                          store=store)
        journal = journal or Journal()
        journal.recover(run)
        channels = open_channels(journal, outbox_dir or replay_outbox(run), cfg.telegram, cfg.notion)
        ctx = LiveContext(config=cfg, feed=feed, clock=SimClock(feed.start, speed), journal=journal,
                          channels=channels, charts_dir=folder / "charts", start=feed.start.tz_convert("UTC"),
                          run=run, vision=vision, store=feed.store, setups=loaded)
        ctx.charts_dir.mkdir(parents=True, exist_ok=True)
        svc = cls(ctx)
        for sym in cfg.symbols:  # the replay starts at its first day: nothing before it is "new"
            for tf in ctx.timeframes:
                if journal.cursor(run, sym, tf) is None:
                    journal.set_cursor(run, sym, tf, ctx.start)
        return svc

    # ---- one run ----------------------------------------------------------------------------------------
    def tick(self, symbol: str, timeframe: str, expected_close: pd.Timestamp | None = None) -> TickReport:
        """Run the live graph once for ``symbol``/``timeframe``. A run while the previous one of the same pair
        is still going is skipped (``skipped=True``): overlapping runs never happen."""
        key = (symbol, timeframe)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        if not lock.acquire(blocking=False):
            log.warning("%s %s: the previous run is still going; this one is skipped", symbol, timeframe)
            return TickReport(symbol, timeframe, None, skipped=True)
        t0 = time.perf_counter()
        try:
            out = self.graph.invoke({"symbol": symbol, "timeframe": timeframe, "expected_close": expected_close,
                                     "errors": [], "timings": {}}, context=self.ctx)
        finally:
            lock.release()
        rep = TickReport(symbol, timeframe, out.get("last_close"), out.get("decisions") or [],
                         out.get("delivered") or {}, out.get("errors") or [], out.get("timings") or {})
        for e in rep.errors:
            log.error("%s %s: %s", symbol, timeframe, e)
        if self.metrics is not None:
            self.metrics.observe(rep, self.ctx.clock.now(), time.perf_counter() - t0)
        if self.on_tick is not None:
            self.on_tick(rep)
        return rep

    def retry_due(self) -> dict[str, int]:
        """Attempt every due delivery of this service's run (the outbox); returns counts by outcome."""
        from ita.live.channels import deliver

        counts: dict[str, int] = {}
        for row in self.ctx.journal.due(self.ctx.run):
            st = deliver(self.ctx.journal, row["run"], row["signal_id"], row["channel"], self.ctx.channels)
            counts[st] = counts.get(st, 0) + 1
        return counts

    def fill_gap(self, max_days: int = 90) -> list[dict]:
        """Store the bars the feed can give between the last stored bar and now, per symbol and timeframe (at most
        ``max_days`` back), so the store has no hole from the time the loop was not running. Returns one row per
        series: ``symbol``, ``timeframe``, ``added``, ``since`` (the last stored bar, or None), ``errors``."""
        from ita.data.store import CandleStore

        ctx = self.ctx
        if not ctx.keep_bars:
            return []
        store = ctx.store or CandleStore()
        now = ctx.clock.now()
        rows = []
        for sym in ctx.config.symbols:
            for tf in ctx.timeframes:
                cov = store.coverage(sym, tf)
                if cov is None:
                    rows.append({"symbol": sym, "timeframe": tf, "added": 0, "since": None, "errors": []})
                    continue
                since = max(cov[1] + tf_delta(tf), now - pd.Timedelta(days=max_days))
                try:
                    added, errors = ctx.store_bars(sym, tf, ctx.feed.closed_bars(sym, tf, now, since))
                except Exception as exc:  # noqa: BLE001 - a feed that cannot go back: say so, start anyway
                    added, errors = 0, [f"{sym} {tf}: the gap since {cov[1]:%Y-%m-%d %H:%M} UTC was not filled: {exc}"]
                rows.append({"symbol": sym, "timeframe": tf, "added": added, "since": cov[1],
                             "until": store.coverage(sym, tf)[1], "errors": errors})
        return rows

    def warm_up(self) -> list[dict]:
        """Compute every setup × symbol baseline and start the PNG renderer now, so the first alert waits for
        neither a backtest nor a browser start. Returns the baselines as rows."""
        if self.ctx.config.charts:
            from ita.charts import warm_up

            warm_up()  # Chromium starts in the background while the baselines are computed
        rows = []
        for key in self.ctx.setups:
            for sym in self.ctx.config.symbols:
                b = self.ctx.baseline(key, sym)
                rows.append({"setup": key, "symbol": sym, "trades": b.trades, "wins": b.wins, "p": b.p,
                             "period": f"{b.start} → {b.end}" if b.trades else "—"})
        if self.ctx.config.charts:
            from ita.charts import warm_up
            from ita.errors import ItaError

            try:
                warm_up(wait=True)
            except ItaError as exc:
                log.warning("Charts will be skipped: %s", exc)
        return rows

    # ---- live -------------------------------------------------------------------------------------------
    def _scheduled(self, symbol: str, timeframe: str) -> None:
        now = self.ctx.clock.now()
        try:
            self.tick(symbol, timeframe, expected_close=now.floor(tf_delta(timeframe)))
        except Exception:  # noqa: BLE001 - one failed run must not stop the scheduler
            log.exception("%s %s: the live run failed", symbol, timeframe)

    def _retry_job(self) -> None:
        try:
            self.retry_due()
        except Exception:  # noqa: BLE001
            log.exception("outbox retry failed")

    def scheduler(self):
        """The APScheduler (not started): a job per symbol and timeframe every minute at ``delay_s`` past it
        (one instance at a time, missed runs coalesced) and the outbox retry job every 10 s."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        cfg = self.ctx.config
        sched = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                  "misfire_grace_time": 50})
        delay = max(int(round(cfg.delay_s)), 0) % 60
        for sym in cfg.symbols:
            for tf in self.ctx.timeframes:
                sched.add_job(self._scheduled, CronTrigger(second=delay, timezone="UTC"), args=[sym, tf],
                              id=f"live:{sym}:{tf}", name=f"live graph {sym} {tf}", max_instances=1, coalesce=True)
        sched.add_job(self._retry_job, IntervalTrigger(seconds=10), id="outbox", name="outbox retry", max_instances=1,
                      coalesce=True)
        for fn, trigger, job_id in self.jobs:  # e.g. the weekly / monthly reports (ita.reports.schedule)
            sched.add_job(fn, trigger, id=job_id, name=job_id, max_instances=1, coalesce=True,
                          misfire_grace_time=3600)
        return sched

    def run_forever(self, poll_telegram: bool = True) -> None:
        """Catch up once, then run on schedule (:meth:`scheduler`) until :meth:`stop` (or Ctrl-C); with
        Telegram, button presses are received meanwhile."""
        cfg = self.ctx.config
        sched = self.scheduler()
        tg = self.ctx.channels.get("telegram")
        if poll_telegram and tg is not None and not tg.polling:
            tg.start_polling()
        for sym in cfg.symbols:  # catch up at once, then on schedule
            for tf in self.ctx.timeframes:
                self._scheduled(sym, tf)
        self._retry_job()
        sched.start()
        try:
            while not self._stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            sched.shutdown(wait=True)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        close_channels(self.ctx.channels)

    # ---- replay -----------------------------------------------------------------------------------------
    def replay(self, drain_s: float = 60.0) -> dict:
        """Play the replay period on the simulated clock; returns the run's report (signals by decision,
        deliveries, latency percentiles, wall time)."""
        feed, clock, cfg = self.ctx.feed, self.ctx.clock, self.ctx.config
        if not isinstance(feed, ReplayFeed) or not isinstance(clock, SimClock):
            raise TypeError("replay() needs a service built by LiveService.replay_service")
        delay = pd.Timedelta(seconds=cfg.delay_s)
        t0 = time.perf_counter()
        ticks = 0
        t = feed.next_close(feed.start - pd.Timedelta(seconds=1))
        while t is not None and not self._stop.is_set():
            if clock.speed is not None and t - clock.now() > pd.Timedelta(minutes=30):
                clock.jump(t - pd.Timedelta(seconds=1))  # a weekend or a break without bars
            clock.sleep_until(t + delay)
            for sym in cfg.symbols:
                for tf in self.ctx.timeframes:
                    self.tick(sym, tf, expected_close=t)
            ticks += 1
            self.retry_due()
            t = feed.next_close(t)
        end = time.time() + drain_s
        while self.ctx.journal.outstanding(self.ctx.run):
            if time.time() >= end:
                break
            self.retry_due()
            time.sleep(0.5)
        return self.report(ticks=ticks, seconds=time.perf_counter() - t0)

    def report(self, **extra) -> dict:
        """The run's signals by decision, deliveries by status and latency percentiles."""
        j, run = self.ctx.journal, self.ctx.run
        sig = j.signals(run)
        dl = j.deliveries(run)
        return {
            "run": run,
            "signals": int(len(sig)),
            "decisions": sig["decision"].value_counts().to_dict() if len(sig) else {},
            "deliveries": dl["status"].value_counts().to_dict() if len(dl) else {},
            "latency": j.latency(run),
            **extra,
        }
