"""The built-in lexicon: phrases that name a change type or a failure category in plain words.

It is drawn from the taxonomy's definitions (each entry's "what it means" turned into the
words vendors use for it in status updates and postmortems) so that a fresh installation,
with nothing labelled yet, suggests something on day one. The learned model later weighs
these hits against what the knowledge base's own postmortems teach.

A cue is a regular expression, the labels it is evidence for, and a weight: how sure one
hit makes us (0.35 a hint, 0.6 a plain statement, 0.8 a phrase that rarely means anything
else). Several distinct cues for one label combine as independent evidence. A cue preceded
by a negation ("not caused by a configuration change", "ruled out") does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Labels: "ct:<change type>" and "f:<category>:<role>".
ROOT, CONTRIB = "root_cause", "contributing"


def ct(slug: str) -> str:
    return f"ct:{slug}"


def factor(category: str, role: str) -> str:
    return f"f:{category}:{role}"


@dataclass(frozen=True)
class Cue:
    pattern: str
    labels: tuple[tuple[str, float], ...]


def cue(pattern: str, *labels: tuple[str, float]) -> Cue:
    return Cue(pattern, labels)


CUES: tuple[Cue, ...] = (
    # --- Change types ------------------------------------------------------------------
    cue(
        r"configuration (change|update|push|rollout|deployment)s?|config (change|push|update)s?"
        r"|(changed?|updated?|pushed|deployed|applied) (a |the |an )?(new )?(configuration|config)\b"
        r"|change to (the |a |an )?[\w-]+ ?configuration",
        (ct("config-change"), 0.75),
    ),
    cue(r"feature flags?|flag (was )?(flipped|enabled|turned on)", (ct("config-change"), 0.5)),
    cue(
        r"(code|software) (deploy(ment)?|release|change|update|push)s?"
        r"|(deploy(ment|ed)?|release[ds]?|rolled out|shipped) (of )?(a |the )?(new )?"
        r"(version|build|code|software|release)\b|new (version|release|build) of"
        r"|a (recent |routine )?deploy(ment)?\b|(rolled|roll) back the (deploy(ment)?|release)",
        (ct("code-deploy"), 0.7),
    ),
    cue(r"\b(regression|bug) (was )?introduced", (ct("code-deploy"), 0.45)),
    cue(
        r"(waf|firewall|detection|filtering|bot management) rules?|rules? (update|file|set)"
        r"|feature file|channel file|signature (update|file)|content (update|push)"
        r"|(block|allow|deny) ?lists?\b|data file",
        (ct("content-push"), 0.65),
    ),
    cue(
        r"routing (change|policy|update)|network (change|configuration|maintenance|upgrade)"
        r"|(router|switch|backbone|peering|prefix|route)s? (configuration|update|change)"
        r"|(withdrew|withdrawn|advertis(ed|ing)) (routes|prefixes)",
        (ct("network-change"), 0.7),
    ),
    cue(r"\bbgp\b", (ct("network-change"), 0.5), (factor("network-failure", ROOT), 0.45)),
    cue(
        r"\bkernel\b|operating system (upgrade|update|patch)|\bos (upgrade|update|patch)"
        r"|firmware (upgrade|update)|security patch(es)?|systemd|package upgrade|ubuntu|distribution upgrade",
        (ct("os-upgrade"), 0.7),
    ),
    cue(
        r"(database|schema|data) migrations?|schema change|migration (ran|that|which|was)"
        r"|(added|adding|dropped|dropping) (a |an )?(column|index|table)|alter table",
        (ct("schema-migration"), 0.75),
    ),
    cue(
        r"(added|adding|removed|removing|adds|removes) (new )?(capacity|servers|hosts|nodes|instances)"
        r"|capacity (addition|increase|change|expansion)|(scal(ed|ing)) (up|down|out|in)\b"
        r"|(quota|limit) (was )?(changed|lowered|raised|reduced)|decommission",
        (ct("capacity-change"), 0.65),
    ),
    cue(
        r"rotat(ed|ion|ing) (of )?(the |a |an )?(signing )?(keys?|certificates?|credentials?|secrets?|tokens?)"
        r"|(key|certificate|credential|secret|token) (rotation|renewal|replacement)"
        r"|(renewed|replaced) (the |a )?(certificate|key)",
        (ct("credential-rotation"), 0.75),
    ),
    cue(
        r"(power|electrical|generator|cooling|hardware|utility) maintenance"
        r"|maintenance (on|of|to) (the )?(power|electrical|generators?|cooling|hardware|ups)"
        r"|(replac(ed|ing)|swapp(ed|ing)|mov(ed|ing)) (a |the )?(faulty )?(hardware|switch|router|disk|server|line card|cable)",
        (ct("hardware-maintenance"), 0.65),
    ),
    cue(
        r"(engineer|operator|team member|administrator)s? (ran|executed|entered|typed|issued|ran a)"
        r"|(command|script|playbook) (was )?(run|executed|entered|issued)|manual(ly)? (operation|step|intervention|change|command)"
        r"|ran a (command|script)|by hand\b",
        (ct("manual-operation"), 0.65),
    ),
    cue(
        r"mistyp(ed|ing)|typo\b|fat[- ]finger",
        (ct("manual-operation"), 0.5),
        (factor("human-error", ROOT), 0.7),
    ),
    cue(
        r"(third[- ]party|upstream|external) (provider|vendor|dependency|service)s? (changed|made a change|updated|released)"
        r"|change (made )?by (our|an?|the) (upstream|third[- ]party) (provider|vendor)"
        r"|(provider|vendor) (changed|deprecated|updated) (its|their)",
        (ct("upstream-change"), 0.65),
    ),
    cue(
        r"(surge|spike|increase|burst|flood) (of|in) (traffic|requests|load|demand|connections)"
        r"|traffic (surge|spike|increase|shift)|(unexpected|unusual|unprecedented|high|elevated) (traffic|load|demand)"
        r"|\bfail(ed|ing)? ?over\b|failover|(shift|moved|migrat)(ed|ing)? (of )?traffic",
        (ct("traffic-change"), 0.6),
    ),
    cue(
        r"leap (second|day|year)|february 29|29 february|daylight saving|\bdst\b"
        r"|(new )?year boundary|year 20\d\d rollover",
        (ct("time-event"), 0.8),
        (factor("time-handling", ROOT), 0.7),
    ),
    cue(
        r"(certificate|cert|key|credential|token|domain)s? (had |has |have )?expir"
        r"|expir(ed|y|ation) of (the |a |an )?(\w+ )?(certificate|cert|key|domain|credential)"
        r"|expired (certificate|cert|root|key|credential)",
        (ct("time-event"), 0.75),
        (factor("certificate-expiry", ROOT), 0.85),
    ),
    cue(
        r"no (recent )?(change|deployment)s? (had been|was|were) made|without any (recent )?change"
        r"|latent (bug|defect|issue)|(dormant|long-standing) (bug|defect)|not (caused|triggered) by (a|any) change",
        (ct("none"), 0.6),
    ),
    cue(
        r"root cause (is|remains) (unknown|under investigation|being investigated)"
        r"|(will|plan to|intend to) (publish|share|provide|post) (a |an |the )?(full |detailed |preliminary )?"
        r"(root cause|rca|post[- ]?mortem|incident report|analysis|post-incident review)"
        r"|still investigating the (root )?cause|cause (has not|hasn't) been (determined|identified)",
        (ct("unknown"), 0.45),
    ),
    # --- Failure categories: root causes --------------------------------------------------
    cue(
        r"\bbugs?\b|\bdefect|software (issue|error|flaw|fault)|\bregression\b|race condition"
        r"|memory leak|null pointer|deadlock|infinite loop|unhandled exception|\bcrash(ed|es|ing)?\b"
        r"|latent (issue|flaw)|logic error|coding error",
        (factor("software-bug", ROOT), 0.55),
    ),
    cue(
        r"misconfigur|incorrect(ly)? (configur|config|setting|value)|invalid (configuration|config|setting)"
        r"|(configuration|config) (error|mistake|issue|problem)|wrong (setting|value|configuration)"
        r"|erroneous (configuration|config|setting)|faulty (configuration|config)",
        (factor("config-error", ROOT), 0.7),
    ),
    cue(
        r"time ?zones?|clock (skew|drift|jump)|date (calculation|handling|arithmetic)"
        r"|negative (duration|time)|(wall|system) clock",
        (factor("time-handling", ROOT), 0.7),
    ),
    cue(
        r"overload|capacity (was )?(exhausted|exceeded)|ran out of (capacity|memory|disk|connections|resources)"
        r"|resource exhaustion|exhaust(ed|ion) (of )?(the )?(connection|thread|memory|cpu|disk|file descriptor)"
        r"|(exceeded|hit|reached) (the |its |their )?(maximum|limit|capacity|thread limit)"
        r"|(cpu|memory|disk) (exhaustion|pressure|saturation)|saturat(ed|ion)|out of memory|\boom\b",
        (factor("capacity-overload", ROOT), 0.6),
    ),
    cue(
        r"cascad(e|ed|ing)|knock-on|spread to|(downstream|dependent) services (were |also )?(affected|impacted|failed)"
        r"|other services that (depend|rely)",
        (factor("cascading-failure", CONTRIB), 0.6),
    ),
    cue(
        r"(dependency|upstream|third[- ]party|provider) (failure|outage|was unavailable|failed|issue)"
        r"|outage (at|of|in) (a|an|our) (upstream|third[- ]party)|(upstream|third[- ]party) (provider|service)s? (experienced|had)",
        (factor("dependency-failure", ROOT), 0.6),
    ),
    cue(
        r"network (failure|issue|outage|partition|connectivity|congestion|problem|disruption)"
        r"|packet loss|(dns|name) resolution (failure|failed|errors?)|fib(er|re) (cut|damage)"
        r"|routing (issue|problem|failure|loop)|connectivity (loss|issues?)|route leak",
        (factor("network-failure", ROOT), 0.6),
    ),
    cue(
        r"hardware (failure|fault|issue|problem)|(power|utility) (loss|outage|failure|event)"
        r"|(disk|drive|host|server|switch|router|line card|ups|generator)s? (failed|failure|fault)"
        r"|(cooling|chiller|hvac) (failure|issue|loss)|\bfire\b|faulty (hardware|disk|switch|router)"
        r"|loss of (power|cooling)",
        (factor("hardware-failure", ROOT), 0.65),
    ),
    cue(
        r"data (loss|was lost|corruption|inconsistenc)|corrupt(ed|ion)|inconsistent (data|state)"
        r"|(lost|deleted) (customer |user )?data|split[- ]brain|diverged",
        (factor("data-integrity", ROOT), 0.6),
    ),
    cue(
        r"\bddos\b|denial[- ]of[- ]service|(malicious|cyber) ?attack|\battack(er|ers|ed)?\b|vulnerabilit"
        r"|unauthori[sz]ed (access|user)|compromised|exploit",
        (factor("security", ROOT), 0.7),
    ),
    cue(
        r"human error|operator error|by mistake|(incorrect|wrong)(ly)? (input|entered|target|argument|parameter)"
        r"|entered (incorrectly|wrongly)|inadvertent(ly)?|accidental(ly)?|unintended(ly)?",
        (factor("human-error", ROOT), 0.6),
    ),
    # --- Failure categories: contributing factors ---------------------------------------
    cue(
        r"(globally|everywhere|(to|in|across) (all|every) (of (our|its) )?(regions?|servers?|hosts?|locations?|data ?cent(er|re)s?|pops?|customers?|machines?|clusters?|zones?|nodes?|sites?))"
        r" (at once|simultaneously|at the same time)|(all|every) (regions?|servers?|hosts?|locations?|data ?cent(er|re)s?|clusters?|zones?|machines?) at (once|the same time)"
        r"|(deployed|pushed|rolled out|propagated|distributed|applied) (globally|to all|across (the|our) (entire )?(fleet|network|network's))"
        r"|(not|wasn't|was not|without being) (staged|rolled out gradually|deployed incrementally)"
        r"|rather than (gradually|incrementally|in stages|progressively)|(at once|simultaneously) (across|to|in) (all|every)"
        r"|within (seconds|minutes) (across|to) (all|every|the entire)|staged rollout|canary (stage|deployment) was skipped",
        (factor("non-staged-rollout", CONTRIB), 0.75),
    ),
    cue(
        r"(tests?|testing|canar(y|ies)|staging|qa) (did not|didn't|failed to|does not) (catch|cover|detect|exercise|reveal)"
        r"|(not|never) (been )?(tested|caught|covered) (in|by)|insufficient(ly)? test|lack of (test|testing)"
        r"|gap in (our )?(test|testing)|test coverage",
        (factor("insufficient-testing", CONTRIB), 0.7),
    ),
    cue(
        r"bypass(ed|ing)? (the )?(normal |usual |standard )?(review|process|procedure|change management|deployment)"
        r"|skipp(ed|ing) (the )?(normal |usual |standard )?(review|process|procedure|canary|testing)"
        r"|emergency (change|deploy|release)|outside (the|our) (normal )?(change|release) process",
        (factor("release-process-bypassed", CONTRIB), 0.75),
    ),
    cue(
        r"(monitoring|alerting|alerts?) (did not|didn't|failed to|does not) (detect|fire|catch|trigger)"
        r"|(not|wasn't) (detected|noticed|alerted)|went (undetected|unnoticed)|(delayed|late) detection"
        r"|(lack|absence) of (monitoring|alerting|alerts)|monitoring gap|no (alert|alarm|monitoring)"
        r"|(customers|users) reported (the|it) (before|first)",
        (factor("monitoring-gap", CONTRIB), 0.7),
    ),
    cue(
        r"automat(ed|ic|ion) (recovery|remediation|failover|system|process|tooling|response)s? (made|worsened|amplified|removed|drained|triggered|took)"
        r"|auto[- ]?remediation|automatically (removed|drained|restarted|shut|disabled|withdrew|took)",
        (factor("automation-amplified", CONTRIB), 0.7),
    ),
    cue(
        r"retr(y|ies|ied|ying)|thundering herd|reconnect(ion|ing|s)? (storm|attempts|flood)|reconnect(ed|ing)"
        r"|(clients|requests) (kept|repeatedly) (retrying|reconnecting)",
        (factor("retry-storm", CONTRIB), 0.6),
    ),
    cue(r"time ?outs?\b|timed out", (factor("timeout-misconfigured", CONTRIB), 0.4)),
    cue(
        r"silently|swallowed|(error|failure)s? (was|were) (not )?(reported|surfaced|propagated|hidden|masked)"
        r"|(masked|hid) the (error|failure)|fail(ed)? silently",
        (factor("error-not-propagated", CONTRIB), 0.6),
    ),
    cue(
        r"initially (believed|thought|suspected|attributed|assumed)|misdiagnos|(wrong|incorrect) (cause|diagnosis|hypothesis)"
        r"|(first|initially) (investigated|pursued) (a|an|the) (different|unrelated)|red herring",
        (factor("misdiagnosis", CONTRIB), 0.7),
    ),
    cue(
        r"single point of failure|(single|one) (instance|region|zone|data ?center|database|host|server|link) (served|was|held|that)"
        r"|no (redundancy|failover|backup|standby)|lack of redundancy|not redundant",
        (factor("single-point-of-failure", CONTRIB), 0.7),
    ),
    cue(
        r"(hidden|unknown|undocumented|unexpected|circular|implicit) dependenc|(status page|dashboard|console|tooling|recovery tools?) (itself )?(also )?(depended|relied|ran) on"
        r"|depended on the (same|very)|(unaware|not aware) (of|that) .{0,40}depend",
        (factor("hidden-dependency", CONTRIB), 0.7),
    ),
    cue(
        r"(tool|command|script|system)s? (allowed|permitted|did not (prevent|check|validate|stop|ask))"
        r"|(no|without|lacked|missing) (a )?(safeguards?|guard ?rails?|safety checks?|validation|confirmation|input validation)"
        r"|(safeguard|guard ?rail|safety check)s? (that )?(would have )?(prevent|stopp)",
        (factor("unsafe-tooling", CONTRIB), 0.65),
    ),
    cue(
        r"capacity planning|headroom|(organic|unexpected|rapid) growth|(outgrown|outgrew)"
        r"|(had|have) not been (scaled|sized)|(under|insufficiently)[- ]?provisioned",
        (factor("capacity-planning", CONTRIB), 0.6),
    ),
    cue(
        r"runbooks?|playbooks? (was|were) (missing|out of date|outdated|wrong|incomplete)|documentation (was )?(missing|out of date|outdated|incorrect|gap)"
        r"|(undocumented|poorly documented) (procedure|process|step)",
        (factor("documentation-gap", CONTRIB), 0.55),
    ),
    cue(
        r"complex(ity)? (of|in) (the )?(system|interaction|architecture)|complex interactions?|unexpected interaction"
        r"|interaction between (several|multiple|two)",
        (factor("complexity", CONTRIB), 0.5),
    ),
    # --- Broader phrasings, seen in postmortems' own words ------------------------------
    cue(
        r"malformed|formatting error|invalid (entry|entries|value|input|directive|rule|policy|record)"
        r"|(configured|set|applied|done) (incorrectly|wrongly)|(left|was) blank|empty (parameter|field|value)"
        r"|(wrong|incorrect) (scope|target|region|cluster|prefix)",
        (factor("config-error", ROOT), 0.55),
    ),
    cue(
        r"autoscal(ing|er)|unattended upgrades?|scheduled job|orchestrator|no human in the loop"
        r"|without (a )?(human|person|operator)|on its own\b|automated (job|process|system|tool|action|migration|quota|capacity)",
        (factor("automation-amplified", CONTRIB), 0.5),
    ),
    cue(
        r"(had |has )?(never|not) (been )?(tested|exercised|validated|qualified)|never (run|ran|exercised|triggered) (before|with|in)"
        r"|untested|validation (had )?(only )?covered|qualification process|without (being )?tested",
        (factor("insufficient-testing", CONTRIB), 0.6),
    ),
    cue(
        r"(no|without an?) (alert|warning|signal|alarm)s?\b|unnoticed|nobody (knew|noticed)|lost (visibility|monitoring)"
        r"|monitoring (data )?(was |were )?(cut off|lost|down|unavailable|blind)|first sign",
        (factor("monitoring-gap", CONTRIB), 0.55),
    ),
    cue(
        r"(depended|depends|relied|relies) (entirely |heavily |also )?on|non-obvious dependenc|dependency (on|of) .{0,30}(itself|same)",
        (factor("hidden-dependency", CONTRIB), 0.45),
    ),
    cue(
        r"(one|a single|the only) (consul )?(cluster|facility|router|link|core|site|subscription|data ?cent(er|re)|region|switch|database)\b"
        r"|no (in-region )?alternative|ran only (there|in)|(shared|relied on) (one|a single)",
        (factor("single-point-of-failure", CONTRIB), 0.5),
    ),
    cue(
        r"without (a |any )?(warning|confirmation|dry run|limit|check)|no (check|confirmation|warning|dry run|limit)s?\b"
        r"|accepted (the |an? )?(empty|invalid|blank|wrong)",
        (factor("unsafe-tooling", CONTRIB), 0.55),
    ),
    cue(
        r"in (one|a single) step|all at once|(every|all) (sites?|locations?|nodes?|routers?|pops?) (at once|within)",
        (factor("non-staged-rollout", CONTRIB), 0.55),
    ),
    cue(r"mistakenly|wrongly|by accident", (factor("human-error", ROOT), 0.45)),
    cue(
        r"(failing|failed) silently|silently (failing|failed)",
        (factor("monitoring-gap", CONTRIB), 0.55),
        (factor("error-not-propagated", CONTRIB), 0.6),
    ),
)

NEGATION = re.compile(
    r"\b(not|no|never|without|n't|ruled out|rather than|instead of|unrelated to|nor)\b[^.;:]{0,25}$",
    re.IGNORECASE,
)
# Some cues are themselves a negation ("not staged", "did not detect"): for those the
# word before them is not a negation of the cue.
SELF_NEGATING = {
    factor("non-staged-rollout", CONTRIB),
    factor("insufficient-testing", CONTRIB),
    factor("monitoring-gap", CONTRIB),
    factor("single-point-of-failure", CONTRIB),
    factor("unsafe-tooling", CONTRIB),
    factor("error-not-propagated", CONTRIB),
    ct("none"),
    ct("unknown"),
}

SPECIAL = set("()[]?*+.\\|{}^$")


def _top_level(pattern: str, sep: str = "|") -> list[str]:
    """Split ``pattern`` on ``sep`` outside any group or class."""
    parts, depth, current, escaped, in_class = [], 0, [], False, False
    for char in pattern:
        if escaped:
            current.append(char)
            escaped = False
            continue
        if char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif not in_class and char == "(":
            depth += 1
        elif not in_class and char == ")":
            depth -= 1
        elif not in_class and depth == 0 and char == sep:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _closing(text: str) -> int:
    """Where the group that opens ``text`` closes."""
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return index
    return len(text)


def _items(alternative: str) -> list[tuple[str, bool]]:
    """The alternative as a sequence of (piece, mandatory): literal words and groups."""
    items: list[tuple[str, bool]] = []
    i, literal = 0, []

    def flush(optional_last: bool = False) -> None:
        if literal:
            word = "".join(literal[:-1] if optional_last else literal)
            items.extend((w, True) for w in word.split(" ") if w)
            literal.clear()

    while i < len(alternative):
        char = alternative[i]
        if char == "\\":
            flush()
            i += 2  # \b, \d, \w…: never a literal worth filtering on
        elif char == "(":
            flush()
            close = i + _closing(alternative[i:])
            optional = alternative[close + 1 : close + 2] in ("?", "*")
            items.append((alternative[i : close + 1], not optional))
            i = close + 1
        elif char == "[":
            flush()
            i = alternative.index("]", i) + 1
        elif char in "?*":
            flush(optional_last=True)
            i += 1
        elif char in SPECIAL:
            flush()
            i += 1
        else:
            literal.append(char)
            i += 1
    flush()
    return items


def _leads(alternative: str) -> set[str] | None:
    """Words of which one occurs in any text ``alternative`` matches (lower case), or None.

    Any mandatory piece will do: a literal word of three letters or more, or a group each
    of whose options has such words.
    """
    candidates: list[set[str]] = []
    for piece, mandatory in _items(alternative):
        if not mandatory:
            continue
        if piece.startswith("("):
            inner = piece[3:-1] if piece.startswith("(?:") else piece[1:-1]
            options = [_leads(option) for option in _top_level(inner)]
            if all(option is not None for option in options):
                candidates.append(set().union(*options))
        elif len(piece) >= 3:
            candidates.append({piece.lower()})
    # The rarest filter: the set whose shortest word is longest ("facility", not "one").
    return max(candidates, key=lambda leads: min(map(len, leads)), default=None)


@dataclass(frozen=True)
class CompiledCue:
    # Over lower-case text, from a word's start: both make a miss fail fast.
    regex: re.Pattern
    # Over text whose lower case changes its length (rare letters): offsets must hold.
    anycase: re.Pattern
    leads: tuple[str, ...] | None  # one of these occurs in any text it matches (None: unknown)


def _compile(c: Cue) -> CompiledCue:
    regex = re.compile(rf"\b(?:{c.pattern})")
    anycase = re.compile(rf"\b(?:{c.pattern})", re.IGNORECASE)
    leads: set[str] = set()
    for alternative in _top_level(c.pattern):
        found = _leads(alternative)
        if found is None:
            return CompiledCue(regex, anycase, None)
        leads |= found
    return CompiledCue(regex, anycase, tuple(sorted(leads)))


COMPILED = tuple(_compile(c) for c in CUES)
MAX_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Hit:
    label: str
    cue: int
    weight: float
    start: int
    end: int


def candidates(text: str) -> list[int]:
    """The cues worth running on ``text``: those one of whose words occurs in it (a substring
    test each, done once for a whole incident); most texts name few of the cues."""
    lowered = text.lower()
    return [
        index
        for index, compiled in enumerate(COMPILED)
        if compiled.leads is None or any(map(lowered.__contains__, compiled.leads))
    ]


def hits(text: str, cues: list[int] | None = None) -> list[Hit]:
    """Every cue found in ``text`` (of ``cues``, by default all), each with its labels."""
    lowered = text.lower()
    same_length = len(lowered) == len(text)
    found: list[Hit] = []
    for index in candidates(text) if cues is None else cues:
        compiled = COMPILED[index]
        matches = (
            compiled.regex.finditer(lowered) if same_length else compiled.anycase.finditer(text)
        )
        for match in matches:
            before = text[max(0, match.start() - 40) : match.start()]
            negated = NEGATION.search(before) is not None
            for label, weight in CUES[index].labels:
                if negated and label not in SELF_NEGATING:
                    continue
                found.append(Hit(label, index, weight, match.start(), match.end()))
    return found


def combine(weights: list[float]) -> float:
    """Independent pieces of evidence: the chance that every one of them is wrong, inverted."""
    doubt = 1.0
    for weight in weights:
        doubt *= 1.0 - weight
    return min(MAX_CONFIDENCE, 1.0 - doubt)


def labels() -> set[str]:
    return {label for c in CUES for label, _ in c.labels}
