"""``ita live check`` checks every channel on its own — outbox, journal, Telegram, Notion — one ✓/✗ line each, and a
failing one never hides the next; no token ever reaches the output. Real processes, the real clients against the
fake servers of :mod:`tests.fakes`, and a dead 127.0.0.1 port for a service that is down."""
from __future__ import annotations

import socket

from tests.fakes import FakeNotion, FakeTelegram
from tests.test_live_cli import env, ita  # noqa: F401 - the env fixture

TOKEN = "8765123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-SECRET"


def dead_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lines(text: str) -> dict[str, str]:
    """``{channel: line}`` of the check's output."""
    out = {}
    for line in text.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) >= 2 and parts[0] in ("✓", "✗", "–"):
            out[parts[1]] = line
    return out


def test_telegram_down_and_notion_working_show_both_lines_and_never_the_token(env):  # noqa: F811
    port = dead_port()
    with FakeNotion(properties={"Name": "title"}) as no:
        env.update({"ITA_TELEGRAM_TOKEN": TOKEN, "ITA_TELEGRAM_CHAT_IDS": "42",
                    "ITA_TELEGRAM_API_URL": f"http://127.0.0.1:{port}",          # written without /bot
                    "ITA_NOTION_TOKEN": no.token, "ITA_NOTION_DATABASE": no.database_id, "ITA_NOTION_API_URL": no.url})
        p = ita(["live", "check"], env, timeout=120)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    got = lines(p.stdout)
    assert set(got) == {"outbox", "journal", "telegram", "notion"}, p.stdout
    assert got["telegram"].startswith("✗ telegram") and f"Telegram is not reachable at http://127.0.0.1:{port}/bot" in got["telegram"]
    assert got["notion"].startswith(f"✓ notion    data source {no.data_source_id}")
    assert got["outbox"].startswith("✓ outbox") and got["journal"].startswith("✓ journal")
    assert "1 of 4 channels failed: telegram" in p.stderr
    assert TOKEN not in out and TOKEN.split(":")[1] not in out and no.token not in out
    assert "Traceback" not in out


def test_notion_down_and_telegram_working(env):  # noqa: F811
    port = dead_port()
    with FakeTelegram() as tg:
        env.update({"ITA_TELEGRAM_TOKEN": tg.token, "ITA_TELEGRAM_CHAT_IDS": "7", "ITA_TELEGRAM_API_URL": tg.base_url,
                    "ITA_NOTION_TOKEN": "secret_" + "n" * 30, "ITA_NOTION_DATABASE": "db1",
                    "ITA_NOTION_API_URL": f"http://127.0.0.1:{port}"})
        p = ita(["live", "check"], env, timeout=120)
        assert tg.sent == []
    got = lines(p.stdout)
    assert p.returncode == 2, p.stdout + p.stderr
    assert got["telegram"].startswith("✓ telegram  bot @ita_test_bot") and "chats 7" in got["telegram"]
    assert got["notion"].startswith("✗ notion") and f"Notion is not reachable at http://127.0.0.1:{port}" in got["notion"]
    assert "secret_nnnn" not in p.stdout + p.stderr and tg.token not in p.stdout + p.stderr


def test_a_token_pasted_into_the_chat_ids_is_redacted(env):  # noqa: F811
    """The configuration error quotes ITA_TELEGRAM_CHAT_IDS — here the token by mistake: it must come out masked."""
    env.update({"ITA_TELEGRAM_TOKEN": TOKEN, "ITA_TELEGRAM_CHAT_IDS": TOKEN})
    p = ita(["live", "check"], env)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert "✗ telegram  ITA_TELEGRAM_CHAT_IDS must be numbers separated by commas, got '«redacted»'" in p.stdout
    assert TOKEN not in out and TOKEN.split(":")[1] not in out


def test_nothing_configured_is_not_a_failure(env, tmp_path):  # noqa: F811
    env["ITA_OUTBOX_DIR"] = str(tmp_path / "out")
    p = ita(["live", "check"], env)
    assert p.returncode == 0, p.stdout + p.stderr
    got = lines(p.stdout)
    assert got["telegram"] == "– telegram  not configured (ITA_TELEGRAM_TOKEN, ITA_TELEGRAM_CHAT_IDS)"
    assert got["notion"].startswith("– notion    not configured")
    assert f"✓ outbox    folder {tmp_path / 'out'} is writable" in got["outbox"]


def test_an_unwritable_outbox_fails_and_the_rest_is_still_checked(env, tmp_path):  # noqa: F811
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env["ITA_OUTBOX_DIR"] = str(blocker / "outbox")
    p = ita(["live", "check"], env)
    got = lines(p.stdout)
    assert p.returncode == 2 and got["outbox"].startswith("✗ outbox    cannot write the outbox folder"), p.stdout
    assert got["journal"].startswith("✓ journal") and "telegram" in got and "notion" in got


def test_help_teaches_with_an_example():
    from typer.testing import CliRunner

    from ita.cli import app

    r = CliRunner().invoke(app, ["live", "check", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "Example" in r.stdout and "ita live check" in r.stdout
