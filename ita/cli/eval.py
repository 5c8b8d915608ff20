"""``ita eval …``: evaluation suites — score ITA, store the scores with the date, compare with the previous run."""
from __future__ import annotations

import math
from typing import List, Optional

import typer
from rich.table import Table

from ita.cli.common import console, fail
from ita.cli.eval_suites import register
from ita.errors import ItaError

eval_app = typer.Typer(help="""Evaluate ITA: every suite (agent, kb, backtest, detectors) or one with a subcommand.

\b
Each run is stored (SQLite, $ITA_DB: the date, git commit and ITA version), compared with the previous run of
the same kind (regressions in red) and checked against evals/thresholds.yaml: exit status 1 when a metric
crosses its threshold. `ita eval report` draws every metric's history. How it is scored: evals/README.md.
\b
Examples:
  ita eval                          # every suite (~2-3 min)
  ita eval --quick                  # the CI set (≤ 2 min)
  ita eval agent --split heldout
  ita eval backtest --setup ib_raid
  ita eval report""")

# metric → +1 higher is better, -1 lower is better, 0 neutral (colours the delta)
_EVAL_BETTER = {"n": 0, "ool_n": 0, "ool_top1_score": 0, "in_top1_score": 0, "query_ms": -1}
_EVAL_SECTIONS = (
    ("retrieval", lambda m: m.startswith("hit_rate@") and "[" not in m or m == "mrr"),
    ("ragas (span containment)", lambda m: m in ("context_precision", "context_recall")),
    ("ragas (page ids)", lambda m: m.startswith("id_context_")),
    ("ragas defaults (Levenshtein)", lambda m: m.endswith("_lev")),
    ("slices", lambda m: "[" in m),
    ("out of library", lambda m: m.startswith(("ool_", "in_top1"))),
    ("speed / size", lambda m: m in ("query_ms", "n")),
)


def _eval_num(v, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if metric in ("n", "ool_n"):
        return str(int(v))
    return f"{v:.1f}" if metric == "query_ms" else f"{v:.3f}"


def _eval_page(page_id) -> str:
    """``fair_value_gaps.pdf#p2`` → ``fair_value_gaps p2`` (table cells)."""
    if not page_id or (isinstance(page_id, float) and math.isnan(page_id)):
        return "—"
    return "; ".join(x.replace(".pdf#p", " p") for x in str(page_id).split("; "))


def _eval_delta(d, metric: str) -> str:
    if d is None or (isinstance(d, float) and math.isnan(d)):
        return ""
    txt = f"{d:+.1f}" if metric == "query_ms" else f"{d:+.0f}" if metric in ("n", "ool_n") else f"{d:+.3f}"
    sign = _EVAL_BETTER.get(metric, 1) * (1 if d > 1e-12 else -1 if d < -1e-12 else 0)
    return f"[green]{txt}[/]" if sign > 0 else f"[red]{txt}[/]" if sign < 0 else txt


@eval_app.command("kb")
def eval_kb(
    k: int = typer.Option(5, "--k", "-k", min=1, max=50, help="Passages retrieved per question."),
    mode: Optional[List[str]] = typer.Option(None, "--mode", "-m", help="hybrid | dense | keyword; repeat for several (default: all three)."),
    worst: int = typer.Option(10, "--worst", min=0, help="How many of the worst questions to list (0: none)."),
    store: bool = typer.Option(True, "--store/--no-store", help="Store the run in the eval_runs table (default) or only print it."),
):
    """Score retrieval from the theory library: hit-rate@1/3/5, MRR, ragas context precision/recall.

    \b
    Builds a fresh knowledge base from evals/kb/library/*.pdf in a temporary folder, asks every question of
    evals/kb/questions.yaml (English and Russian, with reference passages) in each search mode, prints one
    table per mode with the change since the previous stored run (same k), stores the run with the date
    (SQLite table eval_runs in $ITA_DB) and lists the worst questions. Questions whose answer is not in the
    library are scored separately. How the scores are computed: evals/README.md.
    \b
    Examples:
      ita eval kb
      ita eval kb --mode hybrid --k 3
      ita eval kb --mode dense --mode keyword --no-store
    """
    from rich import box
    from rich.markup import escape

    from ita.evals import kb as ev

    modes = tuple(dict.fromkeys(m.strip().lower() for m in mode)) if mode else ev.MODES
    bad = [m for m in modes if m not in ev.MODES]
    if bad:
        from ita.errors import closest

        fail(ValueError(f"unknown mode {bad[0]!r}; use hybrid, dense or keyword.{closest(bad[0], ev.MODES)}"))
    try:
        with console.status("evaluating the theory library…") as status:
            df = ev.run_kb_eval(k=k, modes=modes, store=store, progress=lambda msg: status.update(f"{msg}…"))
            # stored: the previous run was looked up before storing; --no-store still compares with the last one
            prev = df.attrs["previous"] if store else ev.previous_kb_run(df)
    except (ItaError, ValueError, FileNotFoundError) as exc:
        fail(exc)
    a = df.attrs
    pq = a["questions"]
    n_in = int(pq[pq["in_library"]]["id"].nunique())
    n_out = int(pq[~pq["in_library"]]["id"].nunique())
    console.print(f"[bold]Theory-library retrieval[/] · run {a['run_id']} · {a['created_at']} · k={k} · "
                  f"{n_in} questions + {n_out} out of library · {len(a['reports'])} PDFs, {a['chunks']} passages · "
                  f"embeddings {a.get('embedding')} · "
                  f"ingest {a['build_s']:.1f} s, total {a['eval_s']:.1f} s", highlight=False)
    if prev is None:
        console.print(f"No previous stored run with k={k}: no deltas.", highlight=False)
    else:
        console.print(f"Δ vs run {prev.attrs['run_id']} ({prev.attrs['created_at']})", highlight=False)
        if prev.attrs.get("fingerprint") != a["fingerprint"]:
            console.print("[yellow]The evaluation set (questions or library) changed since that run: the deltas mix "
                          "a change of the set with a change of retrieval.[/]")
        if prev.attrs.get("embedding") != a.get("embedding"):
            console.print(f"[yellow]Embeddings changed: {prev.attrs.get('embedding')} → {a.get('embedding')}.[/]",
                          highlight=False)
    delta = ev.deltas(df, prev)
    for m in df.index:
        t = Table(title=f"mode: {m}", title_justify="left", box=box.SIMPLE_HEAD)
        t.add_column("metric", style="bold")
        t.add_column("value", justify="right")
        t.add_column("previous", justify="right")
        t.add_column("Δ", justify="right")
        done: set[str] = set()
        for si, (_, belongs) in enumerate(_EVAL_SECTIONS):
            metrics = [c for c in df.columns if c not in done and belongs(c)]
            for i, c in enumerate(metrics):
                done.add(c)
                pv = prev.loc[m, c] if prev is not None and m in prev.index and c in prev.columns else None
                t.add_row(escape(c), _eval_num(df.loc[m, c], c), _eval_num(pv, c) if pv is not None else "—",
                          _eval_delta(delta.loc[m, c], c), end_section=(i == len(metrics) - 1))
        console.print(t)
    console.print("hit_rate@j: a passage on the reference page containing the reference span is among the top j; "
                  "ragas (span containment) uses that same judgement; ragas defaults compare whole strings "
                  "(≈0 for ~800-character passages vs ~100-character spans); ool_auc: can the best passage's score "
                  "tell answerable from unanswerable questions (1 = perfectly, 0.5 = chance).", style="dim")
    if worst:
        bad_q = ev.worst_questions(df, worst)
        if bad_q.empty:
            console.print("Every question has its reference passage at rank 1 in every mode.")
        else:
            t = Table(title=f"Worst questions (rank of the first relevant passage, — = not in the top {k})",
                      title_justify="left", box=box.SIMPLE_HEAD)
            t.add_column("question · id", ratio=1, min_width=24)
            t.add_column("expected", no_wrap=True)
            for m in df.index:
                t.add_column(m, justify="right", no_wrap=True)
            t.add_column(f"top-1 ({df.index[0]})", no_wrap=True)
            for qid, r in bad_q.iterrows():
                ranks = [("—" if r.get(f"rank:{m}") is None or (isinstance(r.get(f"rank:{m}"), float) and math.isnan(r.get(f"rank:{m}")))
                          else str(int(r[f"rank:{m}"]))) for m in df.index]
                tag = ", cross-lingual" if r["cross_lingual"] else ""
                t.add_row(f"{escape(r['question'])}\n[dim]{qid} ({r['lang']}, {r['kind']}{tag})[/]", _eval_page(r["expected"]),
                          *ranks, _eval_page(r.get(f"top1:{df.index[0]}")))
            console.print(t)
    ool = ev.out_of_library(df)
    if not ool.empty:
        t = Table(title="Out-of-library questions (expected: no good passage) — best passage per mode",
                  title_justify="left", box=box.SIMPLE_HEAD)
        t.add_column("question · id", ratio=1, min_width=24)
        for m in df.index:
            t.add_column(f"{m} (score)", no_wrap=True)
        for qid, r in ool.iterrows():
            cells = []
            for m in df.index:
                if not r.get(f"n_passages:{m}"):
                    cells.append("[green]no passage[/]")
                else:
                    cells.append(f"{_eval_page(r[f'top1:{m}'])} ({r[f'top1_score:{m}']:.3g})")
            t.add_row(f"{escape(r['question'])}\n[dim]{qid}[/]", *cells)
        console.print(t)
    if store:
        from ita.evals.store import SuiteRun, store_info

        store_info(SuiteRun.new("kb", {}, run_id=a["run_id"], created_at=a["created_at"], seconds=a["eval_s"]))
    console.print(f"Stored as {a['run_id']} (eval_runs)." if store else "Not stored (--no-store).", highlight=False)


register(eval_app)
