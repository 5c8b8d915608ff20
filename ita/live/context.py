"""What the live graph runs with (its LangGraph ``context``): the configuration and the services — feed,
clock, journal, channels, the loaded setups and their baseline scores."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ita.errors import ItaError, SetupError
from ita.live.config import LiveConfig
from ita.live.journal import LIVE, Journal
from ita.live.score import Baseline, baseline
from ita.times import NY


def parse_setup_ref(ref: str) -> tuple[str, int | None]:
    """``"fvg_reversal@1"`` / ``"fvg_reversal:v1"`` → ``("fvg_reversal", 1)``; ``"asia_sweep"`` → latest."""
    for sep in ("@", ":"):
        if sep in ref:
            sid, _, v = ref.partition(sep)
            try:
                return sid.strip(), int(v.strip().lstrip("vV"))
            except ValueError:
                raise SetupError(f"Bad setup version in {ref!r}: use id@N, e.g. fvg_reversal@1.") from None
    return ref.strip(), None


def load_setups(refs) -> dict:
    """``{"id@version": LoadedSetup}`` for setup references (:func:`parse_setup_ref`). Raises
    :class:`~ita.errors.SetupError` for an unknown setup or version (with the closest names)."""
    from ita.setups import load_setup

    out = {}
    for ref in refs:
        loaded = load_setup(*parse_setup_ref(ref))
        out[f"{loaded.id}@{loaded.version}"] = loaded
    return out


def history(setups) -> pd.Timedelta:
    """How far back a live run reads for these loaded setups: their largest warm-up
    (:func:`ita.setups.warmup`) plus one day for the trading day in progress."""
    from ita.setups import warmup

    return max(warmup(s.setup) for s in setups) + pd.Timedelta(days=1)


@dataclass
class LiveContext:
    """Runtime dependencies of the live graph.

    ``config``: :class:`LiveConfig`; ``feed``: a :class:`ita.live.feeds.Feed`; ``clock``: wall or simulated;
    ``journal``: :class:`Journal`; ``run``: ``"live"`` or a replay id; ``channels``: ``{kind: channel}``
    (``outbox``, ``telegram``, ``notion``); ``charts_dir``: where snapshot PNGs go; ``start``: the start of
    the live/replay period — baselines use only history before it; ``setups``: ``{key: LoadedSetup}``
    (key ``id@version``); ``vision``: the chat agent's config when a vision model writes comments.
    """

    config: LiveConfig
    feed: object
    clock: object
    journal: Journal
    channels: dict
    charts_dir: Path
    start: pd.Timestamp
    run: str = LIVE
    vision: object | None = None
    store: object | None = None
    setups: dict = field(default_factory=dict)
    keep_bars: bool = False
    _baselines: dict = field(default_factory=dict)
    _scorer: object | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _kept: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.setups:
            self.setups = load_setups(self.config.setups)
        if not self.setups:
            raise ItaError("No setups to watch: give --setups, e.g. --setups asia_fvg_break,asia_sweep.")

    def setups_on(self, timeframe: str) -> dict:
        """The setups whose execution timeframe is ``timeframe``."""
        return {k: s for k, s in self.setups.items() if s.setup.timeframe == timeframe}

    @property
    def timeframes(self) -> list[str]:
        return sorted({s.setup.timeframe for s in self.setups.values()})

    def history(self, timeframe: str) -> pd.Timedelta:
        """How far back each run reads: :func:`history` of the setups on ``timeframe``."""
        return history(self.setups_on(timeframe).values())

    def baseline(self, key: str, symbol: str) -> Baseline:
        """The setup's baseline on ``symbol`` from history before :attr:`start` (computed once, cached)."""
        with self._lock:
            b = self._baselines.get((key, symbol))
            if b is None:
                day = pd.Timestamp(self.start).tz_convert(NY).tz_localize(None).normalize()
                b = self._baselines[(key, symbol)] = baseline(self.setups[key], symbol, day, store=self.store)
            return b

    def scorer(self):
        """The run's :class:`ita.learn.scoring.SignalScorer` (one, created on first use)."""
        with self._lock:
            if self._scorer is None:
                from ita.learn.scoring import SignalScorer

                self._scorer = SignalScorer(store=self.store)
            return self._scorer

    def score_signal(self, signal: dict, base: Baseline, *, window=None, same_day=None):
        """The signal's features and gated score (:class:`ita.live.score.LiveScore`): the trained model where its
        walk-forward gate lets it for the setup, else ``base`` (Laplace)."""
        from ita.live.score import gated_score

        return gated_score(self.scorer(), signal, self.setups[signal["setup_key"]], base, window=window,
                           same_day=same_day)

    def prepare_features(self, symbol: str, now, window=None) -> None:
        """After a run: build the higher-timeframe feature state of ``symbol``'s current hour (once per completed
        H1 bar), so the hour's later signals score without building it. Never raises."""
        self.scorer().prepare(symbol, now, window)
    def keep(self, symbol: str, timeframe: str, candles: pd.DataFrame) -> list[str]:
        """Append the bars of ``candles`` (closed, UTC) that come after the last stored bar to the candle store
        (:meth:`ita.data.store.CandleStore.append`: validated, deduplicated, atomic), so backtests and learning
        see live bars without a re-import. Returns messages for the run's errors (a bar the store holds at other
        prices is kept as stored and reported; invalid bars are not stored) — never raises for bad bars."""
        return self.store_bars(symbol, timeframe, candles)[1]

    def store_bars(self, symbol: str, timeframe: str, candles: pd.DataFrame) -> tuple[int, list[str]]:
        """:meth:`keep`, also returning how many bars were added."""
        if not self.keep_bars or candles is None or not len(candles):
            return 0, []
        from ita.data.store import CandleStore

        store = self.store or CandleStore()
        key = (symbol, timeframe)
        with self._lock:
            last = self._kept.get(key)
            if last is None:
                cov = store.coverage(symbol, timeframe)
                last = cov[1] if cov else None
            new = candles[candles.index > last] if last is not None else candles
            if not len(new):
                return 0, []
            try:
                n, bad = store.append(symbol, timeframe, new, source=f"live {getattr(self.feed, 'name', 'feed')} feed")
            except ItaError as exc:
                return 0, [f"{symbol} {timeframe}: live bars not stored: {exc}"]
            self._kept[key] = new.index[-1]
        if len(bad):
            return n, [f"{symbol} {timeframe}: {len(bad)} live bars differ from the stored ones (first "
                       f"{bad.index[0]:%Y-%m-%d %H:%M} UTC); the stored bars were kept."]
        return n, []

    def targets(self) -> list[str]:
        """Delivery channel names for one alert, in sending order: ``telegram:<chat id>`` per chat (the 30 s
        budget is Telegram's), ``outbox``, ``notion``."""
        out = []
        for kind in sorted(self.config.notify, key=("telegram", "outbox", "notion").index):
            if kind == "telegram" and self.config.telegram is not None:
                out += [f"telegram:{c}" for c in self.config.telegram.chat_ids]
            elif kind in self.channels:
                out.append(kind)
        return out
