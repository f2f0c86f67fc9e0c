"""Statements used to read the honesty direction: a CSV with the columns ``statement,label``.

``label`` is ``1`` (true statement) or ``0`` (false statement); ``true``/``false`` are accepted too.
The built-in file (``refusal_evals/repe/statements.csv``, 338 true and 338 false statements
about geography, science, animals, numbers, units, books, art and history) was written for this
project. Only the true statements make the honest/untruthful contrast pairs; the false ones are
kept so that the same file can serve other readings.

Published files repeat statements (RepE's ``facts_true_false.csv``, 612 rows, does): a row that
repeats an earlier one exactly (same statement, same label) is dropped with a logged note, and the
dropped rows are counted in :attr:`Statements.duplicates_dropped` (the direction's record keeps the
count). A statement given both labels cannot be read either way: every such statement is reported,
with every other problem in the file, in one error.

Errors name the file, the row (as numbered in a text editor, the header being row 1) and the field.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from refusal_evals.core.files import DataFileError, read_text

logger = logging.getLogger(__name__)

BUILTIN_STATEMENTS = Path(__file__).parent / "statements.csv"
REQUIRED_COLUMNS = ("statement", "label")
_TRUE = {"1", "true"}
_FALSE = {"0", "false"}
MAX_PROBLEMS_SHOWN = 100
"""An error lists at most this many problems (and says how many there are in all)."""


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
    duplicates_dropped: tuple[int, ...] = ()
    """Rows dropped because they repeat an earlier row exactly (same statement, same label)."""

    @property
    def true(self) -> list[str]:
        return [s.text for s in self.items if s.label]

    @property
    def false(self) -> list[str]:
        return [s.text for s in self.items if not s.label]


def load_statements(path: str | Path | None = None, *, min_true: int = 2) -> Statements:
    """Read and validate a ``statement,label`` CSV (the built-in one when ``path`` is None).

    Raises :class:`DataFileError` listing every problem found (not only the first)."""
    file = Path(path).expanduser() if path is not None else BUILTIN_STATEMENTS
    if not file.is_file():
        raise DataFileError(
            f"{file}: statements file not found (expected a CSV with columns statement,label)"
        )
    raw, text = read_text(file)
    rows, problems = _read_rows(file, text)
    items, dropped, conflicts = _dedupe(rows)
    problems += conflicts
    if problems:
        raise DataFileError(_problems_message(file, problems))
    n_true = sum(s.label for s in items)
    if n_true < min_true:
        raise DataFileError(
            f"{file}: {n_true} true statement(s) (label 1); at least {min_true} are needed to fit "
            "and check an honesty direction"
        )
    if dropped:
        logger.warning(
            f"{file}: dropped {len(dropped)} row(s) that repeat an earlier row exactly (same "
            f"statement and label): {_rows_text(dropped)}; {len(items)} distinct statements kept"
        )
    return Statements(
        path=file, items=tuple(items), sha256=hashlib.sha256(raw).hexdigest(), duplicates_dropped=dropped
    )


def _read_rows(file: Path, text: str) -> tuple[list[Statement], list[str]]:
    """Every well-formed row, and a line per malformed one."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as ex:
        raise DataFileError(f"{file}: row 1 (header): not a CSV row ({ex})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DataFileError(
            f"{file}: row 1 (header): missing column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; found {', '.join(header) or 'no columns'}; "
            "expected a header row 'statement,label'"
        )
    reader.fieldnames = header
    rows: list[Statement] = []
    problems: list[str] = []
    try:
        for row in reader:
            n = reader.line_num
            statement = (row.get("statement") or "").strip()
            label = (row.get("label") or "").strip().lower()
            if None in row:
                problems.append(f"row {n}: more fields than the header has (quote a statement with a comma)")
            elif not statement and not label:
                continue  # blank line
            elif not statement:
                problems.append(f"row {n}, field 'statement': empty")
            elif label not in _TRUE | _FALSE:
                problems.append(
                    f"row {n}, field 'label': {row.get('label')!r} is not a label; "
                    "use 1 (true statement) or 0 (false statement)"
                )
            else:
                rows.append(Statement(statement, label in _TRUE, n))
    except csv.Error as ex:
        problems.append(f"row {reader.line_num}: not a CSV row ({ex}); nothing after it was read")
    return rows, problems


def _dedupe(rows: list[Statement]) -> tuple[list[Statement], tuple[int, ...], list[str]]:
    """``(kept, rows dropped as exact repeats, a line per statement given both labels)``: linear."""
    rows_of: dict[str, list[Statement]] = {}
    kept: list[Statement] = []
    dropped: list[int] = []
    for s in rows:
        group = rows_of.setdefault(s.text, [])
        if not group:
            kept.append(s)
        elif group[0].label == s.label:
            dropped.append(s.row)
        group.append(s)
    conflicts: dict[str, str] = {}
    for text, group in rows_of.items():
        by_label = {lab: [s.row for s in group if s.label == lab] for lab in (True, False)}
        if by_label[True] and by_label[False]:
            conflicts[text] = (
                f"rows {_rows_text(by_label[True])} (label 1) and {_rows_text(by_label[False])} "
                f"(label 0), field 'statement': {text!r} is labelled both true and false; keep one label"
            )
    return [s for s in kept if s.text not in conflicts], tuple(dropped), list(conflicts.values())


def _rows_text(rows: list[int] | tuple[int, ...], most: int = 20) -> str:
    shown = ", ".join(str(r) for r in rows[:most])
    return shown + (f" and {len(rows) - most} more" if len(rows) > most else "")


def _problems_message(file: Path, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{file}: {problems[0]}"
    shown = problems[:MAX_PROBLEMS_SHOWN]
    lines = [f"{file}: {len(problems)} problems in this statements file:"]
    lines += [f"  - {p}" for p in shown]
    if len(problems) > len(shown):
        lines.append(f"  ... and {len(problems) - len(shown)} more")
    return "\n".join(lines)
