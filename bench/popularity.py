"""How common each seeded term is in synthetic knowledge bases, shared by the generators.

The first entry of each list is the most frequent. Seeded entries not listed follow the
listed ones, so every term of the taxonomy is used.
"""

CHANGE_TYPE_RANKS = [
    "code-deploy", "config-change", "unknown", "capacity-change", "network-change",
    "upstream-change", "traffic-change", "none", "manual-operation", "os-upgrade",
    "schema-migration", "hardware-maintenance", "content-push", "credential-rotation",
    "time-event",
]  # fmt: skip
CATEGORY_RANKS = [
    "software-bug", "config-error", "monitoring-gap", "capacity-overload",
    "insufficient-testing", "dependency-failure", "cascading-failure", "network-failure",
    "single-point-of-failure", "hardware-failure", "human-error", "complexity", "retry-storm",
    "unknown", "capacity-planning", "misdiagnosis", "data-integrity", "automation-amplified",
    "timeout-misconfigured", "documentation-gap", "release-process-bypassed", "security",
    "error-not-propagated", "unsafe-tooling",
]  # fmt: skip
