"""Reports (a face: they format tool results): the Notion backtest report with its verification
(:mod:`.backtest`), weekly / monthly reports of the live signals (:mod:`.period`) on schedule, each once
(:mod:`.schedule`), Notion pages (:mod:`.notion`), and setups edited in a Notion table (:mod:`.setups_sync`:
``ita setups sync notion``)."""
