"""Suggestions for one incident or many: the lexicon's hits and the learned model's
probabilities combined into one confidence per label, each with the sentence it came from.

How the two combine: as independent evidence, ``1 - (1 - lexicon)(1 - w*model)``, where a
label the model has learned from ``n`` examples weighs its probability by
``w = n / (n + PRIOR_EXAMPLES)``: a fresh install leans on the lexicon, a grown knowledge
base on what it has learned. Labels the model has not learned (too few examples) are the
lexicon's alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from classifier import lexicon
from classifier.learning import LearnedModel
from classifier.text import Passage, Sentence, document, quote, sentences

PRIOR_EXAMPLES = 6
REPORT_MIN = 0.2  # below this a label is not worth showing
MAX_CHANGE_TYPES = 3
MAX_FACTORS = 5


@dataclass(frozen=True)
class Suggested:
    label: str  # "ct:<slug>" or "f:<category>:<role>"
    confidence: float
    evidence: str = ""
    evidence_source: str = ""
    highlight: str = ""

    @property
    def slug(self) -> str:
        return self.label.split(":")[1]

    @property
    def role(self) -> str:
        return self.label.split(":")[2] if self.is_factor else ""

    @property
    def is_factor(self) -> bool:
        return self.label.startswith("f:")

    def as_dict(self) -> dict:
        shown = {
            "confidence": round(self.confidence, 3),
            "evidence": self.evidence,
            "evidence_source": self.evidence_source,
            "highlight": self.highlight,
        }
        if self.is_factor:
            return {"category": self.slug, "role": self.role, **shown}
        return {"slug": self.slug, **shown}


@dataclass
class Suggestions:
    model_version: int
    change_types: list[Suggested] = field(default_factory=list)
    factors: list[Suggested] = field(default_factory=list)

    @property
    def top_confidence(self) -> float:
        return max((s.confidence for s in self.change_types + self.factors), default=0.0)

    def as_payload(self) -> dict:
        return {
            "model_version": self.model_version,
            "change_types": [s.as_dict() for s in self.change_types],
            "factors": [s.as_dict() for s in self.factors],
        }

    @classmethod
    def from_payload(cls, payload: dict) -> Suggestions:
        def item(entry: dict, label: str) -> Suggested:
            return Suggested(
                label,
                entry["confidence"],
                entry.get("evidence", ""),
                entry.get("evidence_source", ""),
                entry.get("highlight", ""),
            )

        return cls(
            model_version=payload.get("model_version", 0),
            change_types=[item(e, f"ct:{e['slug']}") for e in payload.get("change_types", [])],
            factors=[item(e, f"f:{e['category']}:{e['role']}") for e in payload.get("factors", [])],
        )

    def labels(self) -> dict[str, Suggested]:
        return {s.label: s for s in self.change_types + self.factors}


@dataclass(frozen=True)
class Evidence:
    weight: float
    sentence: Sentence
    highlight: str


@dataclass
class Classifier:
    """One model version with the lexicon, for the taxonomy terms that exist."""

    version: int
    learned: LearnedModel | None
    known_labels: frozenset[str]  # labels whose terms exist in the taxonomy

    def suggest(self, incident_id: int | None, found: list[Passage]) -> Suggestions:
        return self.suggest_many([(incident_id, found)])[0]

    def suggest_many(self, items: Sequence[tuple[int | None, list[Passage]]]) -> list[Suggestions]:
        split = [sentences(found) for _, found in items]
        probabilities = self._probabilities(items)
        drafts = []
        for row in range(len(items)):
            row_probabilities = None if probabilities is None else probabilities[row]
            confidence, evidence = self._confidence(split[row], row_probabilities)
            chosen = arrange(
                self.version,
                [
                    _with_evidence(Suggested(label, float(value)), evidence.get(label))
                    for label, value in confidence.items()
                    if value >= REPORT_MIN and label in self.known_labels
                ],
            )
            drafts.append(chosen)
        self._add_model_evidence(items, split, drafts)
        return drafts

    def _probabilities(self, items) -> np.ndarray | None:
        if self.learned is None or not items:
            return None
        texts = [document(found) for _, found in items]
        return self.learned.probabilities(texts, [incident_id for incident_id, _ in items])

    def _confidence(self, split: list[Sentence], probabilities) -> tuple[dict, dict]:
        confidence, evidence = lexicon_scores(split)
        if probabilities is not None:
            for index, label in enumerate(self.learned.labels):
                share = self.learned.positives[label] / (
                    self.learned.positives[label] + PRIOR_EXAMPLES
                )
                # Independent voices: either may raise a label; the model's weighs by its examples.
                lexicon_says = confidence.get(label, 0.0)
                confidence[label] = 1 - (1 - lexicon_says) * (1 - share * probabilities[index])
        return confidence, evidence

    def _add_model_evidence(self, items, split, drafts: list[Suggestions]) -> None:
        """For a label only the model raised: the sentence whose words weigh most towards it.

        The sentences of every incident that needs one are turned into features at once.
        """
        if self.learned is None:
            return
        learned = set(self.learned.labels)
        need = [
            row
            for row, draft in enumerate(drafts)
            if split[row]
            and any(
                not s.evidence and s.label in learned for s in draft.change_types + draft.factors
            )
        ]
        if not need:
            return
        texts = [s.text for row in need for s in split[row]]
        features = self.learned.features(texts)
        models = [self.learned.model_for(items[row][0]) for row in need]
        # Every sentence's pull towards every label, per model: one product each.
        scores = {
            model: np.asarray((features @ self.learned.weights[model].coef.T).todense())
            for model in set(models)
        }
        index = {label: i for i, label in enumerate(self.learned.labels)}
        position = 0
        for row, model in zip(need, models, strict=True):
            rows = scores[model][position : position + len(split[row])]
            position += len(split[row])
            drafts[row].change_types = [
                _from_model(s, rows, split[row], index) for s in drafts[row].change_types
            ]
            drafts[row].factors = [
                _from_model(s, rows, split[row], index) for s in drafts[row].factors
            ]


def _from_model(s: Suggested, rows: np.ndarray, split: list[Sentence], index: dict) -> Suggested:
    """The suggestion with the sentence that pulls most towards its label, if it lacks one."""
    if s.evidence or s.label not in index:
        return s
    column = rows[:, index[s.label]]
    best = int(np.argmax(column))
    if column[best] <= 0:
        return s
    return _with_evidence(s, Evidence(float(column[best]), split[best], ""))


def _with_evidence(s: Suggested, found: Evidence | None) -> Suggested:
    if found is None:
        return s
    return replace(
        s,
        evidence=quote(found.sentence.text),
        evidence_source=found.sentence.source,
        highlight=found.highlight,
    )


def lexicon_scores(split: list[Sentence]) -> tuple[dict[str, float], dict[str, Evidence]]:
    """Per label: the lexicon's confidence, and its strongest hit's sentence.

    The cues run once over the whole incident (its sentences joined, passages apart), not
    sentence by sentence; a hit is then traced back to the sentence it falls in.
    """
    by_cue: dict[str, dict[int, float]] = {}
    evidence: dict[str, Evidence] = {}
    ordered = [sentence for group in _by_source(split) for sentence in group]
    text, starts = _joined(ordered)
    for hit in lexicon.hits(text):
        index = bisect.bisect_right(starts, hit.start) - 1
        sentence = ordered[index]
        if hit.end > starts[index] + len(sentence.text):
            continue  # a phrase across two sentences is no one sentence's evidence
        cues = by_cue.setdefault(hit.label, {})
        cues[hit.cue] = max(cues.get(hit.cue, 0.0), hit.weight)
        best = evidence.get(hit.label)
        if best is None or hit.weight > best.weight:
            offset = starts[index]
            evidence[hit.label] = Evidence(
                hit.weight, sentence, sentence.text[hit.start - offset : hit.end - offset]
            )
    confidence = {label: lexicon.combine(list(cues.values())) for label, cues in by_cue.items()}
    return confidence, evidence


def _by_source(split: list[Sentence]) -> list[list[Sentence]]:
    groups: dict[str, list[Sentence]] = {}
    for sentence in split:
        groups.setdefault(sentence.source, []).append(sentence)
    return list(groups.values())


def _joined(sentences_: list[Sentence]) -> tuple[str, list[int]]:
    """The sentences as one text, a passage's apart by a blank line (so no cue spans two
    passages), and where each sentence starts in it."""
    parts, starts, position, previous = [], [], 0, None
    for sentence in sentences_:
        gap = "" if previous is None else (" " if sentence.source == previous else "\n\n")
        parts.append(gap)
        position += len(gap)
        starts.append(position)
        parts.append(sentence.text)
        position += len(sentence.text)
        previous = sentence.source
    return "".join(parts), starts


def arrange(version: int, chosen: list[Suggested]) -> Suggestions:
    """Most confident first; a category once (in its likelier role); at most a few of each."""
    chosen.sort(key=lambda s: (-s.confidence, s.label))
    change_types = [s for s in chosen if not s.is_factor]
    specific = [s for s in change_types if s.slug not in ("unknown", "none")]
    if specific and specific[0].confidence >= 0.5:
        # A stated trigger outweighs "not disclosed" and "nothing changed".
        change_types = [s for s in change_types if s.slug not in ("unknown", "none")]
    factors, seen = [], set()
    for s in chosen:
        if s.is_factor and s.slug not in seen:
            seen.add(s.slug)
            factors.append(s)
    return Suggestions(version, change_types[:MAX_CHANGE_TYPES], factors[:MAX_FACTORS])
