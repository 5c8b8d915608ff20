"""The CLI's failure paths never print a secret: ``fail`` (the one-message exit 2), the top-level handler of
``ita`` (an ``ItaError`` that escaped a command, or a bug's traceback) and every log record once a command started
(``install_log_redaction`` runs at CLI start). Real processes and the typer CliRunner; no patching."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from typer.testing import CliRunner

from ita.cli import app
from ita.secrets import MASK
from tests.conftest import REPO

TOKEN = "8765123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-SECRET"
PLAIN_SECRET = "notion-integration-value-42"          # not shaped like a token: only the configured value says so


def test_fail_redacts_a_configured_secret_pasted_where_a_file_was_expected(tmp_path):
    env = {"ITA_DATA_DIR": str(tmp_path / "data"), "ITA_TELEGRAM_TOKEN": TOKEN, "ITA_NOTION_TOKEN": PLAIN_SECRET,
           "COLUMNS": "200"}
    for pasted in (TOKEN, PLAIN_SECRET):
        r = CliRunner().invoke(app, ["data", "import", pasted, "--symbol", "EURUSD"], env=env)
        assert r.exit_code == 2, r.output
        assert r.stderr.startswith("Error:") and MASK in r.stderr, r.stderr
        assert pasted not in r.output and TOKEN.split(":")[1] not in r.output


SCRIPT = textwrap.dedent("""
    import logging, sys
    from ita.cli import app, main
    from ita.errors import ItaError

    @app.command("leak")
    def leak(kind: str):
        logging.basicConfig(stream=sys.stdout, format="LOG %(message)s")
        logging.getLogger("ita.test").warning("calling the service with %s", {token!r})
        if kind == "ita":
            raise ItaError("the service said: bad token " + {token!r})
        raise RuntimeError("unexpected reply for " + {token!r})

    sys.argv = ["ita", "leak", sys.argv[1]]
    main()
""")


def run_script(kind: str, tmp_path):
    env = {**os.environ, "ITA_HOME": str(tmp_path / "home"), "ITA_TELEGRAM_TOKEN": TOKEN, "COLUMNS": "200"}
    script = SCRIPT.format(token=TOKEN)
    return subprocess.run([sys.executable, "-c", script, kind], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)


def test_the_top_level_handler_and_the_logs_redact_an_escaped_ita_error(tmp_path):
    p = run_script("ita", tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert f"Error: the service said: bad token {MASK}" in p.stderr
    assert f"LOG calling the service with {MASK}" in p.stdout          # log redaction installed at CLI start
    assert TOKEN not in out and TOKEN.split(":")[1] not in out


def test_a_bugs_traceback_is_redacted_too(tmp_path):
    p = run_script("bug", tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "RuntimeError: unexpected reply for " + MASK in p.stderr and "Traceback" in p.stderr
    assert TOKEN not in out and TOKEN.split(":")[1] not in out
