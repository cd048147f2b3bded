"""How strongly the knowledge base supports a pattern: a test against chance, and the ranking.

Every pattern gets a one-sided p-value: the probability of seeing it at least as strongly
as observed if nothing but chance were at work. Three measures, one per kind of pattern:

* **association** — 2 or 3 attributes meeting more often than independence predicts. For a
  pair, Fisher's exact test: X ~ Hypergeometric(N, n_a, n_b), p = P(X ≥ support), expected
  n_a·n_b / N. For three attributes the triple must be surprising *beyond the pair it
  extends*: each of the three splits (pair, third attribute) is tested the same way, with the
  pair's support in place of n_a, and the least surprising split decides (its p and its
  expected count). A triple that only inherits a strong pair's association scores as chance.
* **recurrence** — a contributing factor (``cf:``) in more incidents than the typical one:
  X ~ Binomial(N, p₀), p₀ the median share of incidents among the contributing factors that
  occur, p = P(X ≥ count), expected N·p₀.
* **spread** — a change type or contributing factor at more vendors than its own frequency
  predicts if its incidents were drawn at random: vendor j, with n_j published incidents, is
  hit with probability 1 - (1 - k/N)^n_j; the number of vendors is approximately normal with
  the sum of those as mean and of their variances as variance (continuity-corrected). The
  same weakness at many companies is an industry lesson, not one company's quirk; a change
  type's mere frequency is no news at all, so spread is its only measure.
  A contributing factor takes the stronger of recurrence and spread, its p doubled for
  having had two chances.

**Many tests.** Mining tests every candidate it counts, so some will look surprising by
chance alone. ``evidence = -log10(p · tested)``, with ``tested`` the candidates (of every
size) with at least 2 incidents: the number of decades by which the pattern beats what
chance would produce once among as many tests (a Bonferroni correction; candidates too rare
to be tested do not count). Positive means fewer than one such pattern is expected by
chance. One count for every size, so the correction never reorders patterns: adding
unrelated incidents lowers every pattern's evidence alike.

**Ranking.** ``score = evidence + ½ · log10((1 + log2 vendors) · recency)``. Vendor spread
and recency are secondary: together they move a pattern by at most two-thirds of a decade
(1 vendor and 10 years old: -0.15; 1,000 vendors and seen today: +0.52), so they break
near-ties but never lift a chance-level combination over a strongly associated one.
Recency is (1 + 0.5^(age / 2 years)) / 2 since the last member: 1 today, ¾ after two
years, never below ½ (¾ with no dated member).

Tail probabilities too small for a float (large knowledge bases reach 10⁻¹⁰⁰⁰) are taken
in log space: beyond the mode the terms of a discrete tail shrink at least geometrically,
so log P(X ≥ x) ≈ log P(X = x) - log(1 - r), r = P(X = x + 1) / P(X = x), an upper bound
that is tight that far out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from scipy import stats

ASSOCIATION, RECURRENCE, SPREAD = "association", "recurrence", "spread"
MEASURES = (ASSOCIATION, RECURRENCE, SPREAD)
HALF_LIFE = timedelta(days=2 * 365)
# Weight of the secondary terms (vendors, recency) against the evidence, in decades.
SECONDARY = 0.5
# Below this a float tail is recomputed in log space.
_TINY = 1e-280
_LN10 = math.log(10)


@dataclass(frozen=True)
class Tested:
    """A measure's outcome for many patterns at once: arrays of the same length."""

    log10_p: np.ndarray  # log10 of the one-sided p-value (at most 0; may be below -308)
    expected: np.ndarray  # what chance predicts: incidents, or vendors for spread


def association(support: np.ndarray, part: np.ndarray, rest: np.ndarray, total: int) -> Tested:
    """Fisher's exact test of ``part`` and ``rest`` (counts of incidents) meeting ``support``
    times among ``total`` (one-sided: more often than chance)."""
    support, part, rest = (np.asarray(a, dtype=np.int64) for a in (support, part, rest))
    tail = stats.hypergeom.sf(support - 1, total, part, rest)
    log_tail = np.full(support.shape, 0.0)
    usable = tail >= _TINY
    log_tail[usable] = np.log(tail[usable])
    far = ~usable
    if far.any():
        s, k, n = support[far], part[far], rest[far]
        log_pmf = stats.hypergeom.logpmf(s, total, k, n)
        ratio = (k - s) * (n - s) / ((s + 1) * (total - k - n + s + 1.0))
        log_tail[far] = log_pmf - np.log1p(-np.minimum(ratio, 1 - 1e-12))
    return Tested(log_tail / _LN10, part * rest / max(total, 1))


def recurrence(count: np.ndarray, total: int, typical: float) -> Tested:
    """A binomial test of ``count`` incidents of ``total`` against the typical share."""
    count = np.asarray(count, dtype=np.int64)
    if not 0 < typical < 1:
        return Tested(np.zeros(count.shape), count * 1.0)
    tail = stats.binom.sf(count - 1, total, typical)
    log_tail = np.zeros(count.shape)
    usable = tail >= _TINY
    log_tail[usable] = np.log(tail[usable])
    far = ~usable
    if far.any():
        k = count[far]
        log_pmf = stats.binom.logpmf(k, total, typical)
        ratio = (total - k) / (k + 1.0) * typical / (1 - typical)
        log_tail[far] = log_pmf - np.log1p(-np.minimum(ratio, 1 - 1e-12))
    return Tested(log_tail / _LN10, np.full(count.shape, total * typical))


def spread(vendors: np.ndarray, count: np.ndarray, vendor_sizes: np.ndarray, total: int) -> Tested:
    """Whether ``count`` incidents at ``vendors`` vendors reach more vendors than chance.

    ``vendor_sizes`` holds every vendor's published incidents.
    """
    vendors, count = np.asarray(vendors, dtype=float), np.asarray(count, dtype=float)
    sizes = np.asarray(vendor_sizes, dtype=float)
    if total <= 0 or sizes.size == 0:
        return Tested(np.zeros(vendors.shape), vendors.copy())
    share = np.clip(count / total, 0.0, 1.0)[:, None]
    # log1p keeps the probability exact for tiny shares of huge knowledge bases.
    missed = np.exp(sizes[None, :] * np.log1p(-np.minimum(share, 1 - 1e-15)))
    hit = 1 - missed
    mean = hit.sum(axis=1)
    sd = np.sqrt((hit * missed).sum(axis=1))
    z = np.where(sd > 0, (vendors - 0.5 - mean) / np.where(sd > 0, sd, 1), -np.inf)
    z = np.where((sd == 0) & (vendors > mean + 0.5), np.inf, z)
    log_tail = stats.norm.logsf(z)
    return Tested(np.maximum(log_tail, -1e300) / _LN10, mean)


def stronger(first: Tested, second: Tested) -> tuple[Tested, np.ndarray]:
    """Per pattern, the stronger of two measures, its p doubled for the second chance; and a
    mask of where the second one won."""
    second_won = second.log10_p < first.log10_p
    log10_p = np.minimum(np.minimum(first.log10_p, second.log10_p) + math.log10(2), 0.0)
    expected = np.where(second_won, second.expected, first.expected)
    return Tested(log10_p, expected), second_won


def evidence(log10_p: float, tested: int) -> float:
    """Decades by which the pattern beats one chance finding among ``tested``."""
    return -log10_p - math.log10(max(tested, 1))


def recency_weight(last_seen: datetime | None, now: datetime) -> float:
    if last_seen is None:
        return 0.75
    age = max(now - last_seen, timedelta(0))
    return (1 + 0.5 ** (age / HALF_LIFE)) / 2


def score(strength: float, vendor_count: int, last_seen: datetime | None, now: datetime) -> float:
    """The ranking formula of the module docstring, from a pattern's evidence."""
    vendor_factor = 1 + math.log2(max(vendor_count, 1))
    return strength + SECONDARY * math.log10(vendor_factor * recency_weight(last_seen, now))


def p_value(log10_p: float) -> float:
    """The p-value as a float (0.0 when it is too small for one)."""
    return 10.0**log10_p if log10_p > -307 else 0.0


def describe(measure: str, support: int, vendors: int, expected: float, log10_p: float) -> str:
    """The evidence in words: "4 incidents where 0.4 were expected by chance (p = 3.5e-04)"."""
    chance = f"p = {format_p(log10_p)}"
    incidents = f"{support} incident{'s' if support != 1 else ''}"
    if measure == RECURRENCE:
        return (
            f"{incidents} where a typical contributing factor is in {format_count(expected)} "
            f"({chance})"
        )
    if measure == SPREAD:
        return (
            f"{vendors} vendor{'s' if vendors != 1 else ''} where {format_count(expected)} "
            f"were expected by chance from its {incidents} ({chance})"
        )
    return f"{incidents} where {format_count(expected)} were expected by chance ({chance})"


def format_count(value: float) -> str:
    """1 decimal, or 2 significant digits below 0.1: "0.6", "12.0", "0.042"."""
    return f"{value:.2g}" if 0 < value < 0.1 else f"{value:.1f}"


def format_p(log10_p: float) -> str:
    if log10_p >= -3:
        return f"{10**log10_p:.2g}"
    exponent = math.floor(log10_p)
    mantissa = 10 ** (log10_p - exponent)
    if round(mantissa, 1) >= 10:
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.1f}e{exponent}"
