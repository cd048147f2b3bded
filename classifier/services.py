"""Suggesting, accepting and learning an incident's taxonomy.

- ``current_classifier()``: the newest trained version (one indexed read to check it),
  with the lexicon; version 0 is the lexicon alone.
- ``suggestions_for(incident)``: fresh suggestions for one incident.
- ``classify(ids)``: suggestions for many, stored for the triage queue, then auto-accepted
  where a policy says so.
- ``accept`` / ``reject``: a person's decision, written through the normal write path.
- ``retrain()``: a new version from the published, labelled postmortems and the reference set.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from classifier import learning, reference
from classifier.choices import ClassificationState
from classifier.learning import FULL
from classifier.lexicon import ct, factor
from classifier.models import (
    AutoAcceptPolicy,
    Classification,
    ClassificationBatch,
    ClassifierModel,
    Suggestion,
)
from classifier.reference import ROLES
from classifier.suggesting import Classifier, Suggested, Suggestions
from classifier.text import Passage, passages
from postmortems import services as postmortem_services
from postmortems.choices import FactorRole, Origin, ReviewStatus
from postmortems.models import ChangeType, Factor, FailureCategory, Incident, IncidentVendor
from timeline.models import TimelineEvent

# The newest labelled postmortems a model learns from: enough to learn every label many
# times over, few enough that retraining takes a minute however large the knowledge base.
MAX_TRAINING = 20_000
CHUNK = 1_000
PARALLEL_CHUNK = 10_000  # ids per process task
# Suggestions at or above this are ticked in the triage queue before anyone looks.
PRETICK = 0.5
RETRAIN_LOCK = 7_301_004  # pg advisory lock key: one retrain at a time

_writing = contextvars.ContextVar("classifier_writing", default=False)


@contextmanager
def writing_labels() -> Iterator[None]:
    """Label writes inside are the classifier's own: they do not count as corrections."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def is_writing_labels() -> bool:
    return _writing.get()


# --- The current model ---------------------------------------------------------------

_loaded: dict[str, Classifier] = {}
_loaded_id: dict[str, int | None] = {}


def latest_version() -> int:
    return (
        ClassifierModel.objects.order_by("-version").values_list("version", flat=True).first() or 0
    )


def current_classifier() -> Classifier:
    """The newest version every process shares (cached here until a newer one exists)."""
    newest = ClassifierModel.objects.order_by("-version").values_list("id", "version").first()
    model_id, version = newest or (None, 0)
    cached = _loaded.get("current")
    if cached is not None and _loaded_id.get("current") == model_id:
        return cached
    learned = None
    if model_id is not None:
        learned = learning.loads(
            ClassifierModel.objects.values_list("artifact", flat=True).get(id=model_id)
        )
    _loaded["current"] = Classifier(version, learned, known_labels())
    _loaded_id["current"] = model_id
    return _loaded["current"]


def known_labels() -> frozenset[str]:
    labels = {ct(slug) for slug in ChangeType.objects.values_list("slug", flat=True)}
    for slug in FailureCategory.objects.values_list("slug", flat=True):
        labels |= {factor(slug, role) for role in ROLES}
    return frozenset(labels)


# --- Reading incidents -----------------------------------------------------------------


def incident_passages(ids: Sequence[int]) -> dict[int, list[Passage]]:
    """What the classifier reads of each incident, in two queries."""
    rows = Incident.objects.filter(id__in=ids).values(
        "id", "title", "summary", "impact", "analysis", "lessons"
    )
    updates: dict[int, list[tuple[str, str, str]]] = {}
    events = (
        TimelineEvent.objects.filter(incident_id__in=ids)
        .exclude(description="")
        .order_by("incident_id", "occurred_at", "position")
        .values_list("incident_id", "occurred_at", "description", "body_format")
    )
    for incident_id, at, body, body_format in events:
        when = f"{at:%Y-%m-%d %H:%M} UTC"
        updates.setdefault(incident_id, []).append((when, body, body_format))
    return {row["id"]: passages(row, updates.get(row["id"], ())) for row in rows}


def suggestions_for(incident: Incident) -> Suggestions:
    classifier = current_classifier()
    found = incident_passages([incident.id]).get(incident.id, [])
    return classifier.suggest(incident.id, found)


def without_taxonomy(queryset: QuerySet[Incident]) -> QuerySet[Incident]:
    """Incidents with no change type, no factor and no decision on their suggestions."""
    return (
        queryset.exclude(
            Exists(Incident.change_types.through.objects.filter(incident_id=OuterRef("pk")))
        )
        .exclude(Exists(Factor.objects.filter(incident_id=OuterRef("pk"))))
        .exclude(Exists(Classification.objects.filter(incident_id=OuterRef("pk"))))
    )


# --- Classifying many -------------------------------------------------------------------


@dataclass
class ClassifyOutcome:
    classified: int = 0
    auto_classified: int = 0

    def __str__(self) -> str:
        return f"{self.classified} classified, {self.auto_classified} auto-classified"


def classify(ids: Iterable[int], *, auto_accept: bool = True) -> ClassifyOutcome:
    """Store suggestions for ``ids`` and, where a policy says so, accept them."""
    classifier = current_classifier()
    outcome = ClassifyOutcome()
    policies = Policies.load() if auto_accept else None
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = incident_passages(chunk)
        order = [i for i in chunk if i in found]
        results = classifier.suggest_many([(i, found[i]) for i in order])
        store_suggestions(dict(zip(order, results, strict=True)))
        outcome.classified += len(order)
        if policies is not None and policies.any_enabled:
            outcome.auto_classified += auto_accept_many(
                dict(zip(order, results, strict=True)), policies
            )
    return outcome


def store_suggestions(results: dict[int, Suggestions]) -> None:
    """Upsert the rows in one statement: they travel as one JSON document (``bulk_create``
    would turn every value into SQL text in Python, which costs more than the write)."""
    if not results:
        return
    now = timezone.now().isoformat()
    document = json.dumps(
        [
            {
                "incident_id": incident_id,
                "model_version": s.model_version,
                "top_confidence": s.top_confidence,
                "payload": s.as_payload(),
                "computed_at": now,
            }
            for incident_id, s in results.items()
        ]
    )
    table = Suggestion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (incident_id, model_version, top_confidence, payload, "
            "computed_at) SELECT incident_id, model_version, top_confidence, payload, "
            "computed_at FROM jsonb_to_recordset(%s::jsonb) AS v(incident_id bigint, "
            "model_version int, top_confidence float8, payload jsonb, computed_at timestamptz) "
            "ON CONFLICT (incident_id) DO UPDATE SET model_version = EXCLUDED.model_version, "
            "top_confidence = EXCLUDED.top_confidence, payload = EXCLUDED.payload, "
            "computed_at = EXCLUDED.computed_at",
            [document],
        )


def classify_batch(batch_id: int) -> ClassifyOutcome:
    """Classify what an import wrote (the batch names the incidents by slug)."""
    batch = ClassificationBatch.objects.get(id=batch_id)
    ids = list(
        without_taxonomy(Incident.objects.filter(slug__in=batch.incident_ids)).values_list(
            "id", flat=True
        )
    )
    outcome = classify(ids)
    batch.classified, batch.auto_classified = outcome.classified, outcome.auto_classified
    batch.finished_at = timezone.now()
    batch.save(update_fields=["classified", "auto_classified", "finished_at"])
    return outcome


def backlog_ids() -> list[int]:
    return list(without_taxonomy(Incident.objects.all()).values_list("id", flat=True))


def classify_backlog() -> ClassifyOutcome:
    """Every incident still without taxonomy, with the current model (after a retrain)."""
    return classify(backlog_ids())


def classify_in_processes(
    ids: Sequence[int], *, processes: int, auto_accept: bool = True, on_progress=None
) -> ClassifyOutcome:
    """``classify`` spread over ``processes`` forked processes (suggesting is CPU work)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from django.db import connections

    parts = [list(ids[i : i + PARALLEL_CHUNK]) for i in range(0, len(ids), PARALLEL_CHUNK)]
    connections.close_all()  # each child opens its own connection
    outcome = ClassifyOutcome()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        for part in pool.map(_classify_part, parts, [auto_accept] * len(parts)):
            outcome.classified += part[0]
            outcome.auto_classified += part[1]
            if on_progress is not None:
                on_progress(outcome)
    return outcome


def _classify_part(ids: list[int], auto_accept: bool) -> tuple[int, int]:
    from django.db import connections

    connections.close_all()
    outcome = classify(ids, auto_accept=auto_accept)
    return outcome.classified, outcome.auto_classified


def queue_import_classification(*, slugs: Sequence[str]) -> ClassificationBatch | None:
    """Ask for an import's incidents to be classified once the import commits."""
    if not slugs:
        return None
    batch = ClassificationBatch.objects.create(incident_ids=list(slugs))
    from classifier.tasks import classify_batch as task  # tasks import services, not back

    transaction.on_commit(lambda: task.delay(batch.id))
    return batch


# --- Auto-accept --------------------------------------------------------------------------


@dataclass
class Policies:
    by_vendor: dict[int, AutoAcceptPolicy]
    everyone: AutoAcceptPolicy | None

    @classmethod
    def load(cls) -> Policies:
        by_vendor, everyone = {}, None
        for policy in AutoAcceptPolicy.objects.all():
            if policy.vendor_id is None:
                everyone = policy
            else:
                by_vendor[policy.vendor_id] = policy
        return cls(by_vendor, everyone)

    @property
    def any_enabled(self) -> bool:
        policies = [*self.by_vendor.values(), self.everyone]
        return any(p is not None and p.enabled for p in policies)

    def for_vendor(self, vendor_id: int | None) -> AutoAcceptPolicy | None:
        policy = self.by_vendor.get(vendor_id, self.everyone)
        return policy if policy is not None and policy.enabled else None


def auto_accept_many(results: dict[int, Suggestions], policies: Policies) -> int:
    """Accept the suggestions above each vendor's threshold on imported, unlabelled incidents."""
    eligible = without_taxonomy(
        Incident.objects.filter(id__in=list(results), origin=Origin.IMPORTED)
    ).values_list("id", "version")
    primary = dict(
        IncidentVendor.objects.filter(incident_id__in=list(results), is_primary=True).values_list(
            "incident_id", "vendor_id"
        )
    )
    accepted = 0
    for incident_id, version in eligible:
        policy = policies.for_vendor(primary.get(incident_id))
        if policy is None:
            continue
        chosen = [
            s
            for s in results[incident_id].change_types + results[incident_id].factors
            if s.confidence >= policy.threshold
        ]
        if chosen:
            write_labels(
                incident_id=incident_id,
                expected_version=version,
                suggestions=results[incident_id],
                chosen=chosen,
                user=None,
                state=ClassificationState.AUTO,
                publish=policy.publish,
                reason=f"auto ≥ {policy.threshold:.2f}",
            )
            accepted += 1
    return accepted


# --- A person's decision -----------------------------------------------------------------


def accept(
    *,
    incident: Incident,
    user,
    expected_version: int,
    change_types: Sequence[str],
    factors: Sequence[tuple[str, str]],
    publish: bool = False,
) -> Incident:
    """Write the chosen suggestions (a subset of the current ones) as the incident's labels.

    Raises ``postmortems.services.EditConflict`` if someone saved since ``expected_version``,
    and ``ValidationError`` for a label that is not among the suggestions.
    """
    current = suggestions_for(incident)
    offered = current.labels()
    wanted = [ct(slug) for slug in change_types] + [factor(c, r) for c, r in factors]
    unknown = [label for label in wanted if label not in offered]
    if unknown:
        names = ", ".join(label.split(":", 1)[1] for label in unknown)
        raise ValidationError(
            f"Not among the current suggestions: {names}. Edit the postmortem to add other labels."
        )
    if not wanted:
        raise ValidationError("Choose at least one suggestion to accept, or reject them.")
    return write_labels(
        incident_id=incident.id,
        expected_version=expected_version,
        suggestions=current,
        chosen=[offered[label] for label in wanted],
        user=user,
        state=ClassificationState.ACCEPTED,
        publish=publish,
        reason="accepted",
    )


@transaction.atomic
def reject(*, incident: Incident, user) -> Classification:
    """None of the suggestions fit: the incident leaves the triage queue, unlabelled."""
    classification, _ = Classification.objects.update_or_create(
        incident=incident,
        defaults={
            "state": ClassificationState.REJECTED,
            "model_version": latest_version(),
            "accepted": {},
            "decided_by": user,
            "decided_at": timezone.now(),
        },
    )
    return classification


@transaction.atomic
def write_labels(
    *,
    incident_id: int,
    expected_version: int,
    suggestions: Suggestions,
    chosen: Sequence[Suggested],
    user,
    state: str,
    publish: bool,
    reason: str,
) -> Incident:
    """The one path by which suggestions become labels, through the postmortem write path."""
    incident = Incident.objects.get(id=incident_id)
    change_types = {c.id: c for c in incident.change_types.all()}
    by_slug = {c.slug: c for c in ChangeType.objects.filter(slug__in=[s.slug for s in chosen])}
    for s in chosen:
        if not s.is_factor and s.slug in by_slug:
            change_types[by_slug[s.slug].id] = by_slug[s.slug]
    factors = existing_factors(incident) + new_factors(incident, chosen)
    # Marked wherever it appears while no person has looked at its labels.
    fields = {"auto_classified": state == ClassificationState.AUTO}
    if publish and incident.status == ReviewStatus.DRAFT and incident.origin == Origin.IMPORTED:
        fields |= {"status": ReviewStatus.PUBLISHED, "needs_review": False}
    with writing_labels():
        written = postmortem_services.update_incident(
            incident_id=incident_id,
            expected_version=expected_version,
            changes=postmortem_services.IncidentChanges(
                fields=fields, change_types=list(change_types.values()), factors=factors
            ),
            user=user,
            reason=history_reason(suggestions.model_version, chosen, reason),
        )
    Classification.objects.update_or_create(
        incident_id=incident_id,
        defaults={
            "state": state,
            "model_version": suggestions.model_version,
            "accepted": {s.label: round(s.confidence, 3) for s in chosen},
            "decided_by": user,
            "decided_at": timezone.now(),
        },
    )
    return written


def existing_factors(incident: Incident) -> list[dict]:
    return [
        {"id": f.id, "role": f.role, "category": f.category, "description": f.description}
        for f in incident.factors.select_related("category")
    ]


def new_factors(incident: Incident, chosen: Sequence[Suggested]) -> list[dict]:
    have = {(f.category.slug, f.role) for f in incident.factors.select_related("category")}
    wanted = [s for s in chosen if s.is_factor and (s.slug, s.role) not in have]
    categories = FailureCategory.objects.in_bulk([s.slug for s in wanted], field_name="slug")
    return [
        {
            "role": FactorRole(s.role),
            "category": categories[s.slug],
            "description": evidence_note(s),
        }
        for s in wanted
        if s.slug in categories
    ]


def evidence_note(s: Suggested) -> str:
    if not s.evidence:
        return ""
    where = f" ({s.evidence_source})" if s.evidence_source else ""
    return f"> {s.evidence}\n\nSuggested from the text{where}."


# simple-history keeps at most this much of a reason.
REASON_LENGTH = 100


def history_reason(version: int, chosen: Sequence[Suggested], why: str) -> str:
    """ "Suggestions of model v3, auto ≥ 0.90: config-change 0.93, config-error/root 0.91…"."""
    model = f"model v{version}" if version else "the lexicon"
    labels = ", ".join(f"{describe(s)} {s.confidence:.2f}" for s in chosen)
    text = f"Suggestions of {model}, {why}: {labels}"
    return text if len(text) <= REASON_LENGTH else text[: REASON_LENGTH - 1] + "…"


def describe(s: Suggested) -> str:
    if s.is_factor:
        return f"{s.slug}/{'root' if s.role == FactorRole.ROOT_CAUSE else 'contributing'}"
    return s.slug


def mark_corrected(incident_id: int) -> None:
    """A person changed an auto-classified incident's labels: it is no longer auto.

    One UPDATE for any other incident (the mark is on the incident row); not an edit of
    its own, so no new version.
    """
    if Incident.objects.filter(id=incident_id, auto_classified=True).update(auto_classified=False):
        Classification.objects.filter(
            incident_id=incident_id, state=ClassificationState.AUTO
        ).update(state=ClassificationState.CORRECTED, decided_at=timezone.now())


# --- Learning ----------------------------------------------------------------------------


@dataclass
class TrainingSet:
    texts: list[str]
    labels: list[set[str]]
    folds: list[int]
    incident_ids: list[int | None]

    @property
    def from_incidents(self) -> int:
        return sum(1 for i in self.incident_ids if i is not None)


def training_set(*, exclude_ids: Iterable[int] = ()) -> TrainingSet:
    """Published postmortems a person labelled (never auto-classified ones, so the model does
    not learn from itself), newest first up to ``MAX_TRAINING``, and the reference set."""
    from classifier.text import document

    ids = list(
        Incident.objects.published()
        .filter(
            Q(Exists(Incident.change_types.through.objects.filter(incident_id=OuterRef("pk"))))
            | Q(Exists(Factor.objects.filter(incident_id=OuterRef("pk"))))
        )
        .exclude(
            Exists(
                Classification.objects.filter(
                    incident_id=OuterRef("pk"), state=ClassificationState.AUTO
                )
            )
        )
        .exclude(id__in=list(exclude_ids))
        .order_by("-updated_at", "-id")
        .values_list("id", flat=True)[:MAX_TRAINING]
    )
    labels = incident_labels(ids)
    texts = incident_passages(ids)
    out = TrainingSet([], [], [], [])
    for incident_id in ids:
        out.texts.append(document(texts.get(incident_id, [])))
        out.labels.append(labels.get(incident_id, set()))
        out.folds.append(learning.fold_of(incident_id))
        out.incident_ids.append(incident_id)
    for example in reference.examples():
        out.texts.append(document(example.passages()))
        out.labels.append(set(example.labels))
        out.folds.append(FULL)  # in every model: it is never an incident to suggest for
        out.incident_ids.append(None)
    return out


def incident_labels(ids: Sequence[int]) -> dict[int, set[str]]:
    labels: dict[int, set[str]] = {}
    through = Incident.change_types.through.objects.filter(incident_id__in=ids)
    for incident_id, slug in through.values_list("incident_id", "changetype__slug"):
        labels.setdefault(incident_id, set()).add(ct(slug))
    rows = Factor.objects.filter(incident_id__in=ids, role__in=ROLES)
    for incident_id, slug, role in rows.values_list("incident_id", "category__slug", "role"):
        labels.setdefault(incident_id, set()).add(factor(slug, role))
    return labels


@transaction.atomic
def retrain() -> ClassifierModel | None:
    """Fit a new version and store it for every process; None if nothing can be learned yet."""
    started = time.monotonic()
    # One training at a time: versions are numbered in order.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RETRAIN_LOCK])
    examples = training_set()
    model = learning.train(
        examples.texts,
        examples.labels,
        examples.folds,
        labels=sorted(known_labels()),
        incident_ids=examples.incident_ids,
    )
    if model is None:
        return None
    version = latest_version() + 1
    return ClassifierModel.objects.create(
        version=version,
        trained_on=examples.from_incidents,
        reference_examples=len(examples.texts) - examples.from_incidents,
        labels=model.labels,
        artifact=learning.dumps(model),
        seconds=time.monotonic() - started,
    )


def prune_models(keep: int = 3) -> int:
    """Old versions are only history: keep the newest few."""
    old = ClassifierModel.objects.order_by("-version").values_list("id", flat=True)[keep:]
    deleted, _ = ClassifierModel.objects.filter(id__in=list(old)).delete()
    return deleted
