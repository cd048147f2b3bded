"""The pattern engine on knowledge bases with planted truth (``bench.planted``).

Each size is planted and refreshed once (seed 1, starts from 2017 to 2024, the refresh at
``planted.NOW``), in a transaction rolled back after the module; the tests read the
evaluation. The same evaluation at 1,000,000 incidents is ``bench/patterns_eval``.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from bench import planted

pytestmark = pytest.mark.django_db

SEED = 1
# Precision@10 measured with seed 1 (and seeds 2-10, to see the spread):
# - 100 incidents: 0.6 (0.6-0.8). Five planted families can be found, and of the noise only
#   the commonest contributing factors (6% and 3.7% of incidents, 2-4 times the typical one)
#   have the power to stand out in 100 incidents; the remaining places go to combinations
#   with negative evidence, chance-level by construction. 0.6 is the five plants and one.
# - 10,000 incidents: 1.0 (0.9-1.0). The five plants and the five noise contributing factors
#   with at least twice the typical share fill the top 10; the 0.1 allowed is for the sixth,
#   generated at 1.8 times the typical share, which can come out above the cut in a sample.
PRECISION = {100: 0.6, 10_000: 0.9}


@pytest.fixture(scope="module", params=sorted(PRECISION), ids=lambda n: f"{n}-incidents")
def evaluation(request, django_db_setup, django_db_blocker) -> planted.Evaluation:
    with django_db_blocker.unblock(), transaction.atomic():
        result = planted.evaluate(planted.plant(request.param, SEED))
        transaction.set_rollback(True)
    return result


def test_every_planted_pattern_is_found_with_exactly_its_members(evaluation):
    missed = {o.cluster.key: o.note or "found" for o in evaluation.outcomes if not o.found}

    assert missed == {}
    for outcome in evaluation.outcomes:
        assert outcome.members == outcome.planted_members == len(outcome.cluster.members)


def test_the_family_shows_once_with_the_others_as_its_variants(evaluation):
    family = [o for o in evaluation.outcomes if o.cluster.shape == "family"]

    [head] = evaluation.family_heads
    assert head in {o.cluster.key for o in family}
    assert {o.cluster.key: o.variant_of for o in family if o.cluster.key != head} == {
        o.cluster.key: head for o in family if o.cluster.key != head
    }


def test_the_small_but_strong_pair_outranks_every_chance_level_combination(evaluation):
    rare = next(o for o in evaluation.outcomes if o.cluster.shape == "small-but-strong")
    best = evaluation.best_chance

    assert rare.rank is not None
    assert best is None or rare.score > best.score, (rare.rank_text, best)


def test_planted_patterns_rank_within_the_top_10(evaluation):
    ranks = {o.cluster.key: o.family_rank for o in evaluation.outcomes}

    assert {key: rank for key, rank in ranks.items() if not rank or rank > planted.TOP} == {}


def test_precision_at_10(evaluation):
    size = evaluation.truth.sizes.incidents
    verdicts = [(h.key, h.verdict) for h in evaluation.top]

    assert len(evaluation.top) == planted.TOP
    assert evaluation.precision >= PRECISION[size], verdicts
