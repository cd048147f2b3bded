"""Patterns ranked by evidence: single weaknesses that recur, chance kept below association,
variants folded into families, the evidence said in words."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from scipy import stats

from patterns import evidence
from patterns.mining import recurring_patterns
from patterns.models import Pattern
from patterns.services import refresh_patterns
from postmortems.choices import FactorRole
from postmortems.models import ChangeType, FailureCategory, IncidentVendor, Vendor
from tests.factories import FactorFactory, IncidentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2020, 1, 1, tzinfo=UTC)


def incident(*attributes: str, vendor: str = "acme", year: int = 2018):
    """A published incident: ``ct:`` change types, ``cat:`` root causes, ``cf:`` contributing
    factors."""
    made = IncidentFactory(status="published", started_at=datetime(year, 3, 1, tzinfo=UTC))
    for attribute in attributes:
        kind, slug = attribute.split(":", 1)
        if kind == "ct":
            made.change_types.add(ChangeType.objects.get(slug=slug))
            continue
        role = FactorRole.CONTRIBUTING if kind == "cf" else FactorRole.ROOT_CAUSE
        FactorFactory(incident=made, category=FailureCategory.objects.get(slug=slug), role=role)
    link_vendor(made, vendor)
    return made


def link_vendor(made, slug: str) -> None:
    vendor, _ = Vendor.objects.get_or_create(slug=slug, defaults={"name": slug.title()})
    IncidentVendor.objects.create(incident=made, vendor=vendor, is_primary=True)


def by_key(patterns) -> dict:
    return {p.key: p for p in patterns}


def noise(count: int, start: int = 0) -> None:
    """Incidents with common, unrelated attributes, at vendors of their own."""
    roots = ["software-bug", "config-error", "hardware-failure", "network-failure"]
    changes = ["code-deploy", "config-change", "none", "os-upgrade", "traffic-change"]
    for n in range(start, start + count):
        incident(f"ct:{changes[n % 5]}", f"cat:{roots[n % 4]}", vendor=f"noise-{n % 7}")


# --- Single attributes ----------------------------------------------------------------------


def test_a_contributing_factor_recurring_across_vendors_is_a_pattern_with_exactly_its_members():
    noise(20)
    planted = [
        incident("ct:config-change", "cat:software-bug", "cf:non-staged-rollout", vendor=v).id
        for v in ("azure", "cloudflare", "crowdstrike")
    ] + [incident("ct:code-deploy", "cat:config-error", "cf:non-staged-rollout", vendor="gcp").id]
    # The same category as a root cause makes no member: the weakness is the lesson.
    incident("ct:none", "cat:non-staged-rollout", vendor="other")

    pattern = by_key(recurring_patterns(min_support=3, now=NOW))["cf:non-staged-rollout"]

    assert sorted(pattern.latest_members) == sorted(planted)
    assert pattern.vendors == ("azure", "cloudflare", "crowdstrike", "gcp")
    assert pattern.title == (
        "Rollout not staged (contributing factor) — 4 incidents across 4 vendors since 2018"
    )
    assert pattern.measure in (evidence.RECURRENCE, evidence.SPREAD)


def test_a_root_cause_alone_is_no_pattern_however_common():
    noise(24)  # software bugs as root causes in six incidents, and more

    keys = set(by_key(recurring_patterns(min_support=3, now=NOW)))

    assert not {key for key in keys if key.startswith(("cat:", "cf:")) and "+" not in key}


def test_a_single_attribute_with_the_members_of_a_combination_folds_into_it():
    noise(12)
    for vendor in ("a", "b", "c"):
        incident("ct:time-event", "cat:certificate-expiry", "cf:monitoring-gap", vendor=vendor)

    patterns = by_key(recurring_patterns(min_support=3, now=NOW))

    head = patterns["cat:certificate-expiry+cat:monitoring-gap+ct:time-event"]
    assert "cf:monitoring-gap" not in patterns and "ct:time-event" not in patterns
    assert "cf:monitoring-gap" in head.equivalent_keys
    assert "cf:monitoring-gap" in head.shared_attributes


# --- Evidence against chance ----------------------------------------------------------------


def test_a_pair_is_tested_with_fishers_exact_test_and_said_in_words():
    noise(30)  # 6 configuration changes, none with a certificate expiry
    for vendor in ("a", "b", "c"):
        incident("ct:time-event", "cat:certificate-expiry", vendor=vendor)
    incident("ct:time-event", "cat:software-bug", vendor="d")

    refresh_patterns(now=NOW)

    pattern = Pattern.objects.get(key="cat:certificate-expiry+ct:time-event")
    # 34 published incidents: 4 time events, 3 certificate expiries, all three together.
    assert pattern.expected == pytest.approx(4 * 3 / 34)
    assert pattern.lift == pytest.approx(3 / (4 * 3 / 34))
    assert pattern.p_value == pytest.approx(stats.hypergeom.sf(2, 34, 4, 3))
    assert pattern.evidence_text == ("3 incidents where 0.4 were expected by chance (p = 6.7e-4)")


def test_a_combination_no_more_frequent_than_chance_never_outranks_a_strong_one():
    # Common attributes meeting exactly as often as independence predicts: 40 of 80 incidents
    # are configuration changes, 40 software bugs, 20 both; then a small, strong pair.
    for n in range(80):
        attributes = ["ct:config-change" if n % 2 else "ct:code-deploy"]
        attributes.append("cat:software-bug" if n % 4 < 2 else "cat:hardware-failure")
        incident(*attributes, vendor=f"v{n % 20}")
    for vendor in ("x", "y", "z"):
        incident("ct:schema-migration", "cat:data-integrity", vendor=vendor)

    ranked = [p.key for p in recurring_patterns(min_support=3, now=NOW)]

    strong = ranked.index("cat:data-integrity+ct:schema-migration")
    chance = ranked.index("cat:software-bug+ct:config-change")
    assert strong < chance


def test_a_triple_that_only_inherits_a_strong_pair_is_no_stronger_than_chance():
    # Software bugs in 60% of all incidents, and in 3 of the 5 certificate expiries on time
    # events: the triple adds nothing to the pair but a bug as common there as anywhere.
    for n in range(40):
        root = "cat:software-bug" if n % 5 < 3 else "cat:hardware-failure"
        incident("ct:code-deploy" if n % 2 else "ct:none", root, vendor=f"noise-{n % 7}")
    for n, vendor in enumerate("abcde"):
        extra = ("cat:software-bug",) if n < 3 else ()
        incident("ct:time-event", "cat:certificate-expiry", *extra, vendor=vendor)

    patterns = by_key(recurring_patterns(min_support=3, now=NOW))

    pair = patterns["cat:certificate-expiry+ct:time-event"]
    triple = patterns["cat:certificate-expiry+cat:software-bug+ct:time-event"]
    # Software bugs are common; within the pair they are as common as anywhere.
    assert triple.lift == pytest.approx(1.0) and pair.lift > 5
    assert triple.score < pair.score and triple.strength < 0 < pair.strength


def test_unrelated_noise_does_not_reorder_planted_patterns():
    def plant() -> None:
        for n, vendor in enumerate("abcdef"):
            incident("ct:time-event", "cat:certificate-expiry", vendor=vendor, year=2015 + n % 3)
        for vendor in "ghij":
            incident("ct:credential-rotation", "cat:security", vendor=vendor)
        for vendor in "klm":
            incident("ct:manual-operation", "cat:human-error", "cf:unsafe-tooling", vendor=vendor)

    plant()
    planted = {p.key for p in recurring_patterns(min_support=3, now=NOW)}
    before = [p.key for p in recurring_patterns(min_support=3, now=NOW)]
    noise(200)
    after = [p.key for p in recurring_patterns(min_support=3, now=NOW) if p.key in planted]

    assert after == before


def test_tails_too_small_for_a_float_still_rank():
    # A million incidents, 500 together where 0.25 are expected: p far below 1e-308.
    huge = evidence.association([500, 400], [500, 500], [500, 500], 1_000_000)
    exact_scale = evidence.association([5], [10], [10], 1_000)

    assert math.isfinite(huge.log10_p[0]) and huge.log10_p[0] < -1000
    assert huge.log10_p[0] < huge.log10_p[1] < -308
    assert 10 ** exact_scale.log10_p[0] == pytest.approx(stats.hypergeom.sf(4, 1000, 10, 10))


def test_spread_tests_vendors_against_the_incidents_frequency():
    # Eight incidents at eight vendors, in a knowledge base where one vendor has nearly all.
    spread_out = evidence.spread([8], [8], [900] + [10] * 10, 1000)
    # The same eight at one vendor: fewer vendors than chance, no evidence.
    concentrated = evidence.spread([1], [8], [900] + [10] * 10, 1000)

    assert spread_out.log10_p[0] < -3
    assert concentrated.log10_p[0] == pytest.approx(0, abs=0.05)
    assert 1 < spread_out.expected[0] < 3


# --- Families -------------------------------------------------------------------------------


VARIANT_CORE = ("ct:config-change", "cat:config-error", "cf:non-staged-rollout")


def overlapping_family() -> None:
    """Ten configuration errors pushed unstaged; six also skipped the release process."""
    noise(30)
    for n in range(10):
        extra = ("cf:release-process-bypassed",) if n < 6 else ()
        incident(*VARIANT_CORE, *extra, vendor=f"vendor-{n}")


def test_overlapping_variants_are_one_family_under_the_strongest():
    overlapping_family()

    refresh_patterns(now=NOW)

    heads = list(Pattern.objects.families().recurring())
    family = [p for p in Pattern.objects.all() if "non-staged" in p.key or "release" in p.key]
    family_heads = [p for p in family if p.variant_of_id is None]
    assert len(family_heads) == 1
    [head] = family_heads
    assert head in heads
    variants = list(Pattern.objects.filter(variant_of=head))
    # The pair of the trigger and the root cause, one attribute less, has the core's members
    # and a few noise incidents more.
    assert "cat:config-error+ct:config-change" in {v.key for v in variants}
    assert all(v.overlap >= 0.5 for v in variants)
    assert head.variant_count == len(variants)
    assert all(head.score >= v.score for v in variants)


def test_a_variant_keeps_its_id_when_its_family_changes():
    overlapping_family()
    refresh_patterns(now=NOW)
    ids = dict(Pattern.objects.values_list("key", "id"))
    for n in range(8):  # the release process skipped on its own: a family of its own grows
        incident("ct:code-deploy", "cf:release-process-bypassed", vendor=f"other-{n}")

    refresh_patterns(now=NOW)

    after = dict(Pattern.objects.values_list("key", "id"))
    assert {k: after[k] for k in ids if k in after} == {k: v for k, v in ids.items() if k in after}
