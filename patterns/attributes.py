"""The attributes patterns are made of, and which of them combine.

An incident's attributes are keys:

* ``ct:<slug>`` — a change type (the trigger);
* ``cat:<slug>`` — a failure category among its factors, whatever the factor's role;
* ``cf:<slug>`` — a failure category that is one of its *contributing* factors.

Combinations of two or three attributes are made of change types and categories
(``ct:``/``cat:``): a trigger meeting a failure, whatever role the failure played. A single
attribute is a pattern of its own only as a trigger (``ct:``) or as a contributing factor
(``cf:``): a weakness that let a trigger become an outage, such as a rollout that was not
staged, is the lesson; a category recurring as a root cause mostly repeats how common that
cause is, and it takes part in combinations instead. ``cf:`` never combines: a combination
with both ``cat:x`` and ``cf:x`` would say the same thing twice.
"""

from __future__ import annotations

from itertools import combinations

CHANGE_TYPE_PREFIX = "ct:"
CATEGORY_PREFIX = "cat:"
CONTRIBUTING_PREFIX = "cf:"

# Attributes a pattern combines, at most.
MAX_SIZE = 3

KINDS = {
    CHANGE_TYPE_PREFIX: "change_type",
    CATEGORY_PREFIX: "category",
    CONTRIBUTING_PREFIX: "contributing_factor",
}


def kind_of(key: str) -> str:
    """``change_type``, ``category`` or ``contributing_factor``."""
    return KINDS[key[: key.index(":") + 1]]


def slug_of(key: str) -> str:
    return key.split(":", 1)[1]


def stands_alone(key: str) -> bool:
    """A change type or a contributing factor: a pattern on its own when it recurs."""
    return key.startswith((CHANGE_TYPE_PREFIX, CONTRIBUTING_PREFIX))


def combines(key: str) -> bool:
    """A change type or a category of any role: part of 2- and 3-attribute combinations."""
    return key.startswith((CHANGE_TYPE_PREFIX, CATEGORY_PREFIX))


def term_key(key: str) -> str:
    """The term an attribute names: ``cf:x`` is category ``x``, as ``cat:x`` is."""
    if key.startswith(CONTRIBUTING_PREFIX):
        return CATEGORY_PREFIX + slug_of(key)
    return key


def combination_keys(attributes: list[str], max_size: int = MAX_SIZE) -> list[str]:
    """The key of every pattern an incident with these attributes can belong to."""
    ordered = sorted(attributes)
    combinable = [a for a in ordered if combines(a)]
    return [a for a in ordered if stands_alone(a)] + [
        "+".join(combo)
        for size in range(2, max_size + 1)
        for combo in combinations(combinable, size)
    ]


def attribute_label(key: str, names: dict[str, str]) -> str:
    """The attribute in words: its term's name, marked "(contributing factor)" for ``cf:``."""
    name = names.get(term_key(key)) or names.get(key) or slug_of(key)
    if key.startswith(CONTRIBUTING_PREFIX):
        return f"{name} (contributing factor)"
    return name
