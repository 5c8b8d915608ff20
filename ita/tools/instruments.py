"""Instrument tools: ``list_instruments`` (the registry: shipped entries with the user's
``$ITA_HOME/instruments.yaml`` merged over them) and ``show_instrument`` (one symbol's contract: pip, digits,
contract size, typical spread, sessions, aliases)."""
from __future__ import annotations

from pydantic import Field

from ita.format import DASH, fmt_num
from ita.tools.registry import SYMBOL_DESC, ToolArgs, tool
from ita.tools.results import Table, ToolResult

_COLUMNS = ["symbol", "class", "pip", "digits", "contract", "spread [pips]", "hours", "from"]


class ListInstrumentsArgs(ToolArgs):
    asset_class: str | None = Field(None, description="Only this class: fx, metal, index, crypto (default: all).",
                                    examples=["fx", "crypto"])


class ShowInstrumentArgs(ToolArgs):
    symbol: str = Field(description=SYMBOL_DESC + " Broker names work too: EURUSDm, EUR/USD, BTC/USDT.",
                        examples=["GBPJPY", "BTC/USDT"])


def _row(i) -> list:
    return [i.symbol, i.asset_class, fmt_num(i.pip_size, 8).rstrip("0").rstrip("."), i.digits,
            fmt_num(i.contract_size, 0), fmt_num(i.typical_spread_pips, 2), i.trading_hours or DASH,
            "yours" if i.source == "user" else "shipped"]


@tool(ListInstrumentsArgs)
def list_instruments(a: ListInstrumentsArgs) -> ToolResult:
    """The instrument registry: every symbol ITA knows with pip size, digits, contract size, typical spread."""
    from ita.data.instruments import ASSET_CLASSES, instruments, user_registry_path
    from ita.errors import ItaError, closest

    reg = instruments()
    cls = (a.asset_class or "").strip().lower() or None
    if cls is not None and cls not in ASSET_CLASSES:
        raise ItaError(f"Unknown asset class {a.asset_class!r}.{closest(cls, ASSET_CLASSES)} "
                       f"Classes: {', '.join(ASSET_CLASSES)}.")
    rows = [i for i in reg.values() if cls is None or i.asset_class == cls]
    rows.sort(key=lambda i: (ASSET_CLASSES.index(i.asset_class) if i.asset_class in ASSET_CLASSES else 99, i.symbol))
    user = user_registry_path()
    mine = sum(i.source == "user" for i in rows)
    summary = (f"{len(rows)} instruments" + (f" of class {cls}" if cls else "") +
               f" ({mine} from your {user})." if mine else
               f"{len(rows)} instruments" + (f" of class {cls}" if cls else "") + ".")
    return ToolResult(tool="list_instruments", summary=summary,
                      data={"instruments": [i.model_dump(exclude={"cash_session"}) for i in rows],
                            "user_registry": str(user)},
                      tables={"instruments": Table(columns=_COLUMNS, rows=[_row(i) for i in rows],
                                                   title="Instruments")})


@tool(ShowInstrumentArgs)
def show_instrument(a: ShowInstrumentArgs) -> ToolResult:
    """One instrument's contract: pip size, digits (one point), contract size, quote currency, typical spread,
    commission, trading hours and cash session, aliases, and where the entry comes from."""
    from ita.data.instruments import REGISTRY_PATH, get_instrument, user_registry_path

    i = get_instrument(a.symbol)
    cs = f"{i.cash_session.start}–{i.cash_session.end} {i.cash_session.timezone}" if i.cash_session else DASH
    rows = [["description", i.description or DASH], ["asset class", i.asset_class],
            ["pip size", fmt_num(i.pip_size, 8).rstrip("0").rstrip(".")], ["digits (1 point)", f"{i.digits} ({i.point:g})"],
            ["contract size", f"{fmt_num(i.contract_size, 0)} {i.base} per lot"], ["quote currency", i.quote],
            ["typical spread", f"{fmt_num(i.typical_spread_pips, 2)} pips"],
            ["commission", f"{fmt_num(i.commission_per_lot, 2)} per lot round turn"],
            ["trading hours", i.trading_hours or DASH], ["cash session", cs],
            ["aliases", ", ".join(i.aliases) or DASH],
            ["entry from", str(user_registry_path()) if i.source == "user" else str(REGISTRY_PATH)]]
    summary = (f"{i.symbol} ({i.asset_class}): pip {i.pip_size:g}, {i.digits} digits, contract {i.contract_size:g}, "
               f"typical spread {i.typical_spread_pips:g} pips; {i.trading_hours or 'hours not given'}.")
    return ToolResult(tool="show_instrument", summary=summary, data=i.model_dump(),
                      tables={"instrument": Table(columns=["field", "value"], rows=rows, title=i.symbol)},
                      context={"symbol": i.symbol})
