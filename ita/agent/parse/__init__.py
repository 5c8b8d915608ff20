"""The deterministic request parser of the chat agent: what the trader typed → which tool, with which arguments.

Works without any language model (the default). English and Russian, lower case, typos, missing parts and
follow-ups ("same on XAUUSD", "а на золоте?", "теперь с rr 3"). Regular expressions + the vocabulary in
:file:`vocabulary.yaml` (words, synonyms, patterns, help texts — data, not code) + :mod:`difflib`. No ML.

Two steps::

    >>> p = parse("backtest asia_fvg_brake on eurusd for 2025", known_setups=["asia_fvg_break"],
    ...           known_symbols=["EURUSD", "XAUUSD"])
    >>> p.intent, p.args
    ('backtest', {'setup_id': 'asia_fvg_break', 'symbol': 'EURUSD', 'start': '2025-01-01', 'end': '2025-12-31'})
    >>> r = resolve(p, context={})
    >>> r.action, r.tool, r.args["params"], r.args["session"]
    ('tool', 'run_backtest', {}, None)
    >>> resolve(parse("same on gold", ["asia_fvg_break"], ["EURUSD", "XAUUSD"]),
    ...         {"last_tool": "run_backtest", "last_args": r.args}).args["symbol"]
    'XAUUSD'

* :func:`parse` reads only the text: ``ParsedRequest.args`` holds only what the text said, under the tools'
  argument names; ``follow_up`` is true when the text only modifies the previous request.
* :func:`resolve` completes the arguments from the conversation context (``setup_id``, ``symbol``,
  ``version``, ``start``, ``end``, ``params``, ``session``, ``run_id``, ``last_tool``, ``last_args``) and
  the defaults, or asks ONE question naming what is missing, in the trader's language.

Neither raises: anything not understood is ``action="unknown"`` with examples. Text that looks like a
prompt injection is just text — orders ("buy", "close the position") and destructive words ("delete",
"drop") never become a tool call.

Rules worth knowing
-------------------
* A month (or day, quarter) without a year takes the context's year (the year of ``context["start"]``),
  else :data:`DEFAULT_YEAR` (the sample data's year). Relative periods ("last month", "this year") depend
  on the data and are left out.
* A fresh request that names its setup starts clean (latest version, no session filter, no parameter
  overrides); one that does not name it continues the context's setup with its version, session and
  parameters. ``start``/``end`` carry over from the context unless the text gives a period.
* A follow-up repeats ``context["last_tool"]`` with ``last_args`` updated (``params`` merged); when the last
  tool does not take what the follow-up changes (e.g. "only London killzone" after "show trade 12") it
  becomes a backtest of the context's setup (or a detector run when it names a detector).
* "NY AM" is read as the New York killzone (07:00–10:00 New York); "silver bullet AM" as ``silver_bullet_am``.
* Research requests carry what the research tools take: ``grid`` ``{"rr": "1.5,2,3" | "1:4:0.5" | None}`` (keys are
  setup leaves the sweep resolves: ``rr`` = the setup's R:R), ``objective``, ``search``, ``trials``, ``train`` /
  ``test`` ("3M", "2W"), ``anchored``, ``method``, ``n``, ``rules``, ``risk`` (percent per trade). A follow-up
  that only changes those ("now by profit factor", "and at 0.5%?") repeats the research run, or starts the
  matching one after a backtest; "rr 2,5" outside research is one value (a Russian decimal comma).

Modules: :mod:`~ita.agent.parse.schema` (intents, tool arguments, result models), :mod:`~ita.agent.parse.vocab`
(the vocabulary as data), :mod:`~ita.agent.parse.text`, :mod:`~ita.agent.parse.periods` (dates),
:mod:`~ita.agent.parse.entities` (setups, symbols, sessions, detectors, parameters …),
:mod:`~ita.agent.parse.research` (grid values, objective, search, trials, windows, Monte Carlo, challenge risks),
:mod:`~ita.agent.parse.intents` (:func:`parse`) and :mod:`~ita.agent.parse.resolve` (:func:`resolve`).
"""
from ita.agent.parse.intents import parse
from ita.agent.parse.resolve import resolve
from ita.agent.parse.schema import (
                                    DEFAULT_RUNS_LIMIT,
                                    DEFAULT_TIMEFRAME,
                                    DEFAULT_YEAR,
                                    DETECTORS,
                                    INTENT_TOOL,
                                    REQUIRED_ARGS,
                                    SESSIONS,
                                    TOOL_ARGS,
                                    ParsedRequest,
                                    Resolution,
)
from ita.agent.parse.vocab import vocabulary

__all__ = ["DEFAULT_YEAR", "DEFAULT_TIMEFRAME", "DEFAULT_RUNS_LIMIT", "INTENT_TOOL", "TOOL_ARGS", "REQUIRED_ARGS",
           "DETECTORS", "SESSIONS", "ParsedRequest", "Resolution", "parse", "resolve", "vocabulary"]
