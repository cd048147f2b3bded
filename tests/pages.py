"""Reading what a rendered page offers, as a person clicking it would."""

import re
from html import unescape


def _link(response, rel: str) -> str:
    match = re.search(rf'rel="{rel}" href="([^"]+)"', response.content.decode())
    assert match, f'the page has no rel="{rel}" link'
    return unescape(match.group(1))


def next_link(response) -> str:
    """The query string of the page's "older"/"next" link (``?cursor=…``)."""
    return _link(response, "next")


def previous_link(response) -> str:
    return _link(response, "prev")
