"""Promotion tool: ``promote_setup`` — move a setup version candidate → paper → active through the gates of
``setups/gates.yaml`` (PF in- and out-of-sample, max drawdown and correlation against the active portfolio,
trades after costs, deflated Sharpe, PBO); every gate's value, threshold and result stored with the version."""
from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field, field_validator

from ita.format import DASH
from ita.tools.registry import SETUP_DESC, ToolArgs, jsonable, tool
from ita.tools.results import Table, ToolResult

log = logging.getLogger(__name__)

RESULT_MARK = {"pass": "✓ pass", "fail": "✗ fail", "not measured": "✗ not measured", "n/a": "– n/a"}


class PromoteSetupArgs(ToolArgs):
    setup_id: str = Field(description=SETUP_DESC, examples=["fvg_reversal"])
    version: int = Field(description="The version to promote, N of vN.yaml, e.g. 2.", examples=[2])
    to: Literal["candidate", "paper", "active"] | None = Field(
        None, description="The status to move to (default: the next one: candidate → paper → active; "
                          "candidate takes it back).", examples=["paper"])
    dry_run: bool = Field(False, description="Measure the gates and say what would happen; store nothing.")
    symbols: list[str] | None = Field(None, description="Measure the gates on these instruments (default: the "
                                                        "gates file's, else the setup's own symbols with data).")

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, v):
        return v.strip().lower() if isinstance(v, str) and v.strip() else None

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, v):
        from ita.data.instruments import get_instrument
        from ita.errors import ItaError

        if v is None or v == []:
            return None
        items = [x.strip() for x in (v.split(",") if isinstance(v, str) else v) if str(x).strip()]
        try:
            return list(dict.fromkeys(get_instrument(s).symbol for s in items))
        except ItaError as exc:
            raise ValueError(str(exc)) from None


def gates_table(gates, title: str) -> Table:
    """The gate results (:class:`ita.promotion.GateResult` or their dicts) as a table a trader reads."""
    from ita.promotion.gates import GateResult, fmt_value

    rows = []
    for g in gates:
        g = g if isinstance(g, GateResult) else GateResult(**g)
        margin = DASH if g.margin is None else ("+" if g.margin >= 0 else "−") + fmt_value(abs(g.margin), g.unit)
        rows.append([g.name, fmt_value(g.value, g.unit), f"{g.op} {fmt_value(g.threshold, g.unit)}",
                     RESULT_MARK.get(g.result, g.result), margin, g.hint or g.detail])
    return Table(columns=["gate", "value", "threshold", "result", "margin", "how measured / what to run"], rows=rows,
                 title=title)


@tool(PromoteSetupArgs)
def promote_setup(a: PromoteSetupArgs) -> ToolResult:
    """Promote a setup version candidate → paper → active through the promotion gates (PF in/out of sample, max
    drawdown and correlation vs the active portfolio, trades after costs, deflated Sharpe, PBO): each gate's
    value, threshold and pass/fail, stored with the version; a version failing a gate cannot become active."""
    from ita.promotion import promote

    p = promote(a.setup_id, a.version, a.to, dry_run=a.dry_run, symbols=a.symbols)
    tables = {}
    data = {"setup_id": p.setup_id, "version": p.version, "setup_hash": p.setup_hash, "from_status": p.from_status,
            "requested": p.requested, "accepted": p.accepted, "status": p.status, "dry_run": not p.stored,
            "superseded": p.superseded, "note": p.note, "message": p.message, "headline": p.headline}
    if p.report is not None:
        ev = p.report.evaluation
        data.update(gates=jsonable(p.report.as_rows()), evaluation=jsonable(ev), passed=p.report.passed,
                    failed=[g.name for g in p.report.failed], enforce_for=p.report.enforce_for)
        tables["gates"] = gates_table(p.report.gates, f"Gates of {p.setup_id} v{p.version} on "
                                      f"{', '.join(ev['symbols'])}, {ev['period'][0]} → {ev['period'][1]}"
                                      + (f" (portfolio: {', '.join(ev['portfolio'])})" if ev.get("portfolio") else ""))
    summary = p.message + (f" ({p.note})" if p.note else "")
    return ToolResult(tool="promote_setup", summary=summary, data=data, tables=tables,
                      context={"setup_id": p.setup_id, "version": p.version})
