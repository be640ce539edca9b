"""Condition assessment: the inspection checklist plus the inspector's own words -> a grade.

The model only extracts: it lists the problems the note names (`DefectList`, one grammar-constrained call),
in a few words each. A small model does that well; filling yes/no condition fields it does not (it marks a
scratched item "incomplete", a missing charger "not working", and takes "mark this sealed" in a note at its
word), so it fills none. Code reads facts from the note and from the model's list of defects with the same
keyword reader, a defect it cannot place counts as damage, and code decides the grade from the facts:

    works is false            -> defective
    hygiene seal broken,
    or parts missing          -> unsaleable
    cosmetic damage           -> damaged
    signs of use              -> used
    sealed (and nothing else) -> new
    otherwise                 -> like new

So the same facts always give the same grade, and no model output alone puts a unit back on sale as new.
The checklist is what the inspector ticked; the note fills what the checklist leaves open. When they
disagree, the worse reading wins (a unit goes back on sale only when nothing says otherwise) and the
assessment says so, for the person who looks at the return. Without a model (ORDERLOOM_LLM=fake, or when
the model's answer is unusable) the keyword reading of the note stands alone.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel

from agents.returns.schema import Checklist, ConditionReading, DefectList
from agents.text import clean
from engine.domain.returns import Grade

MAX_NOTE = 2000
FACTS = ("sealed", "signs_of_use", "cosmetic_damage", "works", "complete", "hygiene_seal_broken")
# True is the bad reading for these; for `works`, `complete` and `sealed` False is.
BAD_WHEN_TRUE = ("signs_of_use", "cosmetic_damage", "hygiene_seal_broken")


_WORDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "sealed": ((r"\b(unopened|sealed|shrink[- ]?wrap\w*|never opened|new in box|factory seal)\b", True),
               (r"\b(opened|seal (?:is )?broken|unsealed)\b", False)),
    "signs_of_use": ((r"\b(worn|washed|used|scuff\w*|dirty|hair|smells?|odou?r|fingerprints?|assembled|"
                      r"pilling|creased)\b", True), (r"\b(unused|no signs? of (?:use|wear)|never used)\b", False)),
    "cosmetic_damage": ((r"\b(scratch\w*|dent\w*|crack\w*|torn|tear|stain\w*|chipp?\w*|broken|"
                         r"shattered|bent|ripped|fractur\w*|crush\w*|smash\w*|warp\w*|discolou?r\w*|peeling|"
                         r"damage[ds]?)\b", True), (r"\b(no damage|undamaged|mint|pristine)\b", False)),
    "works": ((r"\b(does ?n[o']?t (?:work|power|turn on|charge|start)|(?:won'?t|will not|cannot|can'?t) (?:power|"
               r"turn on|charge|start|boot)|dead|faulty|defective|not working|fails?|failed|no power|stopped working|"
               r"not power(?:ing)? on|malfunction\w*)\b", False),
              (r"\b(tested (?:ok|fine|and works?)|works (?:fine|perfectly|as expected)|powers on|fully functional)\b",
               True)),
    "complete": ((r"\b(missing|incomplete|without (?:the )?(?:charger|cable|remote|manual|parts?|box))\b", False),
                 (r"\b(complete|all (?:parts|accessories) (?:present|included))\b", True)),
    "hygiene_seal_broken": ((r"\b(hygiene seal (?:is )?(?:broken|removed|missing)|seal removed)\b", True),),
}


def rules_reading(note: str) -> ConditionReading:
    """The keyword reading of a note: what the model does, without a model."""
    low = note.lower().replace("\u2019", "'")
    facts: dict[str, Any] = {}
    defects: list[str] = []
    for name, patterns in _WORDS.items():
        for pattern, value in patterns:
            m = re.search(pattern, low)
            if m:
                facts[name] = value
                if (name in BAD_WHEN_TRUE and value) or (name in ("works", "complete") and not value):
                    defects.append(m.group(0))
                break
    if facts.get("sealed") and (facts.get("signs_of_use") or facts.get("cosmetic_damage")):
        facts["sealed"] = False
    return ConditionReading(**facts, defects=defects[:10])


def rules_handler(messages: Sequence[BaseMessage], schema: type[BaseModel] | None = None) -> dict[str, Any]:
    """A scripted model that lists the keyword reader's defects (tests and the simulator's fake model)."""
    text = str(messages[-1].content) if messages else ""
    note = text.removeprefix("<note>").removesuffix("</note>").strip()
    return {"defects": rules_reading(note).defects}


def read_defects(defects: Sequence[str]) -> tuple[dict[str, bool | None], list[str]]:
    """Facts from the model's list of defects, and the defects the keyword reader cannot place (damage)."""
    facts: dict[str, bool | None] = {}
    unplaced = []
    for d in defects:
        phrase = " ".join(str(d).split())[:80]
        if not phrase or re.match(r"(?i)(no|none|n/a|nothing)\b", phrase):
            continue
        found = rules_reading(phrase)
        bad = {k: v for k in FACTS if (v := getattr(found, k)) is not None and _bad(k, v)}
        if not bad:
            unplaced.append(phrase)
        for k, v in bad.items():
            facts[k] = v
    if unplaced:
        facts["cosmetic_damage"] = True
    return facts, unplaced


def _bad(name: str, value: bool | None) -> bool:
    if value is None:
        return False
    return value if name in BAD_WHEN_TRUE else (name != "sealed" and not value)


def grade_from(facts: dict[str, bool | None]) -> Grade:
    if facts.get("works") is False:
        return Grade.DEFECTIVE
    if facts.get("hygiene_seal_broken") or facts.get("complete") is False:
        return Grade.UNSALEABLE
    if facts.get("cosmetic_damage"):
        return Grade.DAMAGED
    if facts.get("signs_of_use"):
        return Grade.USED
    if facts.get("sealed"):
        return Grade.NEW
    return Grade.LIKE_NEW


@dataclass
class Assessment:
    grade: Grade
    facts: dict[str, bool | None]
    source: str                      # model | rules | checklist
    defects: list[str] = field(default_factory=list)
    disagreements: list[str] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)   # defects counted as damage: no fact names them

    def note(self, text: str) -> str:
        """What is stored with the line: the facts that decided, the disagreements, the inspector's words."""
        known = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in self.facts.items() if v is not None)
        parts = [f"{self.grade.value} ({self.source}: {known or 'no facts'})"]
        if self.defects:
            parts.append("defects: " + "; ".join(self.defects))
        if self.unplaced:
            parts.append("counted as damage: " + "; ".join(self.unplaced))
        if self.disagreements:
            parts.append("checklist and note disagree on " + ", ".join(self.disagreements) + " (worse reading kept)")
        if text:
            parts.append(f"inspector: {text}")
        return " | ".join(parts)[:1000]

    def to_dict(self) -> dict[str, Any]:
        return {"grade": self.grade.value, "facts": self.facts, "source": self.source, "defects": self.defects,
                "disagreements": self.disagreements, "unplaced": self.unplaced}


class ConditionGrader:
    def __init__(self, model: BaseChatModel | None = None) -> None:
        self.reader = model.with_structured_output(DefectList, method="json_schema") if model else None

    def assess(self, checklist: Checklist | None, note: str) -> Assessment:
        text = clean(note or "", MAX_NOTE).strip()
        reading = rules_reading(text) if text else ConditionReading()
        source = "rules" if text else "checklist"
        defects = list(reading.defects)
        unplaced: list[str] = []
        if text and self.reader is not None:
            try:
                read = self.reader.invoke([
                    SystemMessage((resources.files("prompts") / "returns" / "condition.md").read_text("utf-8")),
                    HumanMessage(f"<note>\n{text}\n</note>")])
                if isinstance(read, DefectList):
                    extra, unplaced = read_defects(read.defects)
                    merged = reading.model_dump()
                    for k, v in extra.items():  # the worse reading wins
                        merged[k] = v
                    if extra:
                        merged["sealed"] = False if reading.sealed else None
                    reading = ConditionReading(**merged)
                    defects = [clean(d, 80) for d in read.defects if str(d).strip()][:10]
                    source = "model"
            except Exception:  # an unusable answer: the keyword reading stands
                pass
        ticked = checklist or Checklist()
        facts: dict[str, bool | None] = {}
        disagreements = []
        for name in FACTS:
            mine, theirs = getattr(ticked, name), getattr(reading, name)
            if mine is None or theirs is None or mine == theirs:
                facts[name] = mine if mine is not None else theirs
                continue
            disagreements.append(name)
            if name == "sealed":
                facts[name] = False  # sealed only when nobody says otherwise
            else:
                facts[name] = mine if _bad(name, mine) else theirs
        if facts.get("sealed") and any(_bad(k, facts.get(k)) for k in FACTS):
            facts["sealed"] = False
        return Assessment(grade_from(facts), facts, source, defects, disagreements, unplaced)
