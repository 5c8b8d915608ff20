"""The instrument registry: shipped entries, broker suffixes and aliases, the user's $ITA_HOME/instruments.yaml
merged over the shipped file, `ita instruments list | show | add`, and the unknown-symbol message whose
`ita instruments add` command, run as printed, registers the symbol."""
from __future__ import annotations

import shlex

import pytest
import yaml
from typer.testing import CliRunner

from ita.cli import app
from ita.data.instruments import REGISTRY_PATH, add_instrument, get_instrument, instruments, user_registry_path
from ita.errors import ItaError, UnknownSymbolError

SHIPPED = ["EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCAD", "USDCHF", "NZDUSD", "EURJPY", "EURGBP", "GBPJPY",
           "XAUUSD", "XAGUSD", "US500", "UK100", "JP225", "NAS100", "US30", "GER40", "BTCUSDT", "ETHUSDT", "SOLUSDT",
           "AVAXUSDT"]


def run(*args):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("symbol", SHIPPED)
def test_shipped_entries(symbol):
    i = get_instrument(symbol)
    assert i.symbol == symbol and i.source == "shipped"
    assert i.point <= i.pip_size            # a pip is at least one price step
    if i.quote not in ("USD", "USDT") and i.base != "USD":
        assert i.quote_to_account(1.0) > 0  # every cross converts to a USD account


def test_pip_sizes_traders_use():
    assert (get_instrument("GBPJPY").pip_size, get_instrument("GBPJPY").digits) == (0.01, 3)
    assert (get_instrument("AUDUSD").pip_size, get_instrument("AUDUSD").digits) == (0.0001, 5)
    assert get_instrument("XAGUSD").contract_size == 5000
    assert get_instrument("BTCUSDT").trades_weekends and not get_instrument("EURUSD").trades_weekends
    assert get_instrument("BTCUSDT").quote_to_account(60000.0) == 1.0   # USDT counts as USD


@pytest.mark.parametrize("name, symbol", [
    ("EURUSDm", "EURUSD"), ("EURUSD.r", "EURUSD"), ("EUR/USD", "EURUSD"), ("eurusd", "EURUSD"),
    ("EURUSD-ECN", "EURUSD"), ("EURUSD+", "EURUSD"), ("EURUSD#", "EURUSD"), ("GBPJPYpro", "GBPJPY"),
    ("BTC/USDT", "BTCUSDT"), ("BTC-USDT", "BTCUSDT"), ("BTC/USDT:USDT", "BTCUSDT"), ("XAUUSD.", "XAUUSD"),
    ("GOLD", "XAUUSD"), ("SPX500", "US500"), ("US500.cash", "US500"), ("DE40", "GER40"), ("JPN225", "JP225"),
    ("FTSE100", "UK100"), ("USTEC", "NAS100"),
])
def test_broker_suffixes_and_aliases_map_to_the_base_symbol(name, symbol):
    assert get_instrument(name).symbol == symbol


def test_unknown_symbol_names_the_add_command_and_running_it_registers_the_symbol():
    with pytest.raises(UnknownSymbolError) as e:
        get_instrument("LINK/USDT")
    msg = str(e.value)
    assert "Unknown symbol 'LINK/USDT'" in msg and "`ita instruments list`" in msg
    cmd = msg.split("To add it, run `")[1].split("`")[0]
    assert cmd == ("ita instruments add LINKUSDT --pip 0.01 --digits 2 --spread 1 --contract 1 --sessions 24x7 "
                   "--class crypto --quote USDT")
    r = run(*shlex.split(cmd)[1:])
    assert r.exit_code == 0, r.output
    i = get_instrument("LINK/USDT")
    assert (i.symbol, i.asset_class, i.base, i.quote, i.source) == ("LINKUSDT", "crypto", "LINK", "USDT", "user")
    with pytest.raises(UnknownSymbolError, match=r"ita instruments add GBPNZD --pip 0.0001 --digits 5 .*--class fx"):
        get_instrument("GBPNZD")
    with pytest.raises(UnknownSymbolError, match=r"Did you mean: EURUSD\?"):
        get_instrument("EURUSDX")


def test_user_registry_is_merged_over_the_shipped_one(tmp_path):
    path = user_registry_path()
    assert str(path).startswith(str(tmp_path))                         # $ITA_HOME of the test
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "EURUSD": {"typical_spread_pips": 0.1},                          # one field changed
        "CORN": {"asset_class": "commodity", "pip_size": 0.25, "digits": 2, "contract_size": 5000, "base": "CORN",
                 "quote": "USD", "typical_spread_pips": 1, "aliases": ["ZC"]},
    }), encoding="utf-8")
    eu = get_instrument("EURUSD")
    assert eu.typical_spread_pips == 0.1 and eu.pip_size == 0.0001 and eu.source == "user"
    assert get_instrument("zc").symbol == "CORN" and "CORN" in instruments()
    assert get_instrument("GBPUSD").source == "shipped"
    assert REGISTRY_PATH.read_text(encoding="utf-8").count("CORN") == 0   # the package is never edited
    path.write_text("EURUSD: [not, a, mapping]\n", encoding="utf-8")
    with pytest.raises(ItaError, match="must be a mapping"):
        get_instrument("EURUSD")
    path.write_text("EURUSD: {pip_size: -1}\n", encoding="utf-8")
    with pytest.raises(ItaError, match=r"instruments.yaml: instrument EURUSD: pip_size"):
        get_instrument("EURUSD")


def test_add_checks_values_before_writing_and_keeps_other_entries():
    add_instrument("ADAUSDT", pip_size=0.0001, digits=4, typical_spread_pips=1, contract_size=1, trading_hours="24x7")
    before = user_registry_path().read_bytes()
    with pytest.raises(ItaError, match="finer than one price step"):
        add_instrument("DOTUSDT", pip_size=0.0001, digits=2, typical_spread_pips=1, contract_size=1)
    with pytest.raises(ItaError, match="asset class 'bonds'"):
        add_instrument("DOTUSDT", pip_size=0.01, digits=2, typical_spread_pips=1, contract_size=1, asset_class="bonds")
    assert user_registry_path().read_bytes() == before
    add_instrument("DOTUSDT", pip_size=0.001, digits=3, typical_spread_pips=1, contract_size=1, aliases=["DOT"])
    assert {"ADAUSDT", "DOTUSDT"} <= set(yaml.safe_load(user_registry_path().read_text(encoding="utf-8")))
    assert get_instrument("dot").symbol == "DOTUSDT"


def test_cli_list_show_and_bad_add():
    r = run("instruments", "list", "--class", "crypto")
    assert r.exit_code == 0, r.output
    for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "AVAXUSDT"):
        assert s in r.output
    assert "EURUSD" not in r.output.split("Add yours")[0]
    r = run("instruments", "show", "EURUSDm")
    assert r.exit_code == 0 and "Euro vs US Dollar" in r.output and "0.0001" in r.output
    r = run("instruments", "show", "NOPE123")
    assert r.exit_code == 2 and "ita instruments add NOPE123" in r.output
    r = run("instruments", "list", "--class", "bond")
    assert r.exit_code == 2 and "Unknown asset class" in r.output
    r = run("instruments", "add", "ZZZUSD", "--pip", "0.01", "--digits", "1", "--spread", "1", "--contract", "1")
    assert r.exit_code == 2 and "finer than one price step" in r.output and not user_registry_path().exists()
