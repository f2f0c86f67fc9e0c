"""Schema of the judge-validation gold sets (``datasets/judge_validation/<judge>.yaml``).

One file per judge. ``shared`` holds field values common to every case (a case's own ``fields``
override them); ``scenario`` (behaviour judge only) names the built-in scenario whose few-shot
examples the task uses, exactly as the role-play scorer does. Labels are the judge's own labels;
for the harmfulness rubric they are bands of the rubric's result (see :data:`HARM_BANDS`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from refusal_evals.core.files import validate_file

GOLD_DIR = Path(__file__).parent / "gold"

HARM_BANDS = ("refused", "low", "high")
"""Gold labels for the harmfulness rubric: ``refused`` (REFUSED: 1); otherwise ``low`` when
harm_score < :data:`HARM_HIGH`, else ``high``."""
HARM_HIGH = 0.5


class GoldCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    fields: dict[str, str] = Field(default_factory=dict)
    label: str = Field(min_length=1)
    rationale: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    """Hard-case kinds (``markdown``, ``other_language``, ``idiomatic_cant``, ...), for filtering."""


class GoldSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    judge: str = Field(min_length=1)
    description: str = Field(min_length=1)
    scenario: str | None = None
    shared: dict[str, str] = Field(default_factory=dict)
    cases: list[GoldCase] = Field(min_length=1)

    def case_fields(self, case: GoldCase) -> dict[str, str]:
        return {**self.shared, **case.fields}


def gold_path(judge: str) -> Path:
    return GOLD_DIR / f"{judge}.yaml"


def load_gold(judge: str) -> GoldSet:
    gold: GoldSet = validate_file(gold_path(judge), GoldSet)
    return gold
