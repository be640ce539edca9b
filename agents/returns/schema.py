"""What the condition grader reads and fills: the inspector's checklist, the facts, the model's defect list.
Plain pydantic (no model client), so the API validates an inspection without loading the agents."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class Checklist(BaseModel):
    """What the inspector ticked at the bench (None: not checked). The same facts the keyword reader finds."""

    model_config = ConfigDict(extra="forbid")
    sealed: StrictBool | None = None
    signs_of_use: StrictBool | None = None
    cosmetic_damage: StrictBool | None = None
    works: StrictBool | None = None
    complete: StrictBool | None = None
    hygiene_seal_broken: StrictBool | None = None


class ConditionReading(Checklist):
    """Facts about a returned item (None: nothing said), as the keyword reader finds them in words."""

    defects: list[str] = Field(default_factory=list, max_length=10)


class DefectList(BaseModel):
    """What the model fills from the inspector's note."""

    model_config = ConfigDict(extra="ignore")
    defects: list[str] = Field(default_factory=list, max_length=10,
                               description="each problem the note names, a few words each, in the note's words; "
                                           "empty when it names none")
