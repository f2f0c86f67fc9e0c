"""Statements used to read the honesty direction: a CSV with the columns ``statement,label``.

``label`` is ``1`` (true statement) or ``0`` (false statement); ``true``/``false`` are accepted too.
The built-in file (``refusal_evals/datasets/statements.csv``, 338 true and 338 false statements
about geography, science, animals, numbers, units, books, art and history) was written for this
project. Only the true statements make the honest/untruthful contrast pairs; the false ones are
kept so that the same file can serve other readings.

Errors name the file, the row (as numbered in a text editor, the header being row 1) and the field.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from refusal_evals.core.files import DataFileError

BUILTIN_STATEMENTS = Path(__file__).parent / "statements.csv"
REQUIRED_COLUMNS = ("statement", "label")
_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


@dataclass(frozen=True)
class Statement:
    text: str
    label: bool
    row: int


@dataclass(frozen=True)
class Statements:
    path: Path
    items: tuple[Statement, ...]
    sha256: str
    """Hash of the file's bytes: part of the direction cache key."""

    @property
    def true(self) -> list[str]:
        return [s.text for s in self.items if s.label]

    @property
    def false(self) -> list[str]:
        return [s.text for s in self.items if not s.label]


def load_statements(path: str | Path | None = None, *, min_true: int = 2) -> Statements:
    """Read and validate a ``statement,label`` CSV (the built-in one when ``path`` is None)."""
    file = Path(path).expanduser() if path is not None else BUILTIN_STATEMENTS
    if not file.is_file():
        raise DataFileError(
            f"{file}: statements file not found (expected a CSV with columns statement,label)"
        )
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as ex:
        raise DataFileError(f"{file}: not UTF-8 text ({ex})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataFileError(
            f"{file}: row 1 (header): missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; found {', '.join(header) or 'no columns'}; "
            "expected a header row 'statement,label'"
        )
    reader.fieldnames = header
    items: list[Statement] = []
    seen: dict[str, int] = {}
    for row in reader:
        n = reader.line_num
        if None in row:
            raise DataFileError(
                f"{file}: row {n}: more fields than the header has (quote a statement that contains a comma)"
            )
        statement = (row.get("statement") or "").strip()
        label = (row.get("label") or "").strip().lower()
        if not statement and not label:
            continue  # blank line
        if not statement:
            raise DataFileError(f"{file}: row {n}, field 'statement': empty")
        if label in _TRUE:
            value = True
        elif label in _FALSE:
            value = False
        else:
            raise DataFileError(
                f"{file}: row {n}, field 'label': {row.get('label')!r} is not a label; "
                "use 1 (true statement) or 0 (false statement)"
            )
        if statement in seen:
            raise DataFileError(f"{file}: row {n}, field 'statement': duplicate of row {seen[statement]}")
        seen[statement] = n
        items.append(Statement(statement, value, n))
    n_true = sum(s.label for s in items)
    if n_true < min_true:
        raise DataFileError(
            f"{file}: {n_true} true statement(s) (label 1); at least {min_true} are needed to fit "
            "and check an honesty direction"
        )
    return Statements(path=file, items=tuple(items), sha256=hashlib.sha256(raw).hexdigest())
