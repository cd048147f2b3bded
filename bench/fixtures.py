"""What ``bench/run`` needs from the bench database before it measures, made through Django.

A bench admin with an API token and a session, the vendors whose lists are read, a page
deep in each list, a sample of incidents, the search terms, and what the writes refer to.
Admin, because writes and imports need it; an admin also sees drafts, so the floor does not
filter on status either.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from inprocess import IMPORT_VENDOR
from web import Request, UnexpectedStatus, get_json, path_of, send

BENCH_USER = "bench-admin"
TOKEN_NAME = "bench"
WRITE_VENDOR = "bench-writes"
MID_VENDOR_RANK = 20  # a mid-size vendor: the 20th by incident count (the largest is 1st)
COMMON_TERM = "outage"


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


def fresh_token(user) -> str:
    from django.utils import timezone

    from accounts.models import ApiToken, TokenScope
    from accounts.tokens import create_token

    # Earlier runs' tokens go, but not today's: two runs at once must not sign each other out.
    stale = timezone.now() - timedelta(days=1)
    ApiToken.objects.filter(user=user, name=TOKEN_NAME, created_at__lt=stale).delete()
    return create_token(user=user, name=TOKEN_NAME, scope=TokenScope.READ_WRITE)[1]


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


def list_vendors() -> list[dict]:
    """A mid-size vendor and the largest one, by incident count; never the vendors the
    bench's own writes go to (drafts left by an interrupted run would otherwise rank)."""
    rows = sql(
        "SELECT v.id, v.slug, count(*) FROM postmortems_incidentvendor l "
        "JOIN postmortems_vendor v ON v.id = l.vendor_id WHERE v.slug NOT IN (%s, %s) "
        "GROUP BY v.id ORDER BY 3 DESC, 1 LIMIT %s",
        [WRITE_VENDOR, IMPORT_VENDOR, MID_VENDOR_RANK],
    )
    chosen = [rows[-1], rows[0]]
    return [{"id": pk, "slug": slug, "incidents": n} for pk, slug, n in chosen]


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
    rows = sql(
        "SELECT slug FROM postmortems_incident i TABLESAMPLE SYSTEM (1) "
        "WHERE status = 'published' AND NOT EXISTS "
        "(SELECT 1 FROM patterns_relatedlist r WHERE r.incident_id = i.id) "
        "ORDER BY random() LIMIT %s",
        [count],
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


def prepare(*, slugs: int, deep_pages: int) -> Fixtures:
    user = bench_user()
    vendor, change_type, categories = write_targets()
    return Fixtures(
        run_id=datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(2),
        user_id=user.id,
        token=fresh_token(user),
        session_key=session_for(user),
        vendors=list_vendors(),
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
