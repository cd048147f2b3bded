"""Seed the controlled vocabularies. The slugs are a contract with importers and API clients;
names and definitions stay editable in the admin."""

from django.db import migrations

CHANGE_TYPES = [
    ("code-deploy", "Code deploy", "New application or service code released to production."),
    (
        "config-change",
        "Configuration change",
        "A setting, flag or configuration file changed without new code.",
    ),
    (
        "content-push",
        "Content push",
        "Data that drives behaviour was published: rules, lists, models, certificates bundles.",
    ),
    (
        "network-change",
        "Network change",
        "Routing, addressing, capacity or topology of the network was changed.",
    ),
    (
        "os-upgrade",
        "OS upgrade",
        "Operating system, kernel or firmware of hosts was upgraded or patched.",
    ),
    ("schema-migration", "Schema migration", "A database schema or data migration ran."),
    (
        "capacity-change",
        "Capacity change",
        "Hosts, instances or quotas were added, removed or resized.",
    ),
    (
        "credential-rotation",
        "Credential rotation",
        "Keys, certificates, passwords or tokens were rotated or replaced.",
    ),
    (
        "hardware-maintenance",
        "Hardware maintenance",
        "Physical equipment was replaced, moved, powered or repaired.",
    ),
    (
        "manual-operation",
        "Manual operation",
        "An operator ran a command, script or procedure by hand.",
    ),
    (
        "upstream-change",
        "Upstream change",
        "A provider or dependency changed something outside our control.",
    ),
    (
        "traffic-change",
        "Traffic change",
        "Load shifted: a spike, a failover, a migration of traffic or a new client.",
    ),
    (
        "time-event",
        "Time event",
        "The calendar or clock itself: a leap day or second, a DST switch, a year boundary, an expiry date.",
    ),
    ("none", "No change", "Nothing changed: the failure emerged from normal operation."),
    ("unknown", "Unknown", "The trigger was not determined or not disclosed."),
]

# (slug, name, definition, parent slug, typical role)
FAILURE_CATEGORIES = [
    (
        "software-bug",
        "Software bug",
        "Code behaved differently from its intent.",
        None,
        "root_cause",
    ),
    (
        "config-error",
        "Configuration error",
        "A configuration value was wrong, inconsistent or applied to the wrong target.",
        None,
        "root_cause",
    ),
    (
        "time-handling",
        "Time handling",
        "Dates, clocks, time zones, leap days or durations were computed wrongly.",
        "software-bug",
        "root_cause",
    ),
    (
        "certificate-expiry",
        "Certificate expiry",
        "A certificate, key or credential expired or was not valid when needed.",
        None,
        "root_cause",
    ),
    (
        "capacity-overload",
        "Capacity overload",
        "Demand exceeded what a component could serve.",
        None,
        "either",
    ),
    (
        "cascading-failure",
        "Cascading failure",
        "A failure in one component spread to others that depended on it.",
        None,
        "contributing",
    ),
    (
        "dependency-failure",
        "Dependency failure",
        "A service or component that was relied on failed.",
        None,
        "either",
    ),
    (
        "network-failure",
        "Network failure",
        "Links, switches, routing or name resolution failed or degraded.",
        None,
        "root_cause",
    ),
    (
        "hardware-failure",
        "Hardware failure",
        "Physical equipment failed: disks, hosts, power, cooling.",
        None,
        "root_cause",
    ),
    (
        "data-integrity",
        "Data integrity",
        "Data was lost, corrupted, duplicated or diverged between copies.",
        None,
        "either",
    ),
    (
        "security",
        "Security",
        "An attack, a vulnerability or an access-control failure.",
        None,
        "root_cause",
    ),
    (
        "human-error",
        "Human error",
        "An operator action did something other than intended (look for the system that allowed it).",
        None,
        "root_cause",
    ),
    (
        "non-staged-rollout",
        "Rollout not staged",
        "A change reached many regions, hosts or users at once instead of in incremental batches.",
        None,
        "contributing",
    ),
    (
        "insufficient-testing",
        "Insufficient testing",
        "Tests, canaries or flighting did not exercise the path that failed.",
        None,
        "contributing",
    ),
    (
        "release-process-bypassed",
        "Release process bypassed",
        "The normal review, testing or deployment procedure was skipped, often under pressure.",
        None,
        "contributing",
    ),
    (
        "monitoring-gap",
        "Monitoring gap",
        "The failure was not detected, or detected late, for want of a signal or alert.",
        None,
        "contributing",
    ),
    (
        "automation-amplified",
        "Automation amplified",
        "Automated recovery or remediation made the failure larger or spread it.",
        "cascading-failure",
        "contributing",
    ),
    (
        "retry-storm",
        "Retry storm",
        "Retries or reconnection attempts multiplied load on a struggling component.",
        "cascading-failure",
        "contributing",
    ),
    (
        "timeout-misconfigured",
        "Timeout misconfigured",
        "A timeout was too long, too short or missing, delaying or causing failure.",
        "config-error",
        "either",
    ),
    (
        "error-not-propagated",
        "Error not propagated",
        "A failure was swallowed or hidden instead of raised to the caller or operator.",
        "software-bug",
        "either",
    ),
    (
        "misdiagnosis",
        "Misdiagnosis",
        "Responders or automation attributed the failure to the wrong cause.",
        None,
        "contributing",
    ),
    (
        "single-point-of-failure",
        "Single point of failure",
        "One component's failure was enough to take down the service.",
        None,
        "contributing",
    ),
    (
        "hidden-dependency",
        "Hidden dependency",
        "A dependency nobody knew about, or whose criticality was underestimated.",
        "dependency-failure",
        "contributing",
    ),
    (
        "unsafe-tooling",
        "Unsafe tooling",
        "A tool allowed a dangerous operation without guard rails or confirmation.",
        None,
        "either",
    ),
    (
        "capacity-planning",
        "Capacity planning",
        "Headroom was not planned or was consumed without anyone noticing.",
        "capacity-overload",
        "contributing",
    ),
    (
        "documentation-gap",
        "Documentation gap",
        "Runbooks or documentation were missing, wrong or out of date.",
        None,
        "contributing",
    ),
    (
        "complexity",
        "Complexity",
        "The system's complexity made the failure likely or hard to understand.",
        None,
        "contributing",
    ),
    ("unknown", "Unknown", "The cause was not determined or not disclosed.", None, "either"),
]


def seed(apps, schema_editor):
    ChangeType = apps.get_model("postmortems", "ChangeType")
    FailureCategory = apps.get_model("postmortems", "FailureCategory")
    for slug, name, definition in CHANGE_TYPES:
        ChangeType.objects.update_or_create(
            slug=slug, defaults={"name": name, "definition": definition}
        )
    # Parents first: every parent slug appears before its children above.
    for slug, name, definition, parent, role in FAILURE_CATEGORIES:
        FailureCategory.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "definition": definition,
                "typical_role": role,
                "parent": FailureCategory.objects.get(slug=parent) if parent else None,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("postmortems", "FailureCategory").objects.update(parent=None)
    apps.get_model("postmortems", "FailureCategory").objects.all().delete()
    apps.get_model("postmortems", "ChangeType").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial_domain")]

    operations = [migrations.RunPython(seed, unseed)]
