"""Promoting a setup version: candidate → paper → active, through the gates of ``setups/gates.yaml``.

* The next status by default (candidate → paper → active); ``to`` names one. A candidate goes to paper
  before active (paper = forward-testing: the live loop journals its signals without alerting).
* A promotion to a status in ``enforce_for`` (default: ``active``) needs every gate passed; a gate not
  measured is not passed. Refused promotions are stored too, with the gates, and the report names each
  failing gate and by how much.
* Going back (to candidate, or active → paper) needs no gates.
* One active version per setup: when vN becomes active, the setup's other active version goes back to
  candidate ("superseded by vN").

Example::

    >>> from ita.promotion import promote
    >>> p = promote("fvg_reversal", 2, to="paper")              # doctest: +SKIP
    >>> p.accepted, p.status, [g.result for g in p.report.gates]  # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ita.errors import ItaError
from ita.promotion.gates import GateReport, evaluate_gates, load_gates
from ita.promotion.status import promoted_versions, status_of, with_status
from ita.store.promotions import STATUSES, PromotionStore

NEXT = {"candidate": "paper", "paper": "active"}


@dataclass
class Promotion:
    """The outcome of :func:`promote`: ``from_status`` → ``requested``; ``accepted``; ``status`` the version's
    status now; ``report`` the gates (None when going back); ``message`` one line; ``superseded`` the other
    versions of the setup that went back to candidate; ``stored`` False for a dry run; ``headline`` the message
    without the list of failing gates (shown beside the gates table)."""

    setup_id: str
    version: int
    setup_hash: str
    from_status: str
    requested: str
    accepted: bool
    status: str
    report: GateReport | None
    message: str
    superseded: list[int] = field(default_factory=list)
    headline: str = ""
    stored: bool = True
    note: str | None = None


def version_status(setup_id: str, version: int, store: PromotionStore | None = None) -> tuple[str, str | None]:
    """The status of a setup version (``candidate`` | ``paper`` | ``active``) and a note when its file changed
    since it was promoted. Raises :class:`~ita.errors.SetupError` for an unknown setup or version."""
    from ita.setups.loader import load_setup

    ls = load_setup(setup_id, version)
    return status_of(promoted_versions((store or PromotionStore()).path), ls.id, ls.version, ls.content_hash)


def versions_with_status(status: str, store: PromotionStore | None = None) -> list[str]:
    """``["asia_sweep@1", …]`` — every version whose status is ``status`` now (its file unchanged since)."""
    from ita.setups.loader import load_setup

    out = []
    for sid, v, h in with_status(status, (store or PromotionStore()).path):
        try:
            if load_setup(sid, v).content_hash == h:
                out.append(f"{sid}@{v}")
        except ItaError:
            continue
    return out


def live_setups(store: PromotionStore | None = None) -> tuple[list[str], list[str]]:
    """What ``ita live start`` watches without ``--setups``: ``(the active and the paper versions, the paper
    ones)`` as ``id@N`` references (paper versions are journaled, never alerted); both empty when nothing is
    promoted."""
    store = store or PromotionStore()
    active, paper = versions_with_status("active", store), versions_with_status("paper", store)
    return active + paper, paper


def _refusal(report: GateReport, target: str) -> str:
    bad = report.failed
    return (f"not promoted to {target}: {len(bad)} of {len(report.gates)} gates not passed — "
            + "; ".join(g.text() for g in bad))


def promote(setup_id: str, version: int | str, to: str | None = None, *, dry_run: bool = False, symbols=None,
            start=None, end=None, progress=None) -> Promotion:
    """Promote ``setup_id`` v``version`` to ``to`` (default: the next status) through the gates.

    ``symbols``/``start``/``end`` override the gates' evaluation scope; ``dry_run`` measures and reports but
    stores nothing. Raises :class:`ItaError` for an unknown setup/version/status, a promotion to the status the
    version already has, or candidate → active (paper first)."""
    from ita.setups.loader import load_setup

    ls = load_setup(setup_id, version)
    store = PromotionStore()
    current, note = status_of(promoted_versions(store.path), ls.id, ls.version, ls.content_hash)
    target = (to or "").strip().lower() or NEXT.get(current)
    if target is None:
        raise ItaError(f"{ls.id} v{ls.version} is already active, the last status; `--to paper` or "
                       "`--to candidate` takes it back.")
    if target not in STATUSES:
        raise ItaError(f"Unknown status {to!r}: use {', '.join(STATUSES)}.")
    if target == current:
        raise ItaError(f"{ls.id} v{ls.version} is already {current}.")
    if current == "candidate" and target == "active":
        raise ItaError(f"{ls.id} v{ls.version} is a candidate: promote it to paper first (`ita setups promote "
                       f"{ls.id} v{ls.version} --to paper`), forward-test it, then to active.")
    going_back = STATUSES.index(target) < STATUSES.index(current)
    report = None
    if going_back:
        accepted, message = True, f"{ls.id} v{ls.version}: {current} → {target}."
        headline = message
    else:
        config = load_gates()
        report = evaluate_gates(ls, config, symbols=symbols, start=start, end=end, progress=progress)
        enforced = target in config.enforce_for
        accepted = report.passed or not enforced
        failing = "; ".join(g.text() for g in report.failed)
        if accepted and report.passed:
            headline = message = f"{ls.id} v{ls.version}: {current} → {target}; all {len(report.gates)} gates passed."
        elif accepted:
            headline = (f"{ls.id} v{ls.version}: {current} → {target}; {len(report.failed)} of {len(report.gates)} "
                        f"gates not passed (required only for {', '.join(config.enforce_for)}).")
            message = f"{headline[:-1]} — {failing}"
        else:
            headline = (f"{ls.id} v{ls.version} stays {current}: not promoted to {target}, {len(report.failed)} of "
                        f"{len(report.gates)} gates not passed.")
            message = f"{ls.id} v{ls.version} stays {current}: " + _refusal(report, target)
    status = target if accepted else current
    superseded: list[int] = []
    if accepted and target == "active":
        superseded = [v for sid, v, _ in with_status("active", store.path) if sid == ls.id and v != ls.version]
        if superseded:
            extra = f" v{', v'.join(map(str, superseded))} went back to candidate (superseded)."
            message, headline = message + extra, headline + extra
    if dry_run:
        return Promotion(ls.id, ls.version, ls.content_hash, current, target, accepted, current, report,
                         "Dry run, nothing stored: " + message, superseded, stored=False, note=note,
                         headline="Dry run, nothing stored: " + headline)
    rows = [{"setup_id": ls.id, "version": ls.version, "setup_hash": ls.content_hash, "from_status": current,
             "requested": target, "accepted": int(accepted), "status": status,
             "gates": report.as_rows() if report else [], "evaluation": report.evaluation if report else {},
             "note": message}]
    for v in superseded:
        old = store.latest(ls.id, v)
        rows.append({"setup_id": ls.id, "version": v, "setup_hash": old["setup_hash"] if old else "",
                     "from_status": "active", "requested": "candidate", "accepted": 1, "status": "candidate",
                     "gates": [], "evaluation": {}, "note": f"superseded by v{ls.version}"})
    store.record(rows)
    return Promotion(ls.id, ls.version, ls.content_hash, current, target, accepted, status, report, message,
                     superseded, note=note, headline=headline)
