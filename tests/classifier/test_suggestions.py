"""Suggestions: from the lexicon on day one, from what the knowledge base teaches later,
never from an incident's own labels."""

import pytest
from django.core.cache import cache

from classifier import services
from classifier.learning import FOLDS
from postmortems.choices import FactorRole
from postmortems.models import ChangeType, FailureCategory
from tests.factories import FactorFactory, IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_reference_set(monkeypatch):
    # These tests teach the model themselves; the bundled reference set is measured in
    # bench/classify_eval and pinned in test_reference_set.
    monkeypatch.setattr(services.reference, "examples", lambda: ())
    cache.clear()


def labels(suggestions, minimum=0.0):
    return {
        s.label for s in suggestions.change_types + suggestions.factors if s.confidence >= minimum
    }


def test_a_fresh_install_suggests_from_the_lexicon_with_the_sentence_as_evidence():
    incident = IncidentFactory(
        title="Elevated error rates on the API",
        summary=(
            "Between 14:02 and 15:40 UTC requests failed. A configuration change was pushed "
            "to every region at once. The change contained an invalid setting that crashed "
            "the proxies."
        ),
    )

    suggestions = services.suggestions_for(incident)

    assert suggestions.model_version == 0
    config = next(s for s in suggestions.change_types if s.slug == "config-change")
    assert config.confidence >= 0.7
    assert config.evidence == "A configuration change was pushed to every region at once."
    assert config.evidence_source == "summary"
    assert config.highlight == "configuration change"
    factors = {(s.slug, s.role) for s in suggestions.factors}
    assert ("config-error", "root_cause") in factors
    assert ("non-staged-rollout", "contributing") in factors


def test_a_text_that_names_no_cause_gets_no_confident_suggestion():
    incident = IncidentFactory(
        title="Degraded performance",
        summary="We are investigating. This incident has been resolved.",
    )

    assert labels(services.suggestions_for(incident), minimum=0.5) == set()


def test_a_negated_cue_is_not_evidence():
    incident = IncidentFactory(
        title="Login failures", summary="The failure was not caused by a configuration change."
    )

    assert "ct:config-change" not in labels(services.suggestions_for(incident))


def teach(n, *, word, change_type, category, role=FactorRole.CONTRIBUTING, start=0):
    """``n`` published postmortems whose text names ``word`` and whose labels say so."""
    made = []
    for i in range(n):
        incident = IncidentFactory(
            title=f"Outage {start + i}: {word} incident",
            summary=f"The {word} subsystem misbehaved during {word} processing (case {start + i}).",
        )
        incident.change_types.set([ChangeType.objects.get(slug=change_type)])
        FactorFactory(
            incident=incident, role=role, category=FailureCategory.objects.get(slug=category)
        )
        made.append(incident)
    return made


def noise(n, start=100):
    made = []
    for i in range(n):
        incident = IncidentFactory(
            title=f"Outage {start + i}: ordinary failure",
            summary=f"Something ordinary went wrong in case {start + i}.",
        )
        incident.change_types.set([ChangeType.objects.get(slug="code-deploy")])
        made.append(incident)
    return made


def test_suggestions_change_after_labelled_postmortems_teach_the_model():
    teach(25, word="zookeeper", change_type="capacity-change", category="capacity-planning")
    noise(25)
    unseen = IncidentFactory(
        title="Zookeeper incident", summary="The zookeeper processing stalled."
    )
    before = labels(services.suggestions_for(unseen), minimum=0.3)

    model = services.retrain()
    after = services.suggestions_for(unseen)

    assert model.version == 1 and model.trained_on == 50
    assert "ct:capacity-change" not in before
    assert after.model_version == 1
    assert "ct:capacity-change" in labels(after, minimum=0.3)
    assert "f:capacity-planning:contributing" in labels(after, minimum=0.3)
    learned = after.labels()["ct:capacity-change"]
    assert "zookeeper" in learned.evidence.lower()  # the sentence that carried the words


def test_an_incident_is_never_suggested_its_own_labels():
    """The one incident labelled ``time-event`` teaches nothing about itself: with it
    left out, ``time-event`` has too few examples and no model speaks for it."""
    taught = teach(3, word="gossamer", change_type="time-event", category="complexity")
    noise(30)
    services.retrain()
    # Every taught incident sits in one fold; the model that suggests for it saw the other two
    # only, fewer than a label needs: it must not echo its own label back.
    learned = services.current_classifier().learned
    assert "ct:time-event" in learned.labels
    for incident in taught:
        fold_model = learned.weights[learned.model_for(incident.id)]
        full_model = learned.weights[-1]
        index = learned.labels.index("ct:time-event")
        text = services.incident_passages([incident.id])[incident.id]
        from classifier.text import document

        features = learned.features([document(text)])
        own = fold_model.probabilities(features)[0, index]
        seen = full_model.probabilities(features)[0, index]
        assert own < seen  # the model that saw its label is surer than the one used
    assert {learned.model_for(i.id) for i in taught} <= set(range(FOLDS))


def test_a_trained_incident_is_scored_by_the_model_that_left_it_out():
    taught = teach(20, word="hyperion", change_type="schema-migration", category="data-integrity")
    noise(20)
    services.retrain()
    learned = services.current_classifier().learned

    unseen = IncidentFactory(title="hyperion")

    assert all(learned.model_for(i.id) == i.id % FOLDS for i in taught)
    assert learned.model_for(unseen.id) == -1
