"""Instrument registry: pip size, digits, contract size, typical spread per symbol.

The registry is data: the shipped ``ita/data/instruments.yaml`` with the user's own
``$ITA_HOME/instruments.yaml`` merged over it (an entry there replaces the shipped entry of the same symbol
field by field, or adds a symbol). ``ita instruments add SYMBOL …`` writes the user file
(:func:`add_instrument`); nobody needs to edit the installed package.

Symbols are found case-insensitively and through what brokers and exchanges call them: separators
(``EUR/USD``, ``BTC/USDT``, ``BTC-USDT``), broker suffixes (``EURUSDm``, ``EURUSD.r``, ``EURUSD-ECN``,
``EURUSD+``, ``EURUSD#``) and each entry's ``aliases`` (``SPX500`` → ``US500``, ``GOLD`` → ``XAUUSD``).

Example::

    >>> from ita.data.instruments import get_instrument
    >>> eu = get_instrument("eurusd")
    >>> eu.pip_size, eu.point, eu.to_pips(0.00123)
    (0.0001, 1e-05, 12.3)
    >>> get_instrument("EURUSD.r").symbol, get_instrument("BTC/USDT").symbol
    ('EURUSD', 'BTCUSDT')
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ita.config import load_yaml
from ita.errors import ItaError, UnknownSymbolError, closest, write_text_atomic

REGISTRY_PATH = Path(__file__).with_name("instruments.yaml")
ASSET_CLASSES = ("fx", "metal", "index", "crypto", "commodity", "stock")
_FIAT = {"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "SGD", "HKD", "ZAR", "MXN",
         "TRY", "PLN", "CZK", "HUF", "CNH"}
_STABLE = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI")


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
    aliases: tuple[str, ...] = ()
    source: str = "shipped"          # "shipped" | "user" (the user's file added or changed the entry)

    @property
    def point(self) -> float:
        """One MT5 point in price units (``10**-digits``); the unit of MT5's ``spread`` column."""
        return round(10.0 ** -self.digits, self.digits)

    @property
    def trades_weekends(self) -> bool:
        """True for markets open 7 days a week (crypto): no weekly close to check a file's clock against."""
        return self.asset_class == "crypto" or "24x7" in self.trading_hours.replace(" ", "").lower()

    def to_pips(self, price_distance: float) -> float:
        """Price distance → pips, rounded to 1e-6 pip to remove float noise."""
        return round(price_distance / self.pip_size, 6)

    def quote_to_account(self, price: float, account_currency: str = "USD") -> float:
        """Value in ``account_currency`` of one unit of the quote currency (1.0 when they match).

        USD/JPY-style pairs convert through the price itself; other crosses use ``quote_usd``; a stablecoin
        quote (USDT, USDC) counts as USD. Raises :class:`ValueError` when no conversion is known.
        """
        quote = "USD" if self.quote in _STABLE else self.quote
        base = "USD" if self.base in _STABLE else self.base
        if quote == account_currency:
            return 1.0
        if base == account_currency:
            return 1.0 / price
        if account_currency == "USD" and self.quote_usd:
            return self.quote_usd
        raise ValueError(f"no conversion from {self.quote} to {account_currency} for {self.symbol}")


def user_registry_path() -> Path:
    """``$ITA_HOME/instruments.yaml``: the user's instruments, merged over the shipped ones."""
    from ita.config import settings

    return settings().home / "instruments.yaml"


def _read_yaml(path: Path) -> dict:
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ItaError(f"{path}: not valid YAML ({exc}). Fix or remove the file.") from None
    if not isinstance(raw, dict):
        raise ItaError(f"{path}: expected a mapping SYMBOL: {{pip_size: …, digits: …}}, got {type(raw).__name__}.")
    return raw


@lru_cache(maxsize=8)
def _registry(path: str, user: str | None, _stamp) -> tuple[dict[str, Instrument], dict[str, str]]:
    """(instruments by upper-case symbol, alias → symbol) of the shipped file with the user's merged over it.
    ``_stamp`` (the user file's mtime and size) makes an edited user file be read again."""
    shipped = _read_yaml(Path(path))
    merged: dict[str, tuple[dict, str]] = {str(k).upper(): (dict(v or {}), "shipped") for k, v in shipped.items()}
    if user and Path(user).is_file():
        for sym, spec in _read_yaml(Path(user)).items():
            key = str(sym).upper()
            if not isinstance(spec, dict):
                raise ItaError(f"{user}: entry {sym!r} must be a mapping of fields (pip_size, digits, …).")
            old = merged.get(key, ({}, ""))[0]
            merged[key] = ({**old, **spec}, "user")
    reg: dict[str, Instrument] = {}
    for key, (spec, src) in merged.items():
        try:
            reg[key] = Instrument(symbol=key, source=src, **{k: v for k, v in spec.items() if k != "symbol"})
        except (ValidationError, TypeError) as exc:
            where = user if src == "user" else path
            raise ItaError(f"{where}: instrument {key}: {_first_error(exc)}.") from None
    aliases: dict[str, str] = {}
    for key, inst in reg.items():
        for a in inst.aliases:
            aliases[_squash(a)] = key
    return reg, aliases


def _first_error(exc) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        return f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}"
    return str(exc)


def _load() -> tuple[dict[str, Instrument], dict[str, str]]:
    user = user_registry_path()
    try:
        st = user.stat()
        stamp = (st.st_mtime_ns, st.st_size)
    except OSError:
        stamp = None
    return _registry(str(REGISTRY_PATH), str(user), stamp)


def instruments() -> dict[str, Instrument]:
    """All registered instruments (shipped + the user's) by upper-case symbol."""
    return dict(_load()[0])


def _squash(text: str) -> str:
    """Upper case without separators: ``eur/usd`` → ``EURUSD``, ``BTC-USDT`` → ``BTCUSDT``."""
    return re.sub(r"[\s/\\_\-:]+", "", str(text)).upper()


def _candidates(text: str) -> list[str]:
    """Keys to try for a symbol as a broker or exchange writes it, most literal first."""
    raw = str(text).strip()
    out = [raw.upper(), _squash(raw)]
    if ":" in raw:                                      # CCXT perpetuals: BTC/USDT:USDT
        out.append(_squash(raw.split(":", 1)[0]))
    m = re.match(r"^([A-Za-z0-9/\-_]+?)[.+#!~$](?:[A-Za-z0-9]*)$", raw)  # EURUSD.r  EURUSD+  EURUSD#  US500.cash
    if m:
        out.append(_squash(m.group(1)))
    m = re.match(r"^([A-Z0-9/]{5,})[-_]([A-Za-z]{1,5})$", raw)          # EURUSD-ECN  EURUSD_i
    if m:
        out.append(_squash(m.group(1)))
    m = re.match(r"^([A-Z0-9]{5,})([a-z]{1,4})$", raw)                   # EURUSDm  EURUSDpro  XAUUSDc
    if m:
        out.append(m.group(1))
    return list(dict.fromkeys(out))


def find_instrument(symbol: str) -> Instrument | None:
    """The instrument a symbol names (see the module doc for aliases and suffixes), or None."""
    reg, aliases = _load()
    for key in _candidates(symbol):
        if key in reg:
            return reg[key]
        if key in aliases:
            return reg[aliases[key]]
    return None


def get_instrument(symbol: str) -> Instrument:
    """Look up ``symbol`` (case-insensitive; aliases and broker suffixes map to the base symbol).

    Raises :class:`UnknownSymbolError` naming close matches and the exact ``ita instruments add`` command
    that registers the symbol (with values guessed from its name — check them)."""
    inst = find_instrument(symbol)
    if inst is not None:
        return inst
    reg, aliases = _load()
    key = _squash(symbol) or str(symbol)
    raise UnknownSymbolError(
        f"Unknown symbol {symbol!r}.{closest(key, reg)} {len(reg)} symbols are known (`ita instruments list`). "
        f"To add it, run `{add_command(key)}` (check the values against your broker's contract specification)."
    )


def guess_spec(symbol: str) -> dict:
    """Plausible registry fields for an unknown ``symbol`` from its name alone: FX pairs of two currency codes
    (JPY quotes: pip 0.01), crypto against a stablecoin or USD, else an index/CFD. Used only to suggest the
    ``ita instruments add`` command; never registered silently."""
    s = _squash(symbol)
    for q in _STABLE + ("USD",):
        base = s[: -len(q)]
        if s.endswith(q) and base and (q in _STABLE or base not in _FIAT and base not in ("XAU", "XAG")):
            return {"asset_class": "crypto", "pip_size": 0.01, "digits": 2, "contract_size": 1.0, "base": base,
                    "quote": q, "typical_spread_pips": 1.0, "trading_hours": "24x7"}
    if len(s) == 6 and s[:3] in _FIAT | {"XAU", "XAG"} and s[3:] in _FIAT:
        if s[:3] in ("XAU", "XAG"):
            return {"asset_class": "metal", "pip_size": 0.1 if s[:3] == "XAU" else 0.01,
                    "digits": 2 if s[:3] == "XAU" else 3, "contract_size": 100.0 if s[:3] == "XAU" else 5000.0,
                    "base": s[:3], "quote": s[3:], "typical_spread_pips": 3.0, "trading_hours": "23x5"}
        jpy = s[3:] == "JPY"
        return {"asset_class": "fx", "pip_size": 0.01 if jpy else 0.0001, "digits": 3 if jpy else 5,
                "contract_size": 100000.0, "base": s[:3], "quote": s[3:], "typical_spread_pips": 1.5,
                "trading_hours": "24x5"}
    return {"asset_class": "index", "pip_size": 1.0, "digits": 2, "contract_size": 1.0, "base": s, "quote": "USD",
            "typical_spread_pips": 2.0, "trading_hours": "23x5"}


def add_command(symbol: str) -> str:
    """The ``ita instruments add`` command line for ``symbol`` with :func:`guess_spec`'s values."""
    g = guess_spec(symbol)
    return (f"ita instruments add {_squash(symbol)} --pip {g['pip_size']:g} --digits {g['digits']} "
            f"--spread {g['typical_spread_pips']:g} --contract {g['contract_size']:g} --sessions {g['trading_hours']} "
            f"--class {g['asset_class']} --quote {g['quote']}")


def add_instrument(symbol: str, *, pip_size: float, digits: int, typical_spread_pips: float, contract_size: float,
                   trading_hours: str = "", asset_class: str | None = None, base: str | None = None,
                   quote: str | None = None, description: str = "", commission_per_lot: float = 0.0,
                   aliases: list[str] | tuple[str, ...] = (), quote_usd: float | None = None) -> Instrument:
    """Add (or change) ``symbol`` in the user's registry ``$ITA_HOME/instruments.yaml`` and return it.

    Missing ``asset_class``/``base``/``quote`` are taken from :func:`guess_spec`. The file is rewritten
    atomically (temporary file + rename); other entries are kept. Raises :class:`ItaError` for invalid values
    (naming the field) before anything is written.
    """
    key = _squash(symbol)
    if not re.fullmatch(r"[A-Z0-9.]{2,20}", key):
        raise ItaError(f"{symbol!r} is not a symbol: use letters and digits, e.g. AVAXUSDT or GBPJPY.")
    g = guess_spec(key)
    spec = {"description": description or "", "asset_class": (asset_class or g["asset_class"]).lower(),
            "pip_size": float(pip_size), "digits": int(digits), "contract_size": float(contract_size),
            "base": (base or g["base"]).upper(), "quote": (quote or g["quote"]).upper(),
            "typical_spread_pips": float(typical_spread_pips), "commission_per_lot": float(commission_per_lot),
            "trading_hours": trading_hours or g["trading_hours"]}
    if quote_usd is not None:
        spec["quote_usd"] = float(quote_usd)
    if aliases:
        spec["aliases"] = sorted({_squash(a) for a in aliases if _squash(a)})
    if spec["asset_class"] not in ASSET_CLASSES:
        raise ItaError(f"asset class {spec['asset_class']!r}: use one of {', '.join(ASSET_CLASSES)}.")
    if not 10.0 ** -spec["digits"] <= spec["pip_size"] * (1 + 1e-9):
        raise ItaError(f"--pip {pip_size:g} is finer than one price step at --digits {digits} "
                       f"({10.0 ** -int(digits):g}): a pip is at least one point.")
    try:
        inst = Instrument(symbol=key, source="user", **spec)
    except ValidationError as exc:
        raise ItaError(f"instrument {key}: {_first_error(exc)}.") from None
    path = user_registry_path()
    current = _read_yaml(path) if path.is_file() else {}
    current = {str(k).upper(): v for k, v in current.items()}
    current[key] = spec
    header = ("# Your instruments, merged over ITA's shipped registry (an entry here wins field by field).\n"
              "# Written by `ita instruments add`; edit freely. Fields: see `ita instruments show EURUSD`.\n")
    write_text_atomic(path, header + yaml.safe_dump(current, sort_keys=True, allow_unicode=True), "instrument registry")
    os.utime(path)  # a new mtime even within the same clock tick: the cache reads the file again
    return get_instrument(key)
