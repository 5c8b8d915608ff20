"""Instrument registry: pip size, digits, contract size, typical spread per symbol.

The registry is data (``ita/data/instruments.yaml``); add a symbol there, not in code.

Example::

    >>> from ita.data.instruments import get_instrument
    >>> eu = get_instrument("eurusd")
    >>> eu.pip_size, eu.point, eu.to_pips(0.00123)
    (0.0001, 1e-05, 12.3)
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ita.config import load_yaml
from ita.errors import UnknownSymbolError, closest

REGISTRY_PATH = Path(__file__).with_name("instruments.yaml")


class CashSession(BaseModel):
    timezone: str
    start: str
    end: str


class Instrument(BaseModel):
    """One tradable symbol. Prices are in quote-currency units; pips per ``pip_size``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    description: str = ""
    asset_class: str
    pip_size: float = Field(gt=0)
    digits: int = Field(ge=0, le=8)
    contract_size: float = Field(gt=0)
    base: str
    quote: str
    quote_usd: float | None = None
    typical_spread_pips: float = Field(ge=0)
    commission_per_lot: float = Field(ge=0, default=0.0)
    trading_hours: str = ""
    cash_session: CashSession | None = None

    @property
    def point(self) -> float:
        """One MT5 point in price units (``10**-digits``); the unit of MT5's ``spread`` column."""
        return round(10.0 ** -self.digits, self.digits)

    def to_pips(self, price_distance: float) -> float:
        """Price distance → pips, rounded to 1e-6 pip to remove float noise."""
        return round(price_distance / self.pip_size, 6)

    def quote_to_account(self, price: float, account_currency: str = "USD") -> float:
        """Value in ``account_currency`` of one unit of the quote currency (1.0 when they match).

        USD/JPY-style pairs convert through the price itself; other crosses use ``quote_usd``.
        Raises :class:`ValueError` when no conversion is known.
        """
        if self.quote == account_currency:
            return 1.0
        if self.base == account_currency:
            return 1.0 / price
        if account_currency == "USD" and self.quote_usd:
            return self.quote_usd
        raise ValueError(f"no conversion from {self.quote} to {account_currency} for {self.symbol}")


@lru_cache(maxsize=4)
def _registry(path: str) -> dict[str, Instrument]:
    raw = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    return {sym.upper(): Instrument(symbol=sym.upper(), **spec) for sym, spec in raw.items()}


def instruments() -> dict[str, Instrument]:
    """All registered instruments by upper-case symbol."""
    return dict(_registry(str(REGISTRY_PATH)))


def get_instrument(symbol: str) -> Instrument:
    """Look up ``symbol`` (case-insensitive). Raises :class:`UnknownSymbolError` naming close matches."""
    reg = _registry(str(REGISTRY_PATH))
    key = str(symbol).upper().strip()
    if key not in reg:
        raise UnknownSymbolError(
            f"Unknown symbol {symbol!r}.{closest(key, reg)} Known symbols: {', '.join(sorted(reg))}. "
            f"Add new instruments to {REGISTRY_PATH}."
        )
    return reg[key]
