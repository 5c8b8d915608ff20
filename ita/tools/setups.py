"""Setup tools: ``list_setups``, ``show_setup`` (rules in words, steps as a table, the YAML hash) and
``validate_setup`` (every version of an id, or a YAML path; errors at file:line and field).
"""
from __future__ import annotations

import logging
from pathlib import Path

from pydantic import Field

from ita.errors import ItaError
from ita.format import DASH
from ita.tools.registry import SETUP_DESC, VERSION_DESC, ToolArgs, one_line, tool
from ita.tools.results import Table, ToolResult

log = logging.getLogger(__name__)


class ListSetupsArgs(ToolArgs):
    """No arguments: every setup with its versions, name, timeframe and content hash."""


class ShowSetupArgs(ToolArgs):
    setup_id: str = Field(description=SETUP_DESC, examples=["asia_fvg_break"])
    version: int | None = Field(None, description=VERSION_DESC, examples=[1])


class ValidateSetupArgs(ToolArgs):
    setup_id: str = Field(description="A setup id (validates all its versions) or the path of a setup YAML file.",
                          examples=["asia_fvg_break", "setups/asia_fvg_break/v1.yaml"])


def _step_row(k: int, st) -> list:
    what = getattr(st, "range", None) or getattr(st, "of", None) or getattr(st, "detector", None) or ""
    when = []
    win = getattr(st, "window", None)
    if win is not None:
        when.append(f"{win.start}–{win.end}" + (f" {win.timezone}" if getattr(win, "timezone", None) else ""))
    if getattr(st, "session", None):
        when.append(st.session)
    if getattr(st, "within_bars", None):
        when.append(f"within {st.within_bars} bars")
    if getattr(st, "until", None):
        when.append(f"before {st.until}")
    extra = []
    for attr in ("kind", "side", "by"):
        v = getattr(st, attr, None)
        if v not in (None, "any") and attr in type(st).model_fields:
            extra.append(f"{attr} {v}")
    direction = getattr(st, "direction", "") or ""
    return [k + 1, st.step, what + (f" ({', '.join(extra)})" if extra else ""), "; ".join(when) or DASH, direction or DASH]


def _rule_summary(s) -> dict:
    e, st, tg, o, m = s.entry, s.stop, s.target, s.order, s.management
    entry = f"{e.type} at {e.at}" + (f" + {e.buffer_pips:g} pip" if e.type == "stop" and e.buffer_pips else "")
    if st.type == "atr":
        stop = f"{st.multiple:g} × ATR ({st.atr})"
    else:
        stop = f"{st.type.replace('_', ' ')} + {st.buffer_pips:g} pip" + (f" ({st.swings})" if st.swings else "")
    if tg.type == "rr":
        target = f"{tg.rr:g}R"
    elif tg.type == "liquidity":
        target = f"nearest of {', '.join(tg.levels)} (min {tg.min_rr:g}R)"
    else:
        target = f"far side of {tg.range} (min {tg.min_rr:g}R)"
    order = f"valid until {o.valid_until}" + (f" or {o.valid_bars} bars" if o.valid_bars else "")
    mgmt = f"flat at {m.flat_at}, max {m.max_trades_per_day}/day" + (f", time stop {m.max_bars} bars" if m.max_bars else "")
    return {"entry": entry, "stop": stop, "target": target, "order": order, "management": mgmt}


@tool(ListSetupsArgs)
def list_setups(a: ListSetupsArgs) -> ToolResult:
    """List the setups (trading rules as versioned YAML) with their versions, timeframe, name, content hash and each
    version's status (candidate, paper, active)."""
    from ita.setups.loader import list_setups as _list
    from ita.setups.loader import load_setup, setups_dir

    from ita.promotion.status import promoted_versions, status_of

    known = _list()
    promoted = promoted_versions()
    items, rows = [], []
    for sid, versions in known.items():
        vs = ", ".join(f"v{v}" for v in versions)
        status = {}
        for v in versions:
            try:
                status[v] = status_of(promoted, sid, v, load_setup(sid, v).content_hash)[0]
            except ItaError:
                status[v] = "invalid"
        shown = ", ".join(f"v{v} {x}" for v, x in status.items() if x in ("paper", "active")) or "candidate"
        try:
            s = load_setup(sid)
        except ItaError as exc:
            err = one_line(str(exc))
            items.append({"setup_id": sid, "versions": versions, "error": err, "status": status})
            rows.append([sid, vs, DASH, f"invalid: {err[:80]}", DASH, shown])
            continue
        items.append({"setup_id": sid, "versions": versions, "latest": s.version, "name": s.setup.name,
                      "timeframe": s.setup.timeframe, "hash": s.content_hash[:8], "status": status})
        rows.append([sid, vs, s.setup.timeframe, s.setup.name, s.content_hash[:8], shown])
    summary = (f"{len(known)} setups: {', '.join(known)}." if known else f"No setups in {setups_dir()}.")
    return ToolResult(tool="list_setups", summary=summary, data={"setups": items, "dir": str(setups_dir())},
                      tables={"setups": Table(columns=["setup", "versions", "timeframe", "name", "hash", "status"], rows=rows,
                                              title="Setups")})


@tool(ShowSetupArgs)
def show_setup(a: ShowSetupArgs) -> ToolResult:
    """Show one setup: its rule step by step (sequence, entry, stop, target, management), version, hash and YAML."""
    from ita.setups.loader import list_setups as _list
    from ita.setups.loader import load_setup

    s = load_setup(a.setup_id, a.version)
    setup = s.setup
    rows = [_step_row(k, st) for k, st in enumerate(setup.sequence)]
    rule = _rule_summary(setup)
    text = s.path.read_text(encoding="utf-8")
    data = {
        "setup_id": s.id, "version": s.version, "versions": _list().get(s.id, [s.version]),
        "setup_hash": s.content_hash, "name": setup.name, "description": setup.description.strip(),
        "timeframe": setup.timeframe, "timezone": setup.timezone, "days": list(setup.days),
        "symbols": list(setup.symbols), "detectors": {k: d.kind for k, d in setup.detectors.items()},
        **rule, "path": str(s.path), "yaml": text,
    }
    summary = (f"{s.id} v{s.version} ({s.content_hash[:8]}): {setup.name}; {len(setup.sequence)} steps "
               f"({' → '.join(st.step for st in setup.sequence)}), entry {rule['entry']}, stop {rule['stop']}, "
               f"target {rule['target']}.")
    return ToolResult(tool="show_setup", summary=summary, data=data,
                      tables={"sequence": Table(columns=["#", "step", "what", "when", "direction"], rows=rows,
                                                title="Sequence")},
                      context={"setup_id": s.id, "version": s.version})


def _setup_errors(msg: str) -> list[str]:
    lines = [ln.strip() for ln in str(msg).splitlines() if ln.strip()]
    if lines and lines[0].rstrip(":").lower() in ("invalid setup", "invalid --param override"):
        lines = lines[1:]
    return lines or [str(msg)]


@tool(ValidateSetupArgs)
def validate_setup(a: ValidateSetupArgs) -> ToolResult:
    """Validate a setup: an id checks all its versions, a path checks that YAML file; errors name file:line and field."""
    from ita.errors import SetupError
    from ita.setups.loader import list_setups as _list
    from ita.setups.loader import load_setup, parse_setup_text, setups_dir

    target = a.setup_id
    files: list[dict] = []
    p = Path(target).expanduser()
    if not p.is_file() and (setups_dir() / target).is_file():
        p = setups_dir() / target
    if p.is_file() and p.suffix.lower() not in (".yaml", ".yml"):
        raise SetupError(f"{target} is not a setup file; setups are YAML files (.yaml).")
    if p.is_file():
        try:
            s = parse_setup_text(p.read_text(encoding="utf-8"), p)
            files.append({"path": str(p), "setup": f"{s.id} v{s.version}", "ok": True, "errors": []})
        except SetupError as exc:
            files.append({"path": str(p), "setup": DASH, "ok": False, "errors": _setup_errors(str(exc))})
        setup_id = None
    elif target.endswith((".yaml", ".yml")) or "/" in target or "\\" in target:
        raise SetupError(f"{target}: no such file.")
    else:
        versions = _list().get(target)
        if not versions:
            load_setup(target)  # raises with suggestions
        for v in versions:
            try:
                s = load_setup(target, v)
                files.append({"path": str(s.path), "setup": f"{s.id} v{s.version}", "hash": s.content_hash[:8],
                              "ok": True, "errors": []})
            except SetupError as exc:
                files.append({"path": str(setups_dir() / target / f"v{v}.yaml"), "setup": f"{target} v{v}",
                              "ok": False, "errors": _setup_errors(str(exc))})
        setup_id = target
    valid = all(f["ok"] for f in files)
    bad = [f for f in files if not f["ok"]]
    rows = [[Path(f["path"]).name if setup_id else f["path"], f["setup"], "OK" if f["ok"] else f["errors"][0]]
            for f in files]
    if valid:
        summary = f"{target}: {len(files)} file{'s' if len(files) != 1 else ''} valid."
    else:
        summary = f"{target}: {len(bad)} of {len(files)} invalid; first problem: {bad[0]['errors'][0]}"
    return ToolResult(tool="validate_setup", summary=summary,
                      data={"target": target, "valid": valid, "files": files},
                      tables={"validation": Table(columns=["file", "setup", "result"], rows=rows, title="Validation")},
                      context={"setup_id": setup_id} if setup_id else {})
