"""Templated answers (``ita.agent.answers``): tool results → concise Markdown in English and Russian, from the
templates in ``prompts/answers/*.yaml``; real tool results on the sample data (no PNGs)."""
from __future__ import annotations

import re

import pytest
import yaml

from ita.agent.answers import render, render_table, templates, templates_dir
import ita.format as fmt
import ita.tools as ita_tools
from ita.tools.results import Table, ToolResult


@pytest.fixture
def data(sample_store, monkeypatch):
    monkeypatch.setenv("ITA_DATA_DIR", str(sample_store.data_dir))
    return sample_store


@pytest.fixture
def backtest(data) -> ToolResult:
    r = ita_tools.run_backtest(setup_id="asia_fvg_break", symbol="EURUSD", start="2025-01-01", end="2025-11-06",
                          charts=False)
    assert r.ok, r.error
    return r


def md_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table row in ``text`` (separator rows excluded)."""
    out = []
    for line in text.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(-+:?\|)+", line.replace(" ", "")):
            out.append([c.strip() for c in line.strip().strip("|").split(" | ")])
    return out


# ---------------------------------------------------------------------------------------------- templates

def test_templates_are_data_for_every_tool_in_both_languages():
    for lang in ("en", "ru"):
        raw = yaml.safe_load((templates_dir() / f"{lang}.yaml").read_text(encoding="utf-8"))
        assert raw["lang"] == lang
        assert set(ita_tools.TOOLS) <= set(raw["tools"]), f"{lang}: templates missing for some tools"
    ru = templates("ru")
    assert ru["tools"]["run_backtest"]["headline"].count("{") == templates("en")["tools"]["run_backtest"]["headline"].count("{")
    assert templates("de") == templates("en")


def test_number_formats_for_traders():
    assert fmt.fmt_r(-34.99999999999656) == "−35.00 R"
    assert fmt.fmt_r(2) == "+2.00 R" and fmt.fmt_r(0.0) == "0.00 R" and fmt.fmt_r(None) == "—"
    assert fmt.fmt_pct(21.428571) == "21.4 %"
    assert fmt.fmt_price(1.0322, 5) == "1.03220" and fmt.fmt_price(3341.256, 2) == "3341.26"
    assert fmt.fmt_money(-35000.0, "USD") == "−35\u202f000 USD"
    assert fmt.fmt_num(float("inf")) == "∞" and fmt.fmt_num("inf") == "∞"


# ---------------------------------------------------------------------------------------------- backtest

def test_backtest_answer_in_english(backtest):
    s = backtest.data["stats"]
    text = render(backtest, "en")
    first = text.splitlines()[0]
    assert first == (f"**asia_fvg_break v1** ({backtest.data['setup_hash'][:8]}) on EURUSD, 2025-01-01 → 2025-11-06: "
                     f"{s['Trades']} trades, win rate {s['Win Rate [%]']:.1f} %, {fmt.fmt_r(s['Total R'])}, "
                     f"PF {s['Profit Factor']:.2f}")
    rows = md_rows(text)
    stats = {r[0]: r[1] for r in rows}
    assert ["metric", "value"] in rows
    assert stats["Trades"] == str(s["Trades"]) and stats["Win rate"] == f"{s['Win Rate [%]']:.1f} %"
    assert stats["Profit factor"] == f"{s['Profit Factor']:.2f}"
    assert "**Statistics**" in text and "**By month (entry month, UTC)**" in text
    assert ["month", "trades", "wins", "losses", "win rate", "total R", "net profit"] in rows
    assert f"Run `{backtest.data['run_id']}` · setup sha256 `{backtest.data['setup_hash'][:12]}`" in text
    assert "`trades.csv`" in text
    last = text.splitlines()[-1]
    assert last.startswith("Try: `same on XAUUSD`, `with rr 3`, `show trade ")


def test_backtest_answer_in_russian(backtest):
    s = backtest.data["stats"]
    text = render(backtest, "ru")
    first = text.splitlines()[0]
    assert first.startswith("**asia_fvg_break v1** (") and " на EURUSD, 2025-01-01 → 2025-11-06: " in first
    assert f"{s['Trades']} сделок, винрейт {s['Win Rate [%]']:.1f} %" in first
    rows = {r[0]: r[1] for r in md_rows(text)}
    assert rows["Сделки"] == str(s["Trades"]) and rows["Профит-фактор"] == f"{s['Profit Factor']:.2f}"
    assert "**Статистика**" in text and "Прогон `" in text
    assert text.splitlines()[-1].startswith("Попробуйте: `то же на XAUUSD`, `с rr 3`, `покажи сделку ")
    assert "Trades" not in text and "win rate" not in text


def test_backtest_without_trades(data):
    r = ita_tools.run_backtest("asia_fvg_break", "EURUSD", "2025-01-04", "2025-01-05", charts=False)  # a weekend
    assert r.ok and r.data["stats"]["Trades"] == 0
    assert "no trades (0 signals)" in render(r, "en").splitlines()[0]
    assert "сделок нет (0 сигналов)" in render(r, "ru").splitlines()[0]


# ---------------------------------------------------------------------------------------------- other tools

def test_failure_answer_says_what_and_what_to_try(data):
    r = ita_tools.run_backtest("asia_fvg_brake", "EURUSD", charts=False)
    en, ru = render(r, "en"), render(r, "ru")
    assert en.startswith("⚠️ Unknown setup 'asia_fvg_brake'. Did you mean: asia_fvg_break?")
    assert en.splitlines()[-1] == "Try: `list setups`, `data coverage`, `backtest asia_fvg_break on EURUSD`."
    assert ru.startswith("⚠️ Unknown setup 'asia_fvg_brake'.")
    assert ru.splitlines()[-1] == "Попробуйте: `какие сетапы есть`, `какие данные есть`, `бэктест asia_fvg_break на EURUSD`."

    none = ita_tools.show_trade(3)
    assert render(none, "en") == ("⚠️ No backtest runs are stored yet; run one first, e.g. `backtest asia_fvg_break on "
                                  "EURUSD`.\n\nTry: `list runs`, `backtest asia_fvg_break on EURUSD`.")


def test_list_setups_answer():
    r = ita_tools.list_setups()
    en, ru = render(r, "en"), render(r, "ru")
    n = len(r.data["setups"])
    assert en.splitlines()[0].startswith(f"**{n} setups** (YAML in `")
    assert ru.splitlines()[0].startswith(f"**{n} сетапов** (YAML в `")
    assert ["setup", "versions", "timeframe", "name", "hash", "status"] in md_rows(en)
    assert ["сетап", "версии", "таймфрейм", "название", "хеш", "статус"] in md_rows(ru)
    assert ["fvg_reversal", "v1, v2"] == next(row[:2] for row in md_rows(en) if row[0] == "fvg_reversal")
    assert en.splitlines()[-1] == "Try: `show setup asia_fvg_break`, `backtest asia_fvg_break on EURUSD`."


def test_show_trade_answer(backtest):
    r = ita_tools.show_trade(2, chart=False)
    assert r.ok, r.error
    row = r.data["row"]
    en = render(r, "en")
    assert en.splitlines()[0] == (
        f"**Trade 2** of {r.data['trades']} · asia_fvg_break v1 · EURUSD: long 2025-01-06 02:40 NY at 1.03221, "
        "SL 1.03185, TP 1.03293 → target 03:00 at 1.03293: **+2.00 R** (+2\u202f000 USD).")
    assert row["r"] == pytest.approx(2.0)
    assert ["field", "value"] in md_rows(en) and ["exit reason", "target"] in md_rows(en)
    assert f"Run `{backtest.data['run_id']}`" in en
    ru = render(r, "ru")
    assert ru.splitlines()[0].startswith("**Сделка 2** из ") and "лонг 2025-01-06 02:40 NY по 1.03221" in ru
    assert "→ тейк 03:00 по 1.03293: **+2.00 R**" in ru
    assert ["причина выхода", "тейк"] in md_rows(ru)
    assert ru.splitlines()[-1] == "Попробуйте: `покажи сделку 3`, `график EURUSD 2025-01-06 02:40`."


def test_other_tools_render_in_both_languages(data, backtest):
    results = [
        ita_tools.show_setup("asia_fvg_break"), ita_tools.validate_setup("fvg_reversal"), ita_tools.data_coverage(),
        ita_tools.load_candles("EURUSD", "H1", "2025-03-03", "2025-03-07"),
        ita_tools.run_detector("fvg", "EURUSD", "2025-03-10", "2025-03-14", chart=False),
        ita_tools.evaluate_setup("asia_fvg_break", "EURUSD", "2025-03-01", "2025-03-31"),
        ita_tools.explain_day("asia_fvg_break", "EURUSD", "2025-03-14"), ita_tools.list_runs(),
        ita_tools.compare_runs(backtest.data["run_id"], backtest.data["run_id"]),
    ]
    for r in results:
        assert r.ok, (r.tool, r.error)
        for lang in ("en", "ru"):
            text = render(r, lang)
            assert text and "{" not in text.split("```")[0], (r.tool, lang, text)
            assert "None" not in text, (r.tool, lang, text)
    explain = render(results[6], "en")
    assert "no trade. 1 of 2 steps passed; stopped at **sequence[1] fvg**: no bearish FVG" in explain
    assert "пт 2025-03-14: сделки нет. Пройдено шагов: 1 из 2" in render(results[6], "ru")
    assert "```yaml\n# asia_fvg_break v1" in render(results[0], "en")
    assert render(results[4], "ru").splitlines()[0].startswith("**fvg** на EURUSD M5, 2025-03-10 → 2025-03-14: ")
    cmp = md_rows(render(results[8], "en"))
    assert ["metric", "A", "B", "Δ"] in cmp and next(r for r in cmp if r[0] == "Total R")[3] == "0.00 R"


def test_render_accepts_a_result_dict(backtest):
    assert render(backtest.model_dump(), "en") == render(backtest, "en")
    assert render(backtest, "fr") == render(backtest, "en")


# ---------------------------------------------------------------------------------------------- tables

def test_render_table_columns_alignment_and_escaping():
    t = Table(columns=["metric", "value", "period"], title="Statistics",
              rows=[["Trades", 98, "2025-01-01 → 2025-11-06"], ["Total R", "−35.00 R", "a|b"],
                    ["Win rate", "21.4 %", None]])
    text = render_table(t)
    lines = text.splitlines()
    assert lines[0] == "**Statistics**"
    assert lines[2] == "| metric | value | period |"
    assert lines[3] == "|---|---:|---|"
    assert lines[4] == "| Trades | 98 | 2025-01-01 → 2025-11-06 |"
    assert lines[5] == "| Total R | −35.00 R | a\\|b |"
    assert lines[6] == "| Win rate | 21.4 % | — |"
    ru = render_table(t, "ru", max_rows=2, title="")
    assert ru.splitlines()[0] == "| показатель | значение | период |"
    assert ru.splitlines()[2] == "| Сделки | 98 | 2025-01-01 → 2025-11-06 |"
    assert ru.splitlines()[-1] == "_… ещё строк: 1._"
    assert render_table(t, max_rows=2).splitlines()[-1] == "_… 1 more rows._"


def test_russian_plurals():
    from ita.agent.answers import _plural

    T = templates("ru")
    assert [_plural(T, "trade", n) for n in (1, 2, 5, 11, 21, 22, 112)] == [
        "1 сделка", "2 сделки", "5 сделок", "11 сделок", "21 сделка", "22 сделки", "112 сделок"]
    assert _plural(templates("en"), "trade", 1) == "1 trade" and _plural(templates("en"), "trade", 0) == "0 trades"
