"""Setup versions: create ``v<N+1>`` from an existing version, and compare two versions.

A new version is a copy of the source file's text (comments kept) with its ``version:`` line bumped and,
optionally, parameter edits written into the lines that hold them. It is validated before it is written,
written to a temporary file and renamed into place, and never overwrites an existing version.

Example::

    >>> from ita.setups.versions import new_version, diff_versions
    >>> path = new_version("asia_fvg_break", params={"rr": 3})         # doctest: +SKIP
    >>> print(diff_versions("asia_fvg_break", 1, 2).text)              # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ita.config import load_yaml
from ita.errors import SetupError
from ita.setups.loader import apply_overrides, line_of, list_setups, load_setup, parse_setup_text, setup_path


def _set_value_in_text(text: str, path: str, value: Any) -> str:
    """Rewrite the YAML line holding ``path`` (a block-style ``key: value`` leaf) with ``value``."""
    parts = tuple(int(p) if p.isdigit() else p for p in path.split("."))
    line_no = line_of(text, parts)
    lines = text.splitlines(keepends=True)
    key = str(parts[-1])
    if line_no is not None:
        i = line_no - 1
        m = re.match(rf"^(\s*(?:-\s+)?{re.escape(key)}\s*:\s*)([^#\n]*?)(\s*(?:#.*)?)(\r?\n)?$", lines[i])
        if m:
            new = json.dumps(value) if isinstance(value, str) else yaml.safe_dump(value, default_flow_style=True).strip()
            new = new.removesuffix("...").strip()
            lines[i] = f"{m.group(1)}{new}{m.group(3)}{m.group(4) or ''}"
            return "".join(lines)
    raise SetupError(f"--param {path}: cannot edit this field in place (it is in a flow-style mapping or missing); "
                     "create the version without it and edit the file by hand.")


def new_version(setup_id: str, from_version: int | str | None = None, params: dict[str, Any] | None = None,
                path: str | Path | None = None) -> Path:
    """Write ``<id>/v<N+1>.yaml`` (N = the latest version) from ``from_version`` (default latest).

    Raises :class:`~ita.errors.SetupError` for an unknown setup/version, a parameter that cannot be edited,
    or a result that does not validate (nothing is written then).
    """
    src = setup_path(setup_id, from_version, path)
    latest = list_setups(path)[setup_id][-1]
    target = src.parent / f"v{latest + 1}.yaml"
    text = src.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^version:\s*\d+\s*$", f"version: {latest + 1}", text, count=1)
    if n != 1:
        raise SetupError(f"{src}: no top-level `version: N` line to bump.")
    for key, value in (params or {}).items():
        _, resolved = apply_overrides(load_yaml(text), {key: value})
        for dotted, v in resolved.items():
            text = _set_value_in_text(text, dotted, v)
    parse_setup_text(text, target)  # validate before writing
    fd, tmp = tempfile.mkstemp(prefix=".v", suffix=".yaml.tmp", dir=src.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if target.exists():
            raise SetupError(f"{target} already exists.")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


@dataclass
class VersionDiff:
    """``changes``: ``{dotted.field: (value in a, value in b)}`` of the validated rules; ``text``: a unified
    diff of the two files (comments included)."""

    setup_id: str
    a: int
    b: int
    changes: dict[str, tuple[Any, Any]]
    text: str


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_flatten(v, f"{prefix}.{i}"))
    else:
        out[prefix] = obj
    return out


def diff_versions(setup_id: str, a: int | str, b: int | str, path: str | Path | None = None) -> VersionDiff:
    """Compare versions ``a`` and ``b`` of ``setup_id`` field by field (``version`` itself excluded)."""
    la, lb = load_setup(setup_id, a, path=path), load_setup(setup_id, b, path=path)
    fa, fb = _flatten(la.setup.model_dump(mode="json")), _flatten(lb.setup.model_dump(mode="json"))
    changes = {k: (fa.get(k), fb.get(k)) for k in sorted(set(fa) | set(fb))
               if fa.get(k) != fb.get(k) and k != "version"}
    text = "".join(difflib.unified_diff(la.path.read_text(encoding="utf-8").splitlines(keepends=True),
                                        lb.path.read_text(encoding="utf-8").splitlines(keepends=True),
                                        fromfile=f"{setup_id}/v{la.version}.yaml", tofile=f"{setup_id}/v{lb.version}.yaml"))
    return VersionDiff(setup_id, la.version, lb.version, changes, text)
