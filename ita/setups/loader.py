"""Load setups by id and version, validate them with errors that point at file, line and field, hash them.

Files live in ``<setups_dir>/<id>/v<N>.yaml`` (``ITA_SETUPS_DIR``; the repo's ``setups/`` by default).
The **content hash** is the SHA-256 of the file's bytes: every signal, trade and run carries it, so a
result is tied to the exact text that produced it. ``--param`` overrides produce an in-memory variant
with its own ``effective_hash``; the stored file is never touched.

Example::

    >>> from ita.setups import load_setup
    >>> s = load_setup("asia_fvg_break")                       # latest version
    >>> s.setup.target.rr, s.version, len(s.content_hash)
    (2.0, 1, 64)
    >>> load_setup("asia_fvg_break", params={"rr": 3}).setup.target.rr
    3.0
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ita.config import load_yaml, settings
from ita.errors import SetupError, closest
from ita.setups.schema import Setup

_VFILE = re.compile(r"^v(\d+)\.ya?ml$")


@dataclass(frozen=True)
class LoadedSetup:
    """A validated setup plus where it came from.

    ``setup`` the effective rule (overrides applied); ``path`` the YAML file; ``version`` N of ``vN``;
    ``content_hash`` SHA-256 of the file bytes; ``overrides`` the applied ``{dotted.path: value}``;
    ``effective_hash`` SHA-256 of the effective rule as canonical JSON (equals a hash of the file's rule
    when there are no overrides).
    """

    setup: Setup
    path: Path
    version: int
    content_hash: str
    overrides: dict[str, Any] = field(default_factory=dict)
    effective_hash: str = ""

    @property
    def id(self) -> str:
        return self.setup.id

    @property
    def label(self) -> str:
        """``asia_fvg_break v1 (3f2a9c1d)`` — id, version and short hash, as shown to users."""
        extra = " +" + ",".join(f"{k}={v}" for k, v in self.overrides.items()) if self.overrides else ""
        return f"{self.setup.id} v{self.version} ({self.content_hash[:8]}){extra}"


def setups_dir(path: str | Path | None = None) -> Path:
    return Path(path) if path else settings().setups_dir


def list_setups(path: str | Path | None = None) -> dict[str, list[int]]:
    """``{setup_id: [versions ascending]}`` for every setup folder with at least one ``vN.yaml``."""
    root = setups_dir(path)
    out: dict[str, list[int]] = {}
    if root.is_dir():
        for d in sorted(p for p in root.iterdir() if p.is_dir()):
            vs = sorted(int(m.group(1)) for f in d.iterdir() if (m := _VFILE.match(f.name)))
            if vs:
                out[d.name] = vs
    return out


def setup_path(setup_id: str, version: int | str | None = None, path: str | Path | None = None) -> Path:
    """Path of ``<id>/v<N>.yaml`` (latest when ``version`` is None). Raises :class:`SetupError`."""
    known = list_setups(path)
    if setup_id not in known:
        raise SetupError(f"Unknown setup {setup_id!r}.{closest(setup_id, known)} Known setups: "
                         f"{', '.join(known) or 'none'} (in {setups_dir(path)}).")
    if version is None:
        v = known[setup_id][-1]
    else:
        try:
            v = int(str(version).lower().lstrip("v"))
        except ValueError:
            raise SetupError(f"Version {version!r} is not a number like 1 or v1.") from None
        if v not in known[setup_id]:
            raise SetupError(f"{setup_id} has no version {v}; versions: {', '.join(f'v{x}' for x in known[setup_id])}.")
    root = setups_dir(path) / setup_id
    for ext in ("yaml", "yml"):
        p = root / f"v{v}.{ext}"
        if p.is_file():
            return p
    raise SetupError(f"{root}/v{v}.yaml not found.")


def line_of(text: str, loc: tuple) -> int | None:
    """1-based line in ``text`` of the YAML node at pydantic ``loc`` (deepest existing node)."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(part)), None)
            if nxt is None:
                key = next((k for k, v in node.value if k.value == str(part)), None)
                if key is not None:
                    line = key.start_mark.line + 1
                continue  # discriminator tags and missing fields: stay on the parent
            line = next(k for k, v in node.value if k.value == str(part)).start_mark.line + 1
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
    if line is None and node is not None:
        line = node.start_mark.line + 1
    return line


_TAGGED = ("detectors", "sequence")  # dict / list of discriminated unions: loc (name|index, tag, field…)
_REF = re.compile(r"^((?:sequence|detectors|entry|stop|target|order|management|execution|risk)(?:\.\w+|\[\d+\])*):")
_PART = re.compile(r"\.?(\w+)|\[(\d+)\]")


def _ref_loc(path: str) -> tuple:
    """``"sequence[1].detector"`` → ``("sequence", 1, "detector")``."""
    return tuple(int(m.group(2)) if m.group(2) else m.group(1) for m in _PART.finditer(path))


def _strip_tag(loc: tuple) -> tuple:
    """Drop pydantic's discriminator tag from ``loc`` (``detectors.fvg.fvg.x`` → ``detectors.fvg.x``)."""
    if len(loc) >= 3 and loc[0] in _TAGGED:
        loc = loc[:2] + loc[3:]
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-after[")))


def _format_errors(where: Path, text: str, exc: ValidationError) -> str:
    msgs = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        line_loc = _strip_tag(loc)
        fieldpath = ".".join(str(p) for p in line_loc)
        msg = e["msg"].removeprefix("Value error, ")
        ref = _REF.match(msg) if not loc else None
        if ref:  # cross-reference errors of the whole setup name their place at the start of the message
            line_loc = _ref_loc(ref.group(1))
            if len(line_loc) == 2 and line_loc[0] == "sequence":  # the step itself: point at what it names
                seq = e["input"].get("sequence") if isinstance(e.get("input"), dict) else None
                k = line_loc[1]
                st = seq[k] if isinstance(seq, list) and k < len(seq) and isinstance(seq[k], dict) else {}
                line_loc += (next((f for f in ("range", "of", "detector") if f in st), "step"),)
            fieldpath = ".".join(str(p) for p in line_loc)
            msg = msg[ref.end():].strip()
        line = line_of(text, line_loc)
        if e["type"] == "extra_forbidden":
            parent = loc[:-1]
            msg = f"unknown field {loc[-1]!r}" + _suggest_field(parent, str(loc[-1]))
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif e["type"] == "literal_error":
            msg = f"{msg} (got {e.get('input')!r})"
        elif e["type"] == "union_tag_invalid":  # an unknown detector kind / step name
            ctx = e.get("ctx") or {}
            tag, field = str(ctx.get("tag", "")), str(ctx.get("discriminator", "kind")).strip("'")
            allowed = re.findall(r"'([^']+)'", str(ctx.get("expected_tags", "")))
            msg = f"unknown {field} {tag!r}.{closest(tag, allowed)} Use one of: {', '.join(allowed)}."
        where_s = f"{where}:{line}" if line else str(where)
        msgs.append(f"{where_s}: {fieldpath or '(top level)'}: {msg}")
    return "Invalid setup:\n  " + "\n  ".join(msgs)


def _suggest_field(parent: tuple, name: str) -> str:
    from ita.setups import schema as S

    model: Any = S.Setup
    if len(parent) >= 3 and parent[0] in _TAGGED:  # (detectors|sequence, name|index, tag, …)
        model = S.tagged_model(parent[0], parent[2]) or model
        parent = parent[3:]
    for p in parent:
        f = getattr(model, "model_fields", {}).get(str(p))
        if f is None:
            continue
        ann = f.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, S._Model) else model
    fields = list(getattr(model, "model_fields", {}))
    return closest(name, fields)


def parse_setup_text(text: str, where: Path | str = "<setup>") -> Setup:
    """Validate YAML ``text``; raises :class:`SetupError` with ``file:line: field: problem`` lines."""
    where = Path(where)
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise SetupError(f"{where}{pos}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise SetupError(f"{where}: a setup must be a YAML mapping (id:, version:, detectors:, …).")
    try:
        return Setup.model_validate(raw)
    except ValidationError as exc:
        raise SetupError(_format_errors(where, text, exc)) from None


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _coerce(value: Any) -> Any:
    if isinstance(value, str):
        if re.fullmatch(r"\s*\d{1,2}:\d{2}\s*", value):  # a time of day; YAML 1.1 would read 10:30 as 630
            return value.strip()
        try:
            return load_yaml(value)
        except yaml.YAMLError:
            return value
    return value


def leaf_paths(obj: Any, prefix: str = "") -> list[str]:
    """Every scalar's dotted path in a parsed setup YAML (list items by index: ``sequence.1.within_bars``) — the
    paths ``--param`` overrides and research grids name."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out.extend(leaf_paths(v, p) if isinstance(v, (dict, list)) else [p])
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            p = f"{prefix}.{i}"
            out.extend(leaf_paths(v, p) if isinstance(v, (dict, list)) else [p])
    return out


def apply_overrides(raw: dict, params: dict[str, Any]) -> tuple[dict, dict[str, Any]]:
    """Apply ``{key: value}`` to a copy of the raw setup dict.

    ``key`` is a dotted path (``target.rr``, ``sequence.1.within_bars``) or a leaf name that is unique
    in the setup (``rr``). Raises :class:`SetupError` for unknown or ambiguous keys.
    """
    data = json.loads(json.dumps(raw))
    full = leaf_paths(data) + [f"{k}" for k in Setup.model_fields if k not in data]
    resolved: dict[str, Any] = {}
    for key, value in params.items():
        if key in full or "." in key:
            path = key
        else:
            hits = [p for p in full if p.split(".")[-1] == key]
            if len(hits) != 1:
                if hits:
                    raise SetupError(f"--param {key}: ambiguous; use one of {', '.join(hits)}.")
                leaves = sorted({p.split('.')[-1] for p in full})
                raise SetupError(f"--param {key}: no such parameter.{closest(key, leaves + full)} "
                                 f"Parameters: {', '.join(full)}.")
            path = hits[0]
        node = data
        parts = path.split(".")
        try:
            for p in parts[:-1]:
                if isinstance(node, list):
                    node = node[int(p)]
                else:
                    node = node.setdefault(p, {})
            last = parts[-1]
            if isinstance(node, list):
                node[int(last)] = _coerce(value)
            else:
                if last not in node and path not in full:
                    raise SetupError(f"--param {key}: no such parameter {path!r}.{closest(path, full)}")
                node[last] = _coerce(value)
        except (IndexError, ValueError, TypeError, AttributeError):  # a list index out of range, a path through a leaf
            raise SetupError(f"--param {key}: no such parameter {path!r}.{closest(path, full)}") from None
        resolved[path] = _coerce(value)
    return data, resolved


def hash_view(setup: Setup) -> dict:
    """The setup as hashed into ``effective_hash``: its JSON dump, with ``execution.intrabar`` as it was hashed
    before ``lower_timeframe`` existed (``stop_first``) when the YAML does not set it — so the hashes of
    existing setups, and the results tied to them, stay valid. The default's behaviour is the old one
    whenever no M1 candles are stored; with M1 stored, the run records ``intrabar`` and the data fingerprint."""
    dump = setup.model_dump(mode="json")
    if "intrabar" not in setup.execution.model_fields_set:
        dump["execution"]["intrabar"] = "stop_first"
    return dump


def load_setup(setup_id: str, version: int | str | None = None, params: dict[str, Any] | None = None,
               path: str | Path | None = None) -> LoadedSetup:
    """Load and validate ``setup_id`` (latest version by default), applying ``params`` in memory.

    Raises :class:`~ita.errors.SetupError` for an unknown id/version, invalid YAML or schema, a file whose
    ``id``/``version`` disagree with its location, or an unknown override.
    """
    p = setup_path(setup_id, version, path)
    data = p.read_bytes()
    text = data.decode("utf-8")
    setup = parse_setup_text(text, p)
    v = int(_VFILE.match(p.name).group(1))
    if setup.id != setup_id or setup.version != v:
        raise SetupError(f"{p}: declares id={setup.id!r} version={setup.version} but lives at {setup_id}/v{v}; "
                         "make them agree (the file's place is its identity).")
    overrides: dict[str, Any] = {}
    if params:
        raw, overrides = apply_overrides(load_yaml(text), params)
        try:
            setup = Setup.model_validate(raw)
        except ValidationError as exc:
            raise SetupError(_format_errors(p, text, exc).replace("Invalid setup:", "Invalid --param override:")) from None
    eff = _hash(json.dumps(hash_view(setup), sort_keys=True).encode())
    return LoadedSetup(setup=setup, path=p, version=v, content_hash=_hash(data), overrides=overrides, effective_hash=eff)
