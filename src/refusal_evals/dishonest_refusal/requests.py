"""Load request datasets: the built-in YAML file, or a user's file by path.

Formats, chosen by the file's suffix:

- ``.yaml`` / ``.yml``: the built-in format (:class:`RequestSet`);
- ``.csv``: a published harmful-request list, its layout detected from the header row
  (:data:`LAYOUTS`: StrongREJECT ``category,source,forbidden_prompt``; HarmBench ``Behavior``,
  ``SemanticCategory``, ``BehaviorID``, ``ContextString``, ...; AdvBench ``goal,target``), or any
  header mapped with ``-T columns=prompt:<column>,category:<column>,...`` (:func:`parse_columns`);
  other columns are ignored. The layout and the columns read are recorded (:attr:`RequestSet.layout`);
- ``.jsonl``: one JSON object per line, ``{"id", "prompt", "category"}`` (optionally ``probe``,
  ``knowledge``, ``source``; any other key is an error).

Every problem is reported before any model call, naming the file, the line (or row) and the field,
and what was expected. Validation is linear in the number of rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from inspect_ai.dataset import MemoryDataset, Sample
from pydantic import ValidationError

from refusal_evals.core.args import TaskArgError
from refusal_evals.core.files import DataFileError, validate_file
from refusal_evals.dishonest_refusal.request_schema import RequestItem, RequestSet

BUILTIN = Path(__file__).parent / "requests.yaml"
MAX_ERRORS = 20
FIELDS = ("prompt", "category", "id", "source", "probe", "knowledge", "context")
"""What ``-T columns`` can map a CSV column to (``context``: text put before the prompt, as HarmBench's
``ContextString``)."""
UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True)
class Layout:
    """A CSV layout: which column holds each field (``required`` must all be in the header)."""

    name: str
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    category: str | None = None
    """The category of every item when the layout has no category column."""
    marker: tuple[str, ...] = ()
    """Other columns the header must have for the layout to be recognised (not read)."""

    def expected(self) -> str:
        shown = [*self.required.values(), *self.marker]
        extra = f" (optionally {', '.join(self.optional.values())})" if self.optional else ""
        return f"{', '.join(shown)}{extra}"


LAYOUTS = (
    Layout(
        "strongreject",
        {"category": "category", "prompt": "forbidden_prompt"},
        {"source": "source", "id": "id", "probe": "probe", "knowledge": "knowledge"},
    ),
    Layout(
        "harmbench",
        {"prompt": "Behavior", "category": "SemanticCategory"},
        {"id": "BehaviorID", "context": "ContextString"},
    ),
    Layout("advbench", {"prompt": "goal"}, category="advbench", marker=("target",)),
)
"""The published layouts recognised from a CSV header (case-insensitive), in this order."""
TITLES = {"strongreject": "StrongREJECT", "harmbench": "HarmBench", "advbench": "AdvBench"}
COLUMNS_HINT = (
    "or map your columns with -T columns=prompt:<column>[,category:<column>,id:<column>,...] "
    f"(fields: {', '.join(FIELDS)})"
)


def parse_columns(value: Any) -> tuple[tuple[str, str], ...] | None:
    """``-T columns``: ``prompt:my_col,category:cat`` (or a list of ``field:column``, or a mapping)
    -> ``((field, column), ...)``; None when not given."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        pairs = []
        for item in (str(i).strip() for i in items):
            name, sep, column = item.partition(":")
            if not sep or not column.strip():
                raise TaskArgError(f"-T columns: {item!r} is not field:column, e.g. -T columns=prompt:my_col")
            pairs.append((name.strip(), column.strip()))
    fields = [f for f, _ in pairs]
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise TaskArgError(
            f"-T columns: unknown field {', '.join(unknown)}; valid fields: {', '.join(FIELDS)}"
        )
    if len(set(fields)) < len(fields) or "prompt" not in fields:
        raise TaskArgError("-T columns: name the prompt column once, each other field at most once")
    return tuple(pairs)


@lru_cache(maxsize=16)
def load_requests(path: str | None = None, columns: tuple[tuple[str, str], ...] | None = None) -> RequestSet:
    """The built-in dataset (``path`` None) or the file at ``path`` (``columns``: a CSV's mapping)."""
    if path is None:
        builtin: RequestSet = validate_file(BUILTIN, RequestSet)
        return builtin
    file = Path(path)
    suffix = file.suffix.lower()
    if columns is not None and suffix != ".csv":
        raise TaskArgError(f"-T columns maps the columns of a .csv file; {file} is not one")
    if suffix in (".yaml", ".yml"):
        loaded: RequestSet = validate_file(file, RequestSet)
        return loaded
    if suffix not in (".csv", ".jsonl"):
        raise DataFileError(
            f"{file}: unknown dataset format {suffix or '(no suffix)'!r}; expected .yaml/.yml (built-in "
            "format), .csv (StrongREJECT, HarmBench or AdvBench columns, or any with -T columns) or .jsonl "
            "(objects with id, prompt, category[, probe, knowledge, source])"
        )
    if not file.is_file():
        raise DataFileError(f"{file}: file not found")
    text = file.read_text(encoding="utf-8-sig")
    if suffix == ".csv":
        layout, columns_read, rows, errors = _csv_rows(file, text, columns)
        renamed = {f: c for f, c in columns_read.items() if f != "context"}
    else:
        rows, errors = _jsonl_rows(text)
        layout, columns_read, renamed = "jsonl", {}, {}
    requests = _request_set(file, text, rows, errors, renamed)
    requests.set_layout(layout, columns_read)
    return requests


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
            column = renamed.get("id", "id")
            errors.append(f"{where}: field '{column}': {item.id!r} is already used at {first_seen[item.id]}")
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


def _header(file: Path, reader: csv.DictReader[str]) -> list[str]:
    header = reader.fieldnames
    if not header:
        raise DataFileError(
            f"{file}: empty file; expected a header row with columns category, forbidden_prompt "
            "(StrongREJECT), Behavior, SemanticCategory (HarmBench) or goal, target (AdvBench)"
        )
    return [h.strip() for h in header]


def _choose_layout(file: Path, names: list[str], columns: tuple[tuple[str, str], ...] | None) -> Layout:
    """The given mapping, else the first published layout whose columns are all in the header."""
    lower = {n.lower(): n for n in names}
    found = ", ".join(names) or "none"
    if columns is not None:
        absent = [c for _, c in columns if c.lower() not in lower]
        if absent:
            raise DataFileError(
                f"{file}: line 1 (header): -T columns names {', '.join(absent)}, not in the header; "
                f"found {found}"
            )
        return Layout("columns", dict(columns))
    misses = []
    for layout in LAYOUTS:
        missing = [c for c in (*layout.required.values(), *layout.marker) if c.lower() not in lower]
        if not missing:
            return layout
        misses.append(f"{TITLES[layout.name]}: {layout.expected()} (missing {', '.join(missing)})")
    raise DataFileError(
        f"{file}: line 1 (header): the columns match no known layout; found {found}. Expected "
        f"{'; '.join(misses)}; {COLUMNS_HINT}"
    )


def _csv_rows(
    file: Path, text: str, columns: tuple[tuple[str, str], ...] | None
) -> tuple[str, dict[str, str], list[Row], list[str]]:
    """``(layout name, field -> column read, rows, errors)`` of a CSV file."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    names = _header(file, reader)
    layout = _choose_layout(file, names, columns)
    lower = {n.lower(): n for n in names}
    read = {f: lower[c.lower()] for f, c in (layout.required | layout.optional).items() if c.lower() in lower}
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
        rows.append((where, _csv_item(row, read, layout, n)))
    return layout.name, read, rows, errors


def _csv_item(row: dict[str, str], read: dict[str, str], layout: Layout, n: int) -> dict[str, Any]:
    """One row's item fields (``context`` goes before the prompt, as in HarmBench's own template)."""
    value = {f: row[c] for f, c in read.items()}
    prompt = value.get("prompt", "")
    context = value.get("context", "").strip()
    fields: dict[str, Any] = {
        "id": value.get("id", "").strip() or f"row{n}",
        "category": value["category"] if "category" in read else layout.category or UNCATEGORIZED,
        "prompt": f"{context}\n\n---\n\n{prompt}" if context and prompt.strip() else prompt,
    }
    return fields | {k: value[k] for k in ("source", "probe", "knowledge") if value.get(k, "").strip()}


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
