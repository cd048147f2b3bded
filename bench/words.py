"""Word lists for the synthetic knowledge base.

The vocabulary is deliberately uneven, so full-text search meets terms of every selectivity:
a few words occur in most postmortems ("outage", "customers"), a few hundred technical terms
in a fraction of them, and tens of thousands of generated code names in only a handful each.
"""

from __future__ import annotations

import random

# The big names come first: the vendor Zipf law gives the first ranks most incidents.
BIG_VENDORS = [
    ("Amazon Web Services", "cloud"),
    ("Microsoft Azure", "cloud"),
    ("Google Cloud", "cloud"),
    ("Cloudflare", "network"),
    ("Oracle Cloud", "cloud"),
    ("IBM Cloud", "cloud"),
    ("Fastly", "network"),
    ("Akamai", "network"),
    ("GitHub", "saas"),
    ("DigitalOcean", "cloud"),
    ("Salesforce", "saas"),
    ("Slack", "saas"),
    ("Atlassian", "saas"),
    ("Stripe", "saas"),
    ("Twilio", "saas"),
    ("Datadog", "saas"),
    ("Okta", "saas"),
    ("Heroku", "cloud"),
    ("Linode", "cloud"),
    ("Hetzner", "cloud"),
    ("OVHcloud", "cloud"),
    ("Alibaba Cloud", "cloud"),
    ("Zoom", "saas"),
    ("PagerDuty", "saas"),
    ("Shopify", "saas"),
    ("Vercel", "network"),
    ("Netlify", "network"),
    ("Auth0", "saas"),
    ("Sentry", "saas"),
    ("Platform Team", "internal"),
]

VENDOR_HEADS = [
    "Nimbus", "Quartz", "Helix", "Vertex", "Cobalt", "Aster", "Lumen", "Polar", "Granite",
    "Beacon", "Cinder", "Drift", "Ember", "Fathom", "Harbor", "Iris", "Juniper", "Kestrel",
    "Lattice", "Meridian", "Nova", "Onyx", "Prism", "Quill", "Rivet", "Summit", "Tundra",
    "Umbra", "Vanta", "Willow", "Xenon", "Yarrow", "Zephyr", "Atlas", "Bolt", "Crest",
]  # fmt: skip
VENDOR_TAILS = [
    "Cloud", "Data", "Networks", "Labs", "Systems", "Pay", "Mail", "Hosting", "Edge", "Stack",
    "Metrics", "Auth", "Queue", "Store", "CDN", "DNS", "Analytics", "Chat", "Ops", "Sync",
    "Search", "Media", "Compute", "Logic", "Works", "Grid", "Link", "Base", "Flow", "Vault",
]  # fmt: skip
OTHER_KINDS = ["saas", "saas", "saas", "network", "cloud", "internal", "other"]

SERVICES = [
    "Compute", "Object Storage", "Block Storage", "DNS", "Load Balancer", "Identity",
    "API Gateway", "Message Queue", "Managed Database", "CDN Edge", "Dashboard", "Billing",
    "Webhooks", "Search", "Email Delivery", "Container Registry", "Kubernetes", "Functions",
    "Monitoring", "Logging", "Key Management", "Virtual Network", "VPN", "Cache",
    "Data Warehouse", "Streaming", "Notifications", "Authentication", "Payments API",
    "Git Hosting", "CI Runners", "Package Registry", "Voice", "SMS", "Video", "Chat",
    "Secrets", "Scheduler", "Backup", "Status API",
]  # fmt: skip

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-west-2",
    "eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1",
    "ap-south-1", "sa-east-1", "ca-central-1", "me-south-1", "af-south-1", "West Europe",
    "North Europe", "East US", "West US 2", "Central US", "Japan East", "us-central1",
    "europe-west1", "asia-east1", "global",
]  # fmt: skip

SYMPTOMS = [
    "outage", "elevated error rates", "increased latency", "degraded performance",
    "partial outage", "failed requests", "timeouts", "intermittent errors", "data delays",
    "login failures", "failed deployments", "dropped connections", "stale reads",
    "packet loss", "unavailability", "slow page loads", "API errors", "queue backlog",
    "replication lag", "failed payments", "missing notifications", "DNS resolution failures",
    "certificate errors", "write failures", "throttling", "disk exhaustion",
]  # fmt: skip

TRIGGERS = [
    "a configuration change", "a routine deployment", "a network maintenance",
    "an expired certificate", "a capacity shortfall", "a database failover",
    "a schema migration", "a kernel upgrade", "a traffic surge", "an upstream outage",
    "a faulty router", "a power event", "a manual command", "a bad feature flag",
    "a certificate rotation", "a leap day", "a DNS change", "a storage firmware update",
    "a load balancer rule", "a cache flush", "an automation bug", "a quota change",
]  # fmt: skip

ADJECTIVES = [
    "Widespread", "Regional", "Global", "Brief", "Prolonged", "Intermittent", "Major",
    "Partial", "Multi-region", "Cascading", "Unexpected", "Repeated",
]  # fmt: skip

# Mid-frequency technical terms: each lands in a few percent of postmortems.
TERMS = [
    "BGP", "anycast", "TLS", "OCSP", "etcd", "Raft", "Paxos", "quorum", "Kafka", "RabbitMQ",
    "Redis", "Memcached", "PostgreSQL", "MySQL", "Cassandra", "DynamoDB", "Spanner", "ZooKeeper",
    "Consul", "Envoy", "nginx", "HAProxy", "iptables", "conntrack", "MTU", "jumbo frames",
    "ECMP", "VXLAN", "hypervisor", "NUMA", "SSD firmware", "RAID controller", "UPS", "generator",
    "cooling", "chiller", "fibre cut", "optics", "transceiver", "leap second", "leap day",
    "daylight saving", "NTP", "clock skew", "garbage collection", "heap exhaustion",
    "thread pool", "connection pool", "file descriptors", "inode exhaustion", "split brain",
    "thundering herd", "retry storm", "backpressure", "circuit breaker", "rate limiter",
    "feature flag", "canary", "blue-green", "rollback", "hotfix", "runbook", "on-call",
    "pager", "dashboard", "SLO", "error budget", "health check", "liveness probe",
    "readiness probe", "autoscaler", "cron job", "batch job", "migration script",
    "index rebuild", "vacuum", "compaction", "replication slot", "WAL", "binlog",
    "snapshot", "backup restore", "object lifecycle", "bucket policy", "IAM policy",
    "service account", "token expiry", "OAuth", "SAML", "SSO", "MFA", "HSM", "KMS",
    "secret rotation", "config map", "Helm chart", "Terraform", "Ansible", "Puppet",
    "Chef recipe", "container image", "sidecar", "service mesh", "gRPC", "HTTP/2", "QUIC",
    "WebSocket", "CDN cache", "origin shield", "purge", "WAF rule", "regex", "DDoS",
    "SYN flood", "route leak", "RPKI", "peering", "transit", "submarine cable",
    "control plane", "data plane", "metadata service", "placement service", "scheduler",
    "load shedding", "admission control", "quota", "billing pipeline", "webhook queue",
    "message broker", "event bus", "search index", "shard", "hot partition", "rebalance",
    "cold start", "JIT", "memory leak", "deadlock", "race condition", "null pointer",
    "integer overflow", "off-by-one", "timezone", "Unicode", "serialization", "schema drift",
]  # fmt: skip

IMPACT_PHRASES = [
    "customers could not sign in", "requests failed with HTTP 503 errors",
    "writes were rejected while reads continued", "new resources could not be created",
    "existing workloads kept running but could not be managed", "webhooks were delayed",
    "the dashboard was unavailable", "API latency rose tenfold", "payments were declined",
    "messages were delivered out of order", "some data was written twice",
    "builds were queued for hours", "emails were not delivered", "DNS queries timed out",
    "traffic was served from stale caches", "mobile clients showed empty screens",
]  # fmt: skip

ANALYSIS_PHRASES = [
    "The change was applied to every region at once instead of one region at a time.",
    "Monitoring alerted on the symptom but not on the cause, so diagnosis took longer.",
    "Retries from clients multiplied the load on the recovering service.",
    "A dependency that was thought to be optional turned out to be on the critical path.",
    "The rollback procedure itself depended on the failing component.",
    "Capacity headroom had eroded over months without anyone noticing.",
    "An automated remediation made the situation worse by restarting healthy hosts.",
    "The failure mode had not been exercised in testing.",
    "Two teams made conflicting changes within the same maintenance window.",
    "The runbook was out of date and pointed operators at the wrong dashboard.",
    "A single shared component turned a local fault into a global one.",
    "The time calculation assumed every year has the same number of days.",
]  # fmt: skip

LESSON_PHRASES = [
    "Stage configuration changes region by region with automatic halts.",
    "Alert on certificate expiry thirty days ahead.",
    "Add jitter and budgets to client retries.",
    "Exercise the rollback path in every game day.",
    "Keep a static fallback for the control plane.",
    "Review capacity headroom every quarter.",
    "Require a second reviewer for manual production commands.",
    "Test date handling against leap days and year boundaries.",
    "Document hidden dependencies in the service catalogue.",
    "Make the status page independent of the infrastructure it reports on.",
]  # fmt: skip

EVENT_TEXTS = {
    "change": ["Change rolled out", "Deployment started", "Configuration pushed", "Maintenance"],
    "impact_start": ["Errors begin", "Latency rises", "First failed requests", "Impact starts"],
    "detection": ["Alert fires", "Customers report errors", "On-call paged", "Anomaly seen"],
    "escalation": ["Incident declared", "Senior on-call engaged", "Vendor support engaged"],
    "diagnosis": ["Cause identified", "Suspect change found", "Faulty host isolated"],
    "status_update": ["Investigating", "Identified", "Monitoring", "Update posted"],
    "mitigation": ["Change rolled back", "Traffic drained", "Failover completed", "Fix applied"],
    "resolution": ["Service restored", "All regions healthy", "Backlog processed", "Resolved"],
}

FACTOR_TEXTS = [
    "Seen in the timeline and confirmed by the owning team.",
    "Identified during the review meeting.",
    "Found by replaying the logs of the affected hosts.",
    "Reported by the vendor in its public postmortem.",
    "",
]  # fmt: skip

ACTION_VERBS = ["Add", "Automate", "Document", "Test", "Alert on", "Stage", "Review", "Remove"]
ACTION_OBJECTS = [
    "canary analysis for configuration pushes", "certificate expiry checks", "retry budgets",
    "the rollback runbook", "capacity forecasts", "dependency map", "manual command guard",
    "leap-day test cases", "status page fallback", "region isolation", "load shedding",
    "health check timeouts", "connection pool limits", "feature flag audit",
]  # fmt: skip

_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "gr", "st"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou"]
_CODAS = ["", "", "n", "r", "s", "x", "l", "th"]


def code_names(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct pronounceable made-up words: rare, highly selective search terms."""
    names: set[str] = set()
    while len(names) < count:
        syllables = rng.choice((2, 3, 3))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables)
        )
        names.add(word)
    return sorted(names)
