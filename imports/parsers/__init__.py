"""Status-page parsers: one ``parse(data: bytes) -> ImportBatch`` per format, all pure.

``FORMATS`` maps each format key to its parser; ``detect_format`` guesses the
key from a payload's content (for the CLI, when no format is given).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from imports.parsers import cachet, feeds, google_cloud, statusio, statuspage, statuspage_webhook
from imports.records import ImportBatch

FORMATS: dict[str, Callable[[bytes], ImportBatch]] = {
    "statuspage": statuspage.parse,
    "statuspage-webhook": statuspage_webhook.parse,
    "google-cloud": google_cloud.parse,
    "rss": feeds.parse_rss,
    "atom": feeds.parse_atom,
    "statusio": statusio.parse,
    "cachet": cachet.parse,
}

# The root element, after any XML declaration, comments or doctype.
FEED_ROOT = re.compile(rb"<(?P<root>rss|rdf:RDF|feed)\b")
GCP_KEYS = frozenset({"external_desc", "begin", "most_recent_update", "affected_products"})
STATUSPAGE_KEYS = ("incident", "incidents", "scheduled_maintenances")


def detect_format(data: bytes) -> str | None:
    """The FORMATS key this payload looks like, or None when it matches none."""
    try:
        payload = json.loads(data)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        return detect_feed(data)
    if isinstance(payload, list):
        return detect_json_array(payload)
    if isinstance(payload, dict):
        return detect_json_object(payload)
    return None


def detect_feed(data: bytes) -> str | None:
    root = FEED_ROOT.search(data[:4096])
    if root is None:
        return None
    return "atom" if root.group("root") == b"feed" else "rss"


def detect_json_array(payload: list) -> str | None:
    # GCP is the only format whose body is a bare array; an empty one is GCP
    # with nothing in its window.
    if not payload or any(isinstance(i, dict) and GCP_KEYS & i.keys() for i in payload):
        return "google-cloud"
    return None


def detect_json_object(payload: dict) -> str | None:
    result = payload.get("result")
    if isinstance(result, dict) and ("incidents" in result or "maintenance" in result):
        return "statusio"
    if isinstance(payload.get("data"), list) or (
        isinstance(payload.get("data"), dict) and "message" in payload["data"]
    ):
        return "cachet"
    if is_webhook(payload):
        return "statuspage-webhook"
    if any(key in payload for key in STATUSPAGE_KEYS):
        return "statuspage"
    return None


def is_webhook(payload: dict) -> bool:
    """Webhooks carry ``meta`` and a page with ``status_indicator``; the API's page has a name."""
    if "component_update" in payload or ("component" in payload and "incident" not in payload):
        return True
    page = payload.get("page")
    return "incident" in payload and (
        "meta" in payload or (isinstance(page, dict) and "status_indicator" in page)
    )
