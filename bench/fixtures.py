"""What ``bench/run`` needs from the bench database before it measures, made through Django.

Three people, each with an API token and a session: a viewer (signed in, in no group: the
published postmortems only), an author (in the author group, writing ~30 drafts and reviews
of their own) and the bench admin (every incident, the ~10,000 drafts of a million included;
the writes and imports need an admin). Then the vendors whose lists are read, a page deep in
each list, a sample of incidents, the search terms, what the writes refer to, and for the
pages group the filters, labels and never-opened incidents each page is asked about.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from inprocess import IMPORT_VENDOR
from web import Request, UnexpectedStatus, get_json, path_of, send

BENCH_USER = "bench-admin"
ROLES = ("viewer", "author", "admin")
ROLE_USERS = {"viewer": "bench-viewer", "author": "bench-author", "admin": BENCH_USER}
TOKEN_NAME = "bench"
AUTHOR_DRAFTS = 30  # the author's own drafts and reviews
AUTHOR_SLUG = "bench-author-draft-"
AUTHOR_VENDORS = 10  # spread over this many of the largest vendors
HOME_DEEP = 20  # how many "Next" links the deep home page follows
SMALL_VENDOR = 36  # "a vendor with a few dozen incidents": the one closest to this many
PHRASE = '"leap second"'
WRITE_VENDOR = "bench-writes"
MID_VENDOR_RANK = 20  # a mid-size vendor: the 20th by incident count (the largest is 1st)
COMMON_TERM = "outage"


@dataclass(frozen=True)
class Account:
    """One person the bench signs in as, by token (the API) and by session (the pages)."""

    role: str
    user_id: int
    token: str
    session_key: str

    @property
    def api(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def html(self) -> dict:
        return {"Cookie": f"sessionid={self.session_key}"}


@dataclass
class Pages:
    """What the pages group asks about: the filters and labels, per person the page 21 of
    the home page and never-opened incidents (one per round)."""

    largest: dict  # the vendor with the most incidents
    small: dict  # a vendor with a few dozen
    change_type: dict  # the commonest
    category: dict  # the commonest
    started_after: str  # a year before the newest start (ISO date)
    phrase: str = PHRASE
    caps: tuple[int, int] = (10_000, 2_000)  # ``product_caps``
    home_deep: dict[str, dict] = field(default_factory=dict)
    first_views: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Fixtures:
    run_id: str
    user_id: int
    token: str
    session_key: str
    vendors: list[dict]
    selective_term: str
    common_term: str
    slugs: list[str]
    write_vendor: dict
    change_type: dict
    categories: list[dict]
    now_iso: str
    deep_pages: int
    deep: dict[str, dict] = field(default_factory=dict)
    # The best family head: the widest pattern page (the most vendors and members).
    top_pattern: int | None = None
    accounts: dict[str, Account] = field(default_factory=dict)
    pages: Pages | None = None


TOP_PATTERN = """SELECT id FROM patterns_pattern WHERE variant_of_id IS NULL AND support >= 3
                 ORDER BY score DESC, id DESC LIMIT 1"""


def bench_user():
    """The bench's admin account (no password: it signs in by token and session only)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user, created = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save()
        group = Group.objects.filter(name="admin").first()
        if group is not None:
            user.groups.add(group)
    return user


def role_user(role: str):
    """The account of ``role``: the bench admin, or a plain user (the author in the author
    group), made once and reused; no password, like the admin."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from postmortems.choices import Role

    if role == "admin":
        return bench_user()
    user, created = get_user_model().objects.get_or_create(username=ROLE_USERS[role])
    if created:
        user.set_unusable_password()
        user.save()
    if role == "author":
        user.groups.add(Group.objects.get(name=Role.AUTHOR))
    return user


def account(role: str) -> Account:
    from accounts.models import TokenScope

    user = role_user(role)
    scope = TokenScope.READ if role == "viewer" else TokenScope.READ_WRITE
    return Account(role, user.id, fresh_token(user, scope), session_for(user))


def author_drafts(author, vendors: list[dict]) -> int:
    """The author's own drafts and reviews, spread over the largest vendors, each with a
    change type and two factors so that they show in the author's counts; made once and
    reused (``bench/generate --reset`` empties them with everything else)."""
    from django.db import transaction
    from django.utils import timezone

    from postmortems.choices import FactorRole, ReviewStatus, Severity
    from postmortems.models import ChangeType, Factor, FailureCategory, Incident, IncidentVendor

    existing = set(
        Incident.objects.filter(slug__startswith=AUTHOR_SLUG).values_list("slug", flat=True)
    )
    change_types = list(ChangeType.objects.order_by("id")[:3])
    categories = list(FailureCategory.objects.filter(parent__isnull=False).order_by("id")[:4])
    severities = [Severity.MAJOR, Severity.MINOR, Severity.CRITICAL]
    now = timezone.now()
    with transaction.atomic():
        for n in range(AUTHOR_DRAFTS):
            slug = f"{AUTHOR_SLUG}{n:02d}"
            if slug in existing:
                continue
            incident = Incident.objects.create(
                title=f"Bench author's draft {n}: degraded responses",
                slug=slug,
                severity=severities[n % len(severities)],
                status=ReviewStatus.DRAFT if n % 2 else ReviewStatus.IN_REVIEW,
                started_at=now - timedelta(days=11 * n, hours=n),
                summary="A postmortem the bench's author is still writing.",
            )
            IncidentVendor.objects.create(
                incident=incident, vendor_id=vendors[n % len(vendors)]["id"], is_primary=True
            )
            incident.change_types.add(change_types[n % len(change_types)])
            for position, role in enumerate((FactorRole.ROOT_CAUSE, FactorRole.CONTRIBUTING)):
                category = categories[(n + position) % len(categories)]
                Factor.objects.create(
                    incident=incident, role=role, category=category, position=position
                )
        drafts = Incident.objects.filter(slug__startswith=AUTHOR_SLUG)
        author.authored_incidents.add(*drafts)
    return drafts.count()


def fresh_token(user, scope: str = "") -> str:
    from django.utils import timezone

    from accounts.models import ApiToken, TokenScope
    from accounts.tokens import create_token

    # Earlier runs' tokens go, but not today's: two runs at once must not sign each other out.
    stale = timezone.now() - timedelta(days=1)
    ApiToken.objects.filter(user=user, name=TOKEN_NAME, created_at__lt=stale).delete()
    return create_token(user=user, name=TOKEN_NAME, scope=scope or TokenScope.READ_WRITE)[1]


def session_for(user) -> str:
    """A signed-in session, as the login form would leave it (hashed with the server's key)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def sql(query: str, params: list | None = None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def largest_vendors(count: int) -> list[dict]:
    """The ``count`` largest vendors by incident count, largest first; never the vendors the
    bench's own writes go to (drafts left by an interrupted run would otherwise rank)."""
    rows = sql(
        "SELECT v.id, v.slug, count(*) FROM postmortems_incidentvendor l "
        "JOIN postmortems_vendor v ON v.id = l.vendor_id WHERE v.slug NOT IN (%s, %s) "
        "GROUP BY v.id ORDER BY 3 DESC, 1 LIMIT %s",
        [WRITE_VENDOR, IMPORT_VENDOR, count],
    )
    return [{"id": pk, "slug": slug, "incidents": n} for pk, slug, n in rows]


def list_vendors(ranked: list[dict]) -> list[dict]:
    """A mid-size vendor (the 20th largest) and the largest one."""
    return [ranked[min(MID_VENDOR_RANK, len(ranked)) - 1], ranked[0]]


def selective_term() -> str:
    """A made-up code name from a title (``… [zoubrath]``): it matches a handful of incidents."""
    (title,) = sql(
        "SELECT title FROM postmortems_incident WHERE title LIKE '%%]' "
        "AND status = 'published' ORDER BY id LIMIT 1"
    )[0]
    return re.search(r"\[(\w+)\]$", title).group(1)


def sample_slugs(count: int) -> list[str]:
    """The same random published incidents on every run (the seed is fixed)."""
    sql("SELECT setseed(0.42)")
    rows = sql(
        "SELECT slug FROM postmortems_incident WHERE status = 'published' "
        "ORDER BY random() LIMIT %s",
        [count],
    )
    return [slug for (slug,) in rows]


def fresh_slugs(count: int) -> list[str]:
    """Published incidents whose related list nobody has computed yet: first views."""
    # A sample of the table's pages, about 20 times what is asked for (1% at least).
    (estimate,) = sql("SELECT reltuples FROM pg_class WHERE relname = 'postmortems_incident'")[0]
    percent = min(100.0, max(1.0, 2000.0 * count / max(estimate, 1.0)))
    rows = sql(
        "SELECT slug FROM postmortems_incident i TABLESAMPLE SYSTEM (%s) "
        "WHERE status = 'published' AND NOT EXISTS "
        "(SELECT 1 FROM patterns_relatedlist r WHERE r.incident_id = i.id) "
        "ORDER BY random() LIMIT %s",
        [percent, count],
    )
    return [slug for (slug,) in rows]


def uncached(slugs: list[str]) -> set[str]:
    rows = sql(
        "SELECT slug FROM postmortems_incident i WHERE slug = ANY(%s) AND NOT EXISTS "
        "(SELECT 1 FROM patterns_relatedlist r WHERE r.incident_id = i.id)",
        [slugs],
    )
    return {slug for (slug,) in rows}


def write_targets() -> tuple[dict, dict, list[dict]]:
    """The vendor bench writes go to (so no read above sees them), a change type, categories."""
    from postmortems.models import ChangeType, FailureCategory, Vendor

    vendor, _ = Vendor.objects.get_or_create(slug=WRITE_VENDOR, defaults={"name": "Bench writes"})
    change_type = ChangeType.objects.order_by("id").first()
    categories = list(FailureCategory.objects.order_by("id")[:2])
    as_dict = lambda o: {"id": o.id, "slug": o.slug}  # noqa: E731
    return as_dict(vendor), as_dict(change_type), [as_dict(c) for c in categories]


def small_vendor() -> dict:
    """A vendor with a few dozen incidents (the one closest to ``SMALL_VENDOR``)."""
    rows = sql(
        "SELECT v.id, v.slug, count(*) FROM postmortems_incidentvendor l "
        "JOIN postmortems_vendor v ON v.id = l.vendor_id WHERE v.slug NOT IN (%s, %s) "
        "GROUP BY v.id ORDER BY abs(count(*) - %s), 1 LIMIT 1",
        [WRITE_VENDOR, IMPORT_VENDOR, SMALL_VENDOR],
    )
    pk, slug, n = rows[0]
    return {"id": pk, "slug": slug, "incidents": n}


def commonest_labels() -> tuple[dict, dict]:
    """The change type of the most incidents, and the failure category cited by the most."""
    (ct,) = sql(
        "SELECT c.id, c.slug, count(*) FROM postmortems_incident_change_types l "
        "JOIN postmortems_changetype c ON c.id = l.changetype_id "
        "GROUP BY c.id ORDER BY 3 DESC, 1 LIMIT 1"
    )
    (cat,) = sql(
        "SELECT c.id, c.slug, count(DISTINCT f.incident_id) FROM postmortems_factor f "
        "JOIN postmortems_failurecategory c ON c.id = f.category_id "
        "GROUP BY c.id ORDER BY 3 DESC, 1 LIMIT 1"
    )
    return (
        {"id": ct[0], "slug": ct[1], "incidents": ct[2]},
        {"id": cat[0], "slug": cat[1], "incidents": cat[2]},
    )


def year_before_newest() -> str:
    """The date a year before the newest published start: ``?started_after=`` matches a
    year of incidents."""
    (newest,) = sql("SELECT max(started_at) FROM postmortems_incident WHERE status = 'published'")[
        0
    ]
    return (newest - timedelta(days=365)).date().isoformat()


def product_caps() -> tuple[int, int]:
    """How many matches the measured code counts in a filtered list, and how many "best
    match" ranks (10,000 and 2,000 if it names neither), for the floor to do the same."""
    import importlib

    facets = importlib.import_module("postmortems.facets")
    search = importlib.import_module("postmortems.search")
    return getattr(facets, "CAP", 10_000), getattr(search, "RANKED", 2_000)


def page_fixtures(ranked: list[dict]) -> Pages:
    change_type, category = commonest_labels()
    return Pages(
        largest=ranked[0],
        small=small_vendor(),
        change_type=change_type,
        category=category,
        started_after=year_before_newest(),
        caps=product_caps(),
    )


def prepare(*, slugs: int, deep_pages: int, roles: tuple[str, ...], pages: bool) -> Fixtures:
    user = bench_user()
    vendor, change_type, categories = write_targets()
    ranked = largest_vendors(max(MID_VENDOR_RANK, AUTHOR_VENDORS))
    accounts = {"admin": account("admin")}
    for role in roles:
        accounts[role] = accounts.get(role) or account(role)
    if "author" in roles:
        drafts = author_drafts(role_user("author"), ranked[:AUTHOR_VENDORS])
        print(f"  the author writes {drafts} drafts and reviews", flush=True)
    admin = accounts["admin"]
    return Fixtures(
        run_id=datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2),
        user_id=user.id,
        token=admin.token,
        session_key=admin.session_key,
        accounts=accounts,
        pages=page_fixtures(ranked) if pages else None,
        vendors=list_vendors(ranked),
        selective_term=selective_term(),
        common_term=COMMON_TERM,
        slugs=sample_slugs(slugs),
        write_vendor=vendor,
        change_type=change_type,
        categories=categories,
        now_iso=datetime.now(UTC).isoformat(),
        top_pattern=next(iter(sql(TOP_PATTERN)), (None,))[0],
        deep_pages=deep_pages,
    )


# --- Deep pages ------------------------------------------------------------------------------


def after_params(cursor: str) -> dict:
    """The floor's keyset parameters for a Hindsight cursor (the last row of the page before)."""
    from core.pagination import SortKey, decode_cursor

    values, _ = decode_cursor(cursor, SortKey(("started_at", "id"), descending=True))
    return {"after": values[0], "after_id": values[1]}


def html_deep_page(fx: Fixtures, slug: str, vendor_id: int) -> dict:
    """The HTML list's own cursor for page ``deep_pages + 1`` (25 rows a page).

    Following 100 "Next" links would compute the page's facet counts 100 times; the cursor
    is the one the list itself encodes for the last row of the page before.
    """
    from core.pagination import SortKey, encode_cursor
    from postmortems.models import Incident, IncidentVendor
    from postmortems.views.incidents import PAGE_SIZE, SORTS

    key: SortKey = SORTS["newest"][1]
    links = IncidentVendor.objects.filter(vendor_id=vendor_id).values("incident_id")
    rows = Incident.objects.filter(id__in=links).order_by(*key.order_by())
    pages = min(fx.deep_pages, (rows.count() - 1) // PAGE_SIZE)  # as far as the list goes
    last = rows.values_list("started_at", "id")[pages * PAGE_SIZE - 1]
    cursor = encode_cursor(list(last))
    path = f"/?vendor={slug}&cursor={cursor}"
    return {"path": path, "page": pages + 1, "after": after_params(cursor)}


def deep_pages(hindsight, fx: Fixtures) -> None:
    for vendor in fx.vendors:
        slug = vendor["slug"]
        fx.deep[slug] = {
            "api": api_deep_link(hindsight, fx, slug),
            "html": html_deep_page(fx, slug, vendor["id"]),
        }


def api_deep_link(hindsight, fx: Fixtures, slug: str) -> dict:
    """The URL of API page ``deep_pages + 1``: the ``next`` link followed ``deep_pages`` times
    (or as far as the list goes)."""
    headers = {"Authorization": f"Bearer {fx.token}"}
    url, page = f"/api/incidents/?vendor={slug}&page_size=50", 1
    while page <= fx.deep_pages:
        following = get_json(hindsight, url, headers)["next"]
        if following is None:
            break
        url, page = path_of(following), page + 1
    cursor = re.search(r"[?&]cursor=([^&]+)", url).group(1)
    return {"path": url, "page": page, "after": after_params(cursor)}


# --- Incident pages: first views ---------------------------------------------------------------


def first_views(hindsight, fx: Fixtures, extra: int) -> list[dict]:
    """Open each sampled incident page once before measuring, and ``extra`` never-opened ones.

    An incident page computes its related incidents on its first view and stores them
    (``patterns.related.cached_related_incidents``), and keeps its rendered body in the
    cache; the measured views are the later ones. The first views of pages whose related
    incidents were not stored yet are timed and reported on their own.
    """
    html = {"Cookie": f"sessionid={fx.session_key}"}
    cold = uncached(fx.slugs)
    timed = []
    for slug in [*fresh_slugs(extra), *fx.slugs]:
        try:
            ms, _ = send(hindsight, Request("GET", f"/incidents/{slug}/", headers=html), "prime")
        except UnexpectedStatus as exc:
            print(f"  {exc}", flush=True)
            continue
        if slug in cold or slug not in fx.slugs:
            timed.append({"slug": slug, "ms": ms})
    return timed


# --- The pages group: the home page 21 pages in, and never-opened incidents --------------------

NEXT_LINK = re.compile(r'rel="next" href="([^"]+)"')


def home_deep_pages(hindsight, fx: Fixtures, roles: tuple[str, ...]) -> None:
    """Follow the home page's "Next" links ``HOME_DEEP`` times as each person: the page
    they reach, and the floor's keyset parameters for it (the last row of the page before)."""
    for role in roles:
        headers = fx.accounts[role].html
        path, page = "/", 1
        while page <= HOME_DEEP:
            try:
                _, body = send(hindsight, Request("GET", path, headers=headers), "setup")
            except UnexpectedStatus as exc:
                print(f"  following the home page's links as {role}: {exc}", flush=True)
                break
            found = NEXT_LINK.search(body.decode())
            if found is None:
                break
            path, page = "/" + html.unescape(found.group(1)), page + 1
        cursor = parse_qs(urlsplit(path).query).get("cursor", [""])[0]
        after = after_params(cursor) if cursor else {}
        fx.pages.home_deep[role] = {"path": path, "page": page, "after": after}


def page_first_views(fx: Fixtures, roles: tuple[str, ...], per_role: int) -> None:
    """``per_role`` never-opened published incidents for each person, none shared: each
    round of the first-view operation opens one (call after ``first_views``, which opens
    the sampled ones)."""
    slugs = fresh_slugs(per_role * len(roles))
    if len(slugs) < per_role * len(roles):
        print(f"  only {len(slugs)} never-opened incidents found: some first views repeat")
    for n, role in enumerate(roles):
        fx.pages.first_views[role] = slugs[n :: len(roles)] or fx.slugs
