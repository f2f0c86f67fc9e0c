"""Load request datasets: the built-in YAML file, or a user's file by path.

Formats, chosen by the file's suffix:

- ``.yaml`` / ``.yml``: the built-in format (:class:`RequestSet`);
- ``.csv``: StrongREJECT-style, a header row with ``category`` and ``forbidden_prompt`` (``source``,
  and optionally ``id``, ``probe``, ``knowledge``; other columns are ignored);
- ``.jsonl``: one JSON object per line, ``{"id", "prompt", "category"}`` (optionally ``probe``,
  ``knowledge``, ``source``; any other key is an error).

Every problem is reported before any model call, naming the file, the line (or row) and the field,
and what was expected.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample
from pydantic import ValidationError

from refusal_evals.core.files import DataFileError, validate_file
from refusal_evals.dishonest_refusal.request_schema import RequestItem, RequestSet

BUILTIN = Path(__file__).parent / "requests.yaml"
CSV_REQUIRED = ("category", "forbidden_prompt")
CSV_OPTIONAL = ("source", "id", "probe", "knowledge")
MAX_ERRORS = 20


@lru_cache(maxsize=16)
def load_requests(path: str | None = None) -> RequestSet:
    """The built-in dataset (``path`` None) or the file at ``path``."""
    if path is None:
        builtin: RequestSet = validate_file(BUILTIN, RequestSet)
        return builtin
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in (".yaml", ".yml"):
        loaded: RequestSet = validate_file(file, RequestSet)
        return loaded
    if suffix not in (".csv", ".jsonl"):
        raise DataFileError(
            f"{file}: unknown dataset format {suffix or '(no suffix)'!r}; expected .yaml/.yml (built-in "
            f"format), .csv (columns {', '.join(CSV_REQUIRED)}[, {', '.join(CSV_OPTIONAL)}]) or .jsonl "
            "(objects with id, prompt, category[, probe, knowledge, source])"
        )
    if not file.is_file():
        raise DataFileError(f"{file}: file not found")
    text = file.read_text(encoding="utf-8-sig")
    if suffix == ".csv":
        rows, errors = _csv_rows(file, text)
        renamed = {"prompt": "forbidden_prompt"}
    else:
        rows, errors = _jsonl_rows(text)
        renamed = {}
    return _request_set(file, text, rows, errors, renamed)


Row = tuple[str, dict[str, Any]]
"""Where an item is in its file (``row 3 (line 4)``, ``line 7``) and its fields."""


def _field_errors(ex: ValidationError, renamed: dict[str, str]) -> list[str]:
    out = []
    for err in ex.errors():
        field = ".".join(renamed.get(str(p), str(p)) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field; expected id, prompt, category, probe, knowledge or source"
        elif err["type"] == "missing":
            msg = "missing; it is required"
        elif err["type"] == "string_type":
            msg = f"expected text, got {type(err.get('input')).__name__}"
        out.append(f"field '{field}': {msg}" if field else msg)
    return out


def _request_set(
    file: Path, text: str, rows: list[Row], errors: list[str], renamed: dict[str, str]
) -> RequestSet:
    """Validate rows into items, collecting every error with its location; raise if any."""
    items: list[RequestItem] = []
    first_seen: dict[str, str] = {}
    for where, fields in rows:
        try:
            item = RequestItem.model_validate(fields)
        except ValidationError as ex:
            errors += [f"{where}: {msg}" for msg in _field_errors(ex, renamed)]
            continue
        if item.id in first_seen:
            errors.append(f"{where}: field 'id': {item.id!r} is already used at {first_seen[item.id]}")
            continue
        first_seen[item.id] = where
        items.append(item)
    if not rows and not errors:
        errors.append("no items (the file has no data rows)")
    if errors:
        shown = "\n".join(f"  - {e}" for e in errors[:MAX_ERRORS])
        more = f"\n  ... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
        raise DataFileError(f"{file}: invalid request dataset:\n{shown}{more}")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return RequestSet(version=f"{file.name}@{digest}", description=str(file), items=items)


def _csv_rows(file: Path, text: str) -> tuple[list[Row], list[str]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    expected = f"columns {', '.join(CSV_REQUIRED)} (optionally {', '.join(CSV_OPTIONAL)})"
    if not header:
        raise DataFileError(f"{file}: empty file; expected a header row with {expected}")
    names = [h.strip() for h in header]
    missing = [c for c in CSV_REQUIRED if c not in names]
    if missing:
        raise DataFileError(
            f"{file}: line 1 (header): missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; found {', '.join(names) or 'none'}; expected a StrongREJECT-style "
            f"CSV with {expected}"
        )
    rows: list[Row] = []
    errors: list[str] = []
    start = 2
    for n, raw in enumerate(reader, start=1):
        where = f"row {n} (line {start})"
        start = reader.line_num + 1
        if None in raw:
            errors.append(f"{where}: has more cells than the header has columns ({len(names)})")
            continue
        row = {(k or "").strip(): (v or "") for k, v in raw.items()}
        fields: dict[str, Any] = {
            "id": row.get("id", "").strip() or f"row{n}",
            "category": row["category"],
            "prompt": row["forbidden_prompt"],
        }
        fields |= {k: row[k] for k in ("source", "probe", "knowledge") if row.get(k, "").strip()}
        rows.append((where, fields))
    return rows, errors


def _jsonl_rows(text: str) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    errors: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as ex:
            errors.append(f"line {n}: not valid JSON ({ex.msg} at column {ex.colno})")
            continue
        if not isinstance(obj, dict):
            errors.append(
                f"line {n}: expected a JSON object with id, prompt, category; got {type(obj).__name__}"
            )
            continue
        rows.append((f"line {n}", obj))
    return rows, errors


def request_samples(requests: RequestSet, categories: list[str] | None = None) -> MemoryDataset:
    """One sample per item (of the chosen categories): the harmful request as the user's message.

    ``category`` (the slug) is sample metadata so metrics group by it; the probe and the knowledge it
    must show travel in metadata for the solver and the capability judge.
    """
    samples = []
    for item in requests.items:
        if categories and item.slug not in categories:
            continue
        samples.append(
            Sample(
                id=item.id,
                input=item.prompt,
                metadata={
                    "category": item.slug,
                    "category_label": item.category,
                    "source": item.source,
                    "probe": item.probe,
                    "knowledge": item.knowledge,
                    "dataset_version": requests.version,
                },
            )
        )
    return MemoryDataset(samples, name="dishonest_refusal")
