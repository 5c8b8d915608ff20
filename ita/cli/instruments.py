"""``ita instruments …``: the instrument registry — list, show one, add your own (``$ITA_HOME/instruments.yaml``,
merged over the shipped registry; no editing of the installed package)."""
from __future__ import annotations

from typing import List, Optional

import typer

from ita.cli.common import console, fail, print_tool_table

instruments_app = typer.Typer(
    help="Instruments: pip size, digits, contract size, typical spread. Your own go into "
         "$ITA_HOME/instruments.yaml (`ita instruments add`).", no_args_is_help=True)


@instruments_app.command("list")
def instruments_list(asset_class: Optional[str] = typer.Option(None, "--class", help="Only fx, metal, index or crypto.")):
    """Every instrument ITA knows: the shipped registry with yours merged over it.

    \b
    Examples:
      ita instruments list
      ita instruments list --class crypto
    """
    from ita.tools import list_instruments

    r = list_instruments(asset_class=asset_class)
    if not r.ok:
        fail(r.error)
    print_tool_table(r.tables["instruments"])
    console.print(f"{r.summary} Add yours with `ita instruments add SYMBOL --pip … --digits … --spread … "
                  f"--contract … --sessions …` (written to {r.data['user_registry']}).", highlight=False)


@instruments_app.command("show")
def instruments_show(symbol: str = typer.Argument(..., help="Symbol; broker names work too (EURUSDm, EUR/USD, BTC/USDT).")):
    """One instrument's contract: pip, digits, contract size, spread, sessions, aliases, where it is defined.

    \b
    Examples:
      ita instruments show GBPJPY
      ita instruments show EURUSD.r        # a broker suffix maps to EURUSD
    """
    from ita.tools import show_instrument

    r = show_instrument(symbol=symbol)
    if not r.ok:
        fail(r.error)
    print_tool_table(r.tables["instrument"], show_header=False)


@instruments_app.command("add")
def instruments_add(
    symbol: str = typer.Argument(..., help="The symbol, e.g. AVAXUSDT or GBPNZD (separators are dropped: AVAX/USDT → AVAXUSDT)."),
    pip: float = typer.Option(..., "--pip", help="Price units per pip: EURUSD 0.0001, USDJPY 0.01, XAUUSD 0.1, indices 1."),
    digits: int = typer.Option(..., "--digits", help="Decimals of a quoted price (one MT5 point = 10^-digits)."),
    spread: float = typer.Option(..., "--spread", help="Typical spread in pips (the backtest's default cost)."),
    contract: float = typer.Option(..., "--contract", help="Units of the base per 1.0 lot: FX 100000, gold 100, indices and crypto 1."),
    sessions: str = typer.Option("", "--sessions", help="Trading hours: 24x5 (FX), 23x5, 24x7 (crypto: no weekly close), or free text."),
    asset_class: Optional[str] = typer.Option(None, "--class", help="fx, metal, index, crypto, commodity, stock (default: guessed from the symbol)."),
    base: Optional[str] = typer.Option(None, "--base", help="Base currency/asset (default: guessed)."),
    quote: Optional[str] = typer.Option(None, "--quote", help="Quote currency: P&L accrues in it (default: guessed)."),
    quote_usd: Optional[float] = typer.Option(None, "--quote-usd", help="USD value of one quote unit, for quotes other than USD (e.g. JPY 0.0067)."),
    commission: float = typer.Option(0.0, "--commission", help="Round-turn commission per lot, account currency."),
    description: str = typer.Option("", "--description", help="Free text."),
    alias: Optional[List[str]] = typer.Option(None, "--alias", help="Another name for it (repeatable), e.g. --alias AVAX."),
):
    """Add (or change) an instrument in your registry, $ITA_HOME/instruments.yaml.

    The entry is merged over the shipped registry (same symbol: your fields win). The file is rewritten
    atomically; other entries are kept.

    \b
    Examples:
      ita instruments add AVAXUSDT --pip 0.01 --digits 2 --spread 1 --contract 1 --sessions 24x7
      ita instruments add GBPNZD --pip 0.0001 --digits 5 --spread 3 --contract 100000 --sessions 24x5 --quote-usd 0.59
      ita instruments add EURUSD --pip 0.0001 --digits 5 --spread 0.2 --contract 100000   # your broker's spread
    """
    from ita.data.instruments import add_instrument, user_registry_path
    from ita.errors import ItaError

    try:
        inst = add_instrument(symbol, pip_size=pip, digits=digits, typical_spread_pips=spread, contract_size=contract,
                              trading_hours=sessions, asset_class=asset_class, base=base, quote=quote,
                              description=description, commission_per_lot=commission, aliases=alias or (),
                              quote_usd=quote_usd)
    except ItaError as exc:
        fail(exc)
    console.print(f"[green]Added[/] {inst.symbol} ({inst.asset_class}, pip {inst.pip_size:g}, {inst.digits} digits, "
                  f"contract {inst.contract_size:g}, spread {inst.typical_spread_pips:g} pips, "
                  f"{inst.trading_hours}) → {user_registry_path()}", highlight=False)
    console.print(f"Import its candles with `ita data import FILE --symbol {inst.symbol}`.", highlight=False)
