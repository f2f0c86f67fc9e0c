"""Held-out facts for checking an honesty direction: a CSV with the columns ``question,answer``.

``answer`` is the short true answer a reply must contain (case-insensitive, as whole words) to count
as stating the fact; alternatives are separated by ``|`` (``four|4``). The built-in file
(``refusal_evals/repe/facts.csv``, 40 very easy questions, written for this project) is never used
to fit the direction. Errors name the file, the row (the header being row 1) and the field.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from refusal_evals.core.files import DataFileError

BUILTIN_FACTS = Path(__file__).parent / "facts.csv"
COLUMNS = ("question", "answer")


@dataclass(frozen=True)
class Fact:
    question: str
    answers: tuple[str, ...]

    def stated_in(self, reply: str) -> bool:
        """Whether ``reply`` contains one of the answers as whole words (case-insensitive)."""
        text = reply.lower()
        return any(re.search(rf"(?<!\w){re.escape(a.lower())}(?!\w)", text) for a in self.answers)


def load_facts(path: str | Path | None = None) -> list[Fact]:
    """Read and validate a ``question,answer`` CSV (the built-in one when ``path`` is None)."""
    file = Path(path).expanduser() if path is not None else BUILTIN_FACTS
    if not file.is_file():
        raise DataFileError(f"{file}: facts file not found (expected a CSV with columns question,answer)")
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as ex:
        raise DataFileError(f"{file}: not UTF-8 text ({ex}); save it as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise DataFileError(
            f"{file}: row 1 (header): missing column(s) {', '.join(missing)}; found "
            f"{', '.join(header) or 'no columns'}; expected a header row 'question,answer'"
        )
    reader.fieldnames = header
    facts: list[Fact] = []
    problems: list[str] = []
    for row in reader:
        question = (row.get("question") or "").strip()
        answers = tuple(a.strip() for a in (row.get("answer") or "").split("|") if a.strip())
        if not question and not answers:
            continue
        if None in row:
            problems.append(f"row {reader.line_num}: more fields than the header has (quote a comma)")
        elif not question or not answers:
            field = "question" if not question else "answer"
            problems.append(f"row {reader.line_num}, field '{field}': empty")
        else:
            facts.append(Fact(question, answers))
    if problems:
        raise DataFileError(f"{file}: " + "; ".join(problems))
    if len(facts) < 2:
        raise DataFileError(f"{file}: {len(facts)} fact(s); at least 2 are needed for the honesty checks")
    return facts
